#include "libkube/work_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "libkube/fake_clock.h"

namespace dk::kube {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class WorkQueueTest : public ::testing::Test {
 protected:
  WorkQueueOptions Options() {
    WorkQueueOptions o;
    o.clock = &clock_;
    return o;
  }
  std::string MustGet(WorkQueue& q) {
    std::string key;
    EXPECT_TRUE(q.Get(&key));
    return key;
  }
  FakeClock clock_;
};

TEST_F(WorkQueueTest, HandsOutKeysInFifoOrder) {
  WorkQueue q(Options());
  q.Add("a");
  q.Add("b");
  q.Add("c");
  EXPECT_EQ(MustGet(q), "a");
  EXPECT_EQ(MustGet(q), "b");
  EXPECT_EQ(MustGet(q), "c");
}

TEST_F(WorkQueueTest, DeduplicatesQueuedKeys) {
  WorkQueue q(Options());
  q.Add("a");
  q.Add("b");
  q.Add("a");
  q.Add("a");
  EXPECT_EQ(q.Len(), 2u);
  EXPECT_EQ(MustGet(q), "a");
  EXPECT_EQ(MustGet(q), "b");
  EXPECT_EQ(q.Len(), 0u);
}

TEST_F(WorkQueueTest, KeyAddedWhileProcessingIsRequeuedOnlyAfterDone) {
  WorkQueue q(Options());
  q.Add("a");
  ASSERT_EQ(MustGet(q), "a");
  q.Add("a");  // changed while a worker holds it
  q.Add("a");
  EXPECT_EQ(q.Len(), 0u) << "must not be handed to a second worker";
  q.Add("b");
  EXPECT_EQ(MustGet(q), "b");
  q.Done("b");
  q.Done("a");
  EXPECT_EQ(q.Len(), 1u);
  EXPECT_EQ(MustGet(q), "a");
  q.Done("a");
  EXPECT_EQ(q.Len(), 0u);
}

TEST_F(WorkQueueTest, DoneWithoutReAddDoesNotRequeue) {
  WorkQueue q(Options());
  q.Add("a");
  ASSERT_EQ(MustGet(q), "a");
  q.Done("a");
  EXPECT_EQ(q.Len(), 0u);
  EXPECT_EQ(q.NumProcessing(), 0u);
}

TEST_F(WorkQueueTest, NeverProcessesOneKeyConcurrently) {
  WorkQueue q;  // real clock: workers really race
  constexpr int kKeys = 8;
  std::atomic<int> in_flight[kKeys] = {};
  std::atomic<bool> overlap{false};
  std::atomic<int> processed{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      std::string key;
      while (q.Get(&key)) {
        int k = std::stoi(key);
        if (in_flight[k].fetch_add(1) != 0) overlap = true;
        std::this_thread::yield();
        in_flight[k].fetch_sub(1);
        processed.fetch_add(1);
        q.Done(key);
      }
    });
  }
  for (int round = 0; round < 2000; ++round) q.Add(std::to_string(round % kKeys));
  q.ShutDownWithDrain();
  for (auto& t : workers) t.join();
  EXPECT_FALSE(overlap.load());
  EXPECT_GE(processed.load(), kKeys);
  EXPECT_LE(processed.load(), 2000);
}

TEST_F(WorkQueueTest, RateLimitedBackoffGrowsExponentiallyToTheCap) {
  WorkQueueOptions o = Options();
  o.base_delay = milliseconds(5);
  o.max_delay = milliseconds(1000);
  WorkQueue q(o);
  const int64_t expected_ms[] = {5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000};
  for (int64_t want : expected_ms) {
    q.AddRateLimited("a");
    EXPECT_EQ(q.Len(), 0u);
    clock_.Advance(milliseconds(want) - std::chrono::nanoseconds(1));
    EXPECT_EQ(q.Len(), 0u) << "ready before " << want << "ms";
    clock_.Advance(std::chrono::nanoseconds(1));
    ASSERT_EQ(q.Len(), 1u) << "not ready after " << want << "ms";
    ASSERT_EQ(MustGet(q), "a");
    q.Done("a");
  }
  EXPECT_EQ(q.NumRequeues("a"), 10);
}

