#include "chunk_object.h"

#include <zstd.h>

#include <string>

namespace dk::replica {

Result<Bytes> EncodeChunkObject(ByteView raw, int level) {
  Bytes out(ZSTD_compressBound(raw.size()));
  const size_t n = ZSTD_compress(out.data(), out.size(), raw.data(), raw.size(), level);
  if (ZSTD_isError(n)) {
    return Status::Internal(std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
  }
  out.resize(n);
  return out;
}

Result<Bytes> DecodeChunkObject(std::string_view key, const ObjectId& id, ByteView data) {
  auto corrupt = [&](std::string_view what) {
    return Status::Corruption("object " + std::string(key) + ": " + std::string(what));
  };
  const size_t frame = ZSTD_findFrameCompressedSize(data.data(), data.size());
  if (ZSTD_isError(frame)) return corrupt("not a complete zstd frame (truncated or garbage)");
  if (frame != data.size()) return corrupt("trailing bytes after the zstd frame");
  const unsigned long long size = ZSTD_getFrameContentSize(data.data(), data.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN) {
    return corrupt("zstd frame without a content size");
  }
  if (size > kMaxChunkObjectSize) {
    return corrupt("zstd frame claims " + std::to_string(size) + " bytes, more than any chunk");
  }
  Bytes out(static_cast<size_t>(size));
  const size_t n = ZSTD_decompress(out.data(), out.size(), data.data(), data.size());
  if (ZSTD_isError(n)) return corrupt(std::string("zstd: ") + ZSTD_getErrorName(n));
  if (n != out.size()) return corrupt("decoded size differs from the frame's content size");
  if (HashBytes(out) != id) return corrupt("content does not match its id (SHA-256)");
  return out;
}

}  // namespace dk::replica
