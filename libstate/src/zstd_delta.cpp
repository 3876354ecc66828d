// The zstd-coded delta engines.
//
// Patch-from: the target compressed by zstd with the base as a raw-content prefix (what
// `zstd --patch-from=BASE` does), so every match into the base is an ordinary zstd
// back-reference. The window covers base + target.
//
// Sparse XOR: the words where target and base differ in place, as gaps and XORed bytes
// regrouped by byte position, compressed by zstd. For data rewritten in place (checkpoints,
// database pages); smaller than patch-from on numbers: on a float32 checkpoint with 10% of the
// values nudged it needs ≈3.4 bytes per changed value against patch-from's ≈3.9.
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
//
// "DKXR" (sparse XOR) patch format, version 1: the same 24-byte header with magic "DKXR" and
// byte 6 the word size W (4; anything else is refused), then exactly one zstd frame (no
// prefix) whose content is the XOR stream of the target and the base from offset O on, in
// whole words of W bytes:
//
//   varint O                where in the base the target's first byte was (O <= |base|)
//   u8 P                    the phase: the words start at target[P] (P < W, P <= common)
//   varint count            the words i < N where base[O+P..] and target[P..] differ
//   count × varint gap      word index minus (previous index + 1), the first one from 0
//   W planes × count bytes  plane k holds byte k of each differing word's XOR (little-endian)
//   rest                    target[0 .. P), then target[P + N·W .. |target|)
//
// with common = min(|base| - O, |target|) and N = (common - P) / W. The target is the first
// P bytes of the rest, base[O+P .. O+P + N·W) with the XORs applied, then the remaining
// rest. The writer picks the phase with the fewest differing words. The digest is the same
// as DKZP's. The planes separate what changes little in numeric data (the high bytes of a
// float nudged by a small amount are mostly zero) from what changes much, which zstd's
// per-block Huffman tables then price separately (the writer flushes a zstd block after each
// section). Reading refuses a frame whose content is larger than the sizes can need, an offset
// past the base, a phase of W or more or past the common length, a count above N, a gap past
// N, and a stream whose planes and rest do not fill it exactly.
#include "zstd_delta.h"

#define ZSTD_STATIC_LINKING_ONLY  // for ZSTD_c_deterministicRefPrefix only
#include <zstd.h>

#include <algorithm>
#include <array>
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

