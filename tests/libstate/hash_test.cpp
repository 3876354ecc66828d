#include "libstate/hash.h"

#include <gtest/gtest.h>

namespace dk {
namespace {

TEST(HashTest, KnownSha256Vectors) {
  EXPECT_EQ(HashBytes(AsBytes("")).Hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(HashBytes(AsBytes("abc")).Hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(HashTest, IncrementalEqualsOneShot) {
  Sha256 h;
  h.Update(AsBytes("a"));
  h.Update(AsBytes("bc"));
  EXPECT_EQ(h.Finish(), HashBytes(AsBytes("abc")));
}

TEST(HashTest, HexRoundTripAndRejectsBadHex) {
  ObjectId id = HashBytes(AsBytes("xyz"));
  auto back = ObjectId::FromHex(id.Hex());
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, id);
  EXPECT_FALSE(ObjectId::FromHex("zz").has_value());
  EXPECT_FALSE(ObjectId::FromHex(std::string(64, 'g')).has_value());
}

}  // namespace
}  // namespace dk
