// Key naming of the bucket layout (libreplica/FORMAT.md): golden keys, and parsing that accepts
// exactly what the layout writes.
#include "libreplica/layout.h"

#include <gtest/gtest.h>

namespace dk::replica {
namespace {

ObjectId IdOf(std::string_view s) { return HashBytes(AsBytes(s)); }

TEST(LayoutTest, GoldenKeys) {
  BucketLayout l("team-a/dk");
  EXPECT_EQ(l.prefix(), "team-a/dk/");
  const ObjectId id = IdOf("hello");
  EXPECT_EQ(id.Hex(), "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
  EXPECT_EQ(l.ObjectKey(id),
            "team-a/dk/objects/2c/"
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
  EXPECT_EQ(l.ManifestKey("ns/db/0", 42), "team-a/dk/manifests/ns/db/0/00000000000000000042.dkm");
  EXPECT_EQ(BucketLayout::ManifestRelKey("ns/db/0", 42),
            "manifests/ns/db/0/00000000000000000042.dkm");
  EXPECT_EQ(l.ManifestKey("x", UINT64_MAX), "team-a/dk/manifests/x/18446744073709551615.dkm");
  EXPECT_EQ(l.HeadKey("ns/db/0"), "team-a/dk/heads/ns/db/0.json");
  EXPECT_EQ(l.ManifestsPrefix("ns/db/0"), "team-a/dk/manifests/ns/db/0/");
  EXPECT_EQ(l.ManifestsPrefix(), "team-a/dk/manifests/");
  EXPECT_EQ(l.HeadsPrefix(), "team-a/dk/heads/");
  EXPECT_EQ(l.ObjectsPrefix(), "team-a/dk/objects/");
  EXPECT_EQ(l.GcClockKey(), "team-a/dk/gc/clock");
}

TEST(LayoutTest, EmptyAndSlashedPrefixes) {
  EXPECT_EQ(BucketLayout("").prefix(), "");
  EXPECT_EQ(BucketLayout("a/").prefix(), "a/");
  EXPECT_EQ(BucketLayout("").HeadKey("n/s/1"), "heads/n/s/1.json");
}

TEST(LayoutTest, ParsesWhatItWrites) {
  for (const char* prefix : {"", "p/", "deep/er/prefix"}) {
    SCOPED_TRACE(prefix);
    BucketLayout l(prefix);
    const ObjectId id = IdOf(prefix);
    EXPECT_EQ(l.ParseObjectKey(l.ObjectKey(id)), id);
    for (const char* identity : {"ns/sts/0", "plain", "a/b/c/d", "caf\xc3\xa9/x"}) {
      for (uint64_t set : {uint64_t{0}, uint64_t{1}, uint64_t{99}, UINT64_MAX}) {
        auto name = l.ParseManifestKey(l.ManifestKey(identity, set));
        ASSERT_TRUE(name.has_value()) << identity << " " << set;
        EXPECT_EQ(name->identity, identity);
        EXPECT_EQ(name->set, set);
      }
      EXPECT_EQ(l.ParseHeadKey(l.HeadKey(identity)), identity);
    }
  }
}

TEST(LayoutTest, RejectsKeysItWouldNotWrite) {
  BucketLayout l("p");
  const std::string hex = IdOf("x").Hex();
  EXPECT_FALSE(l.ParseObjectKey("objects/" + hex.substr(0, 2) + "/" + hex));  // no prefix
  EXPECT_FALSE(l.ParseObjectKey("p/objects/00/" + hex));                      // wrong fan-out
  std::string upper = hex;
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  EXPECT_FALSE(l.ParseObjectKey("p/objects/" + upper.substr(0, 2) + "/" + upper));
  EXPECT_FALSE(l.ParseObjectKey("p/objects/" + hex.substr(0, 2) + "/" + hex + ".tmp"));
  EXPECT_FALSE(l.ParseObjectKey("p/objects/" + hex.substr(0, 2) + "/" + hex.substr(1)));
  EXPECT_FALSE(l.ParseManifestKey("p/manifests/a/42.dkm"));                  // not 20 digits
  EXPECT_FALSE(l.ParseManifestKey("p/manifests/00000000000000000042.dkm"));  // no identity
  EXPECT_FALSE(l.ParseManifestKey("p/manifests/a/0000000000000000004x.dkm"));
  EXPECT_FALSE(l.ParseManifestKey("p/manifests/a/99999999999999999999.dkm"));  // > uint64
  EXPECT_FALSE(l.ParseManifestKey("p/manifests/a/../00000000000000000001.dkm"));
  EXPECT_FALSE(l.ParseManifestKey("p/manifests/a/00000000000000000001.json"));
  EXPECT_FALSE(l.ParseHeadKey("p/heads/.json"));
  EXPECT_FALSE(l.ParseHeadKey("p/heads/a//b.json"));
  EXPECT_FALSE(l.ParseHeadKey("p/heads/a.txt"));
}

TEST(LayoutTest, NestedIdentitiesDoNotMix) {
  // "a/b" and "a/b/0" share a listing prefix; parsing keeps them apart.
  BucketLayout l("");
  auto name = l.ParseManifestKey(l.ManifestKey("a/b/0", 7));
  ASSERT_TRUE(name);
  EXPECT_EQ(name->identity, "a/b/0");
  EXPECT_EQ(l.ParseHeadKey(l.HeadKey("a/b")), "a/b");
}

TEST(LayoutTest, ValidateIdentity) {
  EXPECT_TRUE(ValidateIdentity("default/web/0").ok());
  EXPECT_TRUE(ValidateIdentity("anything-at.all_1").ok());
  EXPECT_TRUE(ValidateIdentity("caf\xc3\xa9").ok());
  for (std::string bad :
       {std::string(""), std::string("/a"), std::string("a/"), std::string("a//b"),
        std::string("a/./b"), std::string("a/../b"), std::string(".."), std::string("a\nb"),
        std::string("a\\b"), std::string("a\x7f"), std::string("\xc3"), std::string("\xc0\xaf"),
        std::string("\xed\xa0\x80"), std::string(600, 'x')}) {
    Status s = ValidateIdentity(bad);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << "accepted: " << bad;
  }
}

}  // namespace
}  // namespace dk::replica
