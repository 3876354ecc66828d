// The zstd patch-from delta engine: the target compressed by zstd with the base as a
// raw-content prefix (what `zstd --patch-from=BASE` does), so every match into the base is
// an ordinary zstd back-reference. The window covers base + target.
//
// "DKZP" patch format, version 1 (all integers little-endian):
//
//   offset  size  field
//        0     4  magic "DKZP"
//        4     1  version = 1
//        5     1  checksum kind: 0x00 none, 0x03 XXH64 (codes two bits apart, so one flipped
//                 bit cannot turn a checked patch into an unchecked one); anything else is
//                 refused
//        6     2  reserved, zero
//        8     8  target size in bytes (u64)
//       16     8  digest (u64): with XXH64,
//                   h1 = XXH64(patch[0..16), seed 0)
//                   h2 = XXH64(zstd frame, seed h1)
//                   digest = XXH64(target, seed h2)
//                 so it covers every other byte of the patch and the result (a wrong base is
//                 caught too); zero with kind none
//       24  rest  exactly one zstd frame (RFC 8878) to the end of the patch, whose frame
//                 content size equals the target size, decoded with the base as raw-content
//                 prefix (dictionary id 0). Written without zstd's own 32-bit checksum when
//                 the XXH64 digest is present, with it when not.
//
// Reading checks every field before allocating: magic, version, checksum kind, reserved bytes,
// target size against max_output, that the frame ends exactly at the end of the patch and
// declares the same content size; then decodes into a buffer of exactly that size and checks
// the decoded length and the digest. Any failure is a Corruption naming the field.
#include "zstd_delta.h"

#define ZSTD_STATIC_LINKING_ONLY  // for ZSTD_c_deterministicRefPrefix only
#include <zstd.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <memory>
#include <string>

#include "zstd_context.h"

namespace dk::internal {
namespace {

constexpr char kMagic[4] = {'D', 'K', 'Z', 'P'};
constexpr uint8_t kVersion = 1;
constexpr uint8_t kChecksumNone = 0x00;
constexpr uint8_t kChecksumXxh64 = 0x03;
constexpr size_t kHeaderSize = 24;
// Long-distance matching (LDM). `zstd --patch-from` turns it on whenever the window exceeds
// what the level's match finder indexes, which for our sizes is always; measured on 1-4 MiB
// bases with 0.1-1% edits (libzstd 1.5.4) that costs 30-90% in patch size where the regular
// match finder still sees the whole base, and the regular finder stops seeing it past
// base + target of about 5 MiB at level 3 and 8 MiB at level 9 (patches then approach the
// target size), and already at 1 MiB at levels below 3. So LDM is on below level 3 and above
// this total size.
constexpr uint64_t kLdmAboveTotal = uint64_t{4} << 20;
constexpr int kLdmBelowLevel = 3;

uint64_t Load64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint32_t Load32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}
void Store64(uint64_t v, uint8_t* p) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

// The window log that covers `bytes` bytes of history, within zstd's bounds.
int WindowLogFor(uint64_t bytes) {
  ZSTD_bounds b = ZSTD_cParam_getBounds(ZSTD_c_windowLog);
  int log = bytes <= 1 ? 0 : std::bit_width(bytes - 1);
  return std::clamp(log, b.lowerBound, b.upperBound);
}

uint64_t Digest(ByteView header16, ByteView frame, ByteView target) {
  uint64_t h = Xxh64(header16, 0);
  h = Xxh64(frame, h);
  return Xxh64(target, h);
}

Status ZstdFailed(std::string_view what, size_t code) {
  return Status::Internal("zstd delta: " + std::string(what) +
                          " failed: " + ZSTD_getErrorName(code));
}

// --- XXH64 -----------------------------------------------------------------------------------

constexpr uint64_t kPrime1 = 0x9E3779B185EBCA87ULL;
constexpr uint64_t kPrime2 = 0xC2B2AE3D27D4EB4FULL;
constexpr uint64_t kPrime3 = 0x165667B19E3779F9ULL;
constexpr uint64_t kPrime4 = 0x85EBCA77C2B2AE63ULL;
constexpr uint64_t kPrime5 = 0x27D4EB2F165667C5ULL;

uint64_t XxRound(uint64_t acc, uint64_t input) {
  acc += input * kPrime2;
  acc = std::rotl(acc, 31);
  return acc * kPrime1;
}
uint64_t XxMerge(uint64_t acc, uint64_t lane) {
  acc ^= XxRound(0, lane);
  return acc * kPrime1 + kPrime4;
}

}  // namespace

