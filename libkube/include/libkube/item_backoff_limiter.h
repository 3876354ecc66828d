// ItemBackoffLimiter: per-key exponential backoff for a work queue.
//
// When(key) returns base * 2^n for the n-th consecutive failure of `key` (n = 0 first), capped at
// `max`, and counts the failure; Forget(key) resets the count after a success.
//
// Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

namespace dk::kube {

class ItemBackoffLimiter {
 public:
  ItemBackoffLimiter(std::chrono::nanoseconds base, std::chrono::nanoseconds max)
      : base_(base), max_(max) {}

  std::chrono::nanoseconds When(const std::string& key);
  void Forget(const std::string& key);
  int NumRequeues(const std::string& key) const;

 private:
  const std::chrono::nanoseconds base_;
  const std::chrono::nanoseconds max_;
  mutable std::mutex mu_;
  std::map<std::string, int> failures_;
};

}  // namespace dk::kube
