// Bucket GC: manifest retention and mark-and-sweep of chunk objects, for every identity under
// one prefix (libreplica/FORMAT.md, "Garbage collection").
//
// One run:
//  1. now: the bucket's own clock (PUT <prefix>gc/clock, then its Last-Modified), so that ages
//     are measured on the clock that stamped the objects.
//  2. Heads: every identity's head is read and its manifest fetched directly by key (a head's
//     manifest is always kept; a head that cannot be read, or whose manifest is missing or
//     corrupt, aborts the run before anything is deleted).
//  3. Manifests: per identity, a manifest is kept when it is the head's, newer than the head
//     (an upload in flight, or one whose head write failed), one of the `keep_last` newest,
//     written within `keep_within`, or written within `grace`. The others are deleted (step 5).
//  4. Mark: the chunk ids of every kept manifest (each one downloaded and verified; one that is
//     corrupt aborts the run) — 32 bytes of memory per distinct referenced chunk.
//  5. Sweep, in crash-safe order — the referrer before the referenced: first the manifests
//     that are not kept, then every object under objects/ that no kept manifest references
//     and whose Last-Modified is more than `grace` before `now`.
// A crash at any point leaves only garbage that the next run deletes, never a kept manifest
// that misses a chunk.
//
// Concurrent uploads: a replicator that reuses a chunk already in the bucket reuses it only
// when it is protected by the identity's head or was written less than grace/2 ago (else it
// uploads it again), and writes its manifest within grace/4 (replicator.h). Since GC lists the
// manifests after taking `now`, a chunk that a manifest in flight will reference is either
// younger than `grace` (not swept) or referenced by a manifest GC sees. This holds as long as
// the replicators' gc_grace is at most this grace and clocks differ by less than grace/4.
// Restores that read a manifest being deleted by retention may fail (NotFound naming the key).
//
// Thread safety: thread-safe when the Bucket is; concurrent runs on one prefix are safe (each
// deletes only what it alone would).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "libreplica/bucket.h"
#include "libreplica/layout.h"
#include "libstate/logger.h"

namespace dk::replica {

struct BucketGcOptions {
  // Unreferenced objects younger than this are kept (uploads in flight). At least the
  // replicators' ReplicatorOptions::gc_grace.
  std::chrono::seconds grace{std::chrono::hours(24)};
  // Manifests kept per identity: the newest `keep_last` (the head's included) ...
  uint32_t keep_last = 10;
  // ... and every manifest written within this duration (0 = no time rule).
  std::chrono::seconds keep_within{0};
  bool dry_run = false;  // report what would be deleted, delete nothing
  // The current time on the bucket's clock; empty = PUT gc/clock and read its Last-Modified.
  // Tests set it to move time.
  std::function<Result<int64_t>()> now;
  Logger* logger = nullptr;  // null = NullLogger()

  Status Validate() const;
};

struct BucketGcReport {
  int64_t now_ns = 0;
  uint64_t identities = 0;  // identities with a head or manifests
  uint64_t manifests = 0;   // listed
  uint64_t manifests_kept = 0;
  uint64_t manifests_deleted = 0;   // (or that would be, in a dry run)
  uint64_t objects = 0;             // listed under objects/
  uint64_t objects_referenced = 0;  // distinct ids referenced by kept manifests
  uint64_t objects_deleted = 0;
  uint64_t bytes_deleted = 0;
  uint64_t objects_young = 0;         // unreferenced but within the grace period: kept
  uint64_t objects_missing = 0;       // referenced by a kept manifest but not in the bucket
  uint64_t foreign_keys = 0;          // keys under objects/ or manifests/ that are not ours: kept
  std::vector<std::string> problems;  // missing objects and the like (at most 100 lines)
};

// Runs bucket GC over every identity under `layout`'s prefix (see the header comment).
// Errors from the bucket abort the run; what was deleted before stays deleted (safely).
Result<BucketGcReport> CollectBucketGarbage(Bucket& bucket, const BucketLayout& layout,
                                            const BucketGcOptions& options);

struct PurgeReport {
  uint64_t identities = 0;  // identities with a head or manifests that matched
  uint64_t heads_deleted = 0;
  uint64_t manifests_deleted = 0;
};

// Deletes the bucket copies of every identity that starts with `identity_prefix` (which must
// end in '/', e.g. "demo/db/" for the pods of StatefulSet db in namespace demo; an identity
// equal to the prefix without its '/' is not matched): first their heads, then all their
// manifests — the referrer before the referenced, so a restore never reads a head whose
// manifest is gone. Their chunk objects become unreferenced and go with the next bucket GC of
// the prefix (after the grace period, like any other garbage: other identities may share them).
// Call it only once nothing replicates these identities any more: a replicator still running
// would write a new head. A failure leaves what is not deleted yet; calling again finishes.
// InvalidArgument when `identity_prefix` does not end in '/' or is not a valid identity prefix.
Result<PurgeReport> PurgeIdentities(Bucket& bucket, const BucketLayout& layout,
                                    std::string_view identity_prefix, Logger* logger = nullptr);

}  // namespace dk::replica
