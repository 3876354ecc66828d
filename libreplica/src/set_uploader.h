// SetUploader: replicates one capture set, synchronously — the steps of the Replicator's worker
// (replicator.h has the rules; libreplica/FORMAT.md the crash ordering). Kept apart from the
// worker so tests can drive it step by step.
//
// Thread-compatible: one Upload at a time (it runs helper threads of its own).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "libreplica/bucket.h"
#include "libreplica/head.h"
#include "libreplica/known_objects.h"
#include "libreplica/layout.h"
#include "libstate/logger.h"
#include "libstate/manifest.h"
#include "libstate/options.h"
#include "libstate/store.h"

namespace dk::replica {

struct UploaderConfig {
  BucketLayout layout;
  std::string identity;
  std::string writer;
  int parallelism = 4;
  int zstd_level = 3;
  bool head_before_put = true;
  size_t head_min_size = 0;
  int64_t gc_grace_ns = 0;
  Logger* log = nullptr;
  ClockFn clock;
};

struct UploadStats {
  uint64_t objects_uploaded = 0, objects_reused = 0, objects_refreshed = 0;
  uint64_t bytes_uploaded = 0;
};

// Where a failure came from: decides how the Replicator reports and retries it.
enum class FailureKind {
  kRemote,        // the bucket (retried)
  kLocal,         // reading the local store (retried)
  kSetGone,       // the store no longer has the set (skipped)
  kSuperseded,    // the bucket's head is newer (skipped)
  kCorruptLocal,  // the local store returned corrupt data (skipped; the store must be repaired)
};

struct UploadOutcome {
  Head head;                   // the head written (or already there)
  bool already_there = false;  // the bucket's head already was this set
};

class SetUploader {
 public:
  SetUploader(Store* store, Bucket* bucket, KnownObjects* known, UploaderConfig config);

  // Reads the identity's head and its manifest's chunk list (the chunks the head protects).
  // OK with no head (a new identity). Errors are remote.
  Status LoadHead();
  const std::optional<Head>& head() const { return head_; }

  // Replicates local capture set `set` (nullopt = the store's latest). On failure *kind says
  // where it failed. *stats accumulates what was sent, whether or not the set completed.
  Result<UploadOutcome> Upload(std::optional<uint64_t> set, FailureKind* kind, UploadStats* stats);
  // Same for a manifest already read from the store.
  Result<UploadOutcome> UploadManifest(SetManifest m, FailureKind* kind, UploadStats* stats);

 private:
  // Makes sure every chunk of `ids` not protected by the head is in the bucket and young
  // enough.
  Status EnsureChunks(const std::vector<ObjectId>& ids, UploadStats* stats, FailureKind* kind);
  int64_t Now() const;

  Store* const store_;
  Bucket* const bucket_;
  KnownObjects* const known_;
  const UploaderConfig config_;
  std::optional<Head> head_;
  std::vector<ObjectId> head_chunks_;  // sorted: the chunks of the head's manifest
};

}  // namespace dk::replica
