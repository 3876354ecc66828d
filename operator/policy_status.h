// The status a StatePolicy should have, and the Events its change deserves (pure).
//
// Conditions:
//   Ready=True    Protecting      protection is in place (target found, configuration
//                                 published to the agents, restore gate installed)
//   Ready=False   InvalidSpec | TargetNotFound | VolumeNotFound | Paused | Deleting
//   Degraded=True InvalidSpec | TargetNotFound | VolumeNotFound | CredentialsNotFound |
//                 AgentErrors — something a user should look at
//   Degraded=False AsExpected
#pragma once

#include <nlohmann/json.hpp>
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
};

PolicyStatusDecision DecidePolicyStatus(const PolicyObservation& o);

// Volume names a StatefulSet's pods have (template volumes and volumeClaimTemplates).
std::vector<std::string> StatefulSetVolumes(const nlohmann::json& sts);

}  // namespace dk::op
