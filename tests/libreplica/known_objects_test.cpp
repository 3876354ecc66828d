// KnownObjects: bounded LRU of objects known to be in the bucket.
#include "libreplica/known_objects.h"

#include <gtest/gtest.h>

#include <string>

namespace dk::replica {
namespace {

ObjectId Id(int i) { return HashBytes(AsBytes(std::to_string(i))); }

TEST(KnownObjectsTest, BoundedWithLeastRecentlyUsedEviction) {
  KnownObjects k(3);
  k.Insert(Id(1), 10);
  k.Insert(Id(2), 20);
  k.Insert(Id(3), 30);
  EXPECT_EQ(k.Lookup(Id(1)), 10);  // 1 becomes most recent
  k.Insert(Id(4), 40);             // evicts 2
  EXPECT_EQ(k.size(), 3u);
  EXPECT_FALSE(k.Lookup(Id(2)).has_value());
  EXPECT_EQ(k.Lookup(Id(1)), 10);
  EXPECT_EQ(k.Lookup(Id(3)), 30);
  EXPECT_EQ(k.Lookup(Id(4)), 40);
  for (int i = 5; i < 1000; ++i) k.Insert(Id(i), i);
  EXPECT_EQ(k.size(), 3u);
}

TEST(KnownObjectsTest, KeepsTheLaterTime) {
  KnownObjects k(2);
  k.Insert(Id(1), 50);
  k.Insert(Id(1), 20);
  EXPECT_EQ(k.Lookup(Id(1)), 50);
  k.Insert(Id(1), 70);
  EXPECT_EQ(k.Lookup(Id(1)), 70);
  k.Erase(Id(1));
  EXPECT_FALSE(k.Lookup(Id(1)).has_value());
  k.Insert(Id(2), 1);
  k.Clear();
  EXPECT_EQ(k.size(), 0u);
}

}  // namespace
}  // namespace dk::replica
