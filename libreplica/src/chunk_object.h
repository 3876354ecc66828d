// The bucket form of a chunk: one zstd frame of the chunk's bytes, with its content size in
// the frame header (libreplica/FORMAT.md, "Chunk objects").
#pragma once

#include <string_view>

#include "libstate/bytes.h"
#include "libstate/hash.h"
#include "libstate/result.h"

namespace dk::replica {

// A decoded chunk is never larger than this (libstate's chunker caps chunks far below it); a
// frame that claims more is treated as corrupt instead of being allocated.
inline constexpr size_t kMaxChunkObjectSize = 64u << 20;

// One zstd frame of `raw` at `level`; Internal when zstd fails.
Result<Bytes> EncodeChunkObject(ByteView raw, int level);
// The chunk in `data` (the object `key` in the bucket), checked against `id`: Corruption naming
// `key` when it is not one complete zstd frame, claims more than kMaxChunkObjectSize, or
// decodes to bytes whose SHA-256 is not `id`.
Result<Bytes> DecodeChunkObject(std::string_view key, const ObjectId& id, ByteView data);

}  // namespace dk::replica
