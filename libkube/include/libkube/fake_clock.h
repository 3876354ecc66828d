// FakeClock: a manual Clock for deterministic tests.
//
// Time only moves when the test calls Advance(). Threads blocked in WaitUntil() with a deadline
// that Advance() reaches are woken (their condition variable is notified with their mutex
// held, so no wakeup is lost). BlockUntilWaiters() lets a test wait, without sleeping, until
// a worker thread is parked on the clock before advancing it.
//
// Thread-safe. A waiter's mutex and condition variable must outlive any concurrent Advance().
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "libkube/clock.h"

namespace dk::kube {

class FakeClock final : public Clock {
 public:
  // Starts at an arbitrary monotonic instant and at 2024-01-01T00:00:00Z wall time.
  FakeClock();

  TimePoint Now() const override;
  WallTime WallNow() const override;
  void WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                 TimePoint deadline) override;

  // Moves both readings forward by `d` (>= 0) and wakes the waiters whose deadline passed.
  void Advance(Duration d);
  // Number of threads currently blocked in WaitUntil() with a finite deadline.
  size_t NumTimedWaiters() const;
  // Blocks (real time, up to `timeout`) until at least `n` threads wait with a finite
  // deadline. Returns false on timeout.
  bool BlockUntilWaiters(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  struct Waiter {
    uint64_t id;
    std::mutex* mu;
    std::condition_variable* cv;
    TimePoint deadline;
  };

  mutable std::mutex mu_;
  std::condition_variable waiters_changed_;
  TimePoint now_;
  WallTime wall_now_;
  uint64_t next_id_ = 1;
  std::vector<Waiter> waiters_;
};

}  // namespace dk::kube
