// BSDIFF40-specific tests: hand-built patches whose every field lies in one way, and golden
// vectors. The shared engine contract is tested in delta_test.cpp.
#include <bzlib.h>
#include <gtest/gtest.h>

#include <array>
#include <climits>
#include <initializer_list>
#include <limits>
#include <random>
#include <string>

#include "libstate/delta.h"
#include "libstate/delta_test_data.h"
#include "libstate/hash.h"

namespace dk {
namespace {

constexpr size_t kUnlimited = std::numeric_limits<size_t>::max();

void PutOfft(int64_t x, uint8_t* out) {
  uint64_t m = x < 0 ? uint64_t{0} - static_cast<uint64_t>(x) : static_cast<uint64_t>(x);
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(m >> (8 * i));
  if (x < 0) out[7] |= 0x80;
}

Bytes Bzip2(ByteView raw) {
  Bytes out(raw.size() + raw.size() / 100 + 600);
  unsigned int len = static_cast<unsigned int>(out.size());
  char empty = 0;  // bzip2 refuses a null source even for zero bytes
  char* src = raw.empty() ? &empty : const_cast<char*>(reinterpret_cast<const char*>(raw.data()));
  int rc = BZ2_bzBuffToBuffCompress(reinterpret_cast<char*>(out.data()), &len, src,
                                    static_cast<unsigned int>(raw.size()), 9, 0, 0);
  EXPECT_EQ(rc, BZ_OK);
  out.resize(len);
  return out;
}

using Triple = std::array<int64_t, 3>;

Bytes CtrlBytes(std::initializer_list<Triple> triples) {
  Bytes raw(24 * triples.size());
  uint8_t* at = raw.data();
  for (const Triple& t : triples) {
    for (int64_t field : t) {
      PutOfft(field, at);
      at += 8;
    }
  }
  return raw;
}

// Assembles a BSDIFF40 patch from already compressed blocks.
Bytes Assemble(const Bytes& ctrl_bz, const Bytes& diff_bz, const Bytes& extra_bz,
               int64_t new_size) {
  Bytes patch = {'B', 'S', 'D', 'I', 'F', 'F', '4', '0'};
  patch.resize(32);
  PutOfft(static_cast<int64_t>(ctrl_bz.size()), patch.data() + 8);
  PutOfft(static_cast<int64_t>(diff_bz.size()), patch.data() + 16);
  PutOfft(new_size, patch.data() + 24);
  for (const Bytes* b : {&ctrl_bz, &diff_bz, &extra_bz})
    patch.insert(patch.end(), b->begin(), b->end());
  return patch;
}

Bytes Build(const Bytes& ctrl_raw, const Bytes& diff_raw, const Bytes& extra_raw,
            int64_t new_size) {
  return Assemble(Bzip2(ctrl_raw), Bzip2(diff_raw), Bzip2(extra_raw), new_size);
}

Bytes Str(std::string_view s) { return Bytes(s.begin(), s.end()); }

const Bytes kBase = Str("abcdefgh");

// base "abcdefgh" → "abcdXY": 4 diff bytes (all zero: equal to the base), 2 extra bytes.
Bytes GoodPatch() { return Build(CtrlBytes({{4, 2, 0}}), Bytes(4, 0), Str("XY"), 6); }

void ExpectCorruption(const Bytes& patch, std::string_view want, size_t max_output = kUnlimited,
                      ByteView base = kBase) {
  Result<Bytes> r = ApplyDelta(DeltaEngine::kBsdiff, base, patch, max_output);
  ASSERT_FALSE(r.ok()) << "want an error containing \"" << want << "\"";
  EXPECT_TRUE(r.status().IsCorruption()) << r.status();
  EXPECT_NE(r.status().message().find(want), std::string::npos)
      << "want \"" << want << "\" in: " << r.status();
}

Bytes SetHeaderField(Bytes patch, size_t offset, int64_t value) {
  PutOfft(value, patch.data() + offset);
  return patch;
}

TEST(BsdiffFormatTest, HandBuiltPatchApplies) {
  Result<Bytes> r = ApplyDelta(DeltaEngine::kBsdiff, kBase, GoodPatch(), 6);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, Str("abcdXY"));
  // Diff bytes are added to the base modulo 256.
  Bytes diff = {1, 0xFF, 0, 0};
  r = ApplyDelta(DeltaEngine::kBsdiff, kBase, Build(CtrlBytes({{4, 0, 0}}), diff, {}, 4), 4);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, Str("bacd"));
}

TEST(BsdiffFormatTest, SeeksMoveTheOldPosition) {
  // "efab": seek to 4, take 2, seek back to 0 (from 6: -6), take 2.
  Bytes patch = Build(CtrlBytes({{0, 0, 4}, {2, 0, -6}, {2, 0, 0}}), Bytes(4, 0), {}, 4);
  Result<Bytes> r = ApplyDelta(DeltaEngine::kBsdiff, kBase, patch, 4);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, Str("efab"));
}

