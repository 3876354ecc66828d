// ReplicationManager: replication of this node's stores to the buckets of their policies
// (StatePolicy spec.storage.type S3; libreplica/FORMAT.md is what lands in the bucket).
//
// One libreplica Replicator per protected identity whose policy says S3, created when the pod
// controller starts capturing the pod (Ensure) and started after its first capture (Captured),
// so the first set it sends is the pod's live state, never a set recorded while an earlier pod
// of the identity was being torn down. Every later capture that moves the identity's restore
// point is queued (Captured with replicate = true): asynchronous, in order, bounded backlog
// (ReplicatorOptions::max_backlog; the oldest waiting set is dropped for a newer one).
// Captures that do not move the restore point (a terminating pod's deletions) are not sent.
//
// Buckets: one client per (endpoint, region, bucket, credentials Secret), shared by the
// identities that use it; a KnownObjects index per (bucket, prefix). The credentials come from
// the Secret named by spec.storage.s3.credentialsSecretRef in the agent's namespace (keys
// accessKeyID, secretAccessKey, optional sessionToken), read when the client is created and
// again at most every `credentials_refresh` by Ensure: when they changed, the client and its
// replicators are re-created (the new replicators catch up with each store's latest set).
// Secrets are never logged.
//
// Faults: a missing Secret or a bad setting is the identity's replication status (reason
// Credentials / Config) and is retried at the next Ensure; a failing bucket is retried by the
// Replicator with backoff and shows in its status. The local store is only read: nothing is
// lost while the bucket is away.
//
// A replicator stays with its identity after the pod left the node (it finishes what is
// queued, then idles) until the policy stops using S3 (Ensure), the store is purged (Forget)
// or the agent stops (Stop: waits up to `flush` for the queues to drain).
//
// Poll(), from the manager's own thread every `poll_interval`: replication metrics
// (agent_metrics.h) and a report notification when an identity's replication changed.
//
// Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "agent_metrics.h"
#include "agent_policy.h"
#include "libreplica/bucket.h"
#include "libreplica/known_objects.h"
#include "libreplica/replicator.h"
#include "libs3/credentials.h"
#include "libstate/logger.h"
#include "libstate/store.h"
#include "pod_identity.h"

namespace dk::agent {

// The Secret `name` of the agent's namespace, as the API server returns it.
using SecretFetcher = std::function<Result<nlohmann::json>(const std::string& name)>;
// A bucket client for `settings` with `credentials`. Null = S3Bucket over libs3.
using BucketFactory = std::function<Result<std::unique_ptr<replica::Bucket>>(
    const S3Storage& settings, const s3::Credentials& credentials)>;

struct ReplicationManagerOptions {
  std::string node;  // recorded in heads as the writer
  std::string ns;    // where the credentials Secrets are (for messages)
  size_t max_backlog = 4;
  int parallelism = 4;
  std::chrono::milliseconds initial_backoff{1000};
  std::chrono::milliseconds max_backoff{60000};
  std::chrono::milliseconds credentials_refresh{30000};
  std::chrono::milliseconds poll_interval{2000};
  std::string ca_file;  // extra CA certificates for https endpoints ("" = system roots)
};

class ReplicationManager {
 public:
  // `metrics` and `logger` may be null; they and the stores handed to Ensure outlive this.
  ReplicationManager(ReplicationManagerOptions options, SecretFetcher secrets,
                     BucketFactory factory, AgentMetrics* metrics, Logger* logger);
  ~ReplicationManager();  // Stop(0)
  ReplicationManager(const ReplicationManager&) = delete;
  ReplicationManager& operator=(const ReplicationManager&) = delete;

  // Called (from any thread) when an identity's replication status changed; `important` for
  // failures and recoveries. Set before Start().
  void SetOnChange(std::function<void(bool important)> fn) { on_change_ = std::move(fn); }
  void Start();  // the poll thread
  // Waits up to `flush` for every replicator to send what is queued, then stops them all.
  void Stop(std::chrono::milliseconds flush);

  // Makes replication of `id` (its store `store`) match `policy`: a replicator to the policy's
  // bucket when storage is S3 (created, or re-created when the bucket settings or credentials
  // changed), none otherwise. Errors (Secret missing or incomplete, bad endpoint) are recorded
  // as the identity's status and returned.
  Status Ensure(const PodIdentity& id, const AgentPolicy& policy, Store* store);
  // A capture of `id` finished; `set` is its new capture set (0 = nothing new). The first call
  // starts the replicator (it catches up with the store's latest set); `replicate` queues `set`.
  void Captured(const PodIdentity& id, uint64_t set, bool replicate);
  // Stops and drops the replicator of `id` (its store was purged).
  void Forget(const PodIdentity& id);

  // The replication status of `id`; nullopt when it has none (policy not S3).
  std::optional<replica::ReplicationStatus> StatusOf(const PodIdentity& id) const;
  // The same, as the JSON object of the node report (`{}` when none).
  nlohmann::json ReportJson(const PodIdentity& id) const;

  // A new bucket client for a restore (reads the credentials Secret now). The caller owns it.
  Result<std::unique_ptr<replica::Bucket>> OpenBucket(const S3Storage& settings);

  // Updates metrics and notifies on changes (the poll thread calls it; tests may too).
  void Poll();

 private:
  struct BucketEntry;
  struct IdentityEntry;
  static std::string BucketKey(const S3Storage& s);
  Result<std::unique_ptr<replica::Bucket>> MakeBucket(const S3Storage& s,
                                                      const s3::Credentials& c) const;
  Result<s3::Credentials> ReadCredentials(const S3Storage& s) const;
  void SetupError(const PodIdentity& id, const S3Storage& s, const std::string& reason,
                  const Status& error);
  void Run();

  const ReplicationManagerOptions options_;
  const SecretFetcher secrets_;
  const BucketFactory factory_;
  AgentMetrics* const metrics_;
  Logger* const log_;
  std::function<void(bool)> on_change_;

  std::mutex setup_mu_;    // serialises Ensure/Forget/Stop (they create and destroy)
  mutable std::mutex mu_;  // guards the maps below (held briefly; never across network calls)
  std::map<std::string, std::unique_ptr<BucketEntry>> buckets_;       // by BucketKey
  std::map<std::string, std::unique_ptr<IdentityEntry>> identities_;  // by PodIdentity::Key
  bool stopping_ = false;
  std::condition_variable cv_;
  std::thread poll_thread_;
};

}  // namespace dk::agent