namespace {

// Writes the 24-byte header in front of the zstd frame already at patch[24..): magic, version,
// checksum kind, bytes 6 and 7, target size, digest over header, frame and target.
void FinishHeader(Bytes& patch, const char (&magic)[4], bool checksum, uint8_t b6,
                  ByteView target) {
  std::memcpy(patch.data(), magic, sizeof(magic));
  patch[4] = kVersion;
  patch[5] = checksum ? kChecksumXxh64 : kChecksumNone;
  patch[6] = b6;
  patch[7] = 0;
  Store64(target.size(), patch.data() + 8);
  uint64_t digest = 0;
  if (checksum) {
    digest = Digest(ByteView(patch).first(16), ByteView(patch).subspan(kHeaderSize), target);
  }
  Store64(digest, patch.data() + 16);
}

// What both formats' readers check before decoding: the header fields and that exactly one zstd
// frame, which declares its content size, fills the rest of the patch.
struct Framed {
  uint8_t kind = 0;
  uint8_t b6 = 0;  // DKZP: reserved; DKXR: word size
  uint8_t b7 = 0;  // reserved
  uint64_t target_size = 0;
  uint64_t digest = 0;
  ByteView frame;
  uint64_t content_size = 0;
};

Result<Framed> ParseFramed(ByteView patch, const char (&magic)[4], std::string_view engine,
                           size_t max_output) {
  auto corrupt = [engine](const std::string& what) {
    return Status::Corruption(std::string(engine) + " delta patch: " + what);
  };
  if (patch.size() < kHeaderSize) {
    return corrupt(std::to_string(patch.size()) + " bytes, shorter than the 24-byte header");
  }
  if (std::memcmp(patch.data(), magic, sizeof(magic)) != 0) {
    return corrupt("bad magic (want \"" + std::string(magic, sizeof(magic)) + "\" at offset 0)");
  }
  if (patch[4] != kVersion) {
    return corrupt("unsupported version " + std::to_string(patch[4]) + " at offset 4 (want " +
                   std::to_string(kVersion) + ")");
  }
  Framed f;
  f.kind = patch[5];
  if (f.kind != kChecksumNone && f.kind != kChecksumXxh64) {
    return corrupt("unknown checksum kind " + std::to_string(f.kind) + " at offset 5");
  }
  f.b6 = patch[6];
  f.b7 = patch[7];
  f.target_size = Load64(patch.data() + 8);
  f.digest = Load64(patch.data() + 16);
  if (f.kind == kChecksumNone && f.digest != 0) {
    return corrupt("digest at offset 16 is set but the checksum kind is none");
  }
  if (f.target_size > max_output) {
    return corrupt("declares a target size of " + std::to_string(f.target_size) +
                   " bytes (offset 8), above max_output " + std::to_string(max_output));
  }
  f.frame = patch.subspan(kHeaderSize);
  const size_t frame_size = ZSTD_findFrameCompressedSize(f.frame.data(), f.frame.size());
  if (ZSTD_isError(frame_size)) {
    return corrupt(std::string("zstd frame at offset 24: ") + ZSTD_getErrorName(frame_size));
  }
  if (frame_size != f.frame.size()) {
    return corrupt(std::to_string(f.frame.size() - frame_size) +
                   " trailing bytes after the zstd frame (which ends at offset " +
                   std::to_string(kHeaderSize + frame_size) + ")");
  }
  const unsigned long long content_size = ZSTD_getFrameContentSize(f.frame.data(), f.frame.size());
  if (content_size == ZSTD_CONTENTSIZE_ERROR || content_size == ZSTD_CONTENTSIZE_UNKNOWN) {
    return corrupt("zstd frame at offset 24 does not declare its content size");
  }
  f.content_size = content_size;
  return f;
}

Status CheckLevel(int level) {
  if (level >= ZSTD_minCLevel() && level <= ZSTD_maxCLevel()) return Status::Ok();
  return Status::InvalidArgument("zstd delta: level " + std::to_string(level) + " is outside [" +
                                 std::to_string(ZSTD_minCLevel()) + ", " +
                                 std::to_string(ZSTD_maxCLevel()) + "]");
}

// Sets the parameters both formats write with (the caller adds a prefix or not).
Status SetFrameParameters(ZSTD_CCtx* cctx, int level, int window_log, bool ldm, bool checksum) {
  DK_RETURN_IF_ERROR(CheckLevel(level));
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
  return Status::Ok();
}

}  // namespace

Result<Bytes> MakeZstdPatch(ByteView base, ByteView target, int level, bool checksum) {
  ZSTD_CCtx* const cctx = ThreadCCtx();
  if (!cctx) return Status::Internal("zstd delta: cannot allocate a compression context");
  const uint64_t total = uint64_t{base.size()} + target.size();
  const bool ldm = level < kLdmBelowLevel || total > kLdmAboveTotal;
  DK_RETURN_IF_ERROR(SetFrameParameters(cctx, level, WindowLogFor(total), ldm, checksum));
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
  FinishHeader(patch, kMagic, checksum, 0, target);
  return patch;
}

