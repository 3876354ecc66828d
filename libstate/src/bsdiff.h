// Private: the BSDIFF40 delta engine behind MakeDelta/ApplyDelta(DeltaEngine::kBsdiff).
// The format and the algorithm are described at the top of bsdiff.cpp.
#pragma once

#include <cstddef>

#include "libstate/bytes.h"
#include "libstate/result.h"

namespace dk::internal {

// Makes a BSDIFF40 patch. The caller has checked the input size limits (|base| < 2^31).
Result<Bytes> MakeBsdiffPatch(ByteView base, ByteView target);

// Applies a BSDIFF40 patch; Corruption on any malformed input (see delta.h).
Result<Bytes> ApplyBsdiffPatch(ByteView base, ByteView patch, size_t max_output);

}  // namespace dk::internal
