# shellcheck shell=bash
# shellcheck disable=SC2034 # the caller reads the variable it names
# Sourced by e2e/cluster/lib.sh and e2e/s3/server.sh. Not executable on its own.

# e2e_free_port VAR: sets VAR to a TCP port on which nothing on this machine listens or
# connects. Ports come from outside the kernel's ephemeral range
# (/proc/sys/net/ipv4/ip_local_port_range): the kernel hands those to every outgoing
# connection and every port-0 listener, so one of them can take a port between this check
# and the server's bind (CI lost a controller-manager that way: "bind: address already in
# use" 7 s after the check). Never 2379/2380/6443/10250-10259; never a port this shell has
# handed out before.
E2E_PORTS_TAKEN=" "
e2e_free_port() {
  local -n _e2e_port=$1
  local lo=20000 hi=32767 eph_lo=32768 eph_hi=60999 p
  if [[ -r /proc/sys/net/ipv4/ip_local_port_range ]]; then
    read -r eph_lo eph_hi </proc/sys/net/ipv4/ip_local_port_range
  fi
  if ((eph_lo - lo > 2000)); then
    hi=$((eph_lo - 1))
  elif ((65535 - eph_hi > 2000)); then
    lo=$((eph_hi + 1)) hi=65535
  else
    lo=20000 hi=65535 # the ephemeral range covers nearly everything: take what is left
  fi
  for _ in $(seq 1 500); do
    p=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo + 1)))
    case $p in 2379 | 2380 | 6443 | 1025[0-9]) continue ;; esac
    [[ $E2E_PORTS_TAKEN == *" $p "* ]] && continue
    if ! ss -Htan "( sport = :$p )" 2>/dev/null | grep -q .; then
      E2E_PORTS_TAKEN+="$p "
      _e2e_port=$p
      return 0
    fi
  done
  printf 'e2e_free_port: no free TCP port in %d-%d after 500 tries\n' "$lo" "$hi" >&2
  return 1
}