Result<Bytes> ApplyZstdPatch(ByteView base, ByteView patch, size_t max_output) {
  auto corrupt = [](const std::string& what) {
    return Status::Corruption("zstd delta patch: " + what);
  };
  DK_ASSIGN_OR_RETURN(Framed f, ParseFramed(patch, kMagic, "zstd", max_output));
  if (f.b6 != 0 || f.b7 != 0) return corrupt("reserved bytes 6..7 are not zero");
  if (f.content_size != f.target_size) {
    return corrupt("zstd frame declares " + std::to_string(f.content_size) +
                   " bytes of content, the header (offset 8) " + std::to_string(f.target_size));
  }

  ZSTD_DCtx* const dctx = ThreadDCtx();
  if (!dctx) return Status::Internal("zstd delta: cannot allocate a decompression context");
  size_t rc = ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax,
                                     WindowLogFor(uint64_t{base.size()} + f.target_size));
  if (ZSTD_isError(rc)) return ZstdFailed("setting windowLogMax", rc);
  rc = ZSTD_DCtx_refPrefix(dctx, base.data(), base.size());
  if (ZSTD_isError(rc)) return ZstdFailed("referencing the base", rc);

  Bytes out(static_cast<size_t>(f.target_size));
  size_t got = ZSTD_decompressDCtx(dctx, out.data(), out.size(), f.frame.data(), f.frame.size());
  if (ZSTD_isError(got)) {
    return corrupt(std::string("decoding the zstd frame at offset 24 failed: ") +
                   ZSTD_getErrorName(got));
  }
  if (got != out.size()) {
    return corrupt("zstd frame decoded to " + std::to_string(got) + " bytes, header says " +
                   std::to_string(f.target_size));
  }
  if (f.kind == kChecksumXxh64 && Digest(patch.first(16), f.frame, out) != f.digest) {
    return corrupt("XXH64 digest mismatch (offset 16): damaged patch or wrong base");
  }
  return out;
}

// --- sparse XOR --------------------------------------------------------------------------------

namespace {

constexpr char kXorMagic[4] = {'D', 'K', 'X', 'R'};
constexpr uint8_t kXorWord = 4;
constexpr size_t kMaxVarint = 5;  // word indexes stay below 2^28 (inputs are at most 1 GiB)
constexpr size_t kMinFlush = 2048;

void PutVarint(uint64_t v, Bytes& out) {
  while (v >= 0x80) {
    out.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<uint8_t>(v));
}

// Reads a varint of at most kMaxVarint bytes at content[*pos]; false when truncated or longer.
bool GetVarint(ByteView content, size_t* pos, uint64_t* v) {
  *v = 0;
  for (size_t i = 0; i < kMaxVarint && *pos < content.size(); ++i) {
    uint8_t b = content[(*pos)++];
    *v |= uint64_t{b & 0x7fu} << (7 * i);
    if (b < 0x80) return true;
  }
  return false;
}

uint32_t Word(const uint8_t* p) {
  uint32_t w;
  std::memcpy(&w, p, sizeof(w));
  return w;
}

}  // namespace

