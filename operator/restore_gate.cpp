#include "restore_gate.h"

#include <algorithm>

#include "api.h"
#include "libkube/object_meta.h"
#include "libsvc/duration.h"

namespace dk::op {

using nlohmann::json;

std::string RestoreNameForPod(const json& pod) {
  std::string name = kube::GetName(pod) + "-" + kube::GetUid(pod).substr(0, 8);
  if (name.size() > 253) name = name.substr(name.size() - 253);
  return name;
}

namespace {

// The restore-wait init container's status, or null.
const json* GateStatus(const json& pod) {
  auto it = pod.find("status");
  if (it == pod.end() || !it->is_object()) return nullptr;
  auto inits = it->find("initContainerStatuses");
  if (inits == it->end() || !inits->is_array()) return nullptr;
  for (const auto& c : *inits) {
    if (c.value("name", "") == kRestoreWaitContainer) return &c;
  }
  return nullptr;
}

std::string ExitMeaning(int code) {
  switch (code) {
    case 1:
      return "the restore failed";
    case 2:
      return "the restore timed out";
    case 3:
      return "restore-wait was started with bad arguments";
    default:
      return "restore-wait exited with code " + std::to_string(code);
  }
}

}  // namespace

const json* UserRestoreForPod(const std::vector<json>& restores, const json& pod,
                              const std::string& policy) {
  const std::string uid = kube::GetUid(pod);
  const std::string name = kube::GetName(pod);
  const std::optional<int> ord = PodOrdinal(pod, OwningStatefulSet(pod));
  const json* pending = nullptr;
  std::string pending_created;
  for (const json& r : restores) {
    if (kube::GetNamespace(r) != kube::GetNamespace(pod)) continue;
    if (!kube::GetStringAtPath(r, "spec.podUID").empty()) continue;  // an operator's
    if (kube::GetStringAtPath(r, "spec.policy") != policy) continue;
    const json& spec = r["spec"];
    bool names_pod = spec.value("pod", "") == name ||
                     (spec.contains("ordinal") && spec["ordinal"].is_number_integer() && ord &&
                      spec["ordinal"].get<int64_t>() == *ord);
    if (!names_pod) continue;
    auto labels = kube::GetLabels(r);
    auto adopted = labels.find(kRestoreForPodLabel);
    if (adopted != labels.end()) {
      if (adopted->second == uid) return &r;
      continue;  // an earlier pod's
    }
    std::string phase = kube::GetStringAtPath(r, "status.phase");
    if (phase == "Succeeded" || phase == "Failed") continue;
    std::string created = kube::GetStringAtPath(r, "metadata.creationTimestamp");
    if (pending == nullptr || created > pending_created) {
      pending = &r;
      pending_created = created;
    }
  }
  return pending;
}

GatePlan PlanGatedPod(const GateInputs& in) {
  GatePlan plan;
  plan.reported_failures = in.reported_failures;
  const json& pod = *in.pod;
  if (kube::GetLabels(pod)[kGatedLabel] != "true" || IsDeleting(pod)) return plan;
  std::string phase = kube::GetStringAtPath(pod, "status.phase");
  if (phase == "Succeeded" || phase == "Failed") return plan;

  const json* gate = GateStatus(pod);
  bool passed = false;
  if (gate != nullptr) {
    const json state = gate->value("state", json::object());
    if (state.contains("terminated") && state["terminated"].value("exitCode", -1) == 0) {
      passed = true;
    }
    // restore-wait failures: each one (counted by restartCount) gets one Warning on the pod.
    int restarts = gate->value("restartCount", 0);
    const json* term = nullptr;
    if (state.contains("terminated") && state["terminated"].value("exitCode", 0) != 0) {
      term = &state["terminated"];
    }
    int failures = restarts + (term != nullptr ? 1 : 0);
    if (failures > in.reported_failures && (term != nullptr || gate->contains("lastState"))) {
      const json* t = term;
      const json last = gate->value("lastState", json::object());
      if (t == nullptr && last.contains("terminated")) t = &last["terminated"];
      if (t != nullptr && t->value("exitCode", 0) != 0) {
        int code = t->value("exitCode", 0);
        std::string msg = t->value("message", "");
        if (msg.empty()) msg = ExitMeaning(code);
        plan.events.push_back(
            {true, true, "RestoreGateFailed",
             "restore-wait exited with code " + std::to_string(code) + ": " + msg});
      }
      plan.reported_failures = failures;
    }
  }

  if (in.restore == nullptr) {
    if (passed) return plan;  // too late to restore into a running pod
    std::string sts = OwningStatefulSet(pod);
    json spec = {
        {"policy", in.policy_name}, {"pod", kube::GetName(pod)}, {"podUID", kube::GetUid(pod)}};
    if (auto ord = PodOrdinal(pod, sts)) spec["ordinal"] = *ord;
    json owner = {{"apiVersion", "v1"},       {"kind", "Pod"},       {"name", kube::GetName(pod)},
                  {"uid", kube::GetUid(pod)}, {"controller", false}, {"blockOwnerDeletion", false}};
    plan.create_restore = json{
        {"apiVersion", kApiVersion},
        {"kind", "StateRestore"},
        {"metadata",
         {{"name", RestoreNameForPod(pod)},
          {"namespace", kube::GetNamespace(pod)},
          {"labels", {{kRestoreForPodLabel, kube::GetUid(pod)}, {kManagedByLabel, kFieldManager}}},
          {"ownerReferences", json::array({owner})}}},
        {"spec", spec}};
    std::string timeout = in.spec != nullptr && in.spec->ok()
                              ? svc::FormatDuration(in.spec->value().restore_timeout)
                              : "its timeout";
    plan.events.push_back(
        {true, false, "RestoreRequested",
         "waiting for the node agent to restore the captured state (StateRestore " +
             RestoreNameForPod(pod) + ", timeout " + timeout + ")"});
    return plan;
  }

  // A restore exists: enforce the timeout while it is not finished.
  const json& r = *in.restore;
  std::string rphase = kube::GetStringAtPath(r, "status.phase");
  if (rphase == "Succeeded" || rphase == "Failed") return plan;
  if (in.spec == nullptr || !in.spec->ok()) return plan;
  auto created = ParseRfc3339(kube::GetStringAtPath(r, "metadata.creationTimestamp"));
  if (!created) return plan;
  // The wait starts when both exist: a user's StateRestore (time travel) may be older than the
  // pod that carries it out.
  if (auto pod_created = ParseRfc3339(kube::GetStringAtPath(pod, "metadata.creationTimestamp"))) {
    created = std::max(*created, *pod_created);
  }
  auto deadline = *created + in.spec->value().restore_timeout + in.grace;
  if (in.now < deadline) {
    plan.requeue_at = deadline;
    return plan;
  }
  std::string node = kube::GetStringAtPath(pod, "spec.nodeName");
  std::string consequence = passed ? "the pod started without it"
                                   : (in.spec->value().on_timeout == "StartEmpty"
                                          ? "restore-wait lets the application start empty"
                                          : "restore-wait keeps the pod from starting");
  std::string msg = "timed out after " + svc::FormatDuration(in.spec->value().restore_timeout) +
                    ": no node agent finished the restore" +
                    (node.empty() ? std::string() : " (the pod is on node " + node + ")") + "; " +
                    consequence;
  json failed = r;
  json status = r.value("status", json::object());
  status["phase"] = "Failed";
  status["message"] = msg;
  status["completionTime"] = FormatRfc3339(in.now);
  failed["status"] = status;
  plan.fail_restore = failed;
  plan.events.push_back({true, true, "RestoreTimedOut", msg});
  plan.events.push_back({false, true, "RestoreTimedOut", msg});
  return plan;
}

}  // namespace dk::op
