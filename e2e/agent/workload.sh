# shellcheck shell=bash
# Workloads of the agent e2e tests. Sourced after lib.sh.

# StatefulSet NAME with an emptyDir "data" (protected) and "scratch" (not), gated like the
# webhook gates it (restore-wait first, label), and a StatePolicy for it. The application
# writes a fixed dataset once (a 3 MiB file, 20 small ones, a 0600 config, a symlink, an empty
# directory), marks it "done" and then idles; a restored pod finds "done" and writes nothing.
# STORAGE (optional) is the policy's spec.storage as a YAML flow mapping (default: Local).
apply_db() { # NAME [STORAGE]
  local storage=${2:-'{type: Local}'}
  kubectl -n "$NS" apply -f - >/dev/null <<EOF
apiVersion: diffkeeper.io/v1alpha1
kind: StatePolicy
metadata: {name: $1}
spec:
  targetRef: {name: $1}
  paths: [{volume: data}]
  capture: {debounce: 200ms}
  storage: $storage
---
apiVersion: v1
kind: Service
metadata: {name: $1}
spec: {clusterIP: None, selector: {app: $1}, ports: [{port: 80, name: x}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: $1}
spec:
  serviceName: $1
  replicas: 1
  selector: {matchLabels: {app: $1}}
  template:
    metadata:
      labels: {app: $1, diffkeeper.io/gated: "true"}
      annotations: {diffkeeper.io/policy: $1}
    spec:
      terminationGracePeriodSeconds: 3
      initContainers:
      - name: diffkeeper-restore-wait
        image: ghcr.io/diffkeeper/diffkeeper:e2e
        command: [/usr/local/bin/restore-wait]
        args: [--marker-dir, /var/run/diffkeeper/markers, --timeout, "180", --on-timeout, fail]
        env: [{name: POD_UID, valueFrom: {fieldRef: {fieldPath: metadata.uid}}}]
        volumeMounts: [{name: diffkeeper-markers, mountPath: /var/run/diffkeeper/markers, readOnly: true}]
      containers:
      - name: app
        image: busybox:1.36
        command:
        - sh
        - -c
        - |
          d=\$0
          if [ ! -f "\$d/done" ]; then
            mkdir -p "\$d/db/base" "\$d/empty"
            head -c 3000000 /dev/urandom > "\$d/db/base/big.bin"
            i=1; while [ \$i -le 20 ]; do head -c \$((i * 1000)) /dev/urandom > "\$d/db/f\$i"; i=\$((i + 1)); done
            printf 'listen 5432\nworkers 4\n' > "\$d/conf"; chmod 600 "\$d/conf"
            ln -s conf "\$d/conf.link"
            echo done > "\$d/done"
          fi
          echo scratch > "\$1/x"
          trap 'exit 0' TERM
          while true; do sleep 1 & wait \$!; done
        - /data
        - /scratch
        volumeMounts:
        - {name: data, mountPath: /data}
        - {name: scratch, mountPath: /scratch}
      volumes:
      - {name: data, emptyDir: {}}
      - {name: scratch, emptyDir: {}}
      - {name: diffkeeper-markers, hostPath: {path: /var/lib/diffkeeper/markers, type: DirectoryOrCreate}}
EOF
}

# StatefulSet NAME (not gated) whose application writes without pause: a new 64 KiB file and a
# log line every 20 ms, and a 1 MiB file rewritten every 0.2 s.
apply_writer() { # NAME
  kubectl -n "$NS" apply -f - >/dev/null <<EOF
apiVersion: diffkeeper.io/v1alpha1
kind: StatePolicy
metadata: {name: $1}
spec:
  targetRef: {name: $1}
  paths: [{volume: data}]
  capture: {debounce: 100ms}
  restore: {onReschedule: Skip}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: $1}
spec:
  serviceName: $1
  replicas: 1
  selector: {matchLabels: {app: $1}}
  template:
    metadata: {labels: {app: $1}}
    spec:
      terminationGracePeriodSeconds: 3
      containers:
      - name: app
        image: busybox:1.36
        command:
        - sh
        - -c
        - |
          d=\$0; i=0
          mkdir -p "\$d/files"
          trap 'exit 0' TERM
          while true; do
            i=\$((i + 1))
            head -c 65536 /dev/urandom > "\$d/files/f\$((i % 200))"
            echo "line \$i" >> "\$d/log"
            if [ \$((i % 10)) -eq 0 ]; then head -c 1048576 /dev/urandom > "\$d/big"; fi
            sleep 0.02
          done
        - /data
        volumeMounts: [{name: data, mountPath: /data}]
      volumes:
      - {name: data, emptyDir: {}}
EOF
}
