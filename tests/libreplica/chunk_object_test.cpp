// Chunk objects: zstd frames checked against their id; every kind of damage is Corruption
// naming the key.
#include "chunk_object.h"

#include <gtest/gtest.h>

#include <string>

namespace dk::replica {
namespace {

constexpr std::string_view kKey = "p/objects/ab/abcd";

Bytes Sample() {
  Bytes b;
  for (int i = 0; i < 100'000; ++i) b.push_back(static_cast<uint8_t>((i * 7) % 251));
  return b;
}

TEST(ChunkObjectTest, RoundTrip) {
  const Bytes raw = Sample();
  auto enc = EncodeChunkObject(raw, 3);
  ASSERT_TRUE(enc.ok()) << enc.status();
  EXPECT_LT(enc->size(), raw.size());
  auto dec = DecodeChunkObject(kKey, HashBytes(raw), *enc);
  ASSERT_TRUE(dec.ok()) << dec.status();
  EXPECT_EQ(*dec, raw);
}

void ExpectCorrupt(const Bytes& data, const ObjectId& id, std::string_view what) {
  auto dec = DecodeChunkObject(kKey, id, data);
  ASSERT_FALSE(dec.ok()) << what;
  EXPECT_EQ(dec.status().code(), StatusCode::kCorruption) << what;
  EXPECT_NE(dec.status().message().find(kKey), std::string::npos) << dec.status();
}

TEST(ChunkObjectTest, DamageIsCorruptionNamingTheKey) {
  const Bytes raw = Sample();
  const ObjectId id = HashBytes(raw);
  const Bytes enc = *EncodeChunkObject(raw, 3);
  ExpectCorrupt(Bytes(enc.begin(), enc.begin() + enc.size() / 2), id, "truncated");
  ExpectCorrupt(Bytes(), id, "empty");
  Bytes garbage(enc.size(), 0x5a);
  ExpectCorrupt(garbage, id, "garbage");
  Bytes trailing = enc;
  trailing.push_back(0);
  ExpectCorrupt(trailing, id, "trailing byte");
  ExpectCorrupt(enc, HashBytes(AsBytes("other")), "wrong id");
  // A bit flip anywhere never yields wrong content: it is Corruption, or (an unused header
  // bit) the frame still decodes to exactly the chunk.
  int corrupt = 0;
  for (size_t i = 0; i < enc.size(); ++i) {
    for (int bit = 0; bit < 8; bit += 3) {
      Bytes flipped = enc;
      flipped[i] ^= static_cast<uint8_t>(1 << bit);
      auto dec = DecodeChunkObject(kKey, id, flipped);
      if (dec.ok()) {
        EXPECT_EQ(*dec, raw) << "flip at " << i;
      } else {
        EXPECT_EQ(dec.status().code(), StatusCode::kCorruption);
        ++corrupt;
      }
    }
  }
  EXPECT_GT(corrupt, static_cast<int>(enc.size()) * 2);
}

}  // namespace
}  // namespace dk::replica
