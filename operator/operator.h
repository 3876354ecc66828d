// Operator: the controller of diffkeeper-operator — informers, the work queue and the
// reconcilers, wired together.
//
// Every replica runs the informers (they back the admission webhook, which all replicas serve,
// and the readiness check) and watches the webhook certificate Secret. Only the leader runs the
// workers: RunAsLeader() blocks, reconciling, until leadership ends.
//
// Work queue keys (level-based, one key never processed twice at once):
//   "policy/<ns>/<name>"   a StatePolicy: finalizer, conditions, aggregated status, events
//   "pod/<ns>/<name>"      a gated pod: its StateRestore, the restore timeout, gate failures
//   "installation"         agent DaemonSet, agent configuration, webhook certificate and
//                          webhook configuration
// Reconciles are idempotent; failures are retried with per-key exponential backoff, except
// InvalidArgument (a spec problem, reported in status instead).
//
// Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "admission_webhook.h"
#include "bucket_maintenance.h"
#include "installation.h"
#include "libkube/cancellation.h"
#include "libkube/client.h"
#include "libkube/event_recorder.h"
#include "libkube/informer.h"
#include "libkube/work_queue.h"
#include "libsvc/metrics.h"
#include "node_reports.h"
#include "pod_gate.h"
#include "webhook_certs.h"

namespace dk::op {

struct OperatorOptions {
  InstallationOptions install;
  GateOptions gate;
  std::string identity;  // this replica, for events and the lease
  bool manage_agent = true;
  bool manage_webhook = true;
  std::string webhook_service = "diffkeeper-webhook";
  std::string cert_secret = "diffkeeper-webhook-tls";
  std::vector<std::string> extra_cert_hosts;
  CertLifetimes cert_lifetimes;
  // ownerReference target for the objects the operator creates ("" = none): the operator's
  // Deployment, so that uninstalling it removes them.
  std::string owner_deployment = "diffkeeper-operator";
  int workers = 2;
  std::chrono::milliseconds resync = std::chrono::minutes(5);
  std::chrono::milliseconds purge_timeout = std::chrono::minutes(10);
  std::chrono::seconds restore_grace{30};
  // A policy whose replication to S3 fails this long is Degraded (reason ReplicationFailing).
  std::chrono::seconds replication_degraded_after{300};
  // Bucket GC of policies with storage S3 (bucket_maintenance.h): each bucket prefix at most
  // every `interval` (0 = never; purges still happen), checked every `bucket_gc_check`.
  BucketMaintenanceOptions bucket_gc;
  std::chrono::milliseconds bucket_gc_check = std::chrono::minutes(1);
  std::string s3_ca_file;      // extra CA certificates for https S3 endpoints
  BucketOpener bucket_opener;  // tests; empty = S3 with the credentials Secret
};

struct OperatorMetrics {
  explicit OperatorMetrics(svc::MetricsRegistry* registry);
  svc::Counter* reconcile_total;       // {kind, result}
  svc::Histogram* reconcile_duration;  // {kind}
  svc::Counter* restores_created;      // StateRestores created for gated pods
  svc::Counter* restores_total;        // {result}: Succeeded, Failed (TimedOut included)
  svc::Counter* restores_timed_out;
  svc::Counter* webhook_requests;  // {result}
  svc::Gauge* leader;
  svc::Gauge* cert_expiry;  // unix seconds
};

class Operator {
 public:
  Operator(kube::Client* client, OperatorOptions options, Logger* logger,
           svc::MetricsRegistry* metrics, kube::EventRecorder* events);
  ~Operator();
  Operator(const Operator&) = delete;
  Operator& operator=(const Operator&) = delete;

  // Starts the informers (call once).
  void Start();
  bool Synced() const;
  bool WaitForSync(std::chrono::milliseconds timeout);
  // Stops informers and workers. Idempotent.
  void Stop();

  // Reconciles until `leading` fires or Stop() (call from the leader-election callback).
  void RunAsLeader(kube::Cancellation* leading);

  // For the admission webhook: the policy protecting StatefulSet `sts` in `ns`; Unavailable
  // until the StatePolicy informer has synced (an empty cache would admit pods ungated).
  Result<std::optional<ProtectingPolicy>> LookupPolicy(const std::string& ns,
                                                       const std::string& sts) const;

