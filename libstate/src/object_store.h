// ObjectStore: content-addressed objects inside the store's LMDB environment (private).
//
// Databases: "objects" id -> encoded object; "refs" id -> (vrefs, brefs); "deps" base||dep.
// A payload too big for an LMDB leaf page is appended to a pack file (pack_store.h) and the
// objects record holds its location instead; small payloads stay in the record.
// An object is stored whole (zstd) or as a delta against 1..4 base objects (the bases
// concatenated are the patch's reference). vrefs counts version references, brefs counts
// objects that use it as a delta base. An object is deleted when both reach zero; deleting
// it releases its bases. Every read re-hashes the decoded bytes against the id.
// All methods work inside the caller's transaction; none commits.
#pragma once

#include <lmdb.h>

#include <atomic>
#include <list>
#include <memory>
#include <unordered_map>
#include <vector>

#include "libstate/hash.h"
#include "libstate/options.h"
#include "libstate/result.h"
#include "lmdb_env.h"
#include "pack_store.h"

namespace dk {

enum class ObjectCodec : uint8_t { kZstd = 1, kDelta = 2 };

struct ObjectHeader {
  ObjectCodec codec = ObjectCodec::kZstd;
  uint8_t engine = 0;  // DeltaEngine for kDelta; zstd level for kZstd (0 = unrecorded)
  uint32_t depth = 0;  // patches to apply to decode (0 = whole)
  uint64_t raw_size = 0;
  std::vector<ObjectId> bases;
  size_t payload_offset = 0;  // in the record, when not packed
  bool packed = false;
  PackLocation loc;          // when packed
  uint64_t stored_size = 0;  // header + payload, wherever the payload is
};

struct ObjectDbs {
  MDB_dbi objects, refs, deps;
};

class ObjectStore {
 public:
  // `packs` outlives this object (the store owns it; GC's compaction replaces this object).
  ObjectStore(ObjectDbs dbs, const StoreOptions& opts, PackStore* packs)
      : dbs_(dbs), opts_(opts), packs_(packs) {}

  // A record whose encoding (header and payload) is longer than this is packed. Tiny ones
  // (small config files) stay inline: one lookup, no file read. In the data file, LMDB puts a
  // value of over ~1,998 bytes (32-byte key, 4 KiB pages) on overflow pages of its own, half a
  // page wasted per object on average, and leaf pages of records of a few hundred bytes are
  // about half full (random ids, copy-on-write splits): on bench/storage_compare.py's
  // small-files workload the data file held 4.7 MiB of object pages for 2.6 MiB of payloads
  // (9.3 MiB in all before packs; 7.0 MiB with this limit).
  static constexpr size_t kMaxInlineRecord = 256;

