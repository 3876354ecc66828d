// Content-defined chunker: golden cut points (a format: changing them orphans every stored
// chunk), size bounds, exact coverage, boundary stability under insertions, parameter checks.
#include "libstate/chunker.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "libstate/hash.h"
#include "libstate/store_test_util.h"

namespace dk {
namespace {

using testing::SplitMix64;
using testing::TestSeed;

// The golden input: 1 MiB from splitmix64 seeded with kGoldenSeed, each 64-bit output stored
// little-endian. Fixed forever (do not derive it from DK_TEST_SEED).
constexpr uint64_t kGoldenSeed = 0x6469666b65657065ULL;
Bytes GoldenInput() {
  SplitMix64 rng(kGoldenSeed);
  return rng.RandomBytes(1 << 20);
}

std::vector<uint64_t> CutOffsets(const std::vector<ChunkSpan>& spans) {
  std::vector<uint64_t> ends;
  for (const auto& s : spans) ends.push_back(s.offset + s.size);
  return ends;
}

// SHA-256 over every cut point (chunk end offset) as 8 little-endian bytes, in order.
std::string CutDigest(const std::vector<ChunkSpan>& spans) {
  Sha256 h;
  for (uint64_t end : CutOffsets(spans)) {
    uint8_t b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(end >> (8 * i));
    h.Update({b, 8});
  }
  return h.Finish().Hex();
}

// Golden vectors: computed once from this implementation and pinned. A change here is a
// format change (every existing store's chunks stop deduplicating against new captures).
TEST(ChunkerGoldenTest, DefaultParamsCutGoldenInputAtPinnedOffsets) {
  Chunker c(ChunkerParams{});
  ASSERT_EQ(c.params().Name(), "fastcdc1-65536-262144-1048576");
  auto spans = c.Split(GoldenInput());
  // The larger masks' zero bits include the smaller ones', so these are also cuts of the
  // former defaults below.
  const std::vector<uint64_t> kCuts = {128552, 405740, 672958, 940160, 1048576};
  EXPECT_EQ(CutOffsets(spans), kCuts);
  EXPECT_EQ(CutDigest(spans), "8d6edbe6bebc7220721d532b3173afefe59ea72112e4d069229e7967364e00dd");
}

// The defaults until 2026-11 (16/64/256 KiB): stores created with them keep them.
TEST(ChunkerGoldenTest, FormerDefaultParamsCutGoldenInputAtPinnedOffsets) {
  Chunker c(ChunkerParams{16384, 65536, 262144});
  ASSERT_EQ(c.params().Name(), "fastcdc1-16384-65536-262144");
  auto spans = c.Split(GoldenInput());
  const std::vector<uint64_t> kFirstCuts = {79991,  128552, 244162, 333139, 405740, 479421,
                                            501258, 577716, 647357, 672958, 742949, 818249};
  std::vector<uint64_t> cuts = CutOffsets(spans);
  ASSERT_GE(cuts.size(), kFirstCuts.size());
  EXPECT_EQ(std::vector<uint64_t>(cuts.begin(), cuts.begin() + kFirstCuts.size()), kFirstCuts);
  EXPECT_EQ(spans.size(), 16u);
  EXPECT_EQ(CutDigest(spans), "2e805b00187711a065fab7a0955558bf3462eefdf4c91cbae32bca90cc0c26ff");
}

TEST(ChunkerGoldenTest, SmallParamsCutGoldenInputAtPinnedOffsets) {
  Chunker c(testing::SmallChunker());
  ASSERT_EQ(c.params().Name(), "fastcdc1-256-1024-4096");
  auto spans = c.Split(GoldenInput());
  const std::vector<uint64_t> kFirstCuts = {1251, 2502, 3775,  5022,  5416,  6512,
                                            8045, 9151, 10354, 11397, 12718, 13568};
  std::vector<uint64_t> cuts = CutOffsets(spans);
  ASSERT_GE(cuts.size(), kFirstCuts.size());
  EXPECT_EQ(std::vector<uint64_t>(cuts.begin(), cuts.begin() + kFirstCuts.size()), kFirstCuts);
  EXPECT_EQ(spans.size(), 895u);
  EXPECT_EQ(CutDigest(spans), "a1abcf6f57a35207e53410ca9bbd51f8a0140945c5c975068531372cb31a0b47");
}

TEST(ChunkerGoldenTest, GoldenInputIsTheOneThePinsWereMadeFrom) {
  // Guards the generator: if this changes, the pins above test a different input.
  EXPECT_EQ(HashBytes(GoldenInput()).Hex(),
            "453f6b4b3762ccf12b10d152d412a655b4c000b351c9ff564b599d85dbe678fb");
}

class ChunkerBoundsTest : public ::testing::TestWithParam<ChunkerParams> {};

// NextCut rolls several bytes per step; it must cut exactly where the one-byte-per-step
// definition does, for sizes that are not multiples of the step and for inputs that end
// anywhere (in the min region, before and after avg, past max).
TEST(ChunkerUnrolledTest, NextCutMatchesTheByteAtATimeDefinition) {
  const uint64_t seed = TestSeed(20261127);
  SCOPED_TRACE("seed " + std::to_string(seed));
  SplitMix64 rng(seed);
  const ChunkerParams params[] = {
      {64, 128, 256}, {65, 128, 259}, {67, 256, 1031}, {100, 512, 2047}, {256, 1024, 4096}};
  for (const ChunkerParams& p : params) {
    Chunker c(p);
    SCOPED_TRACE(p.Name());
    // Low-entropy input too: long runs make cut points cluster at the masks' edges.
    for (int kind = 0; kind < 2; ++kind) {
      Bytes data = rng.RandomBytes(1 << 18);
      if (kind == 1)
        for (auto& b : data) b &= 0x03;
      size_t cuts = 0;
      for (size_t off = 0; off < data.size();) {
        size_t len = 1 + rng.Below(p.max_size + 16);
        ByteView v(data.data() + off, std::min(len, data.size() - off));
        const size_t want = c.NextCutByteAtATimeForTest(v);
        ASSERT_EQ(c.NextCut(v), want) << "at offset " << off << ", input length " << v.size();
        off += want;
        ++cuts;
      }
      EXPECT_GT(cuts, 100u);
    }
  }
}

TEST_P(ChunkerBoundsTest, EveryChunkButTheLastIsWithinMinAndMax) {
  const ChunkerParams p = GetParam();
  const uint64_t seed = TestSeed(0xc0ffee);
  SCOPED_TRACE("seed=" + std::to_string(seed) + " params=" + p.Name());
  SplitMix64 rng(seed);
  Chunker c(p);
  for (int round = 0; round < 8; ++round) {
    // Random, text-like and constant inputs of varied lengths.
    size_t n = rng.Between(0, 4ull * p.max_size + 17);
    Bytes data;
    switch (round % 3) {
      case 0:
        data = rng.RandomBytes(n);
        break;
      case 1:
        data = testing::TextBytes(rng, n);
        break;
      default:
        data.assign(n, static_cast<uint8_t>(rng.Below(256)));
        break;
    }
    auto spans = c.Split(data);
    for (size_t i = 0; i < spans.size(); ++i) {
      EXPECT_LE(spans[i].size, p.max_size) << "chunk " << i << " of " << n << " bytes";
      EXPECT_GT(spans[i].size, 0u);
      if (i + 1 < spans.size()) {
        EXPECT_GE(spans[i].size, p.min_size) << "chunk " << i;
      }
    }
  }
}

TEST_P(ChunkerBoundsTest, SplitCoversTheInputExactlyInOrder) {
  const ChunkerParams p = GetParam();
  const uint64_t seed = TestSeed(0xbeef);
  SCOPED_TRACE("seed=" + std::to_string(seed) + " params=" + p.Name());
  SplitMix64 rng(seed);
  Chunker c(p);
  for (size_t n :
       {size_t{0}, size_t{1}, size_t{p.min_size}, size_t{p.min_size} + 1, size_t{p.max_size},
        size_t{p.max_size} + 1, static_cast<size_t>(rng.Between(1, 10ull * p.max_size))}) {
    Bytes data = rng.RandomBytes(n);
    auto spans = c.Split(data);
    uint64_t off = 0;
    Bytes joined;
    for (const auto& s : spans) {
      ASSERT_EQ(s.offset, off) << "n=" << n;
      joined.insert(joined.end(), data.begin() + static_cast<ptrdiff_t>(s.offset),
                    data.begin() + static_cast<ptrdiff_t>(s.offset + s.size));
      off += s.size;
    }
    EXPECT_EQ(off, n);
    EXPECT_EQ(joined, data);
    if (n == 0) {
      EXPECT_TRUE(spans.empty());
    } else if (n <= p.min_size) {
      EXPECT_EQ(spans.size(), 1u) << "n=" << n;
    }
  }
}

TEST_P(ChunkerBoundsTest, NextCutTakesShortInputWholeAndNeverExceedsMax) {
  const ChunkerParams p = GetParam();
  SplitMix64 rng(TestSeed(7));
  Chunker c(p);
  Bytes data = rng.RandomBytes(3ull * p.max_size);
  EXPECT_EQ(c.NextCut(ByteView(data).subspan(0, 0)), 0u);
  EXPECT_EQ(c.NextCut(ByteView(data).subspan(0, p.min_size)), p.min_size);
  EXPECT_EQ(c.NextCut(ByteView(data).subspan(0, 10)), 10u);
  size_t cut = c.NextCut(data);
  EXPECT_GT(cut, p.min_size);
  EXPECT_LE(cut, p.max_size);
  // The cut depends only on the bytes up to it: a longer tail never moves it.
  EXPECT_EQ(c.NextCut(ByteView(data).subspan(0, p.max_size)), cut);
}

std::string ParamsName(const ::testing::TestParamInfo<ChunkerParams>& p) {
  return "min" + std::to_string(p.param.min_size) + "_avg" + std::to_string(p.param.avg_size);
}

INSTANTIATE_TEST_SUITE_P(Params, ChunkerBoundsTest,
                         ::testing::Values(ChunkerParams{}, testing::SmallChunker(),
                                           ChunkerParams{64, 128, 256}),
                         ParamsName);

// The reason for content-defined chunking: an insertion near the start leaves every later
// chunk (and so its stored object) unchanged.
TEST(ChunkerStabilityTest, InsertionNearStartLeavesLaterChunkIdsUnchanged) {
  const uint64_t seed = TestSeed(0x5eed);
  SCOPED_TRACE("seed=" + std::to_string(seed));
  SplitMix64 rng(seed);
  Chunker c(ChunkerParams{});
  Bytes original = rng.RandomBytes(64u << 20);
  const size_t insert_at = 1000 + rng.Below(4000);
  Bytes inserted = rng.RandomBytes(1 + rng.Below(16));
  Bytes edited = original;
  edited.insert(edited.begin() + static_cast<ptrdiff_t>(insert_at), inserted.begin(),
                inserted.end());

  auto ids = [&](const Bytes& data) {
    std::vector<ObjectId> out;
    for (const auto& s : c.Split(data))
      out.push_back(HashBytes(ByteView(data).subspan(s.offset, s.size)));
    return out;
  };
  std::vector<ObjectId> before = ids(original);
  std::vector<ObjectId> after = ids(edited);
  ASSERT_GT(before.size(), 150u);  // ~250 chunks of 256 KiB on average
  std::set<ObjectId> known(before.begin(), before.end());
  // Skip the first few chunks (the edit is in the first one; its neighbour may shift).
  const size_t skip = 3;
  size_t later = 0, same = 0;
  for (size_t i = skip; i < after.size(); ++i) {
    ++later;
    same += known.count(after[i]);
  }
  EXPECT_GE(same * 100, later * 99) << same << " of " << later << " later chunks unchanged";
  // In fact the cut points resynchronise at once: every chunk after the first is shared.
  size_t changed_total = 0;
  for (const auto& id : after) changed_total += known.count(id) ? 0 : 1;
  EXPECT_LE(changed_total, 2u);
  EXPECT_NEAR(static_cast<double>(after.size()), static_cast<double>(before.size()), 2.0);
}

TEST(ChunkerStabilityTest, DeletionNearStartLeavesLaterChunkIdsUnchanged) {
  const uint64_t seed = TestSeed(0xde1e7e);
  SCOPED_TRACE("seed=" + std::to_string(seed));
  SplitMix64 rng(seed);
  Chunker c(testing::SmallChunker());
  Bytes original = rng.RandomBytes(4u << 20);
  Bytes edited = original;
  edited.erase(edited.begin() + 700, edited.begin() + 709);
  std::set<ObjectId> known;
  for (const auto& s : c.Split(original))
    known.insert(HashBytes(ByteView(original).subspan(s.offset, s.size)));
  size_t changed = 0;
  for (const auto& s : c.Split(edited))
    changed += known.count(HashBytes(ByteView(edited).subspan(s.offset, s.size))) ? 0 : 1;
  EXPECT_LE(changed, 2u);
}

TEST(ChunkerParamsTest, DefaultsAreValidAndNamed) {
  EXPECT_TRUE(ChunkerParams{}.Validate().ok());
  EXPECT_EQ(ChunkerParams{}.Name(), "fastcdc1-65536-262144-1048576");
  EXPECT_EQ((ChunkerParams{64, 128, 256}.Name()), "fastcdc1-64-128-256");
  EXPECT_TRUE((ChunkerParams{64, 128, 256}.Validate().ok()));
  EXPECT_TRUE((ChunkerParams{1024, 4096, 64u << 20}.Validate().ok()));
}

struct BadParams {
  ChunkerParams p;
  const char* why;
};

class ChunkerBadParamsTest : public ::testing::TestWithParam<BadParams> {};

TEST_P(ChunkerBadParamsTest, ValidateRejectsWithMessageNamingTheValues) {
  const ChunkerParams p = GetParam().p;
  Status s = p.Validate();
  ASSERT_FALSE(s.ok()) << GetParam().why;
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("min=" + std::to_string(p.min_size)), std::string::npos) << s;
  EXPECT_NE(s.message().find("avg=" + std::to_string(p.avg_size)), std::string::npos) << s;
  EXPECT_NE(s.message().find("max=" + std::to_string(p.max_size)), std::string::npos) << s;
  // Store options refuse them too, naming the same values.
  StoreOptions o;
  o.chunker = p;
  Status so = o.Validate();
  EXPECT_EQ(so.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(so.message().find("min=" + std::to_string(p.min_size)), std::string::npos) << so;
}

INSTANTIATE_TEST_SUITE_P(Cases, ChunkerBadParamsTest,
                         ::testing::Values(BadParams{{63, 128, 256}, "min below 64"},
                                           BadParams{{128, 128, 256}, "min not below avg"},
                                           BadParams{{64, 256, 256}, "avg not below max"},
                                           BadParams{{64, 512, 256}, "avg above max"},
                                           BadParams{{64, 1000, 4096}, "avg not a power of two"},
                                           BadParams{{1024, 4096, (64u << 20) + 1},
                                                     "max above 64 MiB"},
                                           BadParams{{0, 0, 0}, "all zero"}));

}  // namespace
}  // namespace dk
