// AgentConfig: every setting of diffkeeper-agent, parsed and validated once in main() (flags >
// environment > defaults) and then passed by const reference.
//
// Two modes:
//   standalone  --standalone --watch DIR --store PATH: protect one directory, no cluster.
//   cluster     (default) discover protected pods on --node-name through the API server.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "libstate/result.h"

namespace dk::agent {

struct AgentConfig {
  // ---- mode
  bool standalone = false;
  std::string watch_dir;                      // standalone: the directory protected
  std::string store_path;                     // standalone: its store (created when absent)
  std::vector<std::string> include, exclude;  // standalone: capture filter

  // ---- capture (defaults; a StatePolicy's spec.capture overrides them per pod)
  int64_t debounce_ms = 200;
  int64_t max_delay_ms = 2000;
  int64_t max_dirty = 100000;                    // pending changed paths before "rescan everything"
  int64_t max_concurrent_captures = 1;           // captures running at once on this node
  std::chrono::milliseconds rescan_interval{0};  // periodic full capture; 0 = off
  bool no_sync = false;                          // benchmarks only: no fsync per capture

  // ---- operations
  std::string log_level = "info";
  std::string metrics_addr;  // "host:port" of /metrics /healthz /readyz; "" = off
  std::chrono::milliseconds shutdown_grace{25000};

  // ---- cluster mode
  std::string node_name;  // NODE_NAME
  std::string kubelet_root = "/var/lib/kubelet";
  std::string host_root;  // where the host's / is mounted ("" = same)
  std::string state_dir = "/var/lib/diffkeeper";
  std::string agent_namespace = "diffkeeper-system";  // POD_NAMESPACE: node reports live here
  std::string kubeconfig;                             // "" = in-cluster service account
  std::string service_account_dir;  // in-cluster credentials (default: the standard)
  std::string service_account = "diffkeeper-agent";  // the peers' service account name
  std::chrono::milliseconds report_interval{10000};
  std::chrono::milliseconds restore_peer_timeout{120000};
  // Peer API (HTTPS).
  std::string peer_bind_address = "0.0.0.0";
  int64_t peer_port = 9443;       // 0 = any free port (advertised as bound)
  std::string advertise_address;  // POD_IP / HOST_IP: host part of data.endpoint
  // Serving certificate of the peer API; none = a self-signed one in <state-dir>/tls, published
  // in the node report and pinned by the peers.
  std::string tls_cert, tls_key;
  std::string peer_ca;  // CA that signed the peers' certificates; none = pin the reported ones
  std::string peer_server_name = "diffkeeper-agent";  // name checked in peer certificates
  std::string peer_token_file;  // bearer token sent to peers (default: SA token)
  std::chrono::milliseconds token_review_cache{60000};
  std::string s3_ca_file;  // extra CA bundle for https S3 endpoints ("" = system roots)

  std::string MarkerDir() const { return state_dir + "/markers"; }
  std::string StoresDir() const { return state_dir + "/stores"; }
  std::string SpoolDir() const { return state_dir + "/spool"; }
};

// Parses argv into *config. OK with *help = true for --help (usage already printed to stdout).
// InvalidArgument naming the flag for bad or inconsistent values.
Status ParseAgentConfig(int argc, const char* const* argv, AgentConfig* config, bool* help);

// Splits "host:port" / ":port" (host defaults to 0.0.0.0). InvalidArgument otherwise.
Status SplitHostPort(const std::string& addr, std::string* host, int* port);

}  // namespace dk::agent
