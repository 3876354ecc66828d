// Binary delta engines: a patch turns a `base` byte string into a `target` byte string.
//
// Three engines, chosen per object by the store (StoragePolicy: the smallest patch wins):
//
//  * kBsdiff — Colin Percival's bsdiff algorithm (suffix array of the base, approximate
//    matches extended forwards and backwards), written in the standard BSDIFF40 format, so a
//    patch can be applied by the stock `bspatch` tool and patches made by the stock `bsdiff`
//    tool can be applied here. Slow to make (suffix sorting of the base dominates: ~50 ms per
//    MiB), fast to apply (~5 ms per MiB).
//  * kZstdPatchFrom — zstd compression of the target with the base as a raw-content prefix
//    (the library mode behind `zstd --patch-from`), inside a small header of ours (magic
//    "DKZP", target size, XXH64 digest). At the default level 3-5x faster to make and ~6x
//    faster to apply than bsdiff, and its patches were no larger than bsdiff's on our 1 MiB
//    samples (random bytes, text, insertions); only bsdiff is readable by standard tools.
//  * kSparseXor — for data rewritten in place: the 4-byte words where target and base differ
//    (as gaps) and their XOR, regrouped by byte position and compressed by zstd (magic "DKXR",
//    same header and digest as DKZP). Any pair round-trips, but only in-place edits give small
//    patches: an insertion shifts every later word. On numeric data nudged in place (a float32
//    checkpoint with 10% of the values changed, 256 KiB chunks) 11% smaller than patch-from;
//    14x faster to make (1 MiB with 1% changed in place: 0.68 ms against 9.6 ms).
//
// The byte formats are written up at the top of libstate/src/bsdiff.cpp and
// libstate/src/zstd_delta.cpp; changing one is a format change (golden tests pin them).
//
// Memory (peak, besides the caller's base, target and the returned patch):
//  * MakeDelta(kBsdiff): 4 × |base| bytes of suffix array and a 256 KiB bucket table (freed
//    before compressing), 24 bytes per control triple (at most |target| / 9 + 1 triples,
//    typically one or two per edit), and one bzip2 level-9 compressor (≈ 7.5 MiB at most,
//    less for small inputs). So ≈ 4×|base| + 8 MiB; counting the inputs and the patch,
//    ≈ 5×|base| + 2×|target| + 8 MiB (measured peak RSS: 11 MiB for 1 MiB + 1 MiB, 103 MiB
//    for 16 MiB + 16 MiB).
//  * MakeDelta(kZstdPatchFrom): the zstd compression context, whose tables depend on the level
//    and on |base| + |target| and stop growing past a few MiB (measured peak RSS less inputs:
//    level 3 ≈ 4 MiB, level 9 ≈ 16 MiB, level 19 ≈ 36 MiB on 1 MiB + 1 MiB; level 9 with
//    long-distance matching ≈ 20 MiB on 16 MiB + 16 MiB), plus ZSTD_compressBound(|target|)
//    (≈ |target|) for the output.
//  * MakeDelta(kSparseXor): the XOR stream (5 + 9 bytes per differing word + the tail, at most
//    ≈ 2.3 × |target|), a zstd compression context for it and its compressed copy.
//  * ApplyDelta(kBsdiff): the output (exactly the declared new size, never more than
//    max_output) and three bzip2 decompressors (≈ 3.6 MiB each).
//  * ApplyDelta(kZstdPatchFrom): the output (exactly the declared size, never more than
//    max_output) and a zstd decompression context (≈ 150 KiB: the base and the output serve as
//    the window, nothing is copied).
//  * ApplyDelta(kSparseXor): the output, the decompressed stream (bounded before allocation
//    by what the declared size can need) and 4 bytes per differing word.
//
// Untrusted patches: ApplyDelta never crashes, never reads or writes out of bounds and never
// allocates more than the declared output size (itself refused above `max_output`) on any
// input; a malformed, truncated or garbled patch yields Corruption with a message naming the
// engine, the field or stream offset, and what is wrong. zstd patches carry a digest over all
// their bytes, so any damage is Corruption. BSDIFF40 relies on bzip2's CRCs, which cover
// every decoded byte: damage never produces a wrong output, but a few bits bzip2 does not
// check (e.g. the "BZh9" block-size digit) can be flipped without any effect.
//
// Determinism: for a given engine, inputs and options, MakeDelta returns the same bytes on
// every run and machine with the same libbz2/libzstd (bsdiff output is pinned by a golden test).
//
// Thread safety: all functions are pure; any number of threads may call them concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "libstate/bytes.h"
#include "libstate/result.h"

