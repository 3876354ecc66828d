#include "libs3/clock.h"

#include <thread>

namespace dk::s3 {
namespace {

class SystemClockImpl final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() override { return std::chrono::system_clock::now(); }
  void SleepFor(std::chrono::milliseconds d) override { std::this_thread::sleep_for(d); }
};

}  // namespace

Clock* RealClock() {
  static SystemClockImpl clock;
  return &clock;
}

}  // namespace dk::s3
