#include "libs3/retry_policy.h"

#include <gtest/gtest.h>

#include <random>

namespace dk::s3 {
namespace {

using std::chrono::milliseconds;

TEST(RetryPolicyTest, DelayIsHalfTheCapAtLowestAndTheCapAtHighest) {
  RetryPolicy p;
  p.initial_backoff = milliseconds(100);
  p.max_backoff = milliseconds(1000);
  p.multiplier = 2.0;
  std::vector<int64_t> low, high;
  for (int retry = 1; retry <= 6; ++retry) {
    low.push_back(BackoffDelay(p, retry, 0.0).count());
    high.push_back(BackoffDelay(p, retry, 1.0).count());
  }
  EXPECT_EQ(low, (std::vector<int64_t>{50, 100, 200, 400, 500, 500}));
  EXPECT_EQ(high, (std::vector<int64_t>{100, 200, 400, 800, 1000, 1000}));
}

TEST(RetryPolicyTest, JitteredDelaysStayWithinBounds) {
  const uint64_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  RetryPolicy p;
  p.initial_backoff = milliseconds(10);
  p.max_backoff = milliseconds(640);
  p.multiplier = 3.0;
  for (int retry = 1; retry <= 30; ++retry) {
    double cap = 10;
    for (int i = 1; i < retry; ++i) cap = std::min(cap * 3, 640.0);
    const double u = std::uniform_real_distribution<double>(0, 1)(rng);
    const int64_t d = BackoffDelay(p, retry, u).count();
    EXPECT_GE(d, static_cast<int64_t>(cap / 2)) << "retry " << retry;
    EXPECT_LE(d, static_cast<int64_t>(cap)) << "retry " << retry;
  }
}

TEST(RetryPolicyTest, HugeRetryCountsDoNotOverflow) {
  RetryPolicy p;
  p.multiplier = 10.0;
  EXPECT_EQ(BackoffDelay(p, 1'000'000, 1.0), p.max_backoff);
  EXPECT_GE(BackoffDelay(p, 1'000'000, 0.0), p.max_backoff / 2);
}

TEST(RetryPolicyTest, NeverZero) {
  RetryPolicy p;
  p.initial_backoff = milliseconds(1);
  p.max_backoff = milliseconds(1);
  EXPECT_EQ(BackoffDelay(p, 1, 0.0), milliseconds(1));
}

TEST(RetryPolicyTest, ValidateRejectsNonsense) {
  EXPECT_TRUE(RetryPolicy{}.Validate().ok());
  RetryPolicy p;
  p.max_attempts = 0;
  EXPECT_FALSE(p.Validate().ok());
  p = {};
  p.multiplier = 0.5;
  EXPECT_FALSE(p.Validate().ok());
  p = {};
  p.max_backoff = milliseconds(1);
  EXPECT_FALSE(p.Validate().ok());
  p = {};
  p.initial_backoff = milliseconds(0);
  EXPECT_FALSE(p.Validate().ok());
}

TEST(RetryPolicyTest, RetryableFollowsTheStatusFlag) {
  EXPECT_TRUE(IsRetryable(Status::Unavailable("x")));
  EXPECT_FALSE(IsRetryable(Status::PermissionDenied("x")));
  EXPECT_FALSE(IsRetryable(Status::Ok()));
}

}  // namespace
}  // namespace dk::s3
