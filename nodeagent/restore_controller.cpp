#include "restore_controller.h"

#include <algorithm>

#include "libkube/api_error.h"
#include "libkube/object_meta.h"
#include "libstate/options.h"

namespace dk::agent {
namespace {

using nlohmann::json;

constexpr auto kRetryDelay = std::chrono::seconds(3);

const json& Sub(const json& obj, const char* key) {
  static const json kNull;
  if (!obj.is_object()) return kNull;
  auto it = obj.find(key);
  return it == obj.end() ? kNull : *it;
}

std::string Str(const json& obj, const char* key) {
  const json& v = Sub(obj, key);
  return v.is_string() ? v.get<std::string>() : std::string();
}

int64_t Generation(const json& obj) {
  const json& g = Sub(Sub(obj, "metadata"), "generation");
  return g.is_number_integer() ? g.get<int64_t>() : 0;
}

bool GatedWithoutMarker(const json& pod, const std::string& marker_dir) {
  auto labels = kube::GetLabels(pod);
  auto it = labels.find(kGatedLabel);
  if (it == labels.end() || it->second != "true") return false;
  auto m = ReadMarker(marker_dir, kube::GetUid(pod));
  return m.ok() && !*m;
}

}  // namespace

kube::ResourceRef StatePolicies() {
  return kube::ResourceRef{"diffkeeper.io", "v1alpha1", "statepolicies", true, "StatePolicy"};
}

kube::ResourceRef StateRestores() {
  return kube::ResourceRef{"diffkeeper.io", "v1alpha1", "staterestores", true, "StateRestore"};
}

int64_t RestoreOrdinal(const json& restore, const std::string& sts) {
  const json& spec = Sub(restore, "spec");
  const json& ord = Sub(spec, "ordinal");
  if (ord.is_number_integer()) return ord.get<int64_t>();
  std::string pod = Str(spec, "pod");
  const std::string prefix = sts + "-";
  if (!sts.empty() && pod.rfind(prefix, 0) == 0) {
    std::string rest = pod.substr(prefix.size());
    if (!rest.empty() && rest.size() < 10 &&
        rest.find_first_not_of("0123456789") == std::string::npos)
      return std::stoll(rest);
  }
  return -1;
}

std::vector<SourceCandidate> CandidatesFromReports(const std::vector<json>& reports,
                                                   const PodIdentity& id,
                                                   const std::string& self_node) {
  std::vector<SourceCandidate> out;
  for (const json& cm : reports) {
    const json& data = Sub(cm, "data");
    std::string node = Str(data, "node");
    if (node.empty()) {
      std::string name = kube::GetName(cm);
      const std::string prefix = "diffkeeper-node-";
      if (name.rfind(prefix, 0) == 0) node = name.substr(prefix.size());
    }
    if (node.empty() || node == self_node) continue;
    auto pods = json::parse(Str(data, "pods"), nullptr, /*allow_exceptions=*/false);
    if (!pods.is_array()) continue;
    for (const json& p : pods) {
      if (Str(p, "namespace") != id.ns || Str(p, "statefulSet") != id.stateful_set) continue;
      const json& ord = Sub(p, "ordinal");
      if (!ord.is_number_integer() || ord.get<int64_t>() != id.ordinal) continue;
      const json& ls = Sub(p, "lastSet");
      if (!ls.is_number_unsigned() || ls.get<uint64_t>() == 0) continue;
      SourceCandidate c;
      c.node = node;
      c.endpoint = Str(data, "endpoint");
      c.certificate = Str(data, "certificate");
      c.last_set = ls.get<uint64_t>();
      c.last_root = Str(p, "lastRoot");
      if (!ParseRfc3339(Str(p, "lastCapture"), &c.last_capture_ns)) c.last_capture_ns = 0;
      if (c.endpoint.empty()) continue;
      out.push_back(std::move(c));
    }
  }
  return out;
}

RestoreController::RestoreController(const AgentConfig& config, kube::Client* client,
                                     kube::Informer* restores, kube::Informer* pods,
                                     kube::Informer* policies, kube::Informer* reports,
                                     StoreRegistry* registry, RestoreExecutor* executor,
                                     PodController* pod_controller, NodeReporter* reporter,
                                     kube::EventRecorder* events, AgentMetrics* metrics,
                                     Logger* logger)
    : config_(config),
      client_(client),
      restores_(restores),
      pods_(pods),
      policies_(policies),
      reports_(reports),
      registry_(registry),
      executor_(executor),
      pod_controller_(pod_controller),
      reporter_(reporter),
      events_(events),
      metrics_(metrics),
      log_(logger ? logger : NullLogger()),
      queue_(kube::WorkQueueOptions{std::chrono::seconds(1), std::chrono::seconds(30), 0, 100,
                                    nullptr}) {}

RestoreController::~RestoreController() { Stop(); }

void RestoreController::Start(int workers) {
  for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { Loop(); });
}

