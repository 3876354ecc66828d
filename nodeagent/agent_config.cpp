#include "agent_config.h"

#include <cstdio>

#include "libsvc/flags.h"

namespace dk::agent {
namespace {

constexpr char kSummary[] =
    "diffkeeper-agent keeps every version of the protected files of the pods on its node and\n"
    "restores them when a pod comes back. Standalone mode protects one directory, no cluster:\n"
    "  diffkeeper-agent --standalone --watch DIR --store PATH [--debounce-ms N]";

Status CheckRange(const char* flag, int64_t v, int64_t lo, int64_t hi) {
  if (v < lo || v > hi)
    return Status::InvalidArgument(std::string("--") + flag + " must be in [" + std::to_string(lo) +
                                   ", " + std::to_string(hi) + "], got " + std::to_string(v));
  return Status::Ok();
}

}  // namespace

Status SplitHostPort(const std::string& addr, std::string* host, int* port) {
  size_t colon = addr.rfind(':');
  if (colon == std::string::npos)
    return Status::InvalidArgument("address '" + addr + "' is not host:port");
  std::string h = addr.substr(0, colon);
  std::string p = addr.substr(colon + 1);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos)
    return Status::InvalidArgument("address '" + addr + "' has no valid port");
  int n = std::stoi(p);
  if (n > 65535) return Status::InvalidArgument("address '" + addr + "': port out of range");
  *host = h.empty() ? "0.0.0.0" : h;
  *port = n;
  return Status::Ok();
}