  // Called (on an informer thread) with tls.crt and tls.key whenever the webhook certificate
  // Secret changes, and once at registration if it is already known.
  void OnWebhookCertificate(std::function<void(const std::string&, const std::string&)> fn);

  OperatorMetrics* metrics() { return &metrics_; }
  size_t QueueDepth() { return queue_.Len(); }

 private:
  struct Outcome {
    std::optional<std::chrono::milliseconds> requeue_after;
  };

  void AddHandlers();
  std::vector<kube::Informer*> AllInformers() const;
  void EnqueuePoliciesFor(const std::string& ns, const std::string& sts);
  void EnqueueAll();
  void Worker();
  Status Dispatch(const std::string& key, Outcome* out);

  Status ReconcilePolicy(const std::string& ns, const std::string& name, Outcome* out);
  // Bucket GC of every target that is due (the leader's maintenance thread).
  void MaintainBuckets();
  // With storage S3 and onDelete Delete: deletes the bucket copies of the policy's identities.
  Status PurgeBucket(const nlohmann::json& policy, const PolicySpec& spec);
  Status FinalizePolicy(const nlohmann::json& policy, const Result<PolicySpec>& spec, Outcome* out);
  Status ReconcilePod(const std::string& ns, const std::string& name, Outcome* out);
  // `full`: also the agent DaemonSet and the webhook certificate (the "installation" key);
  // otherwise only what depends on the policies (called from every policy reconcile).
  Status ReconcileInstallation(Outcome* out, bool full = true);
  bool CredentialsSecretExists(const std::string& name);
  Status ReconcileCertificates(const nlohmann::json& webhook_config, std::string* ca_bundle,
                               Outcome* out);
  nlohmann::json OwnerReference();

  std::vector<nlohmann::json> PoliciesForTarget(const std::string& ns,
                                                const std::string& sts) const;
  std::vector<NodeReport> Reports() const;
  void Event(const nlohmann::json& regarding, bool warning, const std::string& reason,
             const std::string& action, const std::string& note);
  void OnRestoreChanged(const nlohmann::json& old_obj, const nlohmann::json& obj);
  void OnCertSecret(const nlohmann::json& secret);

  kube::Client* const client_;
  const OperatorOptions options_;
  Logger* const logger_;
  kube::EventRecorder* const events_;
  OperatorMetrics metrics_;
  kube::WorkQueue queue_;

  std::unique_ptr<BucketMaintainer> buckets_;
  std::unique_ptr<kube::Informer> policies_;
  std::unique_ptr<kube::Informer> restores_;
  std::unique_ptr<kube::Informer> statefulsets_;
  std::unique_ptr<kube::Informer> pods_;
  std::unique_ptr<kube::Informer> reports_;
  std::unique_ptr<kube::Informer> cert_secret_;
  std::unique_ptr<kube::Informer> agent_config_;  // the agents' configuration ConfigMap
  // The two webhook configurations (a change, e.g. `kubectl apply` re-creating the installed one,
  // triggers the installation reconcile at once).
  std::unique_ptr<kube::Informer> webhook_configs_[2];

  std::atomic<bool> leading_{false};
  std::mutex install_mu_;  // one installation reconcile at a time (policies call it too)

  mutable std::mutex mu_;
  std::function<void(const std::string&, const std::string&)> cert_listener_;
  std::string cert_pem_, key_pem_;
  std::map<std::string, int> gate_failures_;  // pod uid → restore-wait failures reported
  std::set<std::string> purge_announced_;     // policy uids
  std::set<std::string> bucket_purged_;       // policy uids whose bucket copies are deleted
  std::set<std::string> terminal_restores_;   // restore uids counted in metrics
  // credentials Secret name -> (exists, when checked); see CredentialsSecretExists.
  std::map<std::string, std::pair<bool, std::chrono::steady_clock::time_point>> secret_seen_;
  nlohmann::json owner_ref_;  // cached OwnerReference()
  bool owner_looked_up_ = false;
  bool stopped_ = false;
};

}  // namespace dk::op
