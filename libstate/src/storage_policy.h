// The storage rules, in one place: whether a new object is stored whole or as a delta,
// with which engines, and whether a computed delta is worth keeping.
#pragma once

#include <cstdint>
#include <vector>

#include "libstate/delta.h"
#include "libstate/options.h"

namespace dk {

class StoragePolicy {
 public:
  explicit StoragePolicy(const StoreOptions& o) : o_(o) {}

  // A delta is attempted when the delta choice allows it, the object is not tiny, the file's
  // snapshot interval has not come round (`force_whole`), and the chain stays within max_chain.
  bool TryDelta(uint64_t size, uint32_t base_depth, bool force_whole) const {
    if (o_.delta == DeltaChoice::kNone || force_whole) return false;
    if (size < o_.delta_min_size) return false;
    return base_depth + 1 <= o_.max_chain;
  }
  // Engines to try for a target of `target_size` bytes that was at `base_offset` in a base of
  // `base_size`; the smallest result wins. zstd patch-from at level 9 gave patches as small as
  // bsdiff's or smaller on every workload measured (1 MiB binary and text pairs, float
  // checkpoints) at a quarter of the CPU, so auto uses it; bsdiff is there by choice. Auto
  // also tries the sparse XOR when the base covers the target from that offset on: on data
  // rewritten in place its patches are smaller (≈11% on float checkpoints), and it costs one
  // pass plus zstd over the changed words (at level 1 when most words changed).
  std::vector<DeltaEngine> Engines(uint64_t base_size, uint64_t base_offset,
                                   uint64_t target_size) const {
    switch (o_.delta) {
      case DeltaChoice::kBsdiff:
        return {DeltaEngine::kBsdiff};
      case DeltaChoice::kNone:
        return {};
      case DeltaChoice::kZstd:
        return {DeltaEngine::kZstdPatchFrom};
      case DeltaChoice::kAuto:
        break;
    }
    if (base_offset <= base_size && target_size <= base_size - base_offset) {
      return {DeltaEngine::kSparseXor, DeltaEngine::kZstdPatchFrom};
    }
    return {DeltaEngine::kZstdPatchFrom};
  }
  // A patch this small of a file edited in place (its size kept) ends the search: the engines
  // after it are not tried. The sparse XOR goes first; where it is at most an eighth of the
  // chunk, patch-from, which costs 10-15x its time, was not smaller on in-place edits (float
  // checkpoint: capture 25.4 -> 10.0 s, 0.01 MiB less). Not when the size changed: an
  // insertion near a chunk's end leaves a small XOR patch where patch-from's is far smaller
  // (8 MiB text with 50 insertions per version: 2.43 -> 2.57 MiB when it was allowed).
  bool SmallEnough(uint64_t patch_size, uint64_t target_size, bool in_place) const {
    return in_place && patch_size <= target_size / 8;
  }
  bool Worth(uint64_t patch_size, uint64_t whole_size) const {
    return static_cast<double>(patch_size) <= o_.delta_max_ratio * static_cast<double>(whole_size);
  }
  // A snapshot (no delta) is due for version `seq` (1-based) of a file.
  bool SnapshotDue(uint64_t seq) const {
    return o_.snapshot_every == 0 ? seq == 1 : (seq - 1) % o_.snapshot_every == 0;
  }

 private:
  const StoreOptions& o_;
};

}  // namespace dk
