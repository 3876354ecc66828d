#include "set_backlog.h"

#include <algorithm>

namespace dk::replica {

size_t SetBacklog::Trim() {
  size_t dropped = 0;
  while (q_.size() > capacity_) {
    const int64_t since = q_.front().since_ns;
    q_.pop_front();
    q_.front().since_ns = std::min(q_.front().since_ns, since);
    ++dropped;
  }
  return dropped;
}

size_t SetBacklog::Add(uint64_t set, int64_t time_ns) {
  if (!q_.empty() && set <= q_.back().set) return 0;
  q_.push_back({set, time_ns});
  return Trim();
}

size_t SetBacklog::PushFront(BacklogEntry e) {
  if (!q_.empty() && e.set >= q_.front().set) {
    // Superseded while in flight: fold it into the front.
    q_.front().since_ns = std::min(q_.front().since_ns, e.since_ns);
    return 1;
  }
  q_.push_front(e);
  return Trim();
}

size_t SetBacklog::DropThrough(uint64_t set) {
  size_t n = 0;
  while (!q_.empty() && q_.front().set <= set) {
    q_.pop_front();
    ++n;
  }
  return n;
}

std::optional<BacklogEntry> SetBacklog::PopFront() {
  if (q_.empty()) return std::nullopt;
  BacklogEntry e = q_.front();
  q_.pop_front();
  return e;
}

}  // namespace dk::replica
