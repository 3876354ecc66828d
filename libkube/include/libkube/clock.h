// Clock: the time seam of libkube.
//
// Everything in libkube that reads time or waits for it (work queue delays, backoff between
// reconnects, leader election renewals, event aggregation windows) goes through a Clock, so
// tests can use FakeClock (fake_clock.h) and never sleep.
//
// Two readings: Now() is monotonic and measures durations and deadlines; WallNow() is wall
// time and is only written into API objects (Lease renewTime, Event eventTime).
//
// Thread safety: implementations are thread-safe. RealClock() is a process-wide singleton that
// lives forever; a caller owns any other Clock and keeps it alive longer than its users.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace dk::kube {

class Clock {
 public:
  using Duration = std::chrono::nanoseconds;
  using TimePoint = std::chrono::steady_clock::time_point;
  using WallTime = std::chrono::system_clock::time_point;

  virtual ~Clock() = default;

  virtual TimePoint Now() const = 0;
  virtual WallTime WallNow() const = 0;

  // Waits on `cv` with `lock` held on entry and on return, until `cv` is notified or Now()
  // reaches `deadline` (TimePoint::max() waits for a notification only). Returns early on
  // spurious wakeups: callers loop and re-check their own predicate, exactly as with
  // std::condition_variable::wait_until.
  virtual void WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                         TimePoint deadline) = 0;
};

// The system clocks (steady_clock and system_clock).
Clock* RealClock();

}  // namespace dk::kube
