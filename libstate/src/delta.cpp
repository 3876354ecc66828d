#include "libstate/delta.h"

#include <algorithm>
#include <string>

#include "bsdiff.h"
#include "zstd_delta.h"

namespace dk {
namespace {

Status CheckInputSize(DeltaEngine engine, std::string_view what, size_t size, size_t limit) {
  if (size <= limit) return Status::Ok();
  return Status::InvalidArgument(std::string(DeltaEngineName(engine)) +
                                 " delta: " + std::string(what) + " of " + std::to_string(size) +
                                 " bytes exceeds the input limit of " + std::to_string(limit) +
                                 " bytes");
}

Status UnknownEngine(DeltaEngine engine) {
  return Status::InvalidArgument("unknown delta engine " +
                                 std::to_string(static_cast<int>(engine)));
}

}  // namespace

Result<Bytes> MakeDelta(DeltaEngine engine, ByteView base, ByteView target,
                        const DeltaOptions& options) {
  if (DeltaEngineName(engine) == "unknown") return UnknownEngine(engine);
  const size_t limit = std::min(options.max_input, kDeltaHardMaxInput);
  DK_RETURN_IF_ERROR(CheckInputSize(engine, "base", base.size(), limit));
  DK_RETURN_IF_ERROR(CheckInputSize(engine, "target", target.size(), limit));
  if (engine == DeltaEngine::kBsdiff) return internal::MakeBsdiffPatch(base, target);
  if (engine == DeltaEngine::kSparseXor) {
    return internal::MakeXorPatch(base, options.base_offset, target, options.zstd_level,
                                  options.zstd_checksum);
  }
  return internal::MakeZstdPatch(base, target, options.zstd_level, options.zstd_checksum);
}

Result<Bytes> ApplyDelta(DeltaEngine engine, ByteView base, ByteView patch, size_t max_output) {
  max_output = std::min(max_output, kDeltaHardMaxInput);
  switch (engine) {
    case DeltaEngine::kBsdiff:
      return internal::ApplyBsdiffPatch(base, patch, max_output);
    case DeltaEngine::kZstdPatchFrom:
      return internal::ApplyZstdPatch(base, patch, max_output);
    case DeltaEngine::kSparseXor:
      return internal::ApplyXorPatch(base, patch, max_output);
  }
  return UnknownEngine(engine);
}

std::string_view DeltaEngineName(DeltaEngine engine) {
  switch (engine) {
    case DeltaEngine::kBsdiff:
      return "bsdiff";
    case DeltaEngine::kZstdPatchFrom:
      return "zstd";
    case DeltaEngine::kSparseXor:
      return "xor";
  }
  return "unknown";
}

std::optional<DeltaEngine> ParseDeltaEngine(std::string_view name) {
  if (name == "bsdiff") return DeltaEngine::kBsdiff;
  if (name == "zstd") return DeltaEngine::kZstdPatchFrom;
  if (name == "xor") return DeltaEngine::kSparseXor;
  return std::nullopt;
}

}  // namespace dk
