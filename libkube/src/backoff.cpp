#include "libkube/backoff.h"

#include <algorithm>
#include <cmath>

namespace dk::kube {

Backoff::Backoff(BackoffOptions options)
    : options_(options),
      seed_(options.seed != 0 ? options.seed : std::random_device{}() | 1u),
      rng_(seed_) {
  options_.factor = std::max(1.0, options_.factor);
  options_.jitter = std::max(0.0, options_.jitter);
  if (options_.max < options_.initial) options_.max = options_.initial;
}

std::chrono::nanoseconds Backoff::Next() {
  const double initial = static_cast<double>(options_.initial.count());
  const double max = static_cast<double>(options_.max.count());
  double d = initial * std::pow(options_.factor, static_cast<double>(attempt_));
  if (!(d < max)) {
    d = max;  // also catches overflow to inf
  } else {
    ++attempt_;
  }
  if (options_.jitter > 0) {
    double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
    if (u >= 1.0) u = std::nextafter(1.0, 0.0);  // the distribution may round up to 1
    d += d * options_.jitter * u;
  }
  return std::chrono::nanoseconds(static_cast<int64_t>(d));
}

}  // namespace dk::kube
