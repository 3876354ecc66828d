#include "libkube/object_cache.h"

#include <gtest/gtest.h>

#include "libkube/object_meta.h"

namespace dk::kube {
namespace {

nlohmann::json Pod(const std::string& ns, const std::string& name, const std::string& node,
                   const std::string& rv, const std::string& app = "db") {
  return {{"metadata",
           {{"namespace", ns},
            {"name", name},
            {"resourceVersion", rv},
            {"uid", "u-" + name},
            {"labels", {{"app", app}}}}},
          {"spec", {{"nodeName", node}}}};
}

std::vector<std::string> Names(const std::vector<nlohmann::json>& objs) {
  std::vector<std::string> out;
  for (const auto& o : objs) out.push_back(GetName(o));
  return out;
}

TEST(ObjectMetaTest, ReadsFieldsWithoutThrowing) {
  nlohmann::json p = Pod("ns", "a", "n1", "5");
  EXPECT_EQ(ObjectKey(p), "ns/a");
  EXPECT_EQ(GetStringAtPath(p, "spec.nodeName"), "n1");
  EXPECT_EQ(GetStringAtPath(p, "spec.missing.deeper"), "");
  EXPECT_EQ(GetStringAtPath(p, "metadata.labels"), "") << "not a string";
  EXPECT_EQ(ObjectKey({{"metadata", {{"name", "node-1"}}}}), "node-1");
  EXPECT_EQ(GetName(nlohmann::json::array()), "");
  EXPECT_EQ(GetName({{"metadata", 3}}), "");
  EXPECT_TRUE(GetLabels({{"metadata", {{"labels", "x"}}}}).empty());
}

TEST(ObjectCacheTest, UpsertGetRemove) {
  ObjectCache c;
  EXPECT_FALSE(c.Upsert(Pod("ns", "a", "n1", "1")).has_value());
  auto old = c.Upsert(Pod("ns", "a", "n2", "2"));
  ASSERT_TRUE(old.has_value());
  EXPECT_EQ(GetResourceVersion(*old), "1");
  EXPECT_EQ(GetResourceVersion(*c.Get("ns/a")), "2");
  EXPECT_EQ(c.Size(), 1u);
  EXPECT_TRUE(c.Remove("ns/a").has_value());
  EXPECT_FALSE(c.Remove("ns/a").has_value());
  EXPECT_FALSE(c.Get("ns/a").has_value());
}

TEST(ObjectCacheTest, IndexesFollowChanges) {
  ObjectCache c;
  ASSERT_TRUE(c.AddIndex("node", IndexByField("spec.nodeName")).ok());
  ASSERT_TRUE(c.AddIndex("app", IndexByLabel("app")).ok());
  EXPECT_EQ(c.AddIndex("node", IndexByNamespace()).code(), StatusCode::kInvalidArgument);
  c.Upsert(Pod("ns", "a", "n1", "1"));
  c.Upsert(Pod("ns", "b", "n1", "1", "web"));
  c.Upsert(Pod("other", "c", "n2", "1"));
  EXPECT_EQ(Names(*c.ByIndex("node", "n1")), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(Names(*c.ByIndex("app", "db")), (std::vector<std::string>{"a", "c"}))
      << "key order: ns/a < other/c";
  c.Upsert(Pod("ns", "a", "n2", "2"));  // moved to another node
  EXPECT_EQ(Names(*c.ByIndex("node", "n1")), (std::vector<std::string>{"b"}));
  EXPECT_EQ(Names(*c.ByIndex("node", "n2")), (std::vector<std::string>{"a", "c"}));
  c.Remove("ns/b");
  EXPECT_TRUE(c.ByIndex("node", "n1")->empty());
  EXPECT_EQ(*c.IndexValues("node"), (std::vector<std::string>{"n2"}));
  EXPECT_TRUE(c.ByIndex("nope", "x").status().IsNotFound());
}

TEST(ObjectCacheTest, IndexAddedLaterCoversExistingObjects) {
  ObjectCache c;
  c.Upsert(Pod("ns", "a", "n1", "1"));
  ASSERT_TRUE(c.AddIndex("ns", IndexByNamespace()).ok());
  EXPECT_EQ(Names(*c.ByIndex("ns", "ns")), (std::vector<std::string>{"a"}));
}

TEST(ObjectCacheTest, ReplaceReportsAddedUpdatedAndDeleted) {
  ObjectCache c;
  ASSERT_TRUE(c.AddIndex("node", IndexByField("spec.nodeName")).ok());
  c.Upsert(Pod("ns", "same", "n1", "1"));
  c.Upsert(Pod("ns", "changed", "n1", "1"));
  c.Upsert(Pod("ns", "gone", "n1", "1"));
  auto r = c.Replace(
      {Pod("ns", "same", "n1", "1"), Pod("ns", "changed", "n2", "9"), Pod("ns", "new", "n3", "9")});
  EXPECT_EQ(Names(r.added), (std::vector<std::string>{"new"}));
  ASSERT_EQ(r.updated.size(), 1u);
  EXPECT_EQ(GetResourceVersion(r.updated[0].first), "1");
  EXPECT_EQ(GetResourceVersion(r.updated[0].second), "9");
  EXPECT_EQ(Names(r.deleted), (std::vector<std::string>{"gone"}));
  EXPECT_EQ(c.Keys(), (std::vector<std::string>{"ns/changed", "ns/new", "ns/same"}));
  EXPECT_EQ(Names(*c.ByIndex("node", "n1")), (std::vector<std::string>{"same"}));
  EXPECT_EQ(Names(*c.ByIndex("node", "n3")), (std::vector<std::string>{"new"}));
}

}  // namespace
}  // namespace dk::kube