namespace dk {

enum class DeltaEngine : uint8_t { kBsdiff = 1, kZstdPatchFrom = 2, kSparseXor = 3 };

// Inputs above this are refused whatever DeltaOptions::max_input says (the suffix array uses
// 32-bit indices and the zstd window must cover base + target); ApplyDelta likewise refuses
// to produce more, whatever max_output says.
inline constexpr size_t kDeltaHardMaxInput = size_t{1} << 30;  // 1 GiB

struct DeltaOptions {
  // zstd level for kZstdPatchFrom and kSparseXor, in [ZSTD_minCLevel(), ZSTD_maxCLevel()]. Measured
  // with 1 MiB pairs on a 2-core x86-64 (libzstd 1.5.4; CPU time to make, patch bytes):
  //                        level 3          level 9          level 15          level 19
  //   random, 1% bytes    2 ms / 22055    18 ms / 21850    73 ms / 21850    476 ms / 26376
  //   text, 1% lines      2 ms /  7188    10 ms /  4780   232 ms /  4522    208 ms /  4489
  //   random, 50 ins/del  2 ms /  3355    10 ms /  3341    87 ms /  3341     88 ms /  3352
  //   (bsdiff: 52 ms / 23738, 70 ms / 6074, 50 ms / 3776)
  // Level 9 is the knee: within 7% of the smallest patch everywhere, 4-26x faster than 15-19
  // (which are no smaller on binaries). Level 3 is ~2 ms but 50% larger on text. Applying
  // takes < 1 ms at every level. Above 4 MiB of base + target, and below level 3, long-
  // distance matching is switched on (see zstd_delta.cpp: without it zstd stops finding the
  // base there).
  int zstd_level = 9;
  // When true (default) zstd and xor patches carry an XXH64 digest of the header, the zstd frame
  // and the target, so any damaged byte and a wrong base are reported as Corruption; when false,
  // only zstd's own 32-bit checksum of the target.
  bool zstd_checksum = true;
  // kSparseXor: where in the base the target's first byte was (the store passes where the
  // chunk sat in the previous version); the target is compared word by word with the base from
  // there. Recorded in the patch; above |base|, MakeDelta refuses it. Other engines ignore it.
  size_t base_offset = 0;
  // MakeDelta refuses a base or target larger than this (InvalidArgument); at most
  // kDeltaHardMaxInput. Bounds memory: see above.
  size_t max_input = size_t{64} << 20;  // 64 MiB
};

// Computes a patch turning `base` into `target` with engine `engine`.
// Returns InvalidArgument (naming the sizes) when base or target exceeds options.max_input or
// kDeltaHardMaxInput, when the level is out of range or the engine unknown; Internal when the
// compression library fails (out of memory).
Result<Bytes> MakeDelta(DeltaEngine engine, ByteView base, ByteView target,
                        const DeltaOptions& options);

// Applies `patch` (made by MakeDelta with the same engine, or by the stock `bsdiff` tool for
// kBsdiff) to `base` and returns the target. Returns Corruption when the patch is malformed,
// truncated, has trailing bytes, fails a checksum, or declares a target size above
// min(max_output, kDeltaHardMaxInput) (checked before anything is allocated); InvalidArgument
// for an unknown engine.
// For kBsdiff a wrong base goes undetected unless it makes the patch read outside it (BSDIFF40
// has no digest of the result: callers verify the content hash of what they restore).
Result<Bytes> ApplyDelta(DeltaEngine engine, ByteView base, ByteView patch, size_t max_output);

// "bsdiff", "zstd" or "xor"; "unknown" for a value outside the enum.
std::string_view DeltaEngineName(DeltaEngine engine);
// Inverse of DeltaEngineName; nullopt for any other string (case-sensitive).
std::optional<DeltaEngine> ParseDeltaEngine(std::string_view name);

}  // namespace dk