uint64_t Xxh64(ByteView data, uint64_t seed) {
  const uint8_t* p = data.data();
  size_t n = data.size();
  uint64_t h;
  if (n >= 32) {
    uint64_t v1 = seed + kPrime1 + kPrime2, v2 = seed + kPrime2, v3 = seed, v4 = seed - kPrime1;
    while (n >= 32) {
      v1 = XxRound(v1, Load64(p));
      v2 = XxRound(v2, Load64(p + 8));
      v3 = XxRound(v3, Load64(p + 16));
      v4 = XxRound(v4, Load64(p + 24));
      p += 32;
      n -= 32;
    }
    h = std::rotl(v1, 1) + std::rotl(v2, 7) + std::rotl(v3, 12) + std::rotl(v4, 18);
    h = XxMerge(h, v1);
    h = XxMerge(h, v2);
    h = XxMerge(h, v3);
    h = XxMerge(h, v4);
  } else {
    h = seed + kPrime5;
  }
  h += static_cast<uint64_t>(data.size());
  while (n >= 8) {
    h ^= XxRound(0, Load64(p));
    h = std::rotl(h, 27) * kPrime1 + kPrime4;
    p += 8;
    n -= 8;
  }
  if (n >= 4) {
    h ^= static_cast<uint64_t>(Load32(p)) * kPrime1;
    h = std::rotl(h, 23) * kPrime2 + kPrime3;
    p += 4;
    n -= 4;
  }
  while (n > 0) {
    h ^= *p * kPrime5;
    h = std::rotl(h, 11) * kPrime1;
    ++p;
    --n;
  }
  h ^= h >> 33;
  h *= kPrime2;
  h ^= h >> 29;
  h *= kPrime3;
  h ^= h >> 32;
  return h;
}

Result<Bytes> MakeZstdPatch(ByteView base, ByteView target, int level, bool checksum) {
  if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel()) {
    return Status::InvalidArgument("zstd delta: level " + std::to_string(level) + " is outside [" +
                                   std::to_string(ZSTD_minCLevel()) + ", " +
                                   std::to_string(ZSTD_maxCLevel()) + "]");
  }
  ZSTD_CCtx* const cctx = ThreadCCtx();
  if (!cctx) return Status::Internal("zstd delta: cannot allocate a compression context");
  const uint64_t total = uint64_t{base.size()} + target.size();
  const int window_log = WindowLogFor(total);
  const bool ldm = level < kLdmBelowLevel || total > kLdmAboveTotal;
  struct Param {
    ZSTD_cParameter param;
    int value;
    const char* name;
  };
  const Param params[] = {
      {ZSTD_c_compressionLevel, level, "compressionLevel"},
      {ZSTD_c_windowLog, window_log, "windowLog"},
      {ZSTD_c_enableLongDistanceMatching, ldm ? 1 : 0, "enableLongDistanceMatching"},
      {ZSTD_c_contentSizeFlag, 1, "contentSizeFlag"},
      {ZSTD_c_checksumFlag, checksum ? 0 : 1, "checksumFlag"},
      {ZSTD_c_dictIDFlag, 0, "dictIDFlag"},
  };
  for (const Param& p : params) {
    size_t rc = ZSTD_CCtx_setParameter(cctx, p.param, p.value);
    if (ZSTD_isError(rc)) return ZstdFailed(std::string("setting ") + p.name, rc);
  }
  // Same patch whether or not base and target happen to be adjacent in memory. Experimental:
  // ignored by a libzstd that lacks it (output is then still valid, only possibly different).
  (void)ZSTD_CCtx_setParameter(cctx, ZSTD_c_deterministicRefPrefix, 1);
  size_t rc = ZSTD_CCtx_refPrefix(cctx, base.data(), base.size());
  if (ZSTD_isError(rc)) return ZstdFailed("referencing the base", rc);

  Bytes patch(kHeaderSize + ZSTD_compressBound(target.size()));
  size_t frame_size = ZSTD_compress2(cctx, patch.data() + kHeaderSize, patch.size() - kHeaderSize,
                                     target.data(), target.size());
  if (ZSTD_isError(frame_size)) return ZstdFailed("compressing the target", frame_size);
  patch.resize(kHeaderSize + frame_size);
  patch.shrink_to_fit();

  std::memcpy(patch.data(), kMagic, sizeof(kMagic));
  patch[4] = kVersion;
  patch[5] = checksum ? kChecksumXxh64 : kChecksumNone;
  patch[6] = patch[7] = 0;
  Store64(target.size(), patch.data() + 8);
  uint64_t digest = 0;
  if (checksum) {
    digest = Digest(ByteView(patch).first(16), ByteView(patch).subspan(kHeaderSize), target);
  }
  Store64(digest, patch.data() + 16);
  return patch;
}