Status ParseAgentConfig(int argc, const char* const* argv, AgentConfig* c, bool* help) {
  *help = false;
  svc::FlagSet f("diffkeeper-agent", kSummary);
  // Mode.
  f.Bool("standalone", &c->standalone, "protect one directory without a cluster");
  f.String("watch", &c->watch_dir, "standalone: the directory to protect");
  f.String("store", &c->store_path, "standalone: the store directory (created when absent)",
           "DK_STORE");
  f.StringList("include", &c->include,
               "standalone: capture only paths matching this glob (relative; ** crosses '/')");
  f.StringList("exclude", &c->exclude, "standalone: never capture paths matching this glob");
  // Capture.
  f.Int("debounce-ms", &c->debounce_ms,
        "capture once no change arrived for this long (a policy may override it)");
  f.Int("max-delay-ms", &c->max_delay_ms,
        "capture at the latest this long after the first change, even while writes continue");
  f.Int("max-dirty", &c->max_dirty,
        "changed paths remembered per pod before falling back to a full rescan (memory bound)");
  f.Int("max-concurrent-captures", &c->max_concurrent_captures,
        "captures running at once on this node (CPU bound)");
  f.Duration("rescan-interval", &c->rescan_interval,
             "full capture of every protected tree this often (catches mmap writes); 0 = off");
  f.Bool("no-sync", &c->no_sync, "do not fsync each capture (benchmarks only: not crash-safe)");
  // Operations.
  f.String("log-level", &c->log_level, "debug, info, warn or error", "DK_LOG_LEVEL");
  f.String("metrics-addr", &c->metrics_addr,
           "host:port serving /metrics, /healthz and /readyz (\"\" = off; port 0 = any)");
  f.Duration("shutdown-grace", &c->shutdown_grace,
             "on SIGTERM, how long the final captures and in-flight requests may take");
  // Cluster mode.
  f.String("node-name", &c->node_name, "the node this agent runs on", "NODE_NAME");
  f.String("kubelet-root", &c->kubelet_root,
           "the kubelet's root directory on the host (pods/<uid>/volumes/… below it)");
  f.String("host-root", &c->host_root,
           "where the host's / is visible to the agent, for hostPath volumes (\"\" = same /)");
  f.String("state-dir", &c->state_dir, "stores, markers and spool live here");
  f.String("namespace", &c->agent_namespace,
           "namespace of the agent and operator (node reports are written here)", "POD_NAMESPACE");
  f.String("kubeconfig", &c->kubeconfig, "kubeconfig file; empty = in-cluster service account",
           "KUBECONFIG");
  f.String("service-account-dir", &c->service_account_dir,
           "in-cluster credentials (token, ca.crt, namespace); default the standard path");
  f.String("service-account", &c->service_account,
           "service account the peer agents run as (checked with TokenReview)");
  f.Duration("report-interval", &c->report_interval,
             "node report (ConfigMap) at most this often; changes are batched");
  f.Duration("restore-peer-timeout", &c->restore_peer_timeout,
             "how long a restore keeps retrying an unreachable peer before failing");
  f.String("peer-bind-address", &c->peer_bind_address, "address the peer API listens on");
  f.Int("peer-port", &c->peer_port, "port of the peer API (HTTPS); 0 = any free port");
  f.String("advertise-address", &c->advertise_address,
           "address other agents reach this one at (the pod or host IP)", "POD_IP");
  f.String("tls-cert", &c->tls_cert,
           "serving certificate (PEM) of the peer API; default: a self-signed one in "
           "<state-dir>/tls, published in the node report");
  f.String("tls-key", &c->tls_key, "its private key (PEM)");
  f.String("peer-ca", &c->peer_ca,
           "CA bundle (PEM) that signed the peers' certificates; default: trust exactly the "
           "certificate each peer published in its node report");
  f.String("peer-server-name", &c->peer_server_name,
           "name the peers' certificates are issued for (checked instead of the IP)");
  f.String("peer-token-file", &c->peer_token_file,
           "bearer token presented to peers (default: the service account token)");
  f.Duration("token-review-cache", &c->token_review_cache,
             "how long a successful TokenReview of a peer's token is cached");
  f.String("s3-ca-file", &c->s3_ca_file,
           "CA bundle (PEM) trusted for https S3 endpoints of policies with storage S3, in "
           "addition to the system's");

  DK_RETURN_IF_ERROR(f.Parse(argc, argv));
  if (f.help_requested()) {
    std::fputs(f.Usage().c_str(), stdout);
    *help = true;
    return Status::Ok();
  }
  if (!f.args().empty())
    return Status::InvalidArgument("unexpected argument '" + f.args().front() + "'");
  DK_RETURN_IF_ERROR(CheckRange("debounce-ms", c->debounce_ms, 0, 600000));
  DK_RETURN_IF_ERROR(CheckRange("max-delay-ms", c->max_delay_ms, 1, 3600000));
  DK_RETURN_IF_ERROR(CheckRange("max-dirty", c->max_dirty, 1, 100000000));
  DK_RETURN_IF_ERROR(CheckRange("max-concurrent-captures", c->max_concurrent_captures, 1, 256));
  DK_RETURN_IF_ERROR(CheckRange("peer-port", c->peer_port, 0, 65535));
  if (c->max_delay_ms < c->debounce_ms) c->max_delay_ms = c->debounce_ms;
  if (!c->metrics_addr.empty()) {
    std::string h;
    int p;
    DK_RETURN_IF_ERROR_CTX(SplitHostPort(c->metrics_addr, &h, &p), "--metrics-addr");
  }
  if (c->standalone) {
    if (c->watch_dir.empty()) return Status::InvalidArgument("--standalone needs --watch DIR");
    if (c->store_path.empty())
      return Status::InvalidArgument("--standalone needs --store PATH (or DK_STORE)");
    return Status::Ok();
  }
  if (!c->watch_dir.empty())
    return Status::InvalidArgument("--watch is for --standalone mode only");
  if (c->node_name.empty())
    return Status::InvalidArgument("--node-name (or NODE_NAME) is required in cluster mode");
  if (c->kubelet_root.empty() || c->kubelet_root.front() != '/')
    return Status::InvalidArgument("--kubelet-root must be an absolute path");
  if (c->state_dir.empty() || c->state_dir.front() != '/')
    return Status::InvalidArgument("--state-dir must be an absolute path");
  while (c->kubelet_root.size() > 1 && c->kubelet_root.back() == '/') c->kubelet_root.pop_back();
  while (c->state_dir.size() > 1 && c->state_dir.back() == '/') c->state_dir.pop_back();
  if (c->tls_cert.empty() != c->tls_key.empty())
    return Status::InvalidArgument("--tls-cert and --tls-key go together");
  return Status::Ok();
}

}  // namespace dk::agent
