// Head encoding (libreplica/FORMAT.md "Heads"): golden text, round trips, and hostile input.
#include "libreplica/head.h"

#include <gtest/gtest.h>

namespace dk::replica {
namespace {

Head SampleHead() {
  Head h;
  h.set = 42;
  h.root = HashBytes(AsBytes("root"));
  h.time_ns = 1'714'564'800'500'000'000;  // 2024-05-01T12:00:00.5Z
  h.manifest = "manifests/ns/db/0/00000000000000000042.dkm";
  h.manifest_sha256 = HashBytes(AsBytes("manifest"));
  h.source_set = 40;
  h.writer = "node-a";
  h.replicated_ns = 1'714'564'803'000'000'000;
  return h;
}

TEST(HeadTest, GoldenEncoding) {
  Head h = SampleHead();
  EXPECT_EQ(EncodeHead(h),
            "{\"format\":1,\"manifest\":\"manifests/ns/db/0/00000000000000000042.dkm\","
            "\"manifestSha256\":\"" +
                h.manifest_sha256.Hex() + "\",\"replicated\":\"2024-05-01T12:00:03Z\",\"root\":\"" +
                h.root.Hex() +
                "\",\"set\":42,\"sourceSet\":40,\"time\":\"2024-05-01T12:00:00.5Z\","
                "\"writer\":\"node-a\"}");
}

TEST(HeadTest, RoundTrip) {
  Head h = SampleHead();
  auto d = DecodeHead(EncodeHead(h));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(*d, h);
  Head minimal;
  minimal.set = 1;
  minimal.root = h.root;
  minimal.time_ns = 0;
  minimal.manifest = "m";
  auto d2 = DecodeHead(EncodeHead(minimal));
  ASSERT_TRUE(d2.ok()) << d2.status();
  EXPECT_EQ(*d2, minimal);
}

TEST(HeadTest, ReadsTheDocumentedMinimalFormAndIgnoresUnknownFields) {
  const std::string root = HashBytes(AsBytes("r")).Hex();
  auto h = DecodeHead("{\"set\":3,\"root\":\"" + root +
                      "\",\"time\":\"2024-05-01T14:00:00+02:00\",\"manifest\":\"k\","
                      "\"future\":{\"x\":1}}");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->set, 3u);
  EXPECT_EQ(h->time_ns, 1'714'564'800LL * 1'000'000'000);
  EXPECT_EQ(h->manifest, "k");
}

TEST(HeadTest, RejectsBadHeads) {
  const std::string root = HashBytes(AsBytes("r")).Hex();
  const std::string ok_rest = ",\"time\":\"2024-05-01T12:00:00Z\",\"manifest\":\"k\"}";
  const std::vector<std::string> bad = {
      "",
      "not json",
      "[]",
      "{\"set\":1,\"root\":\"" + root + "\"",                                  // truncated
      "{\"root\":\"" + root + "\"" + ok_rest,                                  // no set
      "{\"set\":-1,\"root\":\"" + root + "\"" + ok_rest,                       // negative
      "{\"set\":1.5,\"root\":\"" + root + "\"" + ok_rest,                      // not a count
      "{\"set\":\"1\",\"root\":\"" + root + "\"" + ok_rest,                    // string
      "{\"set\":99999999999999999999999,\"root\":\"" + root + "\"" + ok_rest,  // > uint64
      "{\"set\":1,\"root\":\"abc\"" + ok_rest,                                 // short root
      "{\"set\":1,\"root\":\"" + root + "\",\"time\":\"yesterday\",\"manifest\":\"k\"}",
      "{\"set\":1,\"root\":\"" + root + "\",\"time\":\"2024-05-01T12:00:00Z\"}",
      "{\"set\":1,\"root\":\"" + root + "\",\"time\":\"2024-05-01T12:00:00Z\",\"manifest\":\"\"}",
      "{\"format\":2,\"set\":1,\"root\":\"" + root + "\"" + ok_rest,
      "{\"set\":1,\"root\":\"" + root + "\",\"sourceSet\":\"x\"" + ok_rest,
      "{\"set\":1,\"root\":\"" + root + "\",\"manifestSha256\":\"zz\"" + ok_rest,
      std::string(kMaxHeadSize + 1, ' '),
  };
  for (const auto& b : bad) {
    auto h = DecodeHead(b);
    EXPECT_EQ(h.status().code(), StatusCode::kCorruption) << "accepted: " << b.substr(0, 120);
  }
}

TEST(HeadTest, Rfc3339) {
  EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(1'500'000'000), "1970-01-01T00:00:01.5Z");
  EXPECT_EQ(FormatRfc3339(-1), "1969-12-31T23:59:59.999999999Z");
  EXPECT_EQ(FormatRfc3339(1'714'564'800'000'000'001), "2024-05-01T12:00:00.000000001Z");
  for (int64_t t :
       {int64_t{0}, int64_t{1}, int64_t{-1'000'000'001}, int64_t{1'714'564'800'123'456'789}}) {
    auto p = ParseRfc3339(FormatRfc3339(t));
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(*p, t);
  }
  EXPECT_EQ(*ParseRfc3339("2024-05-01T12:00:00.000Z"), 1'714'564'800LL * 1'000'000'000);
  EXPECT_EQ(*ParseRfc3339("2024-05-01t10:30:00-01:30"), 1'714'564'800LL * 1'000'000'000);
  for (const char* bad : {"2024-05-01", "2024-05-01T12:00:00", "2024-13-01T12:00:00Z",
                          "2024-05-01T12:00:00.Z", "2024-05-01T12:00:00Zjunk", "x"}) {
    EXPECT_FALSE(ParseRfc3339(bad).ok()) << bad;
  }
}

TEST(HeadTest, HttpDate) {
  auto t = ParseHttpDate("Wed, 01 May 2024 12:00:00 GMT");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(*t, 1'714'564'800LL * 1'000'000'000);
  for (const char* bad : {"01 May 2024 12:00:00 GMT", "Wed, 01 Mai 2024 12:00:00 GMT",
                          "Wed, 01 May 2024 12:00:00 UTC", "Wed, 1 May 2024 12:00:00 GMT"}) {
    EXPECT_FALSE(ParseHttpDate(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace dk::replica
