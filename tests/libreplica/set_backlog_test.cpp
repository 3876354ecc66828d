// The replication backlog: bounded, ordered, and coalescing toward the newest set.
#include "set_backlog.h"

#include <gtest/gtest.h>

#include <vector>

namespace dk::replica {
namespace {

std::vector<uint64_t> Sets(const SetBacklog& b) {
  std::vector<uint64_t> out;
  for (const auto& e : b.entries()) out.push_back(e.set);
  return out;
}

TEST(SetBacklogTest, KeepsOrderBelowCapacity) {
  SetBacklog b(4);
  EXPECT_EQ(b.Add(1, 100), 0u);
  EXPECT_EQ(b.Add(2, 200), 0u);
  EXPECT_EQ(b.Add(3, 300), 0u);
  EXPECT_EQ(Sets(b), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(b.PopFront()->set, 1u);
  EXPECT_EQ(b.newest(), 3u);
}

TEST(SetBacklogTest, IgnoresSetsNotNewerThanTheNewestQueued) {
  SetBacklog b(4);
  b.Add(5, 500);
  EXPECT_EQ(b.Add(5, 600), 0u);
  EXPECT_EQ(b.Add(3, 700), 0u);
  EXPECT_EQ(Sets(b), (std::vector<uint64_t>{5}));
}

TEST(SetBacklogTest, FullBacklogDropsTheOldestAndCarriesItsAge) {
  SetBacklog b(3);
  for (uint64_t s = 1; s <= 10; ++s) b.Add(s, static_cast<int64_t>(s) * 100);
  EXPECT_EQ(Sets(b), (std::vector<uint64_t>{8, 9, 10}));
  EXPECT_EQ(b.size(), 3u);
  // The front carries the oldest change not yet in the bucket: set 1's time.
  EXPECT_EQ(b.entries().front().since_ns, 100);
  EXPECT_EQ(b.entries()[1].since_ns, 900);
}

TEST(SetBacklogTest, CapacityOneKeepsOnlyTheNewest) {
  SetBacklog b(1);
  for (uint64_t s = 1; s <= 5; ++s) EXPECT_EQ(b.Add(s, static_cast<int64_t>(s)), s == 1 ? 0u : 1u);
  EXPECT_EQ(Sets(b), (std::vector<uint64_t>{5}));
  EXPECT_EQ(b.entries().front().since_ns, 1);
}

TEST(SetBacklogTest, FailedEntryGoesBackToTheFront) {
  SetBacklog b(2);
  b.Add(1, 10);
  b.Add(2, 20);
  auto e = b.PopFront();
  b.Add(3, 30);
  EXPECT_EQ(b.PushFront(*e), 1u);  // over capacity: set 1 is coalesced into set 2
  EXPECT_EQ(Sets(b), (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(b.entries().front().since_ns, 10);
  auto f = b.PopFront();
  EXPECT_EQ(b.PushFront(*f), 0u);
  EXPECT_EQ(Sets(b), (std::vector<uint64_t>{2, 3}));
}

}  // namespace
}  // namespace dk::replica
