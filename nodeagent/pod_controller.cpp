#include "pod_controller.h"

#include "libkube/object_meta.h"
#include "pod_identity.h"
#include "restore_marker.h"

namespace dk::agent {
namespace {

using nlohmann::json;

bool Terminating(const json& pod) {
  return pod.contains("metadata") && pod["metadata"].is_object() &&
         pod["metadata"].contains("deletionTimestamp") &&
         !pod["metadata"]["deletionTimestamp"].is_null();
}

std::string Phase(const json& pod) { return kube::GetStringAtPath(pod, "status.phase"); }

constexpr auto kResync = std::chrono::seconds(30);

}  // namespace

PolicyLookup FindPolicy(const kube::Informer& policies, const std::string& ns,
                        const std::string& sts) {
  PolicyLookup out;
  auto in_ns = policies.cache().ByIndex("namespace", ns);
  std::vector<json> objs = in_ns.ok() ? *in_ns : policies.cache().List();
  for (const json& obj : objs) {
    if (kube::GetNamespace(obj) != ns) continue;
    if (kube::GetStringAtPath(obj, "spec.targetRef.name") != sts) continue;
    auto p = ParseAgentPolicy(obj);
    if (!p.ok()) {
      if (out.error.empty()) out.error = p.status().message();
      continue;
    }
    if (out.policy) {
      out.error = "StatePolicies " + out.policy->name + " and " + p->name +
                  " both target StatefulSet " + sts + "; using " + out.policy->name;
      continue;
    }
    out.policy = std::move(*p);
  }
  return out;
}

PodController::PodController(const AgentConfig& config, kube::Informer* pods,
                             kube::Informer* policies, StoreRegistry* registry, CaptureGate* gate,
                             AgentMetrics* metrics, NodeReporter* reporter, Logger* logger,
                             ReplicationManager* replication)
    : config_(config),
      pods_(pods),
      policies_(policies),
      registry_(registry),
      gate_(gate),
      metrics_(metrics),
      reporter_(reporter),
      log_(logger ? logger : NullLogger()),
      replication_(replication),
      queue_(kube::WorkQueueOptions{std::chrono::milliseconds(500), std::chrono::seconds(60), 0,
                                    100, nullptr}) {}

PodController::~PodController() { Stop(); }

void PodController::Start() {
  worker_thread_ = std::thread([this] { Loop(); });
  housekeeping_thread_ = std::thread([this] { Housekeeping(); });
}

void PodController::Stop() {
  {
    std::lock_guard<std::mutex> lock(hk_mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  hk_cv_.notify_all();
  queue_.ShutDown();
  if (worker_thread_.joinable()) worker_thread_.join();
  if (housekeeping_thread_.joinable()) housekeeping_thread_.join();
  std::map<std::string, std::unique_ptr<Running>> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    all.swap(running_);
  }
  // Stop them all at once: each finishes its capture in flight and makes a final capture.
  std::vector<std::thread> stoppers;
  for (auto& [uid, r] : all) {
    CaptureWorker* w = r->worker.get();
    stoppers.emplace_back([w] { w->Stop(); });
  }
  for (auto& t : stoppers) t.join();
  if (metrics_) metrics_->SetProtectedPods(0);
}

void PodController::Enqueue(const std::string& pod_key) { queue_.Add(pod_key); }

void PodController::EnqueueAll() {
  for (const auto& key : pods_->cache().Keys()) queue_.Add(key);
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [uid, r] : running_) queue_.Add(r->pod_key);
}

void PodController::EnqueueNamespace(const std::string& ns) {
  for (const auto& key : pods_->cache().Keys())
    if (key.rfind(ns + "/", 0) == 0) queue_.Add(key);
}

size_t PodController::running() const {
  std::lock_guard<std::mutex> lock(mu_);
  return running_.size();
}

bool PodController::Capturing(const PodIdentity& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [uid, r] : running_)
    if (r->id == id) return true;
  return false;
}

