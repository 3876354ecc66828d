// AdmissionWebhook: the mutating admission webhook that puts the restore gate (pod_gate.h) on
// new pods of protected StatefulSets.
//
// It answers AdmissionReview v1 requests for pod CREATE. A pod is gated when its controller is
// a StatefulSet that a StatePolicy in the same namespace targets and that policy gates
// (PolicySpec::Gates()). Every other request is allowed unchanged: the webhook never denies a
// pod. Malformed requests get HTTP 400, and a StatefulSet's pod gets HTTP 503 while the policy
// lookup is unavailable (the operator's StatePolicy cache has not synced): the API server then
// applies the webhook's failurePolicy, so a policy's strict entry (Fail) holds its pods back
// until a replica that knows the policies answers, instead of admitting them ungated.
//
// The policy lookup reads the operator's informer cache, so answering needs no API call and
// stays well inside the webhook's timeoutSeconds. Thread-safe if the lookup is.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "libstate/logger.h"
#include "libsvc/http_types.h"
#include "libsvc/metrics.h"
#include "pod_gate.h"
#include "policy_spec.h"

namespace dk::op {

struct ProtectingPolicy {
  std::string name;
  PolicySpec spec;
};

// The policy protecting StatefulSet `sts` in `ns`, if any (not being deleted); Unavailable when
// that cannot be known yet.
using PolicyLookup = std::function<Result<std::optional<ProtectingPolicy>>(const std::string& ns,
                                                                           const std::string& sts)>;

class AdmissionWebhook {
 public:
  // `requests` (optional) counts answers by result: gated, unchanged, invalid, unavailable.
  AdmissionWebhook(PolicyLookup lookup, GateOptions options, Logger* logger,
                   svc::Counter* requests);

  // POST /mutate.
  svc::Response Handle(const svc::Request& request);

  // The AdmissionReview answer to `review`; InvalidArgument when it is not a valid
  // AdmissionReview v1 request, the lookup's error when it is unavailable.
  Result<nlohmann::json> Review(const nlohmann::json& review);

 private:
  PolicyLookup lookup_;
  const GateOptions options_;
  Logger* const logger_;
  svc::Counter* const requests_;
};

}  // namespace dk::op
