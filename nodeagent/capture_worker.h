// CaptureWorker: keeps one store up to date with one directory tree, continuously.
//
// Start() creates a recursive inotify watcher on `root` (libstate/watcher.h) and then, on the
// worker's own thread, makes an initial full capture; after that every batch of changes the
// watcher reports (debounced and coalesced) becomes one Store::Capture() — one capture set with
// one Merkle root over every protected file at that moment.
//
// Two threads per worker: the watch thread only drains inotify into a pending batch, so the
// kernel queue keeps being read while a capture runs; the capture thread takes the pending
// batch, everything that changed meanwhile at once, and captures it. Back-pressure: a tree
// written faster than it can be captured degrades to fewer, larger captures (the pending batch
// is merged, and past WatchOptions::max_dirty paths it becomes "rescan everything"), never to
// unbounded memory. A CaptureGate (capture_gate.h) bounds concurrent captures across workers.
//
// Changes outside `scopes` (relative path prefixes; empty = everything) do not trigger a
// capture. IN_Q_OVERFLOW and new directories trigger a full rescan (the capture always scans
// the whole tree; libstate skips unchanged files by their stat). Files that kept changing while
// they were read (CaptureResult::deferred) and failed captures are retried after a backoff even
// when no new event arrives. A vanished root is not an error: the worker waits for it.
//
// Stop() finishes the capture in flight, then makes one final full capture and returns when
// both threads have exited: every change made before Stop() was called is durable when it
// returns (unless that final capture fails, which is logged and reported).
//
// Thread-safe: Start() once, then Snapshot()/Stop() from any thread. The store, gate and logger
// are not owned and outlive the worker. `on_capture` runs on the capture thread after every
// capture attempt (keep it short; it must not call Stop()).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "capture_gate.h"
#include "libstate/logger.h"
#include "libstate/options.h"
#include "libstate/store.h"
#include "libstate/watcher.h"

namespace dk::agent {

// What one capture attempt did, for metrics, status and the caller's bookkeeping.
struct CaptureReport {
  std::string name;
  Status status;                // OK or why Capture() failed
  CaptureResult result;         // valid when status.ok()
  bool initial = false;         // the full capture made at Start()
  bool final = false;           // the capture made by Stop()
  bool rescan = false;          // the batch asked for a full rescan (overflow, new directory…)
  uint64_t events = 0;          // raw inotify events behind this capture
  double duration_seconds = 0;  // Store::Capture() only
  double wait_seconds = 0;      // from the first pending change to the start of the capture
  uint64_t new_overflows = 0;   // IN_Q_OVERFLOWs since the previous report
  bool root_vanished = false;   // the root was gone right after the capture: it may have seen
                                // a half-removed tree (its deletions are not the app's)
  int64_t time_ns = 0;          // wall clock at the end of the capture
};

struct CaptureWorkerOptions {
  std::string name;  // for logs and metrics, e.g. "shop/db/0"
  std::string root;  // the directory captured (may be a pinned "/proc/self/fd/<n>")
  // The same directory by path, for inotify (which does not follow /proc/self/fd magic links
  // with IN_DONT_FOLLOW). "" = root. Only events come from here, never data.
  std::string watch_root;
  CaptureFilter filter;
  std::vector<std::string> scopes;  // relative prefixes whose changes matter; empty = all
  WatchOptions watch;
  std::chrono::milliseconds retry_initial{500};
  std::chrono::milliseconds retry_max{30000};
  std::function<void(const CaptureReport&)> on_capture;
};

struct CaptureWorkerState {
  uint64_t captures = 0;  // successful captures (with or without a new set)
  uint64_t sets = 0;      // captures that recorded a set
  uint64_t errors = 0;
  std::string last_error;
  uint64_t last_set = 0;
  ObjectId last_root;
  int64_t last_capture_ns = 0;  // wall clock of the last successful capture
  bool pending = false;         // changes reported, not yet captured
  bool pending_rescan = false;  // ... and they amount to "rescan everything"
  size_t pending_paths = 0;     // distinct changed paths remembered (<= max_dirty)
  bool capturing = false;
  bool root_missing = false;
  uint64_t watch_overflows = 0;
  size_t watched_dirs = 0;
  uint64_t deferred = 0;  // files deferred by the last capture
};

class CaptureWorker {
 public:
  CaptureWorker(Store* store, CaptureWorkerOptions options, CaptureGate* gate, Logger* logger);
  ~CaptureWorker();  // Stop()
  CaptureWorker(const CaptureWorker&) = delete;
  CaptureWorker& operator=(const CaptureWorker&) = delete;

  // Creates the watcher (NotFound when the root does not exist, NoSpace when the inotify watch
  // limit is reached) and starts both threads. Call once.
  Status Start();
  // See the header comment. Idempotent.
  void Stop();
  // Asks for a full capture soon (e.g. a periodic rescan), as if the watcher had overflowed.
  void RequestRescan();

  CaptureWorkerState Snapshot() const;
  const std::string& name() const { return options_.name; }
  const std::string& root() const { return options_.root; }

  // Test hooks: while paused, the watch thread does not read inotify (events pile up in the
  // kernel queue, which is how tests provoke IN_Q_OVERFLOW).
  void PauseWatchForTest();
  void ResumeWatchForTest();

 private:
  using SteadyTime = std::chrono::steady_clock::time_point;
  struct Pending {
    bool any = false;
    bool rescan = false;
    std::set<std::string> dirty;
    uint64_t events = 0;
    SteadyTime since{};
  };

  const std::string& WatchRoot() const {
    return options_.watch_root.empty() ? options_.root : options_.watch_root;
  }
  void WatchLoop();
  void CaptureLoop();
  void RunCapture(Pending batch, bool initial, bool final);
  bool Relevant(const Pending& p) const;
  void MergeLocked(const WatchBatch& b);

  Store* const store_;
  const CaptureWorkerOptions options_;
  CaptureGate* const gate_;
  Logger* const log_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unique_ptr<TreeWatcher> watcher_;  // created in Start(), re-created after a failure
  Pending pending_;
  bool stopping_ = false;
  bool watch_done_ = false;
  bool watch_paused_ = false;
  SteadyTime retry_at_ = SteadyTime::max();
  std::chrono::milliseconds retry_delay_{0};
  CaptureWorkerState state_;
  uint64_t reported_overflows_ = 0;
  bool started_ = false;
  bool stopped_ = false;
  std::thread watch_thread_;
  std::thread capture_thread_;
};

}  // namespace dk::agent