size_t PodController::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& [uid, r] : running_) n += r->worker->Snapshot().pending ? 1 : 0;
  return n;
}

CaptureWorker* PodController::WorkerForTest(const std::string& pod_uid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = running_.find(pod_uid);
  return it == running_.end() ? nullptr : it->second->worker.get();
}

void PodController::Loop() {
  std::string key;
  while (queue_.Get(&key)) {
    Status s = Reconcile(key);
    if (s.ok() || !s.retryable()) {
      queue_.Forget(key);
    } else {
      queue_.AddRateLimited(key);
    }
    queue_.Done(key);
  }
}

void PodController::Housekeeping() {
  auto last_gc = std::chrono::steady_clock::now();
  auto last_rescan = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(hk_mu_);
  while (!stopping_) {
    hk_cv_.wait_for(lock, kResync);
    if (stopping_) break;
    lock.unlock();
    EnqueueAll();
    if (metrics_) {
      metrics_->SetPending(pending());
      metrics_->SetProtectedPods(running());
    }
    auto now = std::chrono::steady_clock::now();
    if (config_.rescan_interval.count() > 0 && now - last_rescan >= config_.rescan_interval) {
      last_rescan = now;
      std::lock_guard<std::mutex> g(mu_);
      for (auto& [uid, r] : running_) r->worker->RequestRescan();
    }
    if (now - last_gc >= std::chrono::hours(1)) {
      last_gc = now;
      // Retention: drop versions the policies no longer keep (no compaction here).
      std::vector<std::pair<PodIdentity, std::string>> ids;
      {
        std::lock_guard<std::mutex> g(mu_);
        for (auto& [uid, r] : running_) ids.emplace_back(r->id, r->policy);
      }
      for (const auto& [id, policy_name] : ids) {
        auto pol = FindPolicy(*policies_, id.ns, id.stateful_set);
        if (!pol.policy) continue;
        auto store = registry_->Get(id);
        if (!store.ok()) continue;
        auto rep = (*store)->Gc(pol.policy->ToRetention());
        if (!rep.ok()) {
          log_->Warn("Retention failed",
                     {{"identity", id.Key()}, {"error", rep.status().ToString()}});
        } else if (rep->versions_dropped) {
          registry_->MarkChanged(id);
          log_->Info("Applied retention", {{"identity", id.Key()},
                                           {"versions_dropped", rep->versions_dropped},
                                           {"objects_freed", rep->objects_freed}});
        }
      }
    }
    lock.lock();
  }
}

void PodController::StopWorkersLocked(const std::string& pod_key, const std::string& keep_uid,
                                      std::vector<std::unique_ptr<Running>>* stopped) {
  for (auto it = running_.begin(); it != running_.end();) {
    if (it->second->pod_key == pod_key && it->first != keep_uid) {
      stopped->push_back(std::move(it->second));
      it = running_.erase(it);
    } else {
      ++it;
    }
  }
}

void PodController::OnCapture(Running* r, const CaptureReport& rep) {
  if (metrics_) metrics_->RecordCapture(rep);
  if (!rep.status.ok()) {
    registry_->NoteError(r->id, rep.status.ToString());
    if (reporter_) reporter_->Notify(true);
    return;
  }
  if (rep.result.set == 0) {
    if (replication_) replication_->Captured(r->id, 0, false);
    return;
  }
  registry_->MarkChanged(r->id);
  if ((r->terminating.load() || rep.root_vanished) && rep.result.deleted > 0) {
    if (replication_) replication_->Captured(r->id, rep.result.set, /*replicate=*/false);
    log_->Warn(
        "Capture of a terminating pod recorded deletions; it does not become the restore "
        "point (volume teardown looks the same)",
        {{"identity", r->id.Key()}, {"set", rep.result.set}, {"deleted", rep.result.deleted}});
  } else {
    RestorePoint p;
    p.set = rep.result.set;
    p.root = rep.result.root;
    p.time_ns = rep.time_ns;
    Status s = registry_->SetRestorePoint(r->id, p);
    if (!s.ok())
      log_->Error("Recording the restore point failed",
                  {{"identity", r->id.Key()}, {"error", s.ToString()}});
    registry_->ClearError(r->id);
    if (replication_) replication_->Captured(r->id, rep.result.set, /*replicate=*/true);
  }
  if (reporter_) reporter_->Notify(rep.initial);
}