Result<Bytes> ApplyZstdPatch(ByteView base, ByteView patch, size_t max_output) {
  auto corrupt = [](const std::string& what) {
    return Status::Corruption("zstd delta patch: " + what);
  };
  if (patch.size() < kHeaderSize) {
    return corrupt(std::to_string(patch.size()) + " bytes, shorter than the 24-byte header");
  }
  if (std::memcmp(patch.data(), kMagic, sizeof(kMagic)) != 0) {
    return corrupt("bad magic (want \"DKZP\" at offset 0)");
  }
  if (patch[4] != kVersion) {
    return corrupt("unsupported version " + std::to_string(patch[4]) + " at offset 4 (want " +
                   std::to_string(kVersion) + ")");
  }
  const uint8_t kind = patch[5];
  if (kind != kChecksumNone && kind != kChecksumXxh64) {
    return corrupt("unknown checksum kind " + std::to_string(kind) + " at offset 5");
  }
  if (patch[6] != 0 || patch[7] != 0) return corrupt("reserved bytes 6..7 are not zero");
  const uint64_t target_size = Load64(patch.data() + 8);
  const uint64_t digest = Load64(patch.data() + 16);
  if (kind == kChecksumNone && digest != 0) {
    return corrupt("digest at offset 16 is set but the checksum kind is none");
  }
  if (target_size > max_output) {
    return corrupt("declares a target size of " + std::to_string(target_size) +
                   " bytes (offset 8), above max_output " + std::to_string(max_output));
  }
  const ByteView frame = patch.subspan(kHeaderSize);
  const size_t frame_size = ZSTD_findFrameCompressedSize(frame.data(), frame.size());
  if (ZSTD_isError(frame_size)) {
    return corrupt(std::string("zstd frame at offset 24: ") + ZSTD_getErrorName(frame_size));
  }
  if (frame_size != frame.size()) {
    return corrupt(std::to_string(frame.size() - frame_size) +
                   " trailing bytes after the zstd frame (which ends at offset " +
                   std::to_string(kHeaderSize + frame_size) + ")");
  }
  const unsigned long long content_size = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (content_size == ZSTD_CONTENTSIZE_ERROR || content_size == ZSTD_CONTENTSIZE_UNKNOWN) {
    return corrupt("zstd frame at offset 24 does not declare its content size");
  }
  if (content_size != target_size) {
    return corrupt("zstd frame declares " + std::to_string(content_size) +
                   " bytes of content, the header (offset 8) " + std::to_string(target_size));
  }

  ZSTD_DCtx* const dctx = ThreadDCtx();
  if (!dctx) return Status::Internal("zstd delta: cannot allocate a decompression context");
  size_t rc = ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax,
                                     WindowLogFor(uint64_t{base.size()} + target_size));
  if (ZSTD_isError(rc)) return ZstdFailed("setting windowLogMax", rc);
  rc = ZSTD_DCtx_refPrefix(dctx, base.data(), base.size());
  if (ZSTD_isError(rc)) return ZstdFailed("referencing the base", rc);

  Bytes out(static_cast<size_t>(target_size));
  size_t got = ZSTD_decompressDCtx(dctx, out.data(), out.size(), frame.data(), frame.size());
  if (ZSTD_isError(got)) {
    return corrupt(std::string("decoding the zstd frame at offset 24 failed: ") +
                   ZSTD_getErrorName(got));
  }
  if (got != out.size()) {
    return corrupt("zstd frame decoded to " + std::to_string(got) + " bytes, header says " +
                   std::to_string(target_size));
  }
  if (kind == kChecksumXxh64 && Digest(patch.first(16), frame, out) != digest) {
    return corrupt("XXH64 digest mismatch (offset 16): damaged patch or wrong base");
  }
  return out;
}

}  // namespace dk::internal
