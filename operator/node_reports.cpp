#include "node_reports.h"

#include <algorithm>
#include <map>

#include "api.h"
#include "libkube/object_meta.h"

namespace dk::op {

using nlohmann::json;

namespace {

int64_t Int(const json& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end()) return 0;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_number()) return static_cast<int64_t>(it->get<double>());
  return 0;
}

std::string Str(const json& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : "";
}

bool Bool(const json& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->is_boolean() && it->get<bool>();
}

ReportedReplication ParseReplication(const json& p) {
  ReportedReplication r;
  auto it = p.find("replication");
  if (it == p.end() || !it->is_object() || it->empty()) return r;
  const json& j = *it;
  r.present = true;
  r.state = Str(j, "state");
  r.bucket = Str(j, "bucket");
  r.last_set = Int(j, "lastSet");
  r.last_bucket_set = Int(j, "lastBucketSet");
  r.last_root = Str(j, "lastRoot");
  r.last_set_time = Str(j, "lastSetTime");
  r.last_replicated = Str(j, "lastReplicated");
  if (auto t = ParseRfc3339(r.last_replicated)) r.last_replicated_time = *t;
  r.latest_set = Int(j, "latestSet");
  r.lag_sets = Int(j, "lagSets");
  r.lag_seconds = Int(j, "lagSeconds");
  r.backlog = Int(j, "backlog");
  r.failing = Bool(j, "failing");
  r.consecutive_failures = Int(j, "consecutiveFailures");
  r.last_error_reason = Str(j, "lastErrorReason");
  r.last_error = Str(j, "lastError");
  r.last_error_time = Str(j, "lastErrorTime");
  return r;
}

}  // namespace

json ReplicationStatusJson(const ReportedReplication& r, const std::string& node) {
  json j = {
      {"node", node},          {"lastSet", r.last_set},       {"bucketSet", r.last_bucket_set},
      {"lagSets", r.lag_sets}, {"lagSeconds", r.lag_seconds}, {"failing", r.failing}};
  auto put = [&j](const char* key, const std::string& v) {
    if (!v.empty()) j[key] = v;
  };
  put("state", r.state);
  put("lastRoot", r.last_root);
  if (auto t = ParseRfc3339(r.last_set_time)) j["lastSetTime"] = FormatRfc3339(*t);
  if (r.last_replicated_time.time_since_epoch().count() != 0) {
    j["lastReplicated"] = FormatRfc3339(r.last_replicated_time);
  }
  if (r.failing) j["consecutiveFailures"] = r.consecutive_failures;
  put("lastErrorReason", r.last_error_reason);
  put("lastError", r.last_error);
  if (auto t = ParseRfc3339(r.last_error_time)) j["lastErrorTime"] = FormatRfc3339(*t);
  return j;
}

Result<NodeReport> ParseNodeReport(const json& cm) {
  NodeReport r;
  const json data = cm.value("data", json::object());
  r.node = Str(data, "node");
  if (r.node.empty()) {
    std::string name = kube::GetName(cm);
    const std::string prefix = "diffkeeper-node-";
    r.node = name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
  }
  r.endpoint = Str(data, "endpoint");
  r.heartbeat = Str(data, "heartbeat");
  std::string pods_text = Str(data, "pods");
  if (pods_text.empty()) return r;
  json pods = json::parse(pods_text, nullptr, /*allow_exceptions=*/false);
  if (pods.is_discarded() || !pods.is_array()) {
    return Status::InvalidArgument("node report " + kube::GetName(cm) +
                                   ": data.pods is not a JSON array");
  }
  for (const auto& p : pods) {
    if (!p.is_object()) continue;
    ReportedPod rp;
    rp.node = r.node;
    rp.ns = Str(p, "namespace");
    rp.policy = Str(p, "policy");
    rp.stateful_set = Str(p, "statefulSet");
    if (rp.ns.empty() || rp.stateful_set.empty() || !p.contains("ordinal") ||
        !p["ordinal"].is_number_integer()) {
      continue;
    }
    rp.ordinal = p["ordinal"].get<int>();
    rp.pod = Str(p, "pod");
    if (rp.pod.empty()) rp.pod = rp.stateful_set + "-" + std::to_string(rp.ordinal);
    rp.pod_uid = Str(p, "podUID");
    rp.versions = Int(p, "versions");
    rp.sets = Int(p, "sets");
    rp.logical_bytes = Int(p, "logicalBytes");
    rp.stored_bytes = Int(p, "storedBytes");
    rp.last_capture = Str(p, "lastCapture");
    if (auto t = ParseRfc3339(rp.last_capture)) rp.last_capture_time = *t;
    rp.last_root = Str(p, "lastRoot");
    rp.last_set = Int(p, "lastSet");
    if (auto e = p.find("errors"); e != p.end() && e->is_array()) {
      for (const auto& v : *e) {
        if (v.is_string()) rp.errors.push_back(v.get<std::string>());
      }
    }
    rp.replication = ParseReplication(p);
    r.pods.push_back(std::move(rp));
  }
  return r;
}

