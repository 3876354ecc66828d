// Content-defined chunking (FastCDC-style): a gear rolling hash with normalized chunking.
//
// Cut points depend only on the bytes near them, so an insertion or deletion shifts no
// chunk boundary more than `max_size` bytes past the edit. The parameters and the gear table
// are part of the on-disk format: a store records ChunkerParams::Name() and refuses to mix
// chunkers. Golden vectors in tests/libstate/chunker_test.cpp pin the exact cut points.
// Thread-safe: a Chunker is immutable after construction.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "libstate/bytes.h"
#include "libstate/status.h"

namespace dk {

struct ChunkerParams {
  // Defaults: 256 KiB average. Measured with bench/storage_compare.py against 64 KiB: 9-14%
  // fewer stored bytes on the checkpoint, page-file and insertion workloads (fewer objects,
  // so less per-object overhead in LMDB and in delta framing; deltas against larger bases),
  // the same on small files (smaller than min_size: one object each), and 4x fewer objects
  // to replicate. Capture of changed data costs up to 2x the CPU (larger delta bases).
  uint32_t min_size = 64 * 1024;
  uint32_t avg_size = 256 * 1024;  // must be a power of two
  uint32_t max_size = 1024 * 1024;

  // InvalidArgument unless 64 <= min < avg < max <= 64 MiB and avg is a power of two.
  Status Validate() const;
  // "fastcdc1-<min>-<avg>-<max>": recorded in a store.
  std::string Name() const;
};

struct ChunkSpan {
  uint64_t offset;
  uint32_t size;
};

class Chunker {
 public:
  explicit Chunker(const ChunkerParams& params);  // params must Validate()

  // Length of the chunk that starts at data[0]; data.size() when data is no longer than
  // min_size; never more than max_size.
  size_t NextCut(ByteView data) const;
  // All chunks of data, in order, covering it exactly. Empty input → no chunks.
  std::vector<ChunkSpan> Split(ByteView data) const;
  const ChunkerParams& params() const { return params_; }
  // NextCut written the plain way, one byte per step: the definition NextCut's unrolled loop
  // must match exactly (tests compare them).
  size_t NextCutByteAtATimeForTest(ByteView data) const;

 private:
  ChunkerParams params_;
  uint64_t mask_small_;  // used before avg_size: harder to match
  uint64_t mask_large_;  // used after avg_size: easier to match
};

}  // namespace dk
