// RetryPolicy: when and how long the S3 client waits before repeating a failed request.
//
// A request is repeated only when its Status is retryable (connection errors and timeouts,
// HTTP 5xx, 429, S3 SlowDown / RequestTimeout / InternalError, a payload hash mismatch) and both
// budgets still allow it: at most `max_attempts` attempts in all, and no sleep that would end
// after `max_elapsed` since the first attempt started.
//
// Delays are exponential with "equal jitter": before retry n (n = 1, 2, …)
//   cap(n)   = min(initial_backoff * multiplier^(n-1), max_backoff)
//   delay(n) = cap(n)/2 + u * cap(n)/2,   u uniform in [0, 1)
// so a delay lies in [cap/2, cap] — never zero (clients that retried together spread out) and
// never beyond max_backoff. A server's Retry-After (seconds) raises the delay, up to max_backoff.
#pragma once

#include <chrono>
#include <cstdint>

#include "libstate/status.h"

namespace dk::s3 {

struct RetryPolicy {
  int max_attempts = 5;  // >= 1; 1 disables retries
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{10'000};
  double multiplier = 2.0;                         // >= 1
  std::chrono::milliseconds max_elapsed{120'000};  // 0 = bounded by max_attempts only

  // InvalidArgument naming the field when a value is out of range.
  Status Validate() const;
};

// delay(retry) for `u` in [0, 1) (see the header comment); `retry` >= 1.
std::chrono::milliseconds BackoffDelay(const RetryPolicy& policy, int retry, double u);

// Whether `status` is worth repeating: status.retryable().
inline bool IsRetryable(const Status& status) { return !status.ok() && status.retryable(); }

}  // namespace dk::s3