void RestoreController::Stop() {
  if (stopped_) return;
  stopped_ = true;
  queue_.ShutDown();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void RestoreController::Enqueue(const std::string& key) { queue_.Add(key); }

void RestoreController::EnqueueNamespace(const std::string& ns) {
  for (const auto& key : restores_->cache().Keys())
    if (key.rfind(ns + "/", 0) == 0) queue_.Add(key);
}

void RestoreController::Loop() {
  std::string key;
  while (queue_.Get(&key)) {
    Status s = Reconcile(key);
    if (s.ok() || !s.retryable()) {
      queue_.Forget(key);
    } else {
      log_->Warn("Restore reconcile failed; retrying", {{"restore", key}, {"error", s.ToString()}});
      queue_.AddRateLimited(key);
    }
    queue_.Done(key);
  }
}

Status RestoreController::Entitled(const std::string& caller_node, const PodIdentity& id) const {
  for (const json& sr : restores_->cache().List()) {
    if (kube::GetNamespace(sr) != id.ns) continue;
    const json& st = Sub(sr, "status");
    if (Str(st, "node") != caller_node || Str(st, "phase") != "Running") continue;
    auto pol = policies_->Get(id.ns, Str(Sub(sr, "spec"), "policy"));
    if (!pol) continue;
    std::string sts = kube::GetStringAtPath(*pol, "spec.targetRef.name");
    if (sts != id.stateful_set || RestoreOrdinal(sr, sts) != id.ordinal) continue;
    return Status::Ok();
  }
  return Status::PermissionDenied("no restore of " + id.Key() + " is running on node " +
                                  caller_node);
}

std::vector<SourceCandidate> RestoreController::Candidates(const PodIdentity& id) {
  std::vector<SourceCandidate> out = CandidatesFromReports(
      reports_ ? reports_->cache().List() : std::vector<json>{}, id, config_.node_name);
  if (registry_->Exists(id)) {
    IdentityRecord rec = registry_->Record(id);
    RestorePoint p = rec.point;
    if (p.set == 0) {
      auto store = registry_->Get(id);
      if (store.ok()) {
        auto sets = (*store)->Sets();
        if (sets.ok() && !sets->empty()) {
          p.set = sets->back().set;
          p.root = sets->back().root;
          p.time_ns = sets->back().time_ns;
        }
      }
    }
    if (p.set) {
      SourceCandidate c;
      c.node = config_.node_name;
      c.local = true;
      c.last_capture_ns = p.time_ns;
      c.last_set = p.set;
      c.last_root = p.root.Hex();
      out.push_back(c);
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const SourceCandidate& a, const SourceCandidate& b) {
    if (a.last_capture_ns != b.last_capture_ns) return a.last_capture_ns > b.last_capture_ns;
    return a.local && !b.local;
  });
  return out;
}

Status RestoreController::PatchStatus(const std::string& ns, const std::string& name, json status) {
  // Conditional on the resourceVersion just read: the operator may fail a restore that takes
  // too long (docs/protocol.md), and a finished status is never overwritten.
  kube::PatchOptions po;
  po.subresource = "status";
  po.field_manager = "diffkeeper-agent";
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto cur = client_->Get(StateRestores(), ns, name);
    if (!cur.ok()) {
      if (cur.status().IsNotFound()) return Status::Ok();  // deleted (its pod went away)
      return cur.status().WithContext("read StateRestore " + ns + "/" + name);
    }
    const std::string phase = Str(Sub(*cur, "status"), "phase");
    if (phase == "Succeeded" || phase == "Failed") {
      log_->Warn("StateRestore already finished; its status is left as is",
                 {{"restore", ns + "/" + name},
                  {"phase", phase},
                  {"message", Str(Sub(*cur, "status"), "message")}});
      return Status::Ok();
    }
    json patch = {{"metadata", {{"resourceVersion", kube::GetResourceVersion(*cur)}}},
                  {"status", status}};
    auto r = client_->Patch(StateRestores(), ns, name, kube::PatchType::kMerge, patch, po);
    if (r.ok()) return Status::Ok();
    if (!kube::IsConflict(r.status()))
      return r.status().WithContext("status of StateRestore " + ns + "/" + name);
  }
  return Status::Unavailable("status of StateRestore " + ns + "/" + name +
                             ": kept conflicting with other writers");
}