Result<Bytes> MakeXorPatch(ByteView base, size_t base_offset, ByteView target, int level,
                           bool checksum) {
  DK_RETURN_IF_ERROR(CheckLevel(level));  // before the level is lowered for dense changes
  if (base_offset > base.size()) {
    return Status::InvalidArgument("xor delta: base offset " + std::to_string(base_offset) +
                                   " is beyond the base of " + std::to_string(base.size()) +
                                   " bytes");
  }
  // The phase: where the first whole word starts, chosen as the one with the fewest changed
  // words (a float array whose chunk starts mid-value would otherwise see every changed value
  // spread over two words).
  const size_t common = std::min(base.size() - base_offset, target.size());
  const uint8_t* const from = base.data() + base_offset;
  auto words_at = [&](size_t phase) { return phase <= common ? (common - phase) / kXorWord : 0; };
  size_t phase = 0;
  uint64_t fewest = UINT64_MAX;
  for (size_t p = 0; p < kXorWord && p <= common; ++p) {
    uint64_t n = 0;
    for (size_t i = 0, w = words_at(p); i < w; ++i) {
      n += Word(from + p + i * kXorWord) != Word(target.data() + p + i * kXorWord);
    }
    if (n < fewest) {
      fewest = n;
      phase = p;
    }
  }
  const size_t words = words_at(phase);
  // One pass for the changed words' gaps and their bytes by plane, then the stream.
  Bytes gaps;
  std::array<Bytes, kXorWord> planes;
  uint64_t changed = 0, next = 0;
  for (size_t i = 0; i < words; ++i) {
    const uint32_t x =
        Word(from + phase + i * kXorWord) ^ Word(target.data() + phase + i * kXorWord);
    if (x == 0) continue;
    PutVarint(i - next, gaps);
    next = i + 1;
    ++changed;
    for (size_t k = 0; k < kXorWord; ++k) planes[k].push_back(static_cast<uint8_t>(x >> (8 * k)));
  }
  // The stream's sections, each ended with a flush so that zstd starts a new block (with
  // its own literal statistics) for each: the byte planes differ in what they hold. Measured
  // on a 256 KiB chunk of nudged float32s: 22.2 KB flushed against 24.0 KB as one block.
  // Below kMinFlush a section shares its block: a block's tables cost more than they save.
  Bytes head;
  PutVarint(base_offset, head);
  head.push_back(static_cast<uint8_t>(phase));
  PutVarint(changed, head);
  Bytes rest(target.begin(), target.begin() + static_cast<ptrdiff_t>(phase));
  rest.insert(rest.end(), target.begin() + static_cast<ptrdiff_t>(phase + words * kXorWord),
              target.end());
  std::vector<ByteView> sections = {head, gaps};
  for (const Bytes& p : planes) sections.push_back(p);
  sections.push_back(rest);
  uint64_t stream_size = 0;
  for (ByteView sec : sections) stream_size += sec.size();

  ZSTD_CCtx* const cctx = ThreadCCtx();
  if (!cctx) return Status::Internal("xor delta: cannot allocate a compression context");
  size_t rc = ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
  if (ZSTD_isError(rc)) return ZstdFailed("resetting the context", rc);
  // Mostly changed words: the patch is as large as the target and loses to patch-from
  // anyway, so it is not worth zstd's time at a high level.
  if (changed > words / 2) level = std::min(level, 1);
  DK_RETURN_IF_ERROR(
      SetFrameParameters(cctx, level, WindowLogFor(stream_size), /*ldm=*/false, checksum));
  rc = ZSTD_CCtx_setPledgedSrcSize(cctx, stream_size);
  if (ZSTD_isError(rc)) return ZstdFailed("declaring the stream size", rc);
  Bytes patch(kHeaderSize + ZSTD_compressBound(stream_size) + 64 * sections.size());
  ZSTD_outBuffer out{patch.data(), patch.size(), kHeaderSize};
  for (size_t i = 0; i < sections.size(); ++i) {
    ZSTD_inBuffer in{sections[i].data(), sections[i].size(), 0};
    const ZSTD_EndDirective mode = i + 1 == sections.size()          ? ZSTD_e_end
                                   : sections[i].size() >= kMinFlush ? ZSTD_e_flush
                                                                     : ZSTD_e_continue;
    do {
      if (out.pos == out.size) {
        patch.resize(patch.size() * 2);
        out.dst = patch.data();
        out.size = patch.size();
      }
      rc = ZSTD_compressStream2(cctx, &out, &in, mode);
      if (ZSTD_isError(rc)) return ZstdFailed("compressing the xor stream", rc);
    } while (rc != 0 || in.pos < in.size);
  }
  patch.resize(out.pos);
  patch.shrink_to_fit();
  FinishHeader(patch, kXorMagic, checksum, kXorWord, target);
  return patch;
}

