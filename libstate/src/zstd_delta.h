// Private: the zstd-coded delta engines behind MakeDelta/ApplyDelta(kZstdPatchFrom) and
// (kSparseXor). The formats are described at the top of zstd_delta.cpp.
#pragma once

#include <cstddef>
#include <cstdint>

#include "libstate/bytes.h"
#include "libstate/result.h"

namespace dk::internal {

// Makes a "DKZP" patch at zstd level `level` (the caller has checked the input sizes);
// `checksum` adds the XXH64 digest. InvalidArgument for a level out of range.
Result<Bytes> MakeZstdPatch(ByteView base, ByteView target, int level, bool checksum);

// Applies a "DKZP" patch; Corruption on any malformed input (see delta.h).
Result<Bytes> ApplyZstdPatch(ByteView base, ByteView patch, size_t max_output);

// Makes a "DKXR" patch comparing `target` with `base` from `base_offset` on, its stream
// compressed at zstd level `level` (the caller has checked the input sizes). InvalidArgument
// for a level out of range or an offset beyond the base.
Result<Bytes> MakeXorPatch(ByteView base, size_t base_offset, ByteView target, int level,
                           bool checksum);

// Applies a "DKXR" patch; Corruption on any malformed input (see delta.h).
Result<Bytes> ApplyXorPatch(ByteView base, ByteView patch, size_t max_output);

// XXH64 (xxHash, 64-bit variant) of `data` with `seed`; exposed for its test vectors.
uint64_t Xxh64(ByteView data, uint64_t seed);

}  // namespace dk::internal
