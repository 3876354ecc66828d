#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "libkube/cancellation.h"
#include "libkube/fake_clock.h"

namespace dk::kube {
namespace {

using std::chrono::seconds;

TEST(FakeClockTest, AdvanceMovesBothReadings) {
  FakeClock c;
  const auto t0 = c.Now();
  const auto w0 = c.WallNow();
  c.Advance(seconds(5));
  EXPECT_EQ(c.Now() - t0, seconds(5));
  EXPECT_EQ(c.WallNow() - w0, seconds(5));
}

TEST(FakeClockTest, SleepForReturnsOnlyAfterAdvance) {
  FakeClock c;
  Cancellation never;
  std::atomic<bool> woke{false};
  std::thread t([&] {
    EXPECT_TRUE(never.SleepFor(&c, seconds(10)));
    woke = true;
  });
  ASSERT_TRUE(c.BlockUntilWaiters(1));
  c.Advance(seconds(9));
  EXPECT_FALSE(woke.load());
  c.Advance(seconds(1));
  t.join();
  EXPECT_TRUE(woke.load());
  EXPECT_EQ(c.NumTimedWaiters(), 0u);
}

TEST(CancellationTest, CancelInterruptsSleep) {
  FakeClock c;
  Cancellation stop;
  std::thread t([&] { EXPECT_FALSE(stop.SleepFor(&c, seconds(1000))); });
  ASSERT_TRUE(c.BlockUntilWaiters(1));
  stop.Cancel();
  t.join();
  EXPECT_TRUE(stop.IsCancelled());
  EXPECT_FALSE(stop.SleepFor(&c, seconds(1))) << "already cancelled";
}

TEST(CancellationTest, CallbacksRunOnceAndCanBeUnregistered) {
  Cancellation stop;
  int a = 0, b = 0;
  uint64_t id_a = stop.OnCancel([&] { ++a; });
  uint64_t id_b = stop.OnCancel([&] { ++b; });
  stop.Unregister(id_b);
  stop.Cancel();
  stop.Cancel();
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, 0);
  stop.Unregister(id_a);  // after it ran: a no-op
  int c = 0;
  EXPECT_EQ(stop.OnCancel([&] { ++c; }), 0u);
  EXPECT_EQ(c, 1) << "runs immediately when already cancelled";
}

TEST(CancellationTest, GuardUnregistersOnScopeExit) {
  Cancellation stop;
  int calls = 0;
  {
    CancellationCallback guard(&stop, [&] { ++calls; });
  }
  stop.Cancel();
  EXPECT_EQ(calls, 0);
  CancellationCallback null_guard(nullptr, [&] { ++calls; });  // null cancellation is allowed
}

}  // namespace
}  // namespace dk::kube
