// Node reports: the ConfigMaps diffkeeper-node-<node> that agents write (docs/protocol.md,
// "Node report"), and their aggregation into StatePolicy.status.
//
// Pure functions over JSON; the policy reconciler feeds them from its informer caches.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "libstate/result.h"

namespace dk::op {

// pods[].replication of a node report (docs/protocol.md): the identity's replication to the
// policy's bucket, as the agent's libreplica Replicator sees it. `present` is false for `{}`
// (storage Local, or the agent has no replicator for the identity).
struct ReportedReplication {
  bool present = false;
  std::string state;   // starting | idle | replicating | backoff | stopped
  std::string bucket;  // "s3 bucket <name> at <endpoint>"
  int64_t last_set = 0;
  int64_t last_bucket_set = 0;
  std::string last_root;
  std::string last_set_time;
  std::string last_replicated;  // RFC 3339 as reported
  std::chrono::system_clock::time_point last_replicated_time{};
  int64_t latest_set = 0;
  int64_t lag_sets = 0;
  int64_t lag_seconds = 0;  // whole seconds
  int64_t backlog = 0;
  bool failing = false;
  int64_t consecutive_failures = 0;
  std::string last_error_reason;
  std::string last_error;
  std::string last_error_time;
};

struct ReportedPod {
  std::string node;  // filled from the report
  std::string ns;
  std::string policy;
  std::string stateful_set;
  int ordinal = -1;
  std::string pod;
  std::string pod_uid;
  int64_t versions = 0;
  int64_t sets = 0;
  int64_t logical_bytes = 0;
  int64_t stored_bytes = 0;
  std::string last_capture;  // RFC 3339 as reported
  std::chrono::system_clock::time_point last_capture_time{};
  std::string last_root;
  int64_t last_set = 0;
  std::vector<std::string> errors;
  ReportedReplication replication;
};

struct NodeReport {
  std::string node;
  std::string endpoint;
  std::string heartbeat;
  std::vector<ReportedPod> pods;
};

// Parses one report ConfigMap. The node is data.node, else the name without the
// "diffkeeper-node-" prefix. Entries of data.pods that lack a namespace, statefulSet or ordinal
// are skipped; InvalidArgument when data.pods is present but not a JSON array.
Result<NodeReport> ParseNodeReport(const nlohmann::json& configmap);

struct PolicyStatusSummary {
  int protected_pods = 0;
  int64_t versions = 0;       // sum of the latest report's sets per ordinal
  int64_t logical_bytes = 0;  // sum of the latest report's logical bytes per ordinal
  int64_t stored_bytes = 0;   // sum over every report (all nodes' stores)
  nlohmann::json pods = nlohmann::json::array();  // status.pods, sorted by ordinal
  std::vector<std::string> errors;                // "node-1: db-0: <error>"
  // Per pod of `pods` (same order) whose chosen report has a replication status: the pod, the
  // node that reported it, and the status (status.pods[].replication is its JSON form).
  struct PodReplication {
    std::string pod;
    std::string node;
    ReportedReplication replication;
  };
  std::vector<PodReplication> replication;
};

// What `reports` and `restores` (StateRestore objects of this policy) say about the pods of
// StatefulSet `sts` in `ns`. For an ordinal reported by several nodes, the report with the
// latest lastCapture names the node and the per-pod numbers. lastRestore is the latest
// finished StateRestore of the ordinal. The replication of an ordinal is that of the same
// report (the node that captures it replicates it); when that report has none (e.g. the pod
// just moved and has not been captured on its new node yet), the other reports' one with the
// latest lastReplicated.
PolicyStatusSummary SummarizePolicy(const std::string& ns, const std::string& sts,
                                    const std::vector<NodeReport>& reports,
                                    const std::vector<nlohmann::json>& restores);

// The ordinal a StateRestore is about: spec.ordinal, else the suffix of spec.pod after
// "<sts>-"; -1 when neither says.
int RestoreOrdinal(const nlohmann::json& restore, const std::string& sts);

// status.pods[].replication: the fields of `r` a user needs (empty strings left out), plus the
// reporting node.
nlohmann::json ReplicationStatusJson(const ReportedReplication& r, const std::string& node);

}  // namespace dk::op
