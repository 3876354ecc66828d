// PodController: discovery and capture for the pods on this node (docs/protocol.md, "Capture").
//
// Level-based: a pod key ("ns/name") is queued on every pod or policy change and every 30 s;
// Reconcile(key) compares what should run with what runs and fixes the difference:
//   - the pod is protected when it is owned by the StatefulSet a parseable, non-paused
//     StatePolicy of its namespace targets;
//   - a gated pod (label diffkeeper.io/gated=true) is not captured until its restore marker
//     exists (the restore controller queues the pod when it writes one);
//   - the protected paths are resolved to one capture root (volume_layout.h), pinned
//     (pinned_dir.h), and a CaptureWorker keeps the identity's store (store_registry.h) up to
//     date; the worker is re-created when the pod UID, the layout or the capture settings change
//     and stopped (after a final capture) when the pod stops being protected or goes away;
//   - problems (missing volume, unsupported volume type) are logged, counted and shown in the
//     node report for that identity, and retried with backoff;
//   - with a ReplicationManager, every reconcile of a captured pod makes the identity's
//     replication match its policy (ReplicationManager::Ensure), and every capture is passed
//     on (Captured; replicated when it moves the restore point).
// Every capture moves the identity's restore point (store_registry.h), except captures of a
// terminating pod that record deletions (volume teardown).
//
// Thread-safe: Start()/Stop() from the owner; Enqueue*() from informer handlers.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "agent_config.h"
#include "agent_metrics.h"
#include "capture_gate.h"
#include "capture_worker.h"
#include "libkube/informer.h"
#include "libkube/work_queue.h"
#include "node_reporter.h"
#include "replication_manager.h"
#include "store_registry.h"
#include "volume_layout.h"

namespace dk::agent {

// Labels and annotations of the protocol.
inline constexpr char kGatedLabel[] = "diffkeeper.io/gated";

// The StatePolicies of `ns` that target StatefulSet `sts` and parse; the first by name wins
// (several are reported as an error in `*conflict`).
struct PolicyLookup {
  std::optional<AgentPolicy> policy;
  std::string error;  // why none applies although one exists (parse error, duplicates)
};
PolicyLookup FindPolicy(const kube::Informer& policies, const std::string& ns,
                        const std::string& sts);

class PodController {
 public:
  PodController(const AgentConfig& config, kube::Informer* pods, kube::Informer* policies,
                StoreRegistry* registry, CaptureGate* gate, AgentMetrics* metrics,
                NodeReporter* reporter, Logger* logger, ReplicationManager* replication = nullptr);
  ~PodController();

  void Start();
  // Stops reconciling and every capture worker (each makes its final capture).
  void Stop();

  void Enqueue(const std::string& pod_key);
  void EnqueueAll();
  void EnqueueNamespace(const std::string& ns);

  size_t running() const;
  // True while a capture worker runs for `id`.
  bool Capturing(const PodIdentity& id) const;
  size_t pending() const;  // workers with reported changes not captured yet
  // Test hook: the worker capturing the pod with this UID (null when none).
  CaptureWorker* WorkerForTest(const std::string& pod_uid);

 private:
  struct Running {
    PodIdentity id;
    std::string pod_key;
    std::string pod_uid;
    std::string policy;
    VolumeLayout layout;
    std::optional<int64_t> debounce_ms;
    PinnedDir root;
    Store* store = nullptr;
    std::atomic<bool> terminating{false};
    std::unique_ptr<CaptureWorker> worker;
  };

  Status Reconcile(const std::string& key);
  void StopWorkersLocked(const std::string& pod_key, const std::string& keep_uid,
                         std::vector<std::unique_ptr<Running>>* stopped);
  void OnCapture(Running* r, const CaptureReport& report);
  void Loop();
  void Housekeeping();

  const AgentConfig& config_;
  kube::Informer* const pods_;
  kube::Informer* const policies_;
  StoreRegistry* const registry_;
  CaptureGate* const gate_;
  AgentMetrics* const metrics_;
  NodeReporter* const reporter_;
  Logger* const log_;
  ReplicationManager* const replication_;

  kube::WorkQueue queue_;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Running>> running_;  // by pod UID
  std::thread worker_thread_;
  std::thread housekeeping_thread_;
  std::mutex hk_mu_;
  std::condition_variable hk_cv_;
  bool stopping_ = false;
};

}  // namespace dk::agent
