#include "libkube/event_aggregator.h"

namespace dk::kube {

EventAggregator::Decision EventAggregator::Observe(const std::string& key, TimePoint now,
                                                   const std::string& new_name) {
  auto it = entries_.find(key);
  if (it != entries_.end() && now - it->second.last <= window_) {
    Entry& e = it->second;
    ++e.count;
    e.last = now;
    lru_.splice(lru_.begin(), lru_, e.lru_pos);
    return Decision{false, e.name, e.count};
  }
  if (it != entries_.end()) {
    // Outside the window: a new Event object starts a new series.
    lru_.erase(it->second.lru_pos);
    entries_.erase(it);
  }
  while (max_entries_ > 0 && entries_.size() >= max_entries_) {
    entries_.erase(lru_.back());
    lru_.pop_back();
  }
  lru_.push_front(key);
  entries_.emplace(key, Entry{new_name, 1, now, lru_.begin()});
  return Decision{true, new_name, 1};
}

void EventAggregator::Forget(const std::string& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  lru_.erase(it->second.lru_pos);
  entries_.erase(it);
}

}  // namespace dk::kube