TEST_F(WorkQueueTest, ForgetResetsBackoff) {
  WorkQueue q(Options());
  q.AddRateLimited("a");
  q.AddRateLimited("a");
  q.AddRateLimited("a");
  EXPECT_EQ(q.NumRequeues("a"), 3);
  q.Forget("a");
  EXPECT_EQ(q.NumRequeues("a"), 0);
  ItemBackoffLimiter l(milliseconds(5), seconds(1000));
  EXPECT_EQ(l.When("x"), milliseconds(5));
  EXPECT_EQ(l.When("x"), milliseconds(10));
  EXPECT_EQ(l.When("y"), milliseconds(5)) << "per key";
  l.Forget("x");
  EXPECT_EQ(l.When("x"), milliseconds(5));
}

TEST_F(WorkQueueTest, BackoffCapHoldsForManyFailures) {
  ItemBackoffLimiter l(milliseconds(5), seconds(1000));
  std::chrono::nanoseconds d{};
  for (int i = 0; i < 200; ++i) d = l.When("x");
  EXPECT_EQ(d, seconds(1000));
}

TEST_F(WorkQueueTest, AddAfterWaitsForTheClock) {
  WorkQueue q(Options());
  q.AddAfter("a", seconds(10));
  q.AddAfter("b", seconds(5));
  EXPECT_EQ(q.Len(), 0u);
  EXPECT_EQ(q.NumDelayed(), 2u);
  clock_.Advance(seconds(5));
  EXPECT_EQ(q.Len(), 1u);
  EXPECT_EQ(MustGet(q), "b");
  clock_.Advance(seconds(5));
  EXPECT_EQ(MustGet(q), "a");
}

TEST_F(WorkQueueTest, AddAfterKeepsTheEarliestTime) {
  WorkQueue q(Options());
  q.AddAfter("a", seconds(10));
  q.AddAfter("a", seconds(3));
  q.AddAfter("a", seconds(20));
  EXPECT_EQ(q.NumDelayed(), 1u);
  clock_.Advance(seconds(3));
  EXPECT_EQ(q.Len(), 1u);
  EXPECT_EQ(MustGet(q), "a");
  q.Done("a");
  clock_.Advance(seconds(30));
  EXPECT_EQ(q.Len(), 0u) << "the later re-adds were merged into the first";
}

TEST_F(WorkQueueTest, AddAfterOfQueuedKeyStillDeduplicates) {
  WorkQueue q(Options());
  q.Add("a");
  q.AddAfter("a", seconds(1));
  clock_.Advance(seconds(1));
  EXPECT_EQ(q.Len(), 1u);
}

TEST_F(WorkQueueTest, AddAfterNonPositiveDelayAddsNow) {
  WorkQueue q(Options());
  q.AddAfter("a", std::chrono::nanoseconds(0));
  q.AddAfter("b", -seconds(1));
  EXPECT_EQ(q.Len(), 2u);
}

TEST_F(WorkQueueTest, BlockedGetWakesWhenTheDelayedKeyIsDue) {
  WorkQueue q(Options());
  q.AddAfter("a", seconds(30));
  std::string got;
  std::thread worker([&] { EXPECT_TRUE(q.Get(&got)); });
  ASSERT_TRUE(clock_.BlockUntilWaiters(1));
  clock_.Advance(seconds(29));
  EXPECT_TRUE(got.empty());
  clock_.Advance(seconds(1));
  worker.join();
  EXPECT_EQ(got, "a");
}