TEST(BsdiffFormatTest, NegativeZeroReadsAsZero) {
  Bytes ctrl = CtrlBytes({{4, 2, 0}});
  ctrl[23] = 0x80;  // seek = "-0"
  Result<Bytes> r =
      ApplyDelta(DeltaEngine::kBsdiff, kBase, Build(ctrl, Bytes(4, 0), Str("XY"), 6), 6);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, Str("abcdXY"));
}

TEST(BsdiffFormatTest, HeaderFieldsThatLieAreCorruption) {
  const Bytes good = GoodPatch();
  ExpectCorruption(Bytes(good.begin(), good.begin() + 31), "shorter than the 32-byte header");
  ExpectCorruption(SetHeaderField(good, 8, -1), "control block length at offset 8 is negative");
  ExpectCorruption(SetHeaderField(good, 16, -5), "diff block length at offset 16 is negative");
  ExpectCorruption(SetHeaderField(good, 24, -6), "new size at offset 24 is negative");
  ExpectCorruption(SetHeaderField(good, 8, int64_t{1} << 40), "runs past the end");
  ExpectCorruption(SetHeaderField(good, 16, int64_t{1} << 40), "runs past the end");
  ExpectCorruption(SetHeaderField(good, 8, std::numeric_limits<int64_t>::max()),
                   "runs past the end");
  // Lengths that fit but split the blocks in the wrong place.
  ExpectCorruption(SetHeaderField(good, 8, 10), "control block");
  // A huge new size is refused before anything is allocated, whatever max_output says.
  ExpectCorruption(SetHeaderField(good, 24, int64_t{1} << 62), "above max_output");
  ExpectCorruption(SetHeaderField(good, 24, 7), "above max_output 6", 6);
  // A new size that disagrees with the control triples.
  ExpectCorruption(SetHeaderField(good, 24, 5), "runs past new size 5");
  ExpectCorruption(SetHeaderField(good, 24, 7), "control block");
}

TEST(BsdiffFormatTest, ControlTriplesOutOfBoundsAreCorruption) {
  const Bytes four(4, 0);
  ExpectCorruption(Build(CtrlBytes({{-1, 0, 0}}), {}, {}, 6), "negative diff length -1");
  ExpectCorruption(Build(CtrlBytes({{0, -2, 0}}), {}, {}, 6), "negative extra length -2");
  ExpectCorruption(Build(CtrlBytes({{7, 0, 0}}), Bytes(7, 0), {}, 6),
                   "diff length 7 at new offset 0 runs past new size 6");
  ExpectCorruption(Build(CtrlBytes({{4, 3, 0}}), four, Str("XYZ"), 6),
                   "extra length 3 at new offset 4 runs past new size 6");
  // Reading the base past its end (the stock bspatch would silently read zeros).
  ExpectCorruption(Build(CtrlBytes({{0, 0, 4}, {6, 0, 0}}), Bytes(6, 0), {}, 6),
                   "diff length 6 at old offset 4 runs past the 8-byte base");
  ExpectCorruption(Build(CtrlBytes({{9, 0, 0}}), Bytes(9, 0), {}, 9), "runs past the 8-byte base",
                   9);
  ExpectCorruption(Build(CtrlBytes({{2, 0, -3}, {2, 2, 0}}), four, Str("XY"), 6),
                   "seek -3 from old offset 2 leaves the 8-byte base");
  ExpectCorruption(Build(CtrlBytes({{2, 0, 7}, {2, 2, 0}}), four, Str("XY"), 6),
                   "seek 7 from old offset 2 leaves the 8-byte base");
  ExpectCorruption(Build(CtrlBytes({{0, 0, std::numeric_limits<int64_t>::max()}, {6, 0, 0}}),
                         Bytes(6, 0), {}, 6),
                   "leaves the 8-byte base");
  ExpectCorruption(Build(CtrlBytes({{0, 0, std::numeric_limits<int64_t>::min() + 1}}), {}, {}, 6),
                   "leaves the 8-byte base");
  // Anything at all read from an empty base.
  ExpectCorruption(Build(CtrlBytes({{1, 0, 0}}), Bytes(1, 0), {}, 1), "runs past the 0-byte base",
                   1, {});
}

