#include "libs3/retry_policy.h"

#include <algorithm>
#include <cmath>

namespace dk::s3 {

Status RetryPolicy::Validate() const {
  if (max_attempts < 1) return Status::InvalidArgument("retry.max_attempts must be at least 1");
  if (initial_backoff.count() <= 0) {
    return Status::InvalidArgument("retry.initial_backoff must be positive");
  }
  if (max_backoff < initial_backoff) {
    return Status::InvalidArgument("retry.max_backoff must not be below retry.initial_backoff");
  }
  if (!(multiplier >= 1.0) || !std::isfinite(multiplier)) {
    return Status::InvalidArgument("retry.multiplier must be a finite number >= 1");
  }
  if (max_elapsed.count() < 0) return Status::InvalidArgument("retry.max_elapsed must be >= 0");
  return Status::Ok();
}

std::chrono::milliseconds BackoffDelay(const RetryPolicy& policy, int retry, double u) {
  const double max_ms = static_cast<double>(policy.max_backoff.count());
  double cap = static_cast<double>(policy.initial_backoff.count());
  for (int i = 1; i < retry && cap < max_ms; ++i) cap *= policy.multiplier;
  cap = std::min(cap, max_ms);
  u = std::clamp(u, 0.0, 1.0);
  const double delay = cap / 2 + u * (cap / 2);
  return std::chrono::milliseconds(std::clamp(static_cast<int64_t>(std::llround(delay)), int64_t{1},
                                              static_cast<int64_t>(policy.max_backoff.count())));
}

}  // namespace dk::s3
