// TreeWatcher: recursive inotify watching of a directory tree, with debounce and coalescing.
//
// Every directory under the root gets a watch; directories created or moved in later are
// added as they appear. Events are coalesced into batches: a batch is returned once no
// event arrived for `debounce_ms`, or `max_delay_ms` after its first event, whichever is
// first (so a file written continuously still gets captured periodically). Memory is
// bounded: past `max_dirty` distinct paths a batch degrades to "rescan everything".
// IN_Q_OVERFLOW (the kernel dropped events) also yields a rescan and re-adds all watches.
// Not thread-safe: one thread calls Next(); Stop() may be called from any thread or a
// signal handler.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include "libstate/result.h"

namespace dk {

struct WatchBatch {
  bool rescan = false;          // treat every path as dirty
  std::set<std::string> dirty;  // relative paths that changed (empty when rescan)
  uint64_t events = 0;          // raw inotify events coalesced into this batch
  bool stopped = false;         // Stop() was called; no more batches
};

struct WatchOptions {
  uint32_t debounce_ms = 200;
  uint32_t max_delay_ms = 2000;
  size_t max_dirty = 100000;
};

class TreeWatcher {
 public:
  static Result<std::unique_ptr<TreeWatcher>> Create(const std::string& root,
                                                     const WatchOptions& options);
  ~TreeWatcher();
  TreeWatcher(const TreeWatcher&) = delete;
  TreeWatcher& operator=(const TreeWatcher&) = delete;

  // Blocks until a batch is ready or Stop() is called.
  Result<WatchBatch> Next();
  // Async-signal-safe.
  void Stop();
  size_t watched_dirs() const;
  uint64_t overflows() const { return overflows_; }

 private:
  TreeWatcher(std::string root, WatchOptions o, int ifd, int stop_fd);
  Status AddTree(const std::string& rel);
  Status Drain(WatchBatch* batch);  // reads available events into batch
  void ReaddAll();

  struct Impl;
  std::string root_;
  WatchOptions opts_;
  int ifd_;
  int stop_fd_;  // eventfd
  uint64_t overflows_ = 0;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dk