Status PodController::Reconcile(const std::string& key) {
  std::vector<std::unique_ptr<Running>> to_stop;
  // Stopping makes a final capture: do it outside the lock, whatever path we leave by.
  struct StopAtExit {
    std::vector<std::unique_ptr<Running>>* list;
    ~StopAtExit() {
      for (auto& r : *list) r->worker->Stop();
    }
  } stop_at_exit{&to_stop};

  size_t slash = key.find('/');
  if (slash == std::string::npos) return Status::Ok();
  auto pod = pods_->Get(key.substr(0, slash), key.substr(slash + 1));
  std::lock_guard<std::mutex> lock(mu_);
  if (!pod) {
    StopWorkersLocked(key, "", &to_stop);
    for (auto& r : to_stop)
      log_->Info("Stopped capturing: pod gone", {{"pod", key}, {"identity", r->id.Key()}});
    if (metrics_) metrics_->SetProtectedPods(running_.size());
    return Status::Ok();
  }
  const std::string uid = kube::GetUid(*pod);
  StopWorkersLocked(key, uid, &to_stop);  // an older pod of the same name
  auto stop_this = [&](const std::string& why) {
    auto it = running_.find(uid);
    if (it != running_.end()) {
      log_->Info("Stopped capturing", {{"pod", key}, {"reason", why}});
      to_stop.push_back(std::move(it->second));
      running_.erase(it);
    }
    if (metrics_) metrics_->SetProtectedPods(running_.size());
    return Status::Ok();
  };
  const std::string phase = Phase(*pod);
  if (phase == "Succeeded" || phase == "Failed") return stop_this("pod finished");
  auto id = IdentityOfPod(*pod);
  if (!id.ok()) return stop_this("not a StatefulSet pod");
  PolicyLookup lookup = FindPolicy(*policies_, id->ns, id->stateful_set);
  if (!lookup.error.empty()) {
    log_->Warn("StatePolicy problem", {{"pod", key}, {"error", lookup.error}});
    if (registry_->Exists(*id)) registry_->NoteError(*id, lookup.error);
  }
  if (!lookup.policy) return stop_this("no StatePolicy protects it");
  const AgentPolicy& policy = *lookup.policy;
  if (policy.paused) return stop_this("StatePolicy " + policy.name + " is paused");

  // A gated pod is captured only after its restore.
  auto labels = kube::GetLabels(*pod);
  if (labels.count(kGatedLabel) && labels[kGatedLabel] == "true") {
    auto marker = ReadMarker(config_.MarkerDir(), uid);
    if (!marker.ok()) {
      log_->Error("Unreadable restore marker",
                  {{"pod", key}, {"error", marker.status().ToString()}});
      return stop_this("unreadable restore marker");
    }
    if (!*marker) {
      (void)stop_this("waiting for its restore");
      queue_.AddAfter(key, std::chrono::seconds(5));
      return Status::Ok();
    }
  }

  LayoutOptions lo;
  lo.kubelet_root = config_.kubelet_root;
  lo.host_root = config_.host_root;
  auto layout = ResolveLayout(*pod, policy, lo);
  if (!layout.ok()) {
    std::string msg = layout.status().message();
    log_->Warn("Cannot capture pod", {{"pod", key}, {"error", msg}});
    if (metrics_) metrics_->RecordError("resolve");
    registry_->NoteError(*id, msg);
    if (reporter_) reporter_->Notify(true);
    (void)stop_this("cannot resolve its paths");
    queue_.AddAfter(key, std::chrono::seconds(30));
    return Status::Ok();
  }
  bool terminating = Terminating(*pod);
  auto it = running_.find(uid);
  if (it != running_.end()) {
    Running& r = *it->second;
    r.terminating = terminating;
    if (r.layout == *layout && r.debounce_ms == policy.debounce_ms && r.policy == policy.name) {
      if (replication_) (void)replication_->Ensure(r.id, policy, r.store);  // status records it
      return Status::Ok();
    }
    log_->Info("Capture settings changed; restarting the worker", {{"pod", key}});
    to_stop.push_back(std::move(it->second));
    running_.erase(it);
  }
  if (terminating) return Status::Ok();  // no new worker for a pod on its way out

  auto root = layout->Pin(/*create=*/false);
  if (!root.ok()) {
    std::string msg = "protected path " + layout->HostPath() + ": " + root.status().message();
    if (root.status().IsNotFound()) {
      queue_.AddAfter(key, std::chrono::seconds(2));  // the kubelet has not set it up yet
      return Status::Ok();
    }
    log_->Warn("Cannot capture pod", {{"pod", key}, {"error", msg}});
    registry_->NoteError(*id, msg);
    if (metrics_) metrics_->RecordError("resolve");
    queue_.AddAfter(key, std::chrono::seconds(30));
    return Status::Ok();
  }
  StoreOptions so = policy.ToStoreOptions();
  auto store = registry_->Get(*id, &so);
  if (!store.ok()) {
    log_->Error("Opening the store failed",
                {{"identity", id->Key()}, {"error", store.status().ToString()}});
    registry_->NoteError(*id, store.status().ToString());
    return Status::Unavailable(store.status().message());
  }
  Status ns = registry_->NotePod(*id, policy.name, kube::GetName(*pod), uid,
                                 std::string(LayoutKindName(layout->kind)));
  if (!ns.ok()) log_->Warn("Saving the identity record failed", {{"error", ns.ToString()}});

  auto r = std::make_unique<Running>();
  r->id = *id;
  r->pod_key = key;
  r->pod_uid = uid;
  r->policy = policy.name;
  r->layout = *layout;
  r->debounce_ms = policy.debounce_ms;
  r->root = std::move(*root);
  r->store = *store;
  // Before the worker starts: its first capture starts the replicator.
  if (replication_) (void)replication_->Ensure(*id, policy, *store);
  CaptureWorkerOptions wo;
  wo.name = id->Key();
  wo.root = r->root.ProcPath();
  wo.watch_root = layout->HostPath();
  wo.filter = layout->filter;
  wo.scopes = layout->scopes;
  if (wo.scopes.size() == 1 && wo.scopes[0].empty()) wo.scopes.clear();
  int64_t debounce = policy.debounce_ms.value_or(config_.debounce_ms);
  wo.watch.debounce_ms = static_cast<uint32_t>(debounce);
  wo.watch.max_delay_ms = static_cast<uint32_t>(std::max(config_.max_delay_ms, debounce));
  wo.watch.max_dirty = static_cast<size_t>(config_.max_dirty);
  Running* raw = r.get();
  wo.on_capture = [this, raw](const CaptureReport& rep) { OnCapture(raw, rep); };
  r->worker = std::make_unique<CaptureWorker>(*store, wo, gate_, log_);
  Status st = r->worker->Start();
  if (!st.ok()) {
    log_->Error("Starting capture failed", {{"pod", key}, {"error", st.ToString()}});
    registry_->NoteError(*id, st.ToString());
    if (metrics_) metrics_->RecordError("watch");
    return Status::Unavailable(st.message());
  }
  log_->Info("Capturing pod", {{"pod", key},
                               {"uid", uid},
                               {"identity", id->Key()},
                               {"policy", policy.name},
                               {"root", layout->HostPath()},
                               {"layout", LayoutKindName(layout->kind)},
                               {"debounce_ms", debounce}});
  running_[uid] = std::move(r);
  if (metrics_) metrics_->SetProtectedPods(running_.size());
  if (reporter_) reporter_->Notify(true);
  return Status::Ok();
}

}  // namespace dk::agent
