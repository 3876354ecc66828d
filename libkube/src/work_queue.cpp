#include "libkube/work_queue.h"

#include <algorithm>

namespace dk::kube {

WorkQueue::WorkQueue(WorkQueueOptions options)
    : clock_(options.clock ? options.clock : RealClock()),
      backoff_(options.base_delay, options.max_delay) {
  if (options.qps > 0) bucket_ = std::make_unique<TokenBucket>(options.qps, options.burst, clock_);
}

WorkQueue::~WorkQueue() { ShutDown(); }

void WorkQueue::AddLocked(const std::string& key) {
  if (shutting_down_) return;
  if (!dirty_.insert(key).second) return;  // already queued
  if (processing_.count(key) > 0) return;  // re-queued by Done()
  queue_.push_back(key);
  cv_.notify_all();
}

void WorkQueue::Add(const std::string& key) {
  std::lock_guard<std::mutex> g(mu_);
  AddLocked(key);
}

void WorkQueue::AddAfter(const std::string& key, std::chrono::nanoseconds delay) {
  std::lock_guard<std::mutex> g(mu_);
  if (shutting_down_) return;
  if (delay.count() <= 0) {
    AddLocked(key);
    return;
  }
  const Clock::TimePoint at = clock_->Now() + delay;
  auto it = delayed_at_.find(key);
  if (it != delayed_at_.end()) {
    if (it->second <= at) return;  // an earlier re-add is already scheduled
    auto range = delayed_.equal_range(it->second);
    for (auto d = range.first; d != range.second; ++d) {
      if (d->second == key) {
        delayed_.erase(d);
        break;
      }
    }
    it->second = at;
  } else {
    delayed_at_.emplace(key, at);
  }
  delayed_.emplace(at, key);
  // Wake all: a waiting Get() may need an earlier deadline.
  cv_.notify_all();
}

void WorkQueue::AddRateLimited(const std::string& key) {
  std::chrono::nanoseconds d = backoff_.When(key);
  if (bucket_) d = std::max(d, bucket_->Reserve());
  AddAfter(key, d);
}

void WorkQueue::Forget(const std::string& key) { backoff_.Forget(key); }

int WorkQueue::NumRequeues(const std::string& key) const { return backoff_.NumRequeues(key); }

Clock::TimePoint WorkQueue::PromoteDueLocked() {
  const Clock::TimePoint now = clock_->Now();
  while (!delayed_.empty() && delayed_.begin()->first <= now) {
    std::string key = delayed_.begin()->second;
    delayed_.erase(delayed_.begin());
    delayed_at_.erase(key);
    AddLocked(key);
  }
  return delayed_.empty() ? Clock::TimePoint::max() : delayed_.begin()->first;
}

bool WorkQueue::Get(std::string* key) {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    const Clock::TimePoint next = PromoteDueLocked();
    if (!queue_.empty()) break;
    if (shutting_down_) return false;
    clock_->WaitUntil(lock, cv_, next);
  }
  *key = std::move(queue_.front());
  queue_.pop_front();
  processing_.insert(*key);
  dirty_.erase(*key);
  return true;
}

void WorkQueue::Done(const std::string& key) {
  std::lock_guard<std::mutex> g(mu_);
  processing_.erase(key);
  if (dirty_.count(key) > 0) {
    queue_.push_back(key);
    cv_.notify_all();
  }
  if (processing_.empty()) cv_.notify_all();  // ShutDownWithDrain
}

void WorkQueue::ShutDown() {
  {
    std::lock_guard<std::mutex> g(mu_);
    shutting_down_ = true;
    delayed_.clear();
    delayed_at_.clear();
  }
  cv_.notify_all();
}

void WorkQueue::ShutDownWithDrain() {
  ShutDown();
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return processing_.empty() && queue_.empty(); });
}

bool WorkQueue::ShuttingDown() const {
  std::lock_guard<std::mutex> g(mu_);
  return shutting_down_;
}

size_t WorkQueue::Len() {
  std::lock_guard<std::mutex> g(mu_);
  PromoteDueLocked();
  return queue_.size();
}

size_t WorkQueue::NumDelayed() const {
  std::lock_guard<std::mutex> g(mu_);
  return delayed_.size();
}

size_t WorkQueue::NumProcessing() const {
  std::lock_guard<std::mutex> g(mu_);
  return processing_.size();
}

}  // namespace dk::kube
