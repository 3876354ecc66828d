// Reading replicated state back from a bucket: heads, manifests, chunks, and a whole restore
// on a node that has no local copy.
//
// Verification: a manifest is accepted only when DecodeManifest accepts it (its entries hash
// to its Merkle root) and, when read through a head, its set and root are the head's. A chunk
// object is accepted only when it is one complete zstd frame whose content hashes to the id in
// its key; RestoreManifest checks every chunk and file again before writing. Every failure
// names the object key: "Corruption: object objects/ab/ab12…: content does not match its id".
//
// Set numbers here are the bucket's (Head::set); see replicator.h.
//
// Thread safety: the free functions are thread-safe when the Bucket is. BucketChunkSource is
// used by one restore at a time (its prefetch threads are internal).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "libreplica/bucket.h"
#include "libreplica/head.h"
#include "libreplica/layout.h"
#include "libstate/logger.h"
#include "libstate/manifest.h"

namespace dk::replica {

// The identity's head. NotFound when the identity has none (never replicated, or the bucket
// is missing — the message says which); Corruption naming the key when it cannot be decoded.
Result<Head> ReadHead(Bucket& bucket, const BucketLayout& layout, std::string_view identity);

// The manifest of bucket set `set`, verified. NotFound / Corruption naming the key.
Result<SetManifest> ReadManifest(Bucket& bucket, const BucketLayout& layout,
                                 std::string_view identity, uint64_t set);

// The manifest the head points to, checked against the head (same set and root, and the key
// the layout gives). *head receives the head when not null.
Result<SetManifest> ReadHeadManifest(Bucket& bucket, const BucketLayout& layout,
                                     std::string_view identity, Head* head = nullptr);

// Bucket sets of `identity` that have a manifest, ascending (keys that do not parse are
// ignored).
Result<std::vector<uint64_t>> ListSets(Bucket& bucket, const BucketLayout& layout,
                                       std::string_view identity);

// Identities that have a head, in key order.
Result<std::vector<std::string>> ListIdentities(Bucket& bucket, const BucketLayout& layout);

// The manifest to restore for a request: `set` when given (NotFound when the bucket has no such
// set); otherwise the latest set captured at or before `time_ns` when given (manifests are
// probed by binary search over the set numbers, assuming capture times grow with the set);
// otherwise the head's.
Result<SetManifest> SelectManifest(Bucket& bucket, const BucketLayout& layout,
                                   std::string_view identity, std::optional<uint64_t> set,
                                   std::optional<int64_t> time_ns);

// The ids of the chunks RestoreManifest fetches for `m` restricted to `paths` (empty = all), in
// the order it fetches them (repeats included): what BucketChunkSource::Prefetch wants.
std::vector<ObjectId> RestoreOrder(const SetManifest& m, const std::vector<std::string>& paths);

struct ChunkSourceOptions {
  int parallelism = 8;    // prefetch threads, 1..64
  size_t readahead = 64;  // chunks fetched ahead of the restore (bounds memory: readahead x
                          // the largest chunk)
};

struct ChunkSourceStats {
  uint64_t chunks = 0;            // chunks returned
  uint64_t bytes_downloaded = 0;  // compressed bytes fetched from the bucket
  uint64_t prefetched = 0;        // of `chunks`, served from the prefetch window
};

// ChunkSource over the bucket's chunk objects. Fetch() gets, decodes and verifies one object
// (Corruption or NotFound naming the key). With Prefetch(), objects are fetched by a pool of
// threads ahead of the Fetch calls, in the order given; a Fetch for an id that is not next in
// that order (a file whose earlier chunk failed) skips forward to it, or fetches it directly.
class BucketChunkSource final : public ChunkSource {
 public:
  // `bucket` is not owned and must outlive this.
  BucketChunkSource(Bucket* bucket, BucketLayout layout, ChunkSourceOptions options = {});
  ~BucketChunkSource() override;
  BucketChunkSource(const BucketChunkSource&) = delete;
  BucketChunkSource& operator=(const BucketChunkSource&) = delete;

  // Starts fetching `order` ahead of Fetch. Call at most once, before the first Fetch.
  void Prefetch(std::vector<ObjectId> order);
  Result<Bytes> Fetch(const ObjectId& id) override;
  ChunkSourceStats stats() const;

 private:
  Result<Bytes> FetchDirect(const ObjectId& id);
  void PrefetchWorker();

  Bucket* const bucket_;
  const BucketLayout layout_;
  const ChunkSourceOptions options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<ObjectId> order_;
  struct Fetched {
    Status status;
    Bytes data;
  };
  std::map<size_t, Fetched> ready_;  // position in order_ -> fetched chunk
  size_t consumed_ = 0;              // next position Fetch expects
  size_t next_claim_ = 0;            // next position a worker fetches
  bool stop_ = false;
  std::vector<std::thread> workers_;
  ChunkSourceStats stats_;
};

struct BucketRestoreOptions {
  ChunkSourceOptions chunks;
  Logger* logger = nullptr;  // null = NullLogger()
};

struct BucketRestoreResult {
  RestoreResult restore;  // from RestoreManifest (failures listed per file)
  uint64_t set = 0;       // the bucket set restored
  ChunkSourceStats chunks;
};

// Restores `identity` from the bucket into `target` (created if absent): the manifest chosen by
// SelectManifest(req.set, req.time_ns), chunks through a prefetching BucketChunkSource, and
// RestoreManifest (req.paths, req.restore_owner). Files whose chunks are corrupt or missing are
// listed in restore.failures and left untouched; the rest are restored.
Result<BucketRestoreResult> RestoreFromBucket(Bucket& bucket, const BucketLayout& layout,
                                              std::string_view identity, const std::string& target,
                                              const RestoreRequest& req,
                                              const BucketRestoreOptions& options = {});

}  // namespace dk::replica
