// The status a StatePolicy should have, and the Events its change deserves (pure).
//
// Conditions:
//   Ready=True    Protecting      protection is in place (target found, configuration
//                                 published to the agents, restore gate installed)
//   Ready=False   InvalidSpec | TargetNotFound | VolumeNotFound | Paused | Deleting
//   Degraded=True InvalidSpec | TargetNotFound | VolumeNotFound | CredentialsNotFound |
//                 AgentErrors | ReplicationFailing — something a user should look at
//   Degraded=False AsExpected
//   Replicated (only with spec.storage.type S3; removed otherwise), from the pods' replication
//   in the node reports (status.pods[].replication, summed up in status.replication):
//     True     UpToDate        every pod with captured state has its latest set in the bucket
//     True     Replicating     no failure; some pods are behind (uploads in progress)
//     False    ReplicationFailing  a pod's replication fails (the agent retries with backoff);
//                              status.replication.failingSince says since when. Failing for
//                              `replication_degraded_after` or longer makes the policy Degraded
//                              (reason ReplicationFailing).
//     False    Pending         a pod with captured state has nothing in the bucket yet
//     Unknown  NoCapturedState no pod has captured state yet
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "node_reports.h"
#include "policy_spec.h"

namespace dk::op {

struct PolicyObservation {
  const nlohmann::json* policy = nullptr;        // the StatePolicy
  const Result<PolicySpec>* spec = nullptr;      // its parsed spec
  const nlohmann::json* stateful_set = nullptr;  // the target, null when absent
  bool credentials_found = true;                 // S3 Secret present (or not needed)
  const PolicyStatusSummary* summary = nullptr;  // from the node reports
  std::string now;                               // RFC 3339
  // Replication failing this long makes the policy Degraded.
  std::chrono::seconds replication_degraded_after{300};
};

struct PolicyEvent {
  bool warning = false;
  std::string reason;
  std::string message;
};

struct PolicyStatusDecision {
  nlohmann::json status;
  std::vector<PolicyEvent> events;  // for transitions between the old and new status
  bool changed = false;             // status differs from the object's
  // When the decision changes by itself (replication failing long enough to degrade).
  std::optional<std::chrono::seconds> requeue_after;
};

PolicyStatusDecision DecidePolicyStatus(const PolicyObservation& o);

// Volume names a StatefulSet's pods have (template volumes and volumeClaimTemplates).
std::vector<std::string> StatefulSetVolumes(const nlohmann::json& sts);

}  // namespace dk::op