int RestoreOrdinal(const json& restore, const std::string& sts) {
  const json spec = restore.value("spec", json::object());
  if (auto o = spec.find("ordinal"); o != spec.end() && o->is_number_integer()) {
    return o->get<int>();
  }
  std::string pod = Str(spec, "pod");
  std::string prefix = sts + "-";
  if (pod.size() > prefix.size() && pod.compare(0, prefix.size(), prefix) == 0) {
    std::string rest = pod.substr(prefix.size());
    if (!rest.empty() && rest.size() < 10 &&
        std::all_of(rest.begin(), rest.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return std::stoi(rest);
    }
  }
  return -1;
}

PolicyStatusSummary SummarizePolicy(const std::string& ns, const std::string& sts,
                                    const std::vector<NodeReport>& reports,
                                    const std::vector<json>& restores) {
  PolicyStatusSummary s;
  std::map<int, const ReportedPod*> latest;
  std::map<int, const ReportedPod*> latest_replicated;  // by lastReplicated, among those with one
  for (const auto& r : reports) {
    for (const auto& p : r.pods) {
      if (p.ns != ns || p.stateful_set != sts) continue;
      if (p.replication.present) {
        auto& rep = latest_replicated[p.ordinal];
        if (rep == nullptr ||
            p.replication.last_replicated_time > rep->replication.last_replicated_time ||
            (p.replication.last_replicated_time == rep->replication.last_replicated_time &&
             p.node < rep->node)) {
          rep = &p;
        }
      }
      s.stored_bytes += p.stored_bytes;
      for (const auto& e : p.errors) s.errors.push_back(r.node + ": " + p.pod + ": " + e);
      auto& cur = latest[p.ordinal];
      if (cur == nullptr || p.last_capture_time > cur->last_capture_time ||
          (p.last_capture_time == cur->last_capture_time && p.node < cur->node)) {
        cur = &p;
      }
    }
  }
  // Latest finished restore per ordinal.
  std::map<int, const json*> last_restore;
  std::map<int, std::string> last_restore_time;
  for (const auto& r : restores) {
    const json status = r.value("status", json::object());
    std::string phase = Str(status, "phase");
    if (phase != "Succeeded" && phase != "Failed") continue;
    int ord = RestoreOrdinal(r, sts);
    if (ord < 0) continue;
    std::string t = Str(status, "completionTime");
    if (t.empty()) t = kube::GetStringAtPath(r, "metadata.creationTimestamp");
    auto tp = ParseRfc3339(t);
    std::string key = tp ? FormatRfc3339(*tp) : t;
    if (last_restore.count(ord) == 0 || key > last_restore_time[ord]) {
      last_restore[ord] = &r;
      last_restore_time[ord] = key;
    }
  }
  for (const auto& [ord, p] : latest) {
    json e = {{"pod", p->pod},
              {"ordinal", ord},
              {"node", p->node},
              {"versions", p->sets},
              {"logicalBytes", p->logical_bytes},
              {"storedBytes", p->stored_bytes},
              {"lastSet", p->last_set}};
    if (!p->pod_uid.empty()) e["podUID"] = p->pod_uid;
    if (!p->last_capture.empty() && p->last_capture_time.time_since_epoch().count() != 0) {
      e["lastCapture"] = FormatRfc3339(p->last_capture_time);
    }
    if (!p->last_root.empty()) e["lastVerifiedRoot"] = p->last_root;
    if (!p->errors.empty()) e["errors"] = p->errors;
    if (auto it = last_restore.find(ord); it != last_restore.end()) {
      const json& r = *it->second;
      const json status = r.value("status", json::object());
      json lr = {{"name", kube::GetName(r)}, {"result", Str(status, "phase")}};
      if (!last_restore_time[ord].empty()) lr["time"] = last_restore_time[ord];
      if (!Str(status, "source").empty()) lr["source"] = Str(status, "source");
      if (!Str(status, "message").empty()) lr["message"] = Str(status, "message");
      e["lastRestore"] = lr;
    }
    const ReportedPod* rep = p->replication.present ? p : nullptr;
    if (rep == nullptr) {
      if (auto it = latest_replicated.find(ord); it != latest_replicated.end()) rep = it->second;
    }
    if (rep != nullptr) {
      e["replication"] = ReplicationStatusJson(rep->replication, rep->node);
      s.replication.push_back({p->pod, rep->node, rep->replication});
    }
    s.pods.push_back(e);
    s.protected_pods++;
    s.versions += p->sets;
    s.logical_bytes += p->logical_bytes;
  }
  return s;
}

}  // namespace dk::op
