#include "libkube/fake_clock.h"

#include <algorithm>

namespace dk::kube {

FakeClock::FakeClock()
    : now_(TimePoint() + std::chrono::hours(1000)),
      wall_now_(WallTime() + std::chrono::seconds(1704067200)) {}  // 2024-01-01T00:00:00Z

Clock::TimePoint FakeClock::Now() const {
  std::lock_guard<std::mutex> g(mu_);
  return now_;
}

Clock::WallTime FakeClock::WallNow() const {
  std::lock_guard<std::mutex> g(mu_);
  return wall_now_;
}

void FakeClock::WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                          TimePoint deadline) {
  uint64_t id = 0;
  {
    std::lock_guard<std::mutex> g(mu_);
    if (now_ >= deadline) return;
    if (deadline != TimePoint::max()) {
      id = next_id_++;
      waiters_.push_back(Waiter{id, lock.mutex(), &cv, deadline});
      waiters_changed_.notify_all();
    }
  }
  // The caller's mutex is held from the deadline check until wait() releases it, and Advance()
  // notifies with that mutex held, so a wakeup cannot fall in between.
  cv.wait(lock);
  if (id != 0) {
    std::lock_guard<std::mutex> g(mu_);
    waiters_.erase(std::remove_if(waiters_.begin(), waiters_.end(),
                                  [id](const Waiter& w) { return w.id == id; }),
                   waiters_.end());
    waiters_changed_.notify_all();
  }
}

void FakeClock::Advance(Duration d) {
  std::vector<Waiter> due;
  {
    std::lock_guard<std::mutex> g(mu_);
    if (d.count() > 0) {
      now_ += d;
      wall_now_ += std::chrono::duration_cast<WallTime::duration>(d);
    }
    // Due waiters are deregistered here, so that BlockUntilWaiters() after Advance() waits for
    // the woken threads to park again rather than counting their stale registrations.
    auto keep = std::remove_if(waiters_.begin(), waiters_.end(), [&](const Waiter& w) {
      if (w.deadline > now_) return false;
      due.push_back(w);
      return true;
    });
    waiters_.erase(keep, waiters_.end());
  }
  for (const Waiter& w : due) {
    std::lock_guard<std::mutex> g(*w.mu);
    w.cv->notify_all();
  }
}

size_t FakeClock::NumTimedWaiters() const {
  std::lock_guard<std::mutex> g(mu_);
  return waiters_.size();
}

bool FakeClock::BlockUntilWaiters(size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return waiters_changed_.wait_for(lock, timeout, [&] { return waiters_.size() >= n; });
}

}  // namespace dk::kube
