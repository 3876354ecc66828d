// Clock: the time seam of libs3. Request signing reads the wall clock (x-amz-date) and retries
// sleep between attempts; both go through a Clock so that tests control time and never sleep.
//
// Implementations must be thread-safe.
#pragma once

#include <chrono>

namespace dk::s3 {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time (UTC) used for signatures and for the retry time budget.
  virtual std::chrono::system_clock::time_point Now() = 0;
  // Blocks the calling thread for `d` (a fake advances its time instead).
  virtual void SleepFor(std::chrono::milliseconds d) = 0;
};

// The real clock (std::chrono::system_clock, std::this_thread::sleep_for). Never null; lives for
// the whole process.
Clock* RealClock();

}  // namespace dk::s3