Status RestoreController::Reconcile(const std::string& key) {
  size_t slash = key.find('/');
  if (slash == std::string::npos) return Status::Ok();
  const std::string ns = key.substr(0, slash), name = key.substr(slash + 1);
  auto sr = restores_->Get(ns, name);
  if (!sr) return Status::Ok();
  const json& spec = Sub(*sr, "spec");
  const json& status = Sub(*sr, "status");
  const std::string phase = Str(status, "phase");
  if (phase == "Succeeded" || phase == "Failed") return Status::Ok();
  const std::string sr_uid = kube::GetUid(*sr);
  {
    // The informer may still show an older status of a restore finished here, or an attempt
    // that must wait for its retry time.
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_.count(sr_uid)) return Status::Ok();
    auto it = next_attempt_.find(sr_uid);
    if (it != next_attempt_.end()) {
      auto now = std::chrono::steady_clock::now();
      if (now < it->second) {
        queue_.AddAfter(key, it->second - now);
        return Status::Ok();
      }
      next_attempt_.erase(it);
    }
  }

  // Is it ours? Only pods bound to this node are in the pod informer.
  std::optional<json> pod;
  const std::string want_uid = Str(spec, "podUID");
  const std::string policy_name = Str(spec, "policy");
  auto policy_obj = policies_->Get(ns, policy_name);
  std::optional<AgentPolicy> policy;
  std::string policy_error;
  if (policy_obj) {
    auto p = ParseAgentPolicy(*policy_obj);
    if (p.ok())
      policy = std::move(*p);
    else
      policy_error = p.status().message();
  } else {
    policy_error = "StatePolicy " + ns + "/" + policy_name + " does not exist";
  }
  if (!want_uid.empty()) {
    auto by_uid = pods_->cache().ByIndex("uid", want_uid);
    if (by_uid.ok() && !by_uid->empty()) pod = by_uid->front();
  } else if (policy) {
    std::string pod_name = Str(spec, "pod");
    int64_t ord = RestoreOrdinal(*sr, policy->stateful_set);
    if (pod_name.empty() && ord >= 0) pod_name = policy->stateful_set + "-" + std::to_string(ord);
    if (!pod_name.empty()) pod = pods_->Get(ns, pod_name);
  }
  if (!pod) return Status::Ok();  // another node's (or its pod is not there yet)
  const std::string uid = kube::GetUid(*pod);
  const std::string pod_key = ns + "/" + kube::GetName(*pod);

  const int64_t now_ns = SystemClockNs();
  json base = {{"node", config_.node_name}, {"observedGeneration", Generation(*sr)}};
  std::string start_time = Str(status, "startTime");
  int64_t start_ns = now_ns;
  if (start_time.empty() || !ParseRfc3339(start_time, &start_ns)) {
    start_ns = now_ns;
    start_time = Rfc3339(now_ns);
  }
  base["startTime"] = start_time;

  auto finish = [&](const RestoreOutcome& o) -> Status {
    json st = base;
    st["phase"] = o.succeeded ? "Succeeded" : "Failed";
    st["source"] = o.source == "marker" ? Str(status, "source") : o.source;
    if (st["source"].get<std::string>().empty()) st["source"] = "none";
    st["message"] = o.message;
    st["completionTime"] = Rfc3339(SystemClockNs());
    if (o.set) st["set"] = o.set;
    st["files"] = o.files;
    st["bytes"] = o.bytes;
    st["durationSeconds"] = o.seconds;
    if (!o.root.empty()) st["verifiedRoot"] = o.root;
    if (metrics_)
      metrics_->RecordRestore(o.succeeded ? "succeeded" : "failed", st["source"].get<std::string>(),
                              o.seconds, o.bytes);
    if (events_) {
      events_->Record(*pod, o.succeeded ? kube::EventType::kNormal : kube::EventType::kWarning,
                      o.succeeded ? "Restored" : "RestoreFailed", "Restore",
                      "StateRestore " + name + ": " + o.message);
    }
    if (pod_controller_) pod_controller_->Enqueue(pod_key);
    if (reporter_) reporter_->Notify(true);
    Status s = PatchStatus(ns, name, st);
    if (!s.ok()) return Status::Unavailable(s.message());  // retried; the marker decides
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finished_.size() > 10000) finished_.clear();
      finished_.insert(sr_uid);
    }
    log_->Info(
        "Restore finished",
        {{"restore", key}, {"phase", st["phase"].get<std::string>()}, {"message", o.message}});
    return Status::Ok();
  };
  auto fail_now = [&](const std::string& msg) -> Status {
    RestoreJob job;
    job.restore = key;
    job.pod_uid = uid;
    // A user's restore that does not apply to this pod must not block the pod's own gate.
    if (want_uid.empty()) {
      RestoreOutcome o;
      o.done = true;
      o.message = msg;
      return finish(o);
    }
    return finish(executor_->Fail(job, msg));
  };

  if (!policy) return fail_now(policy_error);
  auto id = IdentityOfPod(*pod);
  if (!id.ok()) return fail_now(id.status().message());
  if (id->stateful_set != policy->stateful_set)
    return fail_now("pod " + pod_key + " belongs to StatefulSet " + id->stateful_set + ", not to " +
                    policy->stateful_set + " (StatePolicy " + policy->name + ")");
  int64_t ord = RestoreOrdinal(*sr, policy->stateful_set);
  if (ord >= 0 && ord != id->ordinal)
    return fail_now("spec.ordinal " + std::to_string(ord) + " does not match pod " + pod_key);
  if (want_uid.empty() && !GatedWithoutMarker(*pod, config_.MarkerDir())) {
    // A user's restore (time travel) waits for the pod's next start: the operator hands it to
    // the replacement pod, whose gate then waits for it instead of a restore of the latest state.
    const std::string msg = "waiting for pod " + pod_key +
                            " to be re-created: a restore only goes into a starting pod (delete "
                            "the pod; its replacement is restored from this StateRestore)";
    if (phase != "Pending" || Str(status, "message") != msg) {
      json st = {{"phase", "Pending"}, {"message", msg}};
      DK_RETURN_IF_ERROR(PatchStatus(ns, name, st));
    }
    return Status::Ok();
  }

  RestoreJob job;
  job.restore = key;
  job.id = *id;
  job.pod_uid = uid;
  if (Sub(spec, "set").is_number_unsigned()) job.set = Sub(spec, "set").get<uint64_t>();
  std::string t = Str(spec, "time");
  if (!t.empty()) {
    int64_t tn;
    if (!ParseRfc3339(t, &tn)) return fail_now("spec.time '" + t + "' is not an RFC 3339 time");
    job.time_ns = tn;
  }
  const json& paths = Sub(spec, "paths");
  if (paths.is_array())
    for (const auto& p : paths)
      if (p.is_string()) job.volume_paths.push_back(p.get<std::string>());
  LayoutOptions lo;
  lo.kubelet_root = config_.kubelet_root;
  lo.host_root = config_.host_root;
  auto layout = ResolveLayout(*pod, *policy, lo);
  if (!layout.ok()) return fail_now(layout.status().message());
  job.layout = *layout;
  job.candidates = Candidates(*id);
  if (policy->s3 && open_bucket_) {
    BucketSource b;
    b.prefix = policy->s3->prefix;
    b.describe = "s3 bucket " + policy->s3->bucket +
                 (policy->s3->endpoint.empty() ? std::string() : " at " + policy->s3->endpoint);
    b.open = [this, s3 = *policy->s3] { return open_bucket_(s3); };
    job.bucket = std::move(b);
  }

  if (phase != "Running" || Str(status, "node") != config_.node_name) {
    json st = base;
    st["phase"] = "Running";
    st["message"] = job.candidates.empty()
                        ? "restoring (no node reports state for " + id->Key() + ")" +
                              (job.bucket ? "; trying " + job.bucket->describe : std::string())
                        : "restoring from " + (job.candidates.front().local
                                                   ? std::string("this node")
                                                   : "node " + job.candidates.front().node);
    DK_RETURN_IF_ERROR(PatchStatus(ns, name, st));
    log_->Info("Restore started", {{"restore", key},
                                   {"pod", pod_key},
                                   {"identity", id->Key()},
                                   {"candidates", job.candidates.size()}});
  }
  RestoreOutcome o = executor_->Run(job);
  if (!o.done) {
    int64_t waited_ms = (SystemClockNs() - start_ns) / 1000000;
    if (waited_ms < config_.restore_peer_timeout.count()) {
      if (Str(status, "message") != "waiting: " + o.message) {
        json st = base;
        st["phase"] = "Running";
        st["message"] = "waiting: " + o.message;
        (void)PatchStatus(ns, name, st);
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        next_attempt_[kube::GetUid(*sr)] = std::chrono::steady_clock::now() + kRetryDelay;
      }
      queue_.AddAfter(key, kRetryDelay);
      return Status::Ok();
    }
    o = executor_->Fail(job,
                        "gave up after " + std::to_string(waited_ms / 1000) + "s: " + o.message);
    if (!o.done) return Status::Unavailable(o.message);
  }
  return finish(o);
}

}  // namespace dk::agent