TEST_F(WorkQueueTest, BlockedGetPicksUpAnEarlierAddAfter) {
  WorkQueue q(Options());
  q.AddAfter("late", seconds(100));
  std::string got;
  std::thread worker([&] { EXPECT_TRUE(q.Get(&got)); });
  ASSERT_TRUE(clock_.BlockUntilWaiters(1));
  q.AddAfter("early", seconds(1));
  // The worker re-waits with the earlier deadline.
  ASSERT_TRUE(clock_.BlockUntilWaiters(1));
  clock_.Advance(seconds(1));
  worker.join();
  EXPECT_EQ(got, "early");
}

TEST_F(WorkQueueTest, ShutDownDrainsQueuedKeysThenStops) {
  WorkQueue q(Options());
  q.Add("a");
  q.Add("b");
  q.AddAfter("later", seconds(1));
  q.ShutDown();
  EXPECT_TRUE(q.ShuttingDown());
  q.Add("c");  // ignored
  EXPECT_EQ(MustGet(q), "a");
  EXPECT_EQ(MustGet(q), "b");
  clock_.Advance(seconds(2));
  std::string key;
  EXPECT_FALSE(q.Get(&key)) << "delayed keys are dropped at shutdown";
}

TEST_F(WorkQueueTest, ShutDownWakesBlockedWorkers) {
  WorkQueue q(Options());
  std::atomic<int> returned{0};
  std::vector<std::thread> workers;
  for (int i = 0; i < 3; ++i) {
    workers.emplace_back([&] {
      std::string key;
      EXPECT_FALSE(q.Get(&key));
      returned.fetch_add(1);
    });
  }
  q.ShutDown();
  for (auto& t : workers) t.join();
  EXPECT_EQ(returned.load(), 3);
}

TEST_F(WorkQueueTest, ShutDownWithDrainWaitsForProcessingKeys) {
  WorkQueue q(Options());
  q.Add("a");
  ASSERT_EQ(MustGet(q), "a");
  std::atomic<bool> drained{false};
  std::thread stopper([&] {
    q.ShutDownWithDrain();
    drained = true;
  });
  // The stopper cannot finish while "a" is processing; it finishes once Done is called.
  while (!q.ShuttingDown()) std::this_thread::yield();
  EXPECT_FALSE(drained.load());
  q.Done("a");
  stopper.join();
  EXPECT_TRUE(drained.load());
}

TEST_F(WorkQueueTest, TokenBucketAllowsBurstThenSpacesReservations) {
  TokenBucket b(/*qps=*/10, /*burst=*/3, &clock_);
  EXPECT_EQ(b.Reserve(), std::chrono::nanoseconds(0));
  EXPECT_EQ(b.Reserve(), std::chrono::nanoseconds(0));
  EXPECT_EQ(b.Reserve(), std::chrono::nanoseconds(0));
  EXPECT_EQ(b.Reserve(), milliseconds(100));
  EXPECT_EQ(b.Reserve(), milliseconds(200));
  clock_.Advance(seconds(10));  // refills to the burst, not beyond
  EXPECT_EQ(b.Reserve(), std::chrono::nanoseconds(0));
  EXPECT_EQ(b.Reserve(), std::chrono::nanoseconds(0));
  EXPECT_EQ(b.Reserve(), std::chrono::nanoseconds(0));
  EXPECT_GT(b.Reserve(), std::chrono::nanoseconds(0));
}

TEST_F(WorkQueueTest, RateLimitedAddUsesTheSlowerOfBackoffAndBucket) {
  WorkQueueOptions o = Options();
  o.qps = 1;
  o.burst = 1;
  WorkQueue q(o);
  q.AddRateLimited("a");  // token available, backoff 5ms
  q.AddRateLimited("b");  // bucket empty: 1s
  clock_.Advance(milliseconds(5));
  EXPECT_EQ(q.Len(), 1u);
  EXPECT_EQ(MustGet(q), "a");
  clock_.Advance(milliseconds(994));
  EXPECT_EQ(q.Len(), 0u);
  clock_.Advance(milliseconds(1));
  EXPECT_EQ(MustGet(q), "b");
}

}  // namespace
}  // namespace dk::kube
