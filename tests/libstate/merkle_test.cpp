// Merkle roots: pinned golden roots (a format), an independent implementation of the
// documented node rule, and sensitivity to every leaf and to their order.
#include "libstate/merkle.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "libstate/hash.h"

namespace dk {
namespace {

std::vector<ObjectId> Leaves(size_t n) {
  std::vector<ObjectId> out;
  for (size_t i = 0; i < n; ++i) out.push_back(HashBytes(AsBytes("leaf" + std::to_string(i))));
  return out;
}

ObjectId Tagged(uint8_t tag, std::initializer_list<const ObjectId*> parts) {
  Sha256 h;
  h.Update({&tag, 1});
  for (const ObjectId* p : parts) h.Update(p->View());
  return h.Finish();
}

// The rule as merkle.h documents it, written independently of merkle.cpp.
ObjectId SpecRoot(std::vector<ObjectId> level) {
  if (level.empty()) {
    const uint8_t tag = 0x02;
    return HashBytes({&tag, 1});
  }
  while (level.size() > 1) {
    std::vector<ObjectId> next;
    for (size_t i = 0; i + 1 < level.size(); i += 2)
      next.push_back(Tagged(0x01, {&level[i], &level[i + 1]}));
    if (level.size() % 2) next.push_back(level.back());  // odd last node promoted unchanged
    level = std::move(next);
  }
  return Tagged(0x00, {&level[0]});
}

ObjectId Root(const std::vector<ObjectId>& leaves) { return MerkleRoot(leaves); }

// Pinned once from the implementation; changing them is a format change (every stored
// version's and capture set's root would stop verifying).
TEST(MerkleGoldenTest, RootsOfZeroOneTwoThreeAndFiveLeavesArePinned) {
  EXPECT_EQ(Root(Leaves(0)).Hex(),
            "dbc1b4c900ffe48d575b5da5c638040125f65db0fe3e24494b76ea986457d986");
  EXPECT_EQ(Root(Leaves(1)).Hex(),
            "41d985b167e6b20ef62625fd9af642f5d05ca273ef056dcce2505c4175ab5001");
  EXPECT_EQ(Root(Leaves(2)).Hex(),
            "2a59b5d471cd6272ee95af6c5fec5adada4872d5a507a391bcb44b5986027b51");
  EXPECT_EQ(Root(Leaves(3)).Hex(),
            "34993e4d52d7cc59b504129df2617e37e7f92fdcc5876858b425ac1f4b8af0a8");
  EXPECT_EQ(Root(Leaves(5)).Hex(),
            "7c8844542aa84567f604ed724088c2e94178e26b61c56302a229ddc94a1c4c23");
}

TEST(MerkleGoldenTest, ImplementationFollowsTheDocumentedNodeRule) {
  for (size_t n = 0; n <= 33; ++n)
    EXPECT_EQ(Root(Leaves(n)), SpecRoot(Leaves(n))) << n << " leaves";
}

TEST(MerkleTest, RootNeverEqualsALeafOrTheEmptyRoot) {
  auto one = Leaves(1);
  EXPECT_NE(Root(one), one[0]);  // a single chunk's id is not its file's root
  EXPECT_NE(Root(one), Root({}));
  const uint8_t tag = 0x02;
  EXPECT_EQ(Root({}), HashBytes({&tag, 1}));
}

TEST(MerkleTest, ChangingAnyLeafChangesTheRoot) {
  for (size_t n : {1u, 2u, 3u, 5u, 8u, 13u}) {
    auto leaves = Leaves(n);
    const ObjectId base = Root(leaves);
    for (size_t i = 0; i < n; ++i) {
      auto changed = leaves;
      changed[i].bytes[i % 32] ^= 0x01;  // one bit of one leaf
      EXPECT_NE(Root(changed), base) << "leaf " << i << " of " << n;
    }
  }
}

TEST(MerkleTest, LeafOrderMatters) {
  auto leaves = Leaves(5);
  const ObjectId base = Root(leaves);
  for (size_t i = 0; i + 1 < leaves.size(); ++i) {
    auto swapped = leaves;
    std::swap(swapped[i], swapped[i + 1]);
    EXPECT_NE(Root(swapped), base) << "swapped " << i << " and " << i + 1;
  }
  auto reversed = std::vector<ObjectId>(leaves.rbegin(), leaves.rend());
  EXPECT_NE(Root(reversed), base);
}

TEST(MerkleTest, AddingOrRemovingALeafChangesTheRoot) {
  for (size_t n = 1; n < 9; ++n) {
    EXPECT_NE(Root(Leaves(n)), Root(Leaves(n + 1))) << n;
    // Duplicating the last leaf (the classic odd-node ambiguity) is detected too.
    auto dup = Leaves(n);
    dup.push_back(dup.back());
    EXPECT_NE(Root(dup), Root(Leaves(n))) << n;
  }
}

TEST(MerkleTest, SameLeavesGiveTheSameRoot) { EXPECT_EQ(Root(Leaves(7)), Root(Leaves(7))); }

}  // namespace
}  // namespace dk
