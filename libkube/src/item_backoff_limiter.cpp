#include "libkube/item_backoff_limiter.h"

namespace dk::kube {

std::chrono::nanoseconds ItemBackoffLimiter::When(const std::string& key) {
  std::lock_guard<std::mutex> g(mu_);
  int& failures = failures_[key];
  const int n = failures++;
  // base * 2^n without overflow: stop doubling once past max.
  std::chrono::nanoseconds d = base_;
  for (int i = 0; i < n && d < max_; ++i) d *= 2;
  return d < max_ ? d : max_;
}

void ItemBackoffLimiter::Forget(const std::string& key) {
  std::lock_guard<std::mutex> g(mu_);
  failures_.erase(key);
}

int ItemBackoffLimiter::NumRequeues(const std::string& key) const {
  std::lock_guard<std::mutex> g(mu_);
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

}  // namespace dk::kube
