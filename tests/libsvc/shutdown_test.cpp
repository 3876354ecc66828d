// Runs in its own binary: ShutdownSignal must be installed before any other thread exists, and
// the test sends real signals to its own process.
#include "libsvc/shutdown.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>

namespace dk::svc {
namespace {

TEST(ShutdownSignalTest, SigtermRunsCallbacksInOrderAndWakesWait) {
  auto s = ShutdownSignal::Install(nullptr);
  ASSERT_TRUE(s.ok()) << s.status();
  std::vector<int> order;
  std::mutex mu;
  (*s)->OnShutdown([&] {
    std::lock_guard<std::mutex> l(mu);
    order.push_back(1);
  });
  (*s)->OnShutdown([&] {
    std::lock_guard<std::mutex> l(mu);
    order.push_back(2);
  });
  EXPECT_FALSE((*s)->WaitFor(std::chrono::milliseconds(10)));
  ASSERT_EQ(kill(getpid(), SIGTERM), 0);
  (*s)->Wait();
  EXPECT_TRUE((*s)->Requested());
  EXPECT_EQ((*s)->signal_number(), SIGTERM);
  {  // the callbacks ran before Wait() returned
    std::lock_guard<std::mutex> l(mu);
    EXPECT_EQ(order, (std::vector<int>{1, 2}));
  }
  // A callback added afterwards runs at once.
  bool late = false;
  (*s)->OnShutdown([&] { late = true; });
  EXPECT_TRUE(late);
  // Only one instance at a time.
  EXPECT_EQ(ShutdownSignal::Install(nullptr).status().code(), StatusCode::kFailedPrecondition);
}

TEST(ShutdownSignalTest, RequestTriggersWithoutASignal) {
  auto s = ShutdownSignal::Install(nullptr);
  ASSERT_TRUE(s.ok()) << s.status();
  std::atomic<bool> ran{false};
  (*s)->OnShutdown([&] { ran = true; });
  (*s)->Request("leadership lost");
  EXPECT_TRUE((*s)->WaitFor(std::chrono::seconds(5)));
  EXPECT_TRUE(ran.load());
  EXPECT_EQ((*s)->signal_number(), 0);
}

TEST(ShutdownSignalTest, SecondSignalExitsImmediately) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto s = ShutdownSignal::Install(nullptr);
    if (!s.ok()) _exit(2);
    (*s)->OnShutdown([] { kill(getpid(), SIGINT); });  // the impatient second Ctrl-C
    kill(getpid(), SIGTERM);
    sleep(10);
    _exit(0);  // not reached when the second signal works
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGINT);
}

}  // namespace
}  // namespace dk::svc
