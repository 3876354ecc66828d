// WorkQueue: the rate-limited work queue of a controller (the client-go workqueue contract).
//
//  - Keys ("namespace/name") are deduplicated while queued: adding a queued key is a no-op.
//  - A key is never handed to two workers at once: a key added while it is being processed is
//    queued again only when its worker calls Done().
//  - AddRateLimited(key) re-adds after the key's backoff (base_delay * 2^failures, capped at
//    max_delay) and, when qps > 0, an overall token bucket; Forget(key) resets the backoff after
//    a success. AddAfter(key, d) re-adds after a fixed delay (the earliest of several wins).
//  - ShutDown(): further adds are ignored, delayed keys are dropped, Get() keeps returning the
//    keys already queued and then returns false ("draining"); ShutDownWithDrain() also waits
//    until every key handed out has been Done().
//
// Worker loop:
//   std::string key;
//   while (queue.Get(&key)) {
//     Status s = Reconcile(key);
//     if (s.ok() || !s.retryable()) queue.Forget(key); else queue.AddRateLimited(key);
//     queue.Done(key);
//   }
//
// Time is read from the injected Clock (FakeClock in tests). Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "libkube/clock.h"
#include "libkube/item_backoff_limiter.h"
#include "libkube/token_bucket.h"

namespace dk::kube {

struct WorkQueueOptions {
  std::chrono::nanoseconds base_delay = std::chrono::milliseconds(5);
  std::chrono::nanoseconds max_delay = std::chrono::seconds(1000);
  double qps = 0;  // overall limit on AddRateLimited; 0 disables the token bucket
  int burst = 100;
  Clock* clock = nullptr;  // null: RealClock()
};

class WorkQueue {
 public:
  explicit WorkQueue(WorkQueueOptions options = {});
  ~WorkQueue();  // ShutDown()
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void Add(const std::string& key);
  void AddAfter(const std::string& key, std::chrono::nanoseconds delay);
  void AddRateLimited(const std::string& key);
  void Forget(const std::string& key);
  int NumRequeues(const std::string& key) const;

  // Blocks until a key is ready (moving due delayed keys into the queue as time passes) and
  // hands it out; false once shut down and the queue is empty.
  bool Get(std::string* key);
  // Marks a key handed out by Get() as finished.
  void Done(const std::string& key);

  void ShutDown();
  void ShutDownWithDrain();
  bool ShuttingDown() const;

  // Keys ready to be handed out (after moving due delayed keys).
  size_t Len();
  size_t NumDelayed() const;
  size_t NumProcessing() const;

 private:
  void AddLocked(const std::string& key);
  // Moves due delayed keys into the queue; returns the next pending deadline (or max()).
  Clock::TimePoint PromoteDueLocked();

  Clock* const clock_;
  ItemBackoffLimiter backoff_;
  std::unique_ptr<TokenBucket> bucket_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  std::set<std::string> dirty_;
  std::set<std::string> processing_;
  // Delayed keys: ready time → keys, and key → its ready time (to keep only the earliest).
  std::multimap<Clock::TimePoint, std::string> delayed_;
  std::map<std::string, Clock::TimePoint> delayed_at_;
  bool shutting_down_ = false;
};

}  // namespace dk::kube
