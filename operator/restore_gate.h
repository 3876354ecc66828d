// What the operator does for a gated pod (docs/protocol.md, "The restore gate", step 2 and the
// timeout rule): create its StateRestore, fail that restore when it outlives the policy's
// timeout, and report restore-wait failures. Pure planning; operator.cpp carries the plan out.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "policy_spec.h"

namespace dk::op {

struct GateEvent {
  bool on_pod = true;  // else on the StateRestore
  bool warning = false;
  std::string reason;
  std::string message;
};

struct GatePlan {
  std::optional<nlohmann::json> create_restore;  // a StateRestore to create
  std::optional<nlohmann::json> fail_restore;    // the restore with status set to Failed
  std::vector<GateEvent> events;
  std::optional<std::chrono::system_clock::time_point> requeue_at;
  int reported_failures = 0;  // restore-wait failures seen so far (pass back next time)
};

struct GateInputs {
  const nlohmann::json* pod = nullptr;
  std::string policy_name;                   // from the pod's annotation
  const Result<PolicySpec>* spec = nullptr;  // null when the policy is gone
  const nlohmann::json* restore = nullptr;   // the pod's StateRestore, null when none
  int reported_failures = 0;                 // from the previous plan for this pod UID
  std::chrono::system_clock::time_point now;
  std::chrono::seconds grace{30};  // added to the policy's timeout before failing
};

// The StateRestore name for a pod: "<pod>-<first 8 characters of its uid>".
std::string RestoreNameForPod(const nlohmann::json& pod);

GatePlan PlanGatedPod(const GateInputs& in);

// A user's StateRestore (no spec.podUID) that the gated POD carries out instead of one of the
// operator's: the one already adopted by this pod (label diffkeeper.io/pod-uid = its uid, in
// any phase), else the newest unfinished one of POLICY that names this pod (spec.pod or
// spec.ordinal) and no other pod adopted. Null when none. This is how time travel reaches a
// pod: the user creates a StateRestore with spec.time or spec.set, deletes the pod, and its
// replacement is restored from that StateRestore.
const nlohmann::json* UserRestoreForPod(const std::vector<nlohmann::json>& restores,
                                        const nlohmann::json& pod, const std::string& policy);

}  // namespace dk::op
