// NodeReporter: writes this node's report, ConfigMap diffkeeper-node-<node> in the agent's
// namespace (docs/protocol.md, "Node report"), with server-side apply as field manager
// diffkeeper-agent, paced by a ReportRateLimiter (report_rate_limiter.h).
//
// data.node, data.endpoint (peer API URL), data.heartbeat (RFC 3339) and data.pods: one entry
// per identity with a store on this node (including pods that moved away):
//   {namespace, policy, statefulSet, ordinal, pod, podUID, layout, versions, sets,
//    logicalBytes, storedBytes, lastCapture (RFC 3339, nanoseconds), lastRoot, lastSet,
//    errors: [last error], errorCount, replication: {…}}
// lastCapture/lastSet/lastRoot describe the identity's restore point (store_registry.h).
// replication is the identity's replication status (libreplica ReplicationStatus::ToJson, from
// the replication source; `{}` when its policy keeps versions on the nodes only).
//
// Thread-safe: Notify() from any thread; one reporter thread writes.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "agent_metrics.h"
#include "libkube/client.h"
#include "report_rate_limiter.h"
#include "store_registry.h"

namespace dk::agent {

struct NodeReporterOptions {
  std::string node;
  std::string ns;
  std::chrono::milliseconds interval{10000};
  std::chrono::milliseconds heartbeat{60000};
  std::string certificate;  // PEM of the peer API's certificate, published as data.certificate
};

class NodeReporter {
 public:
  // `endpoint` returns the peer API URL to advertise. Pointers are not owned; `metrics` and
  // `logger` may be null.
  NodeReporter(kube::Client* client, StoreRegistry* registry, NodeReporterOptions options,
               std::function<std::string()> endpoint, AgentMetrics* metrics, Logger* logger);
  ~NodeReporter();  // Stop()

  void Start();
  // Stops the thread and, when it was started, writes a last report (best effort).
  void Stop();
  // Where pods[].replication comes from (set before Start()); unset = `{}`.
  void SetReplicationSource(std::function<nlohmann::json(const PodIdentity&)> fn) {
    replication_ = std::move(fn);
  }
  // Something the report shows changed; `important` ones are reported sooner.
  void Notify(bool important);

  // The ConfigMap as it would be applied now.
  nlohmann::json Build();
  // Applies Build() once.
  Status ReportNow();

  static std::string ConfigMapName(const std::string& node) { return "diffkeeper-node-" + node; }

 private:
  void Run();

  kube::Client* const client_;
  StoreRegistry* const registry_;
  const NodeReporterOptions options_;
  const std::function<std::string()> endpoint_;
  AgentMetrics* const metrics_;
  Logger* const log_;
  std::function<nlohmann::json(const PodIdentity&)> replication_;

  std::mutex mu_;
  std::condition_variable cv_;
  ReportRateLimiter limiter_;
  uint64_t generation_ = 0;  // Notify() calls so far
  bool stopping_ = false;
  std::thread thread_;
};

// RFC 3339 UTC with nanoseconds ("2026-11-27T12:00:00.123456789Z").
std::string Rfc3339Nano(int64_t ns);
// Parses RFC 3339 ("…Z" or "…±hh:mm", optional fraction); false when malformed.
bool ParseRfc3339(const std::string& s, int64_t* ns);

}  // namespace dk::agent
