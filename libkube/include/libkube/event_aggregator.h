// EventAggregator: the decision behind Event aggregation in EventRecorder.
//
// Isomorphic events (same regarding object, type, reason, action and note — the caller builds
// that into `key`) seen again within `window` of the previous occurrence become a series on the
// first Event object instead of new objects: Observe() answers "create a new Event named X" or
// "patch Event X to series.count = N, lastObservedTime = now". The table is bounded
// (`max_entries`, least recently observed evicted first).
//
// Pure logic, no I/O; time is passed in. Thread-compatible.
#pragma once

#include <chrono>
#include <cstdint>
#include <list>
#include <map>
#include <string>

namespace dk::kube {

class EventAggregator {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  struct Decision {
    bool create = true;  // true: create an Event named `name`; false: patch the series of `name`
    std::string name;
    int32_t count = 1;  // occurrences so far, including this one
  };

  EventAggregator(std::chrono::nanoseconds window, size_t max_entries)
      : window_(window), max_entries_(max_entries) {}

  // Records one occurrence of `key` at `now`; `new_name` names the Event if one is created.
  Decision Observe(const std::string& key, TimePoint now, const std::string& new_name);
  // Drops `key` (its Event could not be patched, e.g. it expired): the next one is new.
  void Forget(const std::string& key);
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::string name;
    int32_t count;
    TimePoint last;
    std::list<std::string>::iterator lru_pos;
  };

  const std::chrono::nanoseconds window_;
  const size_t max_entries_;
  std::map<std::string, Entry> entries_;
  std::list<std::string> lru_;  // front = most recent
};

}  // namespace dk::kube
