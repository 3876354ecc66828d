// Replicator: copies the capture sets of one local Store to a bucket, asynchronously, in order,
// for one identity (libreplica/FORMAT.md describes what it writes).
//
// For each set: the store's Manifest(set) → every chunk the bucket may lack is uploaded
// (zstd, keyed by its id, so identical content is stored once for every pod and node) → the
// manifest → the head. The head is written last, so a reader never sees a head that names a
// missing manifest or chunk; an interrupted set leaves at most unreferenced objects and an
// unreferenced manifest behind, which the next set or bucket GC takes care of.
//
// Which chunks are uploaded. A chunk is skipped (not even asked about) when it is in the
// manifest of the identity's current head — a head protects its manifest and chunks from
// bucket GC — or when KnownObjects says it was written to the bucket within gc_grace/2.
// Otherwise the replicator asks the bucket (HEAD; small chunks are just uploaded): present and
// written within gc_grace/2 → skipped; absent, or older (bucket GC may be about to delete it)
// → uploaded, which also refreshes its age. If uploading a set takes longer than gc_grace/4, those
// checks are made again before the manifest is written. With bucket GC's rule (delete only objects
// unreferenced by every retained manifest and older than its grace), this keeps GC from
// deleting a chunk that a manifest being written will reference, as long as the replicator's
// gc_grace is no longer than GC's grace and clocks differ by less than gc_grace/4.
//
// Backlog. Notify(set) queues a set and returns at once. At most `max_backlog` sets wait; when
// a new one arrives and the queue is full, the oldest waiting set is skipped (its changes are
// carried by the newer sets), so memory stays bounded and the newest state always gets out.
// Sets are replicated in increasing order, one at a time.
//
// Failures. A failed upload is retried with exponential backoff (initial_backoff doubling up
// to max_backoff) for as long as it fails — a wrong key or a missing bucket may be fixed, an
// endpoint comes back — and status() says why it fails. The local store is only read, so
// nothing is lost while the bucket is away; when it is back, the newest sets go out. A set the
// store no longer has (local GC), or one older than the bucket's head from another writer
// (the pod moved on), is skipped with a message.
//
// Set numbers. The bucket set number is the local set number, unless the bucket's head is
// already at or past it (another node wrote the identity's history before this store existed,
// e.g. after the pod moved): then it is head+1, so the numbers in the bucket keep increasing.
// The head records the local number as sourceSet. One writer per identity at a time.
//
// Thread safety: all public methods are thread-safe. One worker thread does the uploads (with
// `parallelism` helper threads per set). Store and Bucket must be thread-safe and outlive the
// Replicator.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "libreplica/bucket.h"
#include "libreplica/known_objects.h"
#include "libreplica/layout.h"
#include "libstate/logger.h"
#include "libstate/options.h"
#include "libstate/result.h"
#include "libstate/store.h"

