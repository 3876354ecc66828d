// ChunkSources for restores (libstate/manifest.h): where chunk content comes from.
//
//   StoreChunkSource  a local store (Store::ReadObject, verified by libstate).
//   SpoolChunkSource  for restores from another node: tries a local store first (an older
//                     history of the same identity often holds most chunks), then a spool
//                     directory of chunks fetched by an earlier, interrupted attempt, and only
//                     then the upstream source; every upstream chunk is checked against its id
//                     before it is spooled or returned. So a restore that is interrupted and
//                     retried fetches only what it still misses.
// The spool directory belongs to one restore (one pod UID); Clear() removes it after success.
// Both check every chunk they return against its id (VerifiesIds), so restore does not hash
// it again. Thread-compatible: one restore uses a source at a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "libstate/manifest.h"
#include "libstate/store.h"

namespace dk::agent {

class StoreChunkSource final : public ChunkSource {
 public:
  explicit StoreChunkSource(Store* store) : store_(store) {}
  Result<Bytes> Fetch(const ObjectId& id) override { return store_->ReadObject(id); }
  bool VerifiesIds() const override { return true; }  // ReadObject hashes what it decodes

 private:
  Store* store_;
};

struct SpoolStats {
  uint64_t from_local = 0, from_spool = 0, from_upstream = 0;
  uint64_t upstream_bytes = 0;
};

class SpoolChunkSource final : public ChunkSource {
 public:
  // `local` may be null. `spool_dir` is created on first use.
  SpoolChunkSource(Store* local, std::string spool_dir, ChunkSource* upstream);
  Result<Bytes> Fetch(const ObjectId& id) override;
  bool VerifiesIds() const override { return true; }  // local, spooled and upstream: all hashed
  // Removes the spool directory and its contents.
  void Clear();
  const SpoolStats& stats() const { return stats_; }

 private:
  Store* local_;
  std::string spool_dir_;
  ChunkSource* upstream_;
  SpoolStats stats_;
};

}  // namespace dk::agent
