// ReportRateLimiter: when the node report (a ConfigMap write) is due, so a busy node never
// floods the API server and an idle one still heartbeats.
//
//  - ordinary changes (a capture) are batched: due `interval` after the previous report;
//  - important changes (a restore finished, a new identity, an error) are due at once, but never
//    sooner than `min_gap` after the previous report;
//  - with no change at all, a heartbeat is due `heartbeat` after the previous report;
//  - a failed write is retried after `retry` (doubling up to `interval`), keeping what was due.
// Pure: time is passed in, so tests run on a fake clock. Not thread-safe (the reporter locks).
#pragma once

#include <algorithm>
#include <chrono>

namespace dk::agent {

class ReportRateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  using Duration = Clock::duration;
  using TimePoint = Clock::time_point;

  ReportRateLimiter(Duration interval, Duration min_gap, Duration heartbeat)
      : interval_(interval), min_gap_(std::min(min_gap, interval)), heartbeat_(heartbeat) {}

  void MarkDirty(bool important, TimePoint now) {
    if (!dirty_) dirty_since_ = now;
    dirty_ = true;
    if (important) important_ = true;
  }
  // The earliest time the next report may be written.
  TimePoint NextDue() const {
    if (failed_) return retry_at_;
    if (!reported_once_) return dirty_ ? dirty_since_ : TimePoint::min();
    if (important_) return std::max(last_ + min_gap_, dirty_since_);
    if (dirty_) return std::max(last_ + interval_, dirty_since_);
    return last_ + heartbeat_;
  }
  bool Due(TimePoint now) const { return now >= NextDue(); }
  void Reported(TimePoint now) {
    reported_once_ = true;
    last_ = now;
    dirty_ = important_ = failed_ = false;
    retry_delay_ = Duration::zero();
  }
  void Failed(TimePoint now) {
    failed_ = true;
    retry_delay_ = retry_delay_ == Duration::zero() ? std::chrono::seconds(1)
                                                    : std::min(retry_delay_ * 2, interval_);
    retry_at_ = now + retry_delay_;
  }
  bool dirty() const { return dirty_; }

 private:
  const Duration interval_, min_gap_, heartbeat_;
  bool reported_once_ = false;
  bool dirty_ = false, important_ = false, failed_ = false;
  TimePoint last_{}, dirty_since_{}, retry_at_{};
  Duration retry_delay_ = Duration::zero();
};

}  // namespace dk::agent
