// TokenBucket: an overall rate limit (qps, burst) on a Clock.
//
// Reserve() takes one token and returns how long the caller must wait before using it: zero
// while tokens remain, otherwise the time until the bucket refills enough (reservations queue up,
// so N callers at once get delays 1/qps apart). The bucket starts full.
//
// Thread-safe.
#pragma once

#include <chrono>
#include <mutex>

#include "libkube/clock.h"

namespace dk::kube {

class TokenBucket {
 public:
  TokenBucket(double qps, int burst, Clock* clock);

  std::chrono::nanoseconds Reserve();

 private:
  const double qps_;
  const double burst_;
  Clock* const clock_;
  std::mutex mu_;
  double tokens_;
  Clock::TimePoint last_;
};

}  // namespace dk::kube
