#include "libkube/cancellation.h"

#include <utility>
#include <vector>

namespace dk::kube {

void Cancellation::Cancel() {
  std::map<uint64_t, std::function<void()>> callbacks;
  {
    std::lock_guard<std::mutex> g(mu_);
    if (cancelled_) return;
    cancelled_ = true;
    callbacks.swap(callbacks_);
    running_callbacks_ = true;
    cv_.notify_all();  // wakes SleepFor()
  }
  for (auto& [id, fn] : callbacks) fn();
  // Notify under the lock: a woken Unregister() may let the owner destroy this object, so
  // nothing here may touch members after the lock is released.
  std::lock_guard<std::mutex> g(mu_);
  running_callbacks_ = false;
  cv_.notify_all();
}

bool Cancellation::IsCancelled() const {
  std::lock_guard<std::mutex> g(mu_);
  return cancelled_;
}

bool Cancellation::SleepFor(Clock* clock, Clock::Duration d) const {
  const Clock::TimePoint deadline = clock->Now() + d;
  std::unique_lock<std::mutex> lock(mu_);
  while (!cancelled_) {
    if (clock->Now() >= deadline) return true;
    clock->WaitUntil(lock, cv_, deadline);
  }
  return false;
}

uint64_t Cancellation::OnCancel(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> g(mu_);
    if (!cancelled_) {
      uint64_t id = next_id_++;
      callbacks_.emplace(id, std::move(fn));
      return id;
    }
  }
  fn();
  return 0;
}

void Cancellation::Unregister(uint64_t id) {
  std::unique_lock<std::mutex> lock(mu_);
  if (callbacks_.erase(id) > 0) return;
  // Either never registered, or Cancel() took it: wait until Cancel() has run it.
  cv_.wait(lock, [&] { return !running_callbacks_; });
}

}  // namespace dk::kube
