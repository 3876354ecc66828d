#include "policy_status.h"

#include <algorithm>

#include "api.h"
#include "conditions.h"
#include "libkube/object_meta.h"

namespace dk::op {

using nlohmann::json;

std::vector<std::string> StatefulSetVolumes(const json& sts) {
  std::vector<std::string> out;
  const json spec = sts.value("spec", json::object());
  const json tmpl = spec.value("template", json::object()).value("spec", json::object());
  for (const auto& v : tmpl.value("volumes", json::array())) {
    if (v.is_object() && v.contains("name")) out.push_back(v.value("name", ""));
  }
  for (const auto& c : spec.value("volumeClaimTemplates", json::array())) {
    if (c.is_object()) out.push_back(kube::GetName(c));
  }
  return out;
}

PolicyStatusDecision DecidePolicyStatus(const PolicyObservation& o) {
  const json& policy = *o.policy;
  const json old_status = policy.value("status", json::object());
  json status = old_status;
  int64_t gen = GetGeneration(policy);
  json conditions = status.value("conditions", json::array());
  const json old_conditions = conditions;

  std::string ready = "True", ready_reason = "Protecting", ready_msg;
  std::string degraded = "False", degraded_reason = "AsExpected", degraded_msg = "";
  std::string ns = kube::GetNamespace(policy);

  const PolicyStatusSummary empty;
  const PolicyStatusSummary& sum = o.summary != nullptr ? *o.summary : empty;

  if (!o.spec->ok()) {
    ready = "False";
    ready_reason = degraded_reason = "InvalidSpec";
    ready_msg = degraded_msg = o.spec->status().message();
    degraded = "True";
  } else {
    const PolicySpec& spec = o.spec->value();
    if (IsDeleting(policy)) {
      ready = "False";
      ready_reason = "Deleting";
      ready_msg = "protection is being removed (retention.onDelete: " + spec.on_delete + ")";
    } else if (o.stateful_set == nullptr) {
      ready = "False";
      ready_reason = degraded_reason = "TargetNotFound";
      ready_msg = degraded_msg =
          "StatefulSet " + spec.target_name + " not found in namespace " + ns;
      degraded = "True";
    } else {
      std::vector<std::string> vols = StatefulSetVolumes(*o.stateful_set);
      std::vector<std::string> missing;
      for (const auto& p : spec.paths) {
        if (std::find(vols.begin(), vols.end(), p.volume) == vols.end())
          missing.push_back(p.volume);
      }
      if (!missing.empty()) {
        std::string list;
        for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
        ready = "False";
        ready_reason = degraded_reason = "VolumeNotFound";
        ready_msg = degraded_msg =
            "volume(s) " + list + " not in the pod template of StatefulSet " + spec.target_name;
        degraded = "True";
      } else if (spec.paused) {
        ready = "False";
        ready_reason = "Paused";
        ready_msg = "protection is paused (spec.paused); stored versions are kept";
      } else {
        ready_msg = "protecting the pods of StatefulSet " + spec.target_name + " (" +
                    std::to_string(sum.protected_pods) + " with captured state)";
        if (!spec.Gates()) ready_msg += "; new pods start without restore (onReschedule: Skip)";
      }
      if (degraded == "False" && !o.credentials_found && spec.s3) {
        degraded = "True";
        degraded_reason = "CredentialsNotFound";
        degraded_msg = "Secret " + spec.s3->credentials_secret +
                       " (storage.s3.credentialsSecretRef) not found in the operator's namespace";
      }
      if (degraded == "False" && !sum.errors.empty()) {
        degraded = "True";
        degraded_reason = "AgentErrors";
        degraded_msg = sum.errors.front();
        if (sum.errors.size() > 1) {
          degraded_msg += " (and " + std::to_string(sum.errors.size() - 1) + " more)";
        }
      }
    }
  }
  SetCondition(&conditions, "Ready", ready, ready_reason, ready_msg, gen, o.now);
  SetCondition(&conditions, "Degraded", degraded, degraded_reason, degraded_msg, gen, o.now);
  status["conditions"] = conditions;
  status["observedGeneration"] = gen;
  status["protectedPods"] = sum.protected_pods;
  status["versions"] = sum.versions;
  status["logicalBytes"] = sum.logical_bytes;
  status["storedBytes"] = sum.stored_bytes;
  status["storedSize"] = HumanBytes(static_cast<uint64_t>(std::max<int64_t>(0, sum.stored_bytes)));
  status["pods"] = sum.pods;

  PolicyStatusDecision d;
  d.changed = status != old_status;
  d.status = std::move(status);

  // Events for transitions a user wants to see.
  std::string old_ready = ConditionStatus(old_conditions, "Ready");
  const json* old_ready_c = FindCondition(old_conditions, "Ready");
  std::string old_ready_reason = old_ready_c ? old_ready_c->value("reason", "") : "";
  if (ready == "True" && old_ready != "True") {
    d.events.push_back(
        {false, old_ready_reason == "Paused" ? "ProtectionResumed" : "ProtectionReady", ready_msg});
  } else if (ready == "False" && (old_ready != "False" || old_ready_reason != ready_reason)) {
    if (ready_reason == "Paused") {
      d.events.push_back({false, "ProtectionPaused", ready_msg});
    } else if (ready_reason == "Deleting") {
      d.events.push_back({false, "ProtectionRemoving", ready_msg});
    } else {
      d.events.push_back({true, ready_reason, ready_msg});
    }
  }
  std::string old_degraded = ConditionStatus(old_conditions, "Degraded");
  const json* old_deg_c = FindCondition(old_conditions, "Degraded");
  std::string old_deg_reason = old_deg_c ? old_deg_c->value("reason", "") : "";
  if (degraded == "True" && (old_degraded != "True" || old_deg_reason != degraded_reason)) {
    // Avoid a second event for the same cause as the Ready event above.
    bool dup = !d.events.empty() && d.events.back().reason == degraded_reason;
    if (!dup) d.events.push_back({true, degraded_reason, degraded_msg});
  } else if (degraded == "False" && old_degraded == "True") {
    d.events.push_back(
        {false, "Recovered", "the problem reported as " + old_deg_reason + " is gone"});
  }
  return d;
}

}  // namespace dk::op
