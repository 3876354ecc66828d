// Backoff: exponential delays with jitter, for reconnecting watches and retrying API calls.
//
// The n-th call to Next() (n = 0, 1, …) returns d * (1 + jitter * u) where
// d = min(initial * factor^n, max) and u is uniform in [0, 1) from a generator seeded with
// `seed` (0 picks a random seed; the seed actually used is available for test output).
// So every delay lies in [d, d * (1 + jitter)). Reset() starts again from `initial`.
//
// Thread-compatible: one owner.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace dk::kube {

struct BackoffOptions {
  std::chrono::nanoseconds initial = std::chrono::milliseconds(800);
  std::chrono::nanoseconds max = std::chrono::seconds(30);
  double factor = 2.0;  // >= 1
  double jitter = 1.0;  // >= 0; 0 disables jitter
  uint64_t seed = 0;
};

class Backoff {
 public:
  explicit Backoff(BackoffOptions options);

  std::chrono::nanoseconds Next();
  void Reset() { attempt_ = 0; }
  int attempt() const { return attempt_; }
  uint64_t seed() const { return seed_; }

 private:
  BackoffOptions options_;
  uint64_t seed_;
  std::mt19937_64 rng_;
  int attempt_ = 0;
};

}  // namespace dk::kube
