// The restore gate of a pod (docs/protocol.md, "The restore gate", step 1): the restore-wait
// init container, first among the init containers, with the node's marker directory mounted
// read-only, plus the diffkeeper.io/gated label and the diffkeeper.io/policy annotation.
//
// Pure functions over JSON; used by the admission webhook (admission_webhook.h).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "policy_spec.h"

namespace dk::op {

struct GateOptions {
  std::string image = "ghcr.io/diffkeeper/diffkeeper:latest";
  std::string image_pull_policy = "IfNotPresent";
  std::string command = "/usr/local/bin/restore-wait";
  // The agents' --state-dir on the hosts; markers live in <state_dir>/markers.
  std::string state_dir = "/var/lib/diffkeeper";
};

// The init container for `spec`'s timeout and timeout action.
nlohmann::json RestoreWaitContainer(const PolicySpec& spec, const GateOptions& options);

// An RFC 6902 JSON patch that gates `pod` (a Pod object) for the policy named `policy_name`:
// adds the init container first (or moves it first when another injector put containers
// before it), the marker volume, the label and the annotation. Idempotent: an empty array when
// the pod is already gated as it should be.
nlohmann::json GatePatch(const nlohmann::json& pod, const std::string& policy_name,
                         const PolicySpec& spec, const GateOptions& options);

}  // namespace dk::op
