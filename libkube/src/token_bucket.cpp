#include "libkube/token_bucket.h"

#include <algorithm>

namespace dk::kube {

TokenBucket::TokenBucket(double qps, int burst, Clock* clock)
    : qps_(qps > 0 ? qps : 1),
      burst_(burst > 0 ? burst : 1),
      clock_(clock),
      tokens_(burst_),
      last_(clock->Now()) {}

std::chrono::nanoseconds TokenBucket::Reserve() {
  std::lock_guard<std::mutex> g(mu_);
  const Clock::TimePoint now = clock_->Now();
  if (now > last_) {
    const double elapsed = std::chrono::duration<double>(now - last_).count();
    tokens_ = std::min(burst_, tokens_ + elapsed * qps_);
    last_ = now;
  }
  tokens_ -= 1;
  if (tokens_ >= 0) return std::chrono::nanoseconds(0);
  // Negative tokens are reservations queued behind each other.
  return std::chrono::nanoseconds(static_cast<int64_t>(-tokens_ / qps_ * 1e9));
}

}  // namespace dk::kube
