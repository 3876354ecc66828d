// The v1 store layout: what the first generation of this kind of tool stored — a full
// zstd-compressed snapshot of every version of every file, nothing shared, no deltas.
//
// Layout (LMDB): database "meta" with "schema" = "1"; database "snapshots" with key
// path NUL big-endian-u64(seq) and value u8(1) svarint(time_ns) varint(mode) varint(size)
// zstd-frame(content). Store::Open for writing migrates such a store to the current
// schema in one transaction (content becomes chunks, each v1 time becomes a capture set).
#pragma once

#include <string>
#include <vector>

#include "libstate/bytes.h"
#include "libstate/status.h"

namespace dk {

struct V1Snapshot {
  std::string path;
  int64_t time_ns = 0;
  uint32_t mode = 0644;
  Bytes content;
};

// Writes a new v1 store in directory `dir` (created; must not hold a store) with the given
// snapshots; seq numbers follow the order of the snapshots of each path. For migration tests
// and for converting old stores.
Status WriteV1Store(const std::string& dir, const std::vector<V1Snapshot>& snapshots);

}  // namespace dk
