// KnownObjects: a bounded index of chunk objects known to be in the bucket, with the time each
// was last written there, so that replication does not ask the bucket (HEAD) about every chunk
// it has already sent. Least recently used entries are evicted beyond `capacity`; a miss only
// costs one HEAD request, so the index may be small. It lives in memory only: after a restart
// the head's manifest (whose chunks are known to be in the bucket) and HEAD requests refill it.
//
// One index may be shared by the replicators of every identity that uses the same bucket and
// prefix (dedup across pods), never across buckets.
//
// Memory: about 120 bytes per entry (65,536 entries ≈ 8 MiB).
// Thread safety: thread-safe.
#pragma once

#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>

#include "libstate/hash.h"

namespace dk::replica {

class KnownObjects {
 public:
  explicit KnownObjects(size_t capacity = 65'536);  // capacity >= 1

  // Records that `id` is in the bucket, last written at `last_modified_ns` (the server's time
  // from a HEAD or listing, or the uploader's clock right after a PUT). Keeps the later time
  // when the id is already known.
  void Insert(const ObjectId& id, int64_t last_modified_ns);
  // The recorded last-write time of `id` (and marks it recently used); nullopt when unknown.
  std::optional<int64_t> Lookup(const ObjectId& id);
  void Erase(const ObjectId& id);
  void Clear();
  size_t size() const;
  size_t capacity() const { return capacity_; }

 private:
  using Lru = std::list<std::pair<ObjectId, int64_t>>;
  const size_t capacity_;
  mutable std::mutex mu_;
  Lru lru_;  // front = most recently used
  std::unordered_map<ObjectId, Lru::iterator, ObjectIdHash> index_;
};

}  // namespace dk::replica
