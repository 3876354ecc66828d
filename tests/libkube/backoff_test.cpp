#include "libkube/backoff.h"

#include <gtest/gtest.h>

#include <random>

namespace dk::kube {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

uint64_t TestSeed() {
  static const uint64_t seed = std::random_device{}() | 1u;
  return seed;
}

TEST(BackoffTest, WithoutJitterDoublesUpToMax) {
  Backoff b({milliseconds(100), milliseconds(1000), 2.0, 0.0, 1});
  std::vector<int64_t> got;
  for (int i = 0; i < 7; ++i)
    got.push_back(std::chrono::duration_cast<milliseconds>(b.Next()).count());
  EXPECT_EQ(got, (std::vector<int64_t>{100, 200, 400, 800, 1000, 1000, 1000}));
  b.Reset();
  EXPECT_EQ(b.Next(), milliseconds(100));
}

TEST(BackoffTest, JitteredDelaysStayWithinBounds) {
  const uint64_t seed = TestSeed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  Backoff b({milliseconds(10), milliseconds(640), 2.0, 0.5, seed});
  EXPECT_EQ(b.seed(), seed);
  int64_t base = 10;
  for (int i = 0; i < 20; ++i) {
    const nanoseconds d = b.Next();
    const nanoseconds lo = milliseconds(base);
    const nanoseconds hi = milliseconds(base) + milliseconds(base) / 2;
    EXPECT_GE(d, lo) << "attempt " << i;
    EXPECT_LT(d, hi) << "attempt " << i;
    base = std::min<int64_t>(base * 2, 640);
  }
}

TEST(BackoffTest, JitterSpreadsOverTheWholeRange) {
  const uint64_t seed = TestSeed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  Backoff b({milliseconds(100), milliseconds(100), 2.0, 1.0, seed});
  nanoseconds lo = nanoseconds::max(), hi = nanoseconds::min();
  for (int i = 0; i < 2000; ++i) {
    nanoseconds d = b.Next();
    lo = std::min(lo, d);
    hi = std::max(hi, d);
    ASSERT_GE(d, milliseconds(100));
    ASSERT_LT(d, milliseconds(200));
  }
  // 2000 uniform samples: the extremes land within 2% of the ends (failure odds ~1e-17).
  EXPECT_LT(lo, milliseconds(102));
  EXPECT_GT(hi, milliseconds(198));
}

TEST(BackoffTest, SameSeedSameSequence) {
  Backoff a({milliseconds(5), milliseconds(500), 2.0, 1.0, 42});
  Backoff b({milliseconds(5), milliseconds(500), 2.0, 1.0, 42});
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.Next(), b.Next());
}

TEST(BackoffTest, HugeAttemptCountsDoNotOverflow) {
  Backoff b({nanoseconds(1), std::chrono::hours(1), 10.0, 0.0, 3});
  for (int i = 0; i < 1000; ++i) {
    nanoseconds d = b.Next();
    ASSERT_GT(d.count(), 0);
    ASSERT_LE(d, std::chrono::hours(1));
  }
}

}  // namespace
}  // namespace dk::kube