Result<Bytes> ApplyXorPatch(ByteView base, ByteView patch, size_t max_output) {
  auto corrupt = [](const std::string& what) {
    return Status::Corruption("xor delta patch: " + what);
  };
  DK_ASSIGN_OR_RETURN(Framed f, ParseFramed(patch, kXorMagic, "xor", max_output));
  if (f.b7 != 0) return corrupt("reserved byte 7 is not zero");
  if (f.b6 != kXorWord) {
    return corrupt("word size " + std::to_string(f.b6) + " at offset 6 (want " +
                   std::to_string(kXorWord) + ")");
  }
  // Every changed word costs at most kMaxVarint + kXorWord bytes, plus the offset, the phase,
  // the count and the rest (the target's size at most).
  const uint64_t bound =
      2 * kMaxVarint + 1 +
      std::min<uint64_t>(base.size(), f.target_size) / kXorWord * (kMaxVarint + kXorWord) +
      f.target_size;
  if (f.content_size > bound) {
    return corrupt("zstd frame declares " + std::to_string(f.content_size) +
                   " bytes of content, more than " + std::to_string(bound) +
                   " possible for a target of " + std::to_string(f.target_size) + " bytes");
  }
  ZSTD_DCtx* const dctx = ThreadDCtx();
  if (!dctx) return Status::Internal("xor delta: cannot allocate a decompression context");
  size_t rc = ZSTD_DCtx_reset(dctx, ZSTD_reset_session_and_parameters);
  if (ZSTD_isError(rc)) return ZstdFailed("resetting the context", rc);
  rc = ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, WindowLogFor(f.content_size));
  if (ZSTD_isError(rc)) return ZstdFailed("setting windowLogMax", rc);
  Bytes stream(static_cast<size_t>(f.content_size));
  size_t got =
      ZSTD_decompressDCtx(dctx, stream.data(), stream.size(), f.frame.data(), f.frame.size());
  if (ZSTD_isError(got)) {
    return corrupt(std::string("decoding the zstd frame at offset 24 failed: ") +
                   ZSTD_getErrorName(got));
  }
  if (got != stream.size()) {
    return corrupt("zstd frame decoded to " + std::to_string(got) + " bytes, it declares " +
                   std::to_string(stream.size()));
  }
  size_t pos = 0;
  uint64_t offset = 0, changed = 0;
  if (!GetVarint(stream, &pos, &offset) || offset > base.size()) {
    return corrupt("base offset at stream offset 0 is malformed or beyond the base of " +
                   std::to_string(base.size()) + " bytes");
  }
  const uint64_t common = std::min<uint64_t>(base.size() - offset, f.target_size);
  const size_t phase_at = pos;
  if (pos >= stream.size() || stream[pos] >= kXorWord || stream[pos] > common) {
    return corrupt("bad phase at stream offset " + std::to_string(phase_at));
  }
  const uint64_t phase = stream[pos++];
  const uint64_t words = (common - phase) / kXorWord;
  const uint64_t tail = f.target_size - phase - words * kXorWord;
  const size_t count_at = pos;
  if (!GetVarint(stream, &pos, &changed) || changed > words) {
    return corrupt("bad changed-word count at stream offset " + std::to_string(count_at));
  }
  // The planes and the tail follow the gaps: their sizes are known once the gaps are read.
  std::vector<uint32_t> index(static_cast<size_t>(changed));
  uint64_t next = 0;
  for (uint64_t j = 0; j < changed; ++j) {
    uint64_t gap;
    const size_t at = pos;
    if (!GetVarint(stream, &pos, &gap) || gap >= words - next) {
      return corrupt("gap " + std::to_string(j) + " at stream offset " + std::to_string(at) +
                     " is malformed or points past word " + std::to_string(words));
    }
    index[j] = static_cast<uint32_t>(next + gap);
    next += gap + 1;
  }
  if (stream.size() - pos != changed * kXorWord + phase + tail) {
    return corrupt("stream has " + std::to_string(stream.size() - pos) +
                   " bytes after the gaps, want " +
                   std::to_string(changed * kXorWord + phase + tail));
  }
  Bytes out(static_cast<size_t>(f.target_size));
  if (!out.empty()) {  // (an empty target has no buffers to point into)
    const uint8_t* planes = stream.data() + pos;
    const uint8_t* rest = planes + changed * kXorWord;
    std::copy_n(rest, phase, out.begin());
    std::copy_n(base.begin() + static_cast<ptrdiff_t>(offset + phase), words * kXorWord,
                out.begin() + static_cast<ptrdiff_t>(phase));
    for (uint64_t j = 0; j < changed; ++j) {
      uint8_t* w = out.data() + phase + uint64_t{index[j]} * kXorWord;
      for (size_t k = 0; k < kXorWord; ++k) w[k] ^= planes[k * changed + j];
    }
    std::copy_n(rest + phase, tail, out.begin() + static_cast<ptrdiff_t>(phase + words * kXorWord));
  }
  if (f.kind == kChecksumXxh64 && Digest(patch.first(16), f.frame, out) != f.digest) {
    return corrupt("XXH64 digest mismatch (offset 16): damaged patch or wrong base");
  }
  return out;
}

}  // namespace dk::internal
