// PackStore: append-only pack files holding the payloads of large objects (private).
//
// LMDB stores a value too big for a leaf page on whole overflow pages, so every such object
// wasted half a page on average (4.6 MiB of 121.9 on the storage benchmark's checkpoint
// workload), keeps leaf pages of mid-sized values about half full, and copies pages on
// write. Payloads of all but tiny objects (ObjectStore::kMaxInlineRecord) are therefore
// appended to `packs/NNNNNNNN.pack` in the store directory instead; the objects database
// keeps their header and (pack, offset, length). See FORMAT.md.
//
// Crash ordering: a write transaction that appended payloads calls Sync() before it
// commits, so a committed record never points at bytes that are not on disk. Bytes appended
// by a transaction that never commits are garbage in the pack, reclaimed when GC rewrites the
// pack. Packs are never modified in place: GC copies live payloads into the current pack,
// commits the new locations, and only then removes the old pack files.
//
// One writer (the process holding the store's writer lock) appends; readers in any process
// pread committed ranges. Read may be called from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "fs_safe.h"
#include "libstate/bytes.h"
#include "libstate/hash.h"
#include "libstate/result.h"

namespace dk {

struct PackLocation {
  uint32_t pack = 0;
  uint64_t offset = 0, length = 0;
};

class PackStore {
 public:
  // `dir` is the store's packs directory (created on the first append). `sync`: fdatasync in
  // Sync() (off only where the store itself does not sync).
  PackStore(std::string dir, bool sync) : dir_(std::move(dir)), sync_(sync) {}

  // Appends `payload` to the current pack (a new one once it holds kPackTargetBytes).
  Result<PackLocation> Append(ByteView payload);
  // Makes everything appended so far durable (fdatasync, and the directory when a pack was
  // created). Call before committing the transaction that records the locations.
  Status Sync();
  // The payload at `loc`, for object `id` (named in errors). Any thread.
  Result<Bytes> Read(const PackLocation& loc, const ObjectId& id);
  // Pack numbers present on disk, ascending, with their sizes in bytes.
  Result<std::map<uint32_t, uint64_t>> List();
  // Starts a new pack at the next append (GC, before it copies live payloads out of the
  // newest pack, which the next append would otherwise continue).
  void Seal();
  // Removes pack `n` (GC, after the transaction that moved its live payloads committed).
  Status Remove(uint32_t n);
  const std::string& dir() const { return dir_; }

  static constexpr uint64_t kPackTargetBytes = 64ull << 20;
  static constexpr size_t kHeaderBytes = 8;  // "DKPACK1\n"

 private:
  std::string PackPath(uint32_t n) const;
  Status OpenCurrent();
  Result<std::shared_ptr<const UniqueFd>> ReadFd(uint32_t n);

  const std::string dir_;
  const bool sync_;
  // Writer state.
  UniqueFd cur_;
  uint32_t cur_pack_ = 0;
  uint32_t highest_used_ = 0;  // highest pack number this process appended to
  uint64_t cur_size_ = 0;
  bool sealed_ = false;
  bool dirty_ = false, dir_dirty_ = false;
  // Read descriptors, by pack number (shared: Remove may drop one while a read uses it).
  std::mutex mu_;
  std::map<uint32_t, std::shared_ptr<const UniqueFd>> readers_;
};

}  // namespace dk
