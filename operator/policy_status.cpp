#include "policy_status.h"

#include <algorithm>

#include "api.h"
#include "conditions.h"
#include "libkube/object_meta.h"

namespace dk::op {

using nlohmann::json;

namespace {

// The Replicated condition and status.replication of a policy with storage S3.
struct ReplicationVerdict {
  std::string status, reason, message;
  json summary;  // status.replication
  bool failing = false;
  std::optional<std::chrono::system_clock::time_point> failing_since;
  std::string failing_detail;  // "db-0 (node-1): AccessDenied: …"
};

std::string BucketUrl(const S3Spec& s3) {
  std::string prefix = s3.prefix;
  if (!prefix.empty() && prefix.back() != '/') prefix += '/';
  return "s3://" + s3.bucket + "/" + prefix;
}

ReplicationVerdict JudgeReplication(const S3Spec& s3, const PolicyStatusSummary& sum,
                                    const json& old_status,
                                    std::chrono::system_clock::time_point now) {
  ReplicationVerdict v;
  int64_t up_to_date = 0, max_lag_sets = 0, max_lag_seconds = 0;
  std::chrono::system_clock::time_point last_replicated{};
  std::vector<std::string> failing, pending;
  for (const auto& pr : sum.replication) {
    const ReportedReplication& r = pr.replication;
    max_lag_sets = std::max(max_lag_sets, r.lag_sets);
    max_lag_seconds = std::max(max_lag_seconds, r.lag_seconds);
    last_replicated = std::max(last_replicated, r.last_replicated_time);
    if (r.failing) {
      std::string d = pr.pod + " (" + pr.node +
                      "): " + (r.last_error_reason.empty() ? "Error" : r.last_error_reason);
      if (!r.last_error.empty()) d += ": " + r.last_error;
      failing.push_back(d);
    } else if (r.last_set == 0) {
      pending.push_back(pr.pod);
    } else if (r.lag_sets == 0) {
      ++up_to_date;
    }
  }
  // Pods with captured state that no report gives a replication status for.
  for (const auto& p : sum.pods) {
    if (!p.contains("replication")) pending.push_back(p.value("pod", ""));
  }
  v.summary = {{"bucket", BucketUrl(s3)},    {"pods", sum.protected_pods},
               {"upToDate", up_to_date},     {"failingPods", static_cast<int64_t>(failing.size())},
               {"maxLagSets", max_lag_sets}, {"maxLagSeconds", max_lag_seconds}};
  if (last_replicated.time_since_epoch().count() != 0) {
    v.summary["lastReplicated"] = FormatRfc3339(last_replicated);
  }
  auto list = [](const std::vector<std::string>& items) {
    std::string m = items.front();
    if (items.size() > 1) m += " (and " + std::to_string(items.size() - 1) + " more)";
    return m;
  };
  if (!failing.empty()) {
    v.failing = true;
    // Since when: kept from the status while it keeps failing, else now.
    const json old_rep = old_status.value("replication", json::object());
    if (old_rep.value("failingPods", int64_t{0}) > 0) {
      v.failing_since = ParseRfc3339(old_rep.value("failingSince", ""));
    }
    if (!v.failing_since) v.failing_since = now;
    v.summary["failingSince"] = FormatRfc3339(*v.failing_since);
    v.failing_detail = list(failing);
    v.status = "False";
    v.reason = "ReplicationFailing";
    v.message =
        "replication to " + BucketUrl(s3) + " fails (the agents retry): " + v.failing_detail;
  } else if (sum.protected_pods == 0) {
    v.status = "Unknown";
    v.reason = "NoCapturedState";
    v.message = "no pod has captured state yet";
  } else if (!pending.empty()) {
    v.status = "False";
    v.reason = "Pending";
    v.message = std::to_string(pending.size()) + " of " + std::to_string(sum.protected_pods) +
                " pod(s) not replicated to " + BucketUrl(s3) + " yet: " + list(pending);
  } else if (up_to_date == sum.protected_pods) {
    v.status = "True";
    v.reason = "UpToDate";
    v.message =
        "the latest state of " + std::to_string(up_to_date) + " pod(s) is in " + BucketUrl(s3);
  } else {
    v.status = "True";
    v.reason = "Replicating";
    v.message = std::to_string(sum.protected_pods - up_to_date) + " of " +
                std::to_string(sum.protected_pods) + " pod(s) catching up with " + BucketUrl(s3) +
                " (at most " + std::to_string(max_lag_sets) + " set(s), " +
                std::to_string(max_lag_seconds) + "s behind)";
  }
  return v;
}

}  // namespace

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
  const auto now_tp = ParseRfc3339(o.now).value_or(std::chrono::system_clock::now());
  std::optional<ReplicationVerdict> rep;
  if (o.spec->ok() && o.spec->value().s3) {
    rep = JudgeReplication(*o.spec->value().s3, sum, old_status, now_tp);
  }
  std::optional<std::chrono::seconds> requeue_after;

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
      if (rep && rep->failing) {
        auto failing_for = now_tp - *rep->failing_since;
        if (failing_for >= o.replication_degraded_after) {
          if (degraded == "False") {
            degraded = "True";
            degraded_reason = "ReplicationFailing";
            degraded_msg = "replication to " + BucketUrl(*spec.s3) + " has failed since " +
                           FormatRfc3339(*rep->failing_since) + ": " + rep->failing_detail;
          }
        } else {
          requeue_after = std::max(
              std::chrono::seconds(1),
              std::chrono::ceil<std::chrono::seconds>(o.replication_degraded_after - failing_for));
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
  const json* old_rep_c = FindCondition(old_conditions, "Replicated");
  const std::string old_rep_reason = old_rep_c ? old_rep_c->value("reason", "") : "";
  if (rep) {
    SetCondition(&conditions, "Replicated", rep->status, rep->reason, rep->message, gen, o.now);
    status["conditions"] = conditions;
    status["replication"] = rep->summary;
  } else if (o.spec->ok()) {  // storage Local (an invalid spec leaves both as they were)
    if (RemoveCondition(&conditions, "Replicated")) status["conditions"] = conditions;
    status.erase("replication");
  }

  PolicyStatusDecision d;
  d.changed = status != old_status;
  d.status = std::move(status);
  d.requeue_after = requeue_after;
  if (rep && rep->reason == "ReplicationFailing" && old_rep_reason != "ReplicationFailing") {
    d.events.push_back({true, "ReplicationFailing", rep->message});
  } else if (rep && rep->reason != "ReplicationFailing" && old_rep_reason == "ReplicationFailing") {
    d.events.push_back({false, "ReplicationRecovered", rep->message});
  }

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