namespace dk::replica {

struct ReplicatorOptions {
  std::string identity;    // <namespace>/<statefulset>/<ordinal>; see ValidateIdentity
  std::string prefix;      // the bucket prefix (the policy's), "" = top level
  std::string writer;      // recorded in heads, e.g. the node name
  size_t max_backlog = 4;  // sets waiting beyond the one in flight; >= 1
  int parallelism = 4;     // concurrent chunk uploads per set, 1..64
  int zstd_level = 3;      // chunk objects
  // Ask the bucket (HEAD) before uploading a chunk the index does not know: saves the upload
  // when another pod or node already sent the same content. Off = always upload unknown chunks.
  bool head_before_put = true;
  // Chunks smaller than this once compressed are uploaded without asking first: a PUT costs
  // about what a HEAD costs, and an upload is always safe.
  size_t head_min_size = 16 * 1024;
  // Must not exceed the grace period of the bucket's GC (BucketGcOptions::grace).
  std::chrono::seconds gc_grace{std::chrono::hours(24)};
  std::chrono::milliseconds initial_backoff{1'000};
  std::chrono::milliseconds max_backoff{300'000};
  // Shared index of objects known to be in the bucket (not owned; may be shared between
  // replicators of the same bucket and prefix). Null: the replicator keeps its own of
  // `known_capacity` entries.
  KnownObjects* known = nullptr;
  size_t known_capacity = 65'536;
  Logger* logger = nullptr;  // not owned; null = NullLogger()
  ClockFn clock;             // wall clock; empty = SystemClockNs

  // InvalidArgument naming the field.
  Status Validate() const;
};

// What the agent reports about replication of one identity.
struct ReplicationStatus {
  std::string identity;
  std::string bucket;  // Bucket::Describe()
  // "starting" (reading the bucket's head), "idle", "replicating", "backoff" (waiting to
  // retry after a failure), "stopped".
  std::string state = "stopped";

  uint64_t last_set = 0;           // local set last replicated (0 = none)
  uint64_t last_bucket_set = 0;    // its number in the bucket
  ObjectId last_root;              // its Merkle root
  int64_t last_set_time_ns = 0;    // its capture time
  int64_t last_replicated_ns = 0;  // when its head was written

  uint64_t latest_set = 0;  // newest local set the replicator was told about
  uint64_t lag_sets = 0;    // latest_set minus the last set replicated (or skipped for good)
  double lag_seconds = 0;   // since when the bucket misses captured changes; 0 = caught up
  size_t backlog = 0;       // sets waiting (the one in flight not counted)

  uint64_t sets_replicated = 0;
  uint64_t sets_coalesced = 0;  // skipped because newer sets superseded them in the backlog
  uint64_t sets_skipped = 0;    // gone from the store, or older than the bucket's head
  uint64_t objects_uploaded = 0;
  uint64_t objects_reused = 0;     // already in the bucket (dedup)
  uint64_t objects_refreshed = 0;  // re-uploaded because older than gc_grace/2
  uint64_t bytes_uploaded = 0;     // objects, manifests and heads, as sent (compressed)

  bool failing = false;  // the last attempt failed; retrying
  uint64_t consecutive_failures = 0;
  // Short reason of the last failure: AccessDenied, BucketNotFound, ClockSkew, Corruption,
  // EndpointUnavailable, LocalStore, Superseded, SetGone, Error. Kept after recovery.
  std::string last_error_reason;
  std::string last_error;  // a sentence for humans, with the underlying Status
  int64_t last_error_ns = 0;
  int64_t next_retry_ns = 0;  // when failing

  // One JSON object (camelCase keys) for the agent's node report.
  std::string ToJson() const;
};

class SetUploader;  // private (src/set_uploader.h)
struct BacklogEntry;
class SetBacklog;

class Replicator {
 public:
  // `store` and `bucket` are not owned and must outlive the Replicator.
  static Result<std::unique_ptr<Replicator>> Create(Store* store, Bucket* bucket,
                                                    ReplicatorOptions options);
  ~Replicator();  // Stop()
  Replicator(const Replicator&) = delete;
  Replicator& operator=(const Replicator&) = delete;

  // Starts the worker. It first reads the identity's head from the bucket (retrying until it
  // can) and queues the store's latest set unless the head already has it. No-op if running.
  void Start();
  // Queues capture set `set` (call after Store::Capture returned set > 0). Never blocks on the
  // network. Sets not newer than the newest queued or replicated one are ignored. May be called
  // before Start().
  void Notify(uint64_t set);
  // Cuts a backoff wait short: the next attempt starts now (e.g. after credentials changed).
  void RetryNow();
  // Stops the worker: a set in flight is finished (its objects, manifest and head written, or
  // its failure recorded); waiting sets stay unreplicated (the next Start() catches up with the
  // store's latest). Returns when the worker has exited. Idempotent.
  void Stop();

  ReplicationStatus status() const;
  // Waits until every set notified so far has been replicated or skipped (and the head read),
  // or `timeout` passes. OK when idle; otherwise Unavailable with the last error.
  Status WaitIdle(std::chrono::milliseconds timeout);

 private:
  Replicator(Store* store, Bucket* bucket, ReplicatorOptions options);
  void Run();
  Status Sync();
  void RecordError(const Status& s, std::string_view reason, std::string_view message);
  std::chrono::milliseconds NextBackoff() const;
  int64_t Now() const;
  bool IdleLocked() const;

  Store* const store_;
  Bucket* const bucket_;
  const ReplicatorOptions options_;
  Logger* const log_;
  std::unique_ptr<KnownObjects> own_known_;
  std::unique_ptr<SetUploader> uploader_;

  mutable std::mutex mu_;
  std::condition_variable cv_;  // work arrived, stop, retry-now, or progress (WaitIdle)
  std::unique_ptr<SetBacklog> backlog_;
  std::unique_ptr<BacklogEntry> in_flight_;
  bool synced_ = false;
  bool stop_ = false;
  bool retry_now_ = false;
  uint64_t done_set_ = 0;  // highest local set replicated or skipped for good
  ReplicationStatus status_;
  std::thread worker_;
};

}  // namespace dk::replica
