#include "libstate/chunker.h"

#include <array>
#include <bit>

namespace dk {
namespace {

// Gear table: 256 pseudo-random 64-bit values from splitmix64 with a fixed seed.
// Changing the seed changes every cut point: it is a format change.
constexpr std::array<uint64_t, 256> MakeGear() {
  std::array<uint64_t, 256> g{};
  uint64_t x = 0x6469666b65657065ULL;  // "difkeepe"
  for (auto& v : g) {
    x += 0x9e3779b97f4a7c15ULL;
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    v = z ^ (z >> 31);
  }
  return g;
}
constexpr std::array<uint64_t, 256> kGear = MakeGear();

// `bits` one-bits at the top of the word: with a left-shifting gear hash, the top bits
// depend on the last 64 bytes, which is the window FastCDC intends.
uint64_t TopMask(int bits) { return bits <= 0 ? 0 : ~uint64_t{0} << (64 - bits); }

}  // namespace

Status ChunkerParams::Validate() const {
  if (min_size < 64 || !(min_size < avg_size) || !(avg_size < max_size) ||
      max_size > 64u * 1024 * 1024 || !std::has_single_bit(avg_size)) {
    return Status::InvalidArgument("chunker sizes min=" + std::to_string(min_size) + " avg=" +
                                   std::to_string(avg_size) + " max=" + std::to_string(max_size) +
                                   ": need 64 <= min < avg < max <= 64 MiB and avg a power of two");
  }
  return Status::Ok();
}

std::string ChunkerParams::Name() const {
  return "fastcdc1-" + std::to_string(min_size) + "-" + std::to_string(avg_size) + "-" +
         std::to_string(max_size);
}

Chunker::Chunker(const ChunkerParams& params) : params_(params) {
  int bits = std::countr_zero(params.avg_size);
  mask_small_ = TopMask(bits + 2);  // normalization level 2
  mask_large_ = TopMask(bits - 2);
}

namespace {

// Rolls the gear hash over p[i..end) and returns the index just past the first byte after
// which (fp & mask) == 0, or 0 (with *fp_io holding the hash through p[end-1]) if none.
// Exactly the byte-at-a-time recurrence fp = (fp << 1) + gear[b], four bytes per step: the
// fourth hash is computed from fp directly ((fp << 4) + a sum that does not depend on fp), so
// the loop-carried dependency is one shift and one add per four bytes instead of per byte,
// and the three intermediate hashes are only tested, off that path. (Shifting distributes
// over addition modulo 2^64, so the results are bit-identical: the golden cut points hold.)
inline size_t Roll(const uint8_t* p, size_t i, size_t end, uint64_t mask, uint64_t* fp_io) {
  uint64_t fp = *fp_io;
  for (; i + 4 <= end; i += 4) {
    const uint64_t g0 = kGear[p[i]], g1 = kGear[p[i + 1]], g2 = kGear[p[i + 2]],
                   g3 = kGear[p[i + 3]];
    uint64_t s2 = (g0 << 1) + g1, s3 = (s2 << 1) + g2, s4 = (s3 << 1) + g3;
    // Keeps the compiler from re-associating fp into these sums (which would put the whole
    // chain back on the loop-carried path).
    asm("" : "+r"(s2), "+r"(s3), "+r"(s4));
    const uint64_t f1 = (fp << 1) + g0;
    const uint64_t f2 = (fp << 2) + s2;
    const uint64_t f3 = (fp << 3) + s3;
    const uint64_t f4 = (fp << 4) + s4;
    if (__builtin_expect(!(f1 & mask) | !(f2 & mask) | !(f3 & mask) | !(f4 & mask), 0)) {
      if (!(f1 & mask)) return i + 1;
      if (!(f2 & mask)) return i + 2;
      if (!(f3 & mask)) return i + 3;
      return i + 4;
    }
    fp = f4;
  }
  for (; i < end; ++i) {
    fp = (fp << 1) + kGear[p[i]];
    if (!(fp & mask)) return i + 1;
  }
  *fp_io = fp;
  return 0;
}

}  // namespace

size_t Chunker::NextCut(ByteView data) const {
  size_t n = data.size();
  if (n <= params_.min_size) return n;
  if (n > params_.max_size) n = params_.max_size;
  size_t normal = std::min<size_t>(params_.avg_size, n);
  const uint8_t* p = data.data();
  uint64_t fp = 0;
  size_t i = params_.min_size;
  if (i < normal) {
    if (size_t cut = Roll(p, i, normal, mask_small_, &fp)) return cut;
    i = normal;
  }
  if (size_t cut = Roll(p, i, n, mask_large_, &fp)) return cut;
  return n;
}

size_t Chunker::NextCutByteAtATimeForTest(ByteView data) const {
  size_t n = data.size();
  if (n <= params_.min_size) return n;
  if (n > params_.max_size) n = params_.max_size;
  size_t normal = std::min<size_t>(params_.avg_size, n);
  const uint8_t* p = data.data();
  uint64_t fp = 0;
  size_t i = params_.min_size;
  for (; i < normal; ++i) {
    fp = (fp << 1) + kGear[p[i]];
    if (!(fp & mask_small_)) return i + 1;
  }
  for (; i < n; ++i) {
    fp = (fp << 1) + kGear[p[i]];
    if (!(fp & mask_large_)) return i + 1;
  }
  return n;
}

std::vector<ChunkSpan> Chunker::Split(ByteView data) const {
  std::vector<ChunkSpan> out;
  out.reserve(data.size() / params_.avg_size + 1);
  uint64_t off = 0;
  while (off < data.size()) {
    size_t len = NextCut(data.subspan(off));
    out.push_back({off, static_cast<uint32_t>(len)});
    off += len;
  }
  return out;
}

}  // namespace dk