  bool Exists(LmdbTxn& txn, const ObjectId& id);
  // What a new object may be delta-encoded against: existing objects whose decoded bytes,
  // concatenated, are `bytes`; where in `bytes` the new content's first byte was (`offset`,
  // for the sparse XOR engine); and whether the file kept its size (`in_place`: its edits
  // overwrote bytes, nothing was inserted or deleted).
  struct DeltaBase {
    std::vector<ObjectId> ids;
    ByteView bytes;
    size_t offset = 0;
    bool in_place = false;
  };
  // Stores `content` (whose hash is `id`) whole, or as a delta against `base` when the storage
  // rules say the delta is worth it. No-op if the object exists. Returns the bytes written.
  Result<uint64_t> Put(LmdbTxn& txn, const ObjectId& id, ByteView content, const DeltaBase& base,
                       bool force_whole);
  // Decoded, verified content. Delta bases decoded on the way are kept in a small cache;
  // `cache_result` also keeps this object (for callers that will read it again, such as
  // capture reading the previous version's chunks as delta bases).
  Result<Bytes> Read(LmdbTxn& txn, const ObjectId& id, bool cache_result = false);
  // Decoded content whose SHA-256 the caller checks against `id` itself (StreamVerified,
  // which hashes on two threads): everything but that last hash is checked as in Read, and
  // delta bases decoded on the way are verified. Not cached.
  Result<Bytes> ReadForCallerToVerify(LmdbTxn& txn, const ObjectId& id);
  Result<ObjectHeader> Header(LmdbTxn& txn, const ObjectId& id);
  // Parses an objects record (for scans over the objects database).
  static Result<ObjectHeader> ParseHeader(const ObjectId& id, std::string_view value);
  // Copies the packed payload of `id` to the current pack and records its new location (GC,
  // emptying packs that are mostly garbage). Content, id and references are unchanged.
  Status Repack(LmdbTxn& txn, const ObjectId& id);
  Status AddVersionRef(LmdbTxn& txn, const ObjectId& id);
  // Drops a version reference; deletes the object (and releases its bases) at zero.
  // *freed counts deleted objects.
  Status ReleaseVersionRef(LmdbTxn& txn, const ObjectId& id, uint64_t* freed);
  // Re-encodes, whole, every object that uses `id` as a delta base and has no version of its
  // own left... (used by GC): rewrites dependents of `id` whole so `id` can be dropped.
  Status RebaseDependents(LmdbTxn& txn, const ObjectId& id, uint64_t* rebased, uint64_t* freed);
  // Reference counts (vrefs, brefs).
  Result<std::pair<uint64_t, uint64_t>> Refs(LmdbTxn& txn, const ObjectId& id);
  // Re-encodes a whole (zstd) object at `level` when it was stored at a lower one and the
  // result is smaller; content, id and reference counts are unchanged. Adds the bytes
  // saved to *saved.
  Status Recompress(LmdbTxn& txn, const ObjectId& id, int level, uint64_t* saved);
  // Objects decoded (cache hits excluded) since construction; any thread may ask.
  uint64_t decoded() const { return decoded_.load(std::memory_order_relaxed); }
  void ClearCache() {
    cache_.clear();
    lru_.clear();
    cache_bytes_ = 0;
  }
  // Clears the decode cache now and when it goes out of scope: one per store operation, so
  // an idle store holds no decoded bytes. Holds the owning pointer, not the object: GC's
  // compaction replaces the store's ObjectStore meanwhile.
  class CacheScope {
   public:
    explicit CacheScope(const std::unique_ptr<ObjectStore>& o) : o_(o) { o_->ClearCache(); }
    ~CacheScope() {
      if (o_) o_->ClearCache();
    }
    CacheScope(const CacheScope&) = delete;
    CacheScope& operator=(const CacheScope&) = delete;

   private:
    const std::unique_ptr<ObjectStore>& o_;
  };

 private:
  Status SetRefs(LmdbTxn& txn, const ObjectId& id, uint64_t v, uint64_t b);
  Status Delete(LmdbTxn& txn, const ObjectId& id, uint64_t* freed);
  Status StoreWhole(LmdbTxn& txn, const ObjectId& id, ByteView content, uint64_t* written);
  Status PutEncoded(LmdbTxn& txn, const ObjectId& id, const ObjectHeader& h, ByteView payload,
                    uint64_t* written);
  Result<Bytes> ReadDepth(LmdbTxn& txn, const ObjectId& id, int depth_left, bool cache_result,
                          bool verify = true);
  void CachePut(const ObjectId& id, const Bytes& b);

  ObjectDbs dbs_;
  const StoreOptions& opts_;
  PackStore* const packs_;
  // LRU of decoded objects, bounded by bytes. A changed chunk's delta bases are the
  // previous version's chunks that held its bytes (one or two, at most four), themselves
  // deltas of the version before: without a cache, decoding a chunk at chain depth d visits
  // every path through that graph (up to 4^d); with it, each object once. 32 MiB holds the
  // graph of a chunk at depth 20 (the agent's snapshot interval) with 256 KiB chunks and
  // one or two bases each, and a restore's sliding window over neighbouring chunks.
  static constexpr uint64_t kCacheBytes = 32ull << 20;
  uint64_t cache_bytes_ = 0;
  std::atomic<uint64_t> decoded_{0};
  std::list<ObjectId> lru_;
  std::unordered_map<ObjectId, std::pair<Bytes, std::list<ObjectId>::iterator>, ObjectIdHash>
      cache_;
};

}  // namespace dk