TEST(BsdiffFormatTest, StreamsThatEndEarlyOrLateAreCorruption) {
  const Bytes four(4, 0);
  // The control triples stop before the new file is complete.
  ExpectCorruption(Build(CtrlBytes({{4, 0, 0}}), four, {}, 6), "control block");
  ExpectCorruption(Build(CtrlBytes({{4, 0, 0}}), four, {}, 6), "short of control triple 1");
  // A partial triple.
  Bytes partial = CtrlBytes({{4, 0, 0}, {0, 2, 0}});
  partial.resize(30);
  ExpectCorruption(Build(partial, four, Str("XY"), 6), "control block");
  // A triple after the new file is complete.
  ExpectCorruption(Build(CtrlBytes({{4, 2, 0}, {0, 0, 0}}), four, Str("XY"), 6),
                   "control block (patch offset 32): holds data after the 24 bytes");
  // Diff and extra blocks too short or too long.
  ExpectCorruption(Build(CtrlBytes({{4, 2, 0}}), Bytes(3, 0), Str("XY"), 6), "diff block");
  ExpectCorruption(Build(CtrlBytes({{4, 2, 0}}), four, Str("X"), 6), "extra block");
  ExpectCorruption(Build(CtrlBytes({{4, 2, 0}}), Bytes(5, 0), Str("XY"), 6), "diff block");
  ExpectCorruption(Build(CtrlBytes({{4, 2, 0}}), four, Str("XYZ"), 6), "extra block");
  // Bytes after a complete bzip2 stream.
  Bytes extra = Bzip2(Str("XY"));
  extra.push_back(0);
  ExpectCorruption(Assemble(Bzip2(CtrlBytes({{4, 2, 0}})), Bzip2(four), extra, 6),
                   "1 trailing bytes after the end of the bzip2 stream");
  // Blocks that are not bzip2 at all, or empty.
  ExpectCorruption(Assemble(Str("hello world"), Bzip2(four), Bzip2(Str("XY")), 6), "BZ_DATA_ERROR");
  ExpectCorruption(Assemble({}, Bzip2(four), Bzip2(Str("XY")), 6), "truncated");
  ExpectCorruption(Assemble(Bzip2(CtrlBytes({{4, 2, 0}})), Bzip2(four), {}, 6), "extra block");
  ExpectCorruption(Assemble(Bzip2({}), Bzip2({}), {}, 0), "extra block");
}

TEST(BsdiffFormatTest, EndlessEmptyTriplesAreCorruption) {
  // A tiny control block can decompress to millions of (0, 0, 0) triples; they are cut off.
  Bytes ctrl(24 * 100000, 0);
  Bytes tail = CtrlBytes({{4, 2, 0}});
  ctrl.insert(ctrl.end(), tail.begin(), tail.end());
  ExpectCorruption(Build(ctrl, Bytes(4, 0), Str("XY"), 6), "more control triples than new bytes");
}

TEST(BsdiffFormatTest, EmptyTargetNeedsEmptyStreams) {
  Bytes empty_patch = Build({}, {}, {}, 0);
  Result<Bytes> r = ApplyDelta(DeltaEngine::kBsdiff, kBase, empty_patch, 0);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->empty());
  ExpectCorruption(Build(CtrlBytes({{0, 0, 0}}), {}, {}, 0), "holds data after the 0 bytes");
}

// --- golden vectors --------------------------------------------------------------------------

Bytes ReadGolden(const std::string& name) {
  Bytes data = testing::ReadDeltaGolden(name);
  EXPECT_FALSE(data.empty()) << "cannot read tests/golden/delta/" << name;
  return data;
}

// The bytes MakeDelta(kBsdiff) writes are part of the format: a change here must be deliberate.
TEST(BsdiffGoldenTest, PatchOfGoldenTextPairIsStable) {
  Bytes base = ReadGolden("base.txt"), target = ReadGolden("target.txt");
  ASSERT_EQ(base.size(), 2727u);
  ASSERT_EQ(target.size(), 2773u);
  Result<Bytes> patch = MakeDelta(DeltaEngine::kBsdiff, base, target, {});
  ASSERT_TRUE(patch.ok()) << patch.status();
  EXPECT_EQ(patch->size(), 294u);  // the stock bsdiff's is 289: its match search differs
  EXPECT_EQ(HashBytes(*patch).Hex(),
            "2ca482c7de3f8741cc8d30b1661fa430bf9898f4ca11a0f65203a64eefe75ce5");
}

TEST(BsdiffGoldenTest, PatchOfGeneratedBinaryPairIsStable) {
  std::mt19937_64 rng(7);  // fixed: this is a golden vector, not a randomized test
  Bytes base = testing::RandomBytes(rng, 100000);
  Bytes target = testing::InsertDelete(testing::ScatterEdits(base, rng, 0.01), rng, 10, 50);
  Result<Bytes> patch = MakeDelta(DeltaEngine::kBsdiff, base, target, {});
  ASSERT_TRUE(patch.ok()) << patch.status();
  EXPECT_EQ(HashBytes(*patch).Hex(),
            "b858c63517b59f31ade38bd552670635d9af45a07838db918d3a8db6383c54f2");
  Result<Bytes> out = ApplyDelta(DeltaEngine::kBsdiff, base, *patch, target.size());
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(*out == target);
}

// stock.bsdiff was made by Debian's bsdiff 4.3 (`bsdiff base.txt target.txt stock.bsdiff`).
TEST(BsdiffGoldenTest, AppliesPatchFromStockBsdiff) {
  Bytes base = ReadGolden("base.txt"), target = ReadGolden("target.txt");
  Bytes stock = ReadGolden("stock.bsdiff");
  ASSERT_FALSE(stock.empty());
  Result<Bytes> out = ApplyDelta(DeltaEngine::kBsdiff, base, stock, target.size());
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(*out == target);
}

}  // namespace
}  // namespace dk
