// SetBacklog: the bounded queue of capture sets waiting for replication, oldest first.
//
// Coalescing: when a set arrives and the queue is full, the oldest queued set is dropped and
// merged into the next one — the next one's `since_ns` becomes the older of the two, because
// replicating the newer set also carries the dropped set's changes. So the queue always holds
// the newest sets, memory is bounded by `capacity`, and `since_ns` of the front says since when
// the bucket has been missing changes.
//
// Thread-compatible (the Replicator guards it with its mutex).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>

namespace dk::replica {

struct BacklogEntry {
  uint64_t set = 0;
  int64_t since_ns = 0;  // capture time of the oldest change this entry carries
};

class SetBacklog {
 public:
  explicit SetBacklog(size_t capacity) : capacity_(capacity < 1 ? 1 : capacity) {}

  // Queues `set` (captured at `time_ns`) unless it is not newer than the newest queued set.
  // Returns how many queued sets were dropped (coalesced) to make room.
  size_t Add(uint64_t set, int64_t time_ns);
  // Puts back an entry taken with PopFront (its upload failed): it becomes the front again;
  // when the queue is then over capacity the oldest entry is coalesced as in Add. Returns how
  // many entries were dropped.
  size_t PushFront(BacklogEntry e);
  std::optional<BacklogEntry> PopFront();
  // Removes every entry whose set is <= `set` (already in the bucket). Returns how many.
  size_t DropThrough(uint64_t set);
  const std::deque<BacklogEntry>& entries() const { return q_; }
  bool empty() const { return q_.empty(); }
  size_t size() const { return q_.size(); }
  size_t capacity() const { return capacity_; }
  // Newest queued set, 0 when empty.
  uint64_t newest() const { return q_.empty() ? 0 : q_.back().set; }

 private:
  size_t Trim();
  const size_t capacity_;
  std::deque<BacklogEntry> q_;
};

}  // namespace dk::replica
