// RestoreController: carries out the StateRestores assigned to this node (docs/protocol.md,
// "The restore gate").
//
// A StateRestore is this node's when the pod it names — spec.podUID, else spec.pod or
// "<statefulset>-<ordinal>" — is bound to this node (the pod informer only holds those).
// Reconcile(key), level-based and idempotent:
//   - finished restores (Succeeded | Failed) are left alone;
//   - the policy, identity and volume layout are checked (a mismatch fails the restore with a
//     message saying what is wrong);
//   - a restore created by a user (no spec.podUID) only goes into a pod that is still waiting
//     in restore-wait (gated, no marker): restoring under a running application is refused;
//   - status → Running (node, startTime); the RestoreExecutor runs; retryable conditions (the
//     volume not set up yet, the node with the state unreachable) keep it Running with the
//     reason in status.message and are retried until startTime + --restore-peer-timeout, then
//     it fails with that reason (the marker says "failed", restore-wait acts on it);
//   - the final status (phase, node, source, set, files, bytes, durationSeconds, verifiedRoot,
//     message, completionTime, observedGeneration) is patched after the marker was written; an
//     Event is recorded on the pod; the pod is queued for capture.
// Sources: the node reports (ConfigMaps, report informer) and this node's stores give the
// candidates, latest restore point first; the policy's bucket (storage S3, through the bucket
// opener) is the last source (restore_executor.h says when it is used).
//
// Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent_config.h"
#include "agent_metrics.h"
#include "libkube/client.h"
#include "libkube/event_recorder.h"
#include "libkube/informer.h"
#include "libkube/work_queue.h"
#include "node_reporter.h"
#include "pod_controller.h"
#include "restore_executor.h"
#include "store_registry.h"

namespace dk::agent {

kube::ResourceRef StatePolicies();
kube::ResourceRef StateRestores();

// The ordinal a StateRestore is about: spec.ordinal, else the "-<n>" suffix of spec.pod after
// "<sts>-"; -1 when neither says.
int64_t RestoreOrdinal(const nlohmann::json& restore, const std::string& sts);

// Candidates for `id` from node report ConfigMaps (excluding `self_node`'s), best first.
std::vector<SourceCandidate> CandidatesFromReports(const std::vector<nlohmann::json>& reports,
                                                   const PodIdentity& id,
                                                   const std::string& self_node);

class RestoreController {
 public:
  // Pointers are not owned and outlive the controller; `events`, `metrics`, `reporter` and
  // `pods_controller` may be null.
  RestoreController(const AgentConfig& config, kube::Client* client, kube::Informer* restores,
                    kube::Informer* pods, kube::Informer* policies, kube::Informer* reports,
                    StoreRegistry* registry, RestoreExecutor* executor,
                    PodController* pod_controller, NodeReporter* reporter,
                    kube::EventRecorder* events, AgentMetrics* metrics, Logger* logger);
  ~RestoreController();

  // Makes bucket clients for restores of policies with storage S3 (set before Start()); unset =
  // the bucket is never a source.
  using BucketOpener =
      std::function<Result<std::unique_ptr<replica::Bucket>>(const S3Storage& settings)>;
  void SetBucketOpener(BucketOpener fn) { open_bucket_ = std::move(fn); }

  void Start(int workers);
  // Stops taking new work; restores in progress finish first.
  void Stop();

  void Enqueue(const std::string& key);
  void EnqueueNamespace(const std::string& ns);

  // Peer authorization: OK when a restore of `id` is running on `caller_node`.
  Status Entitled(const std::string& caller_node, const PodIdentity& id) const;

  std::vector<SourceCandidate> Candidates(const PodIdentity& id);

 private:
  Status Reconcile(const std::string& key);
  Status PatchStatus(const std::string& ns, const std::string& name, nlohmann::json status);
  void Loop();

  const AgentConfig& config_;
  kube::Client* const client_;
  kube::Informer* const restores_;
  kube::Informer* const pods_;
  kube::Informer* const policies_;
  kube::Informer* const reports_;
  StoreRegistry* const registry_;
  RestoreExecutor* const executor_;
  PodController* const pod_controller_;
  NodeReporter* const reporter_;
  kube::EventRecorder* const events_;
  AgentMetrics* const metrics_;
  Logger* const log_;
  BucketOpener open_bucket_;
  kube::WorkQueue queue_;
  std::mutex mu_;
  std::set<std::string> finished_;  // StateRestore UIDs finished by this process
  std::map<std::string, std::chrono::steady_clock::time_point> next_attempt_;
  std::vector<std::thread> threads_;
  bool stopped_ = false;
};

}  // namespace dk::agent
