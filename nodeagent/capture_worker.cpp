#include "capture_worker.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>

namespace dk::agent {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// A directory removed while we hold it open (a pinned pod volume) still stats, with no links.
bool RootExists(const std::string& root) {
  struct stat st;
  return stat(root.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && st.st_nlink > 0;
}

bool UnderScope(const std::string& path, const std::string& scope) {
  if (scope.empty() || path == scope) return true;
  // A change to an ancestor of the scope (e.g. its directory was replaced) matters too.
  if (scope.size() > path.size() && scope.compare(0, path.size(), path) == 0 &&
      scope[path.size()] == '/')
    return true;
  return path.size() > scope.size() && path.compare(0, scope.size(), scope) == 0 &&
         path[scope.size()] == '/';
}

}  // namespace

CaptureWorker::CaptureWorker(Store* store, CaptureWorkerOptions options, CaptureGate* gate,
                             Logger* logger)
    : store_(store),
      options_(std::move(options)),
      gate_(gate),
      log_(logger ? logger : NullLogger()) {}

CaptureWorker::~CaptureWorker() { Stop(); }

Status CaptureWorker::Start() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (started_)
      return Status::FailedPrecondition("capture worker " + options_.name + " started twice");
  }
  // The watcher exists before the initial capture, so nothing written during it is missed.
  auto w = TreeWatcher::Create(WatchRoot(), options_.watch);
  if (!w.ok()) return w.status().WithContext("watch " + WatchRoot());
  std::lock_guard<std::mutex> lock(mu_);
  watcher_ = std::move(*w);
  state_.watched_dirs = watcher_->watched_dirs();
  started_ = true;
  watch_thread_ = std::thread([this] { WatchLoop(); });
  capture_thread_ = std::thread([this] { CaptureLoop(); });
  return Status::Ok();
}

void CaptureWorker::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!started_ || stopped_) return;
    stopped_ = true;
    stopping_ = true;
    watch_paused_ = false;
    if (watcher_) watcher_->Stop();
  }
  cv_.notify_all();
  if (watch_thread_.joinable()) watch_thread_.join();
  if (capture_thread_.joinable()) capture_thread_.join();
}

void CaptureWorker::RequestRescan() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!pending_.any) pending_.since = Clock::now();
    pending_.any = true;
    pending_.rescan = true;
    pending_.dirty.clear();
  }
  cv_.notify_all();
}

void CaptureWorker::PauseWatchForTest() {
  std::lock_guard<std::mutex> lock(mu_);
  watch_paused_ = true;
}

void CaptureWorker::ResumeWatchForTest() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    watch_paused_ = false;
  }
  cv_.notify_all();
}

CaptureWorkerState CaptureWorker::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  CaptureWorkerState s = state_;
  s.pending = pending_.any;
  s.pending_rescan = pending_.rescan;
  s.pending_paths = pending_.dirty.size();
  return s;
}

void CaptureWorker::MergeLocked(const WatchBatch& b) {
  if (b.events == 0 && !b.rescan) return;
  if (!pending_.any) pending_.since = Clock::now();
  pending_.any = true;
  pending_.events += b.events;
  if (pending_.rescan || b.rescan) {
    pending_.rescan = true;
    pending_.dirty.clear();
    return;
  }
  for (const auto& p : b.dirty) {
    pending_.dirty.insert(p);
    if (pending_.dirty.size() > options_.watch.max_dirty) {
      // The bound on memory: past max_dirty paths the batch only says "rescan".
      pending_.rescan = true;
      pending_.dirty.clear();
      return;
    }
  }
}

void CaptureWorker::WatchLoop() {
  auto backoff = options_.retry_initial;
  while (true) {
    TreeWatcher* w;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return !watch_paused_ || stopping_; });
      if (stopping_ && !watcher_) break;
      w = watcher_.get();
    }
    if (w == nullptr) {
      // The watcher failed earlier: re-create it once the root is back.
      std::unique_lock<std::mutex> lock(mu_);
      if (cv_.wait_for(lock, backoff, [&] { return stopping_; })) break;
      lock.unlock();
      backoff = std::min(backoff * 2, options_.retry_max);
      if (!RootExists(options_.root)) continue;
      auto nw = TreeWatcher::Create(WatchRoot(), options_.watch);
      if (!nw.ok()) {
        log_->Warn("Re-creating the watcher failed",
                   {{"worker", options_.name}, {"error", nw.status().ToString()}});
        continue;
      }
      lock.lock();
      if (stopping_) break;
      watcher_ = std::move(*nw);
      state_.watched_dirs = watcher_->watched_dirs();
      // Whatever happened while unwatched is only found by a full capture.
      WatchBatch b;
      b.rescan = true;
      MergeLocked(b);
      cv_.notify_all();
      continue;
    }
    auto b = w->Next();
    std::unique_lock<std::mutex> lock(mu_);
    if (!b.ok()) {
      ++state_.errors;
      state_.last_error = b.status().ToString();
      log_->Warn("Watcher failed; will re-create it",
                 {{"worker", options_.name}, {"error", b.status().ToString()}});
      if (stopping_) break;
      watcher_.reset();
      continue;
    }
    backoff = options_.retry_initial;
    MergeLocked(*b);
    state_.watched_dirs = w->watched_dirs();
    state_.watch_overflows = w->overflows();
    if (b->stopped) break;
    lock.unlock();
    cv_.notify_all();
  }
  std::lock_guard<std::mutex> lock(mu_);
  watch_done_ = true;
  cv_.notify_all();
}

bool CaptureWorker::Relevant(const Pending& p) const {
  if (p.rescan || options_.scopes.empty()) return true;
  for (const auto& path : p.dirty)
    for (const auto& s : options_.scopes)
      if (UnderScope(path, s)) return true;
  return false;
}

void CaptureWorker::CaptureLoop() {
  {
    Pending initial;
    initial.any = true;
    initial.rescan = true;
    initial.since = Clock::now();
    RunCapture(std::move(initial), /*initial=*/true, /*final=*/false);
  }
  while (true) {
    Pending batch;
    bool final = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      while (!pending_.any && !stopping_ && Clock::now() < retry_at_) {
        if (retry_at_ == Clock::time_point::max()) {
          cv_.wait(lock);
        } else {
          cv_.wait_until(lock, retry_at_);
        }
      }
      if (stopping_) {
        // Wait for the watcher's last batch, then make one final full capture: the capture
        // scans the whole tree, so everything written before Stop() is in it.
        cv_.wait(lock, [&] { return watch_done_; });
        final = true;
      }
      batch = std::move(pending_);
      pending_ = Pending();
      if (final || Clock::now() >= retry_at_) {
        // A retry (failed or deferred capture) and the final capture are full captures.
        if (!batch.any) batch.since = Clock::now();
        batch.any = true;
        batch.rescan = true;
        retry_at_ = Clock::time_point::max();
      }
    }
    if (Relevant(batch)) RunCapture(std::move(batch), /*initial=*/false, final);
    if (final) return;
  }
}

void CaptureWorker::RunCapture(Pending batch, bool initial, bool final) {
  CaptureReport report;
  report.name = options_.name;
  report.initial = initial;
  report.final = final;
  report.rescan = batch.rescan;
  report.events = batch.events;
  {
    std::lock_guard<std::mutex> lock(mu_);
    state_.capturing = true;
  }
  Result<CaptureResult> r = Status::Internal("not run");
  Clock::time_point start;
  {
    GateSlot slot(gate_);
    // Checked with the slot held, right before the capture: a pod volume can disappear (pod
    // torn down) or not exist yet; neither is an error, and neither may be recorded as every
    // file having been deleted.
    if (!RootExists(options_.root)) {
      std::lock_guard<std::mutex> lock(mu_);
      state_.capturing = false;
      if (!state_.root_missing)
        log_->Info("Capture root is missing; waiting for it",
                   {{"worker", options_.name}, {"root", options_.root}});
      state_.root_missing = true;
      return;
    }
    start = Clock::now();
    report.wait_seconds = std::chrono::duration<double>(start - batch.since).count();
    r = store_->Capture(options_.root, options_.filter);
  }
  // Removed while we scanned: the capture may have seen a half-removed tree.
  report.root_vanished = !RootExists(options_.root);
  report.duration_seconds = SecondsSince(start);
  report.time_ns = SystemClockNs();
  {
    std::lock_guard<std::mutex> lock(mu_);
    state_.capturing = false;
    state_.root_missing = false;
    report.new_overflows = state_.watch_overflows - reported_overflows_;
    reported_overflows_ = state_.watch_overflows;
    if (r.ok()) {
      report.result = *r;
      ++state_.captures;
      state_.deferred = r->deferred.size();
      state_.last_capture_ns = report.time_ns;
      if (r->set) {
        ++state_.sets;
        state_.last_set = r->set;
        state_.last_root = r->root;
      }
      retry_delay_ = std::chrono::milliseconds(0);
      if (!r->deferred.empty()) {
        // Files that kept changing while read: capture again soon, even without new events.
        retry_at_ = std::min(retry_at_, Clock::now() + options_.retry_initial);
      }
    } else {
      report.status = r.status();
      ++state_.errors;
      state_.last_error = r.status().ToString();
      retry_delay_ = retry_delay_.count() == 0 ? options_.retry_initial
                                               : std::min(retry_delay_ * 2, options_.retry_max);
      retry_at_ = std::min(retry_at_, Clock::now() + retry_delay_);
    }
  }
  if (!r.ok()) {
    log_->Error("Capture failed", {{"worker", options_.name},
                                   {"error", r.status().ToString()},
                                   {"retry_ms", static_cast<int64_t>(retry_delay_.count())}});
  } else if (!r->deferred.empty()) {
    log_->Info(
        "Capture deferred files that kept changing",
        {{"worker", options_.name}, {"files", r->deferred.size()}, {"first", r->deferred.front()}});
  }
  if (r.ok() && !r->skipped.empty()) {
    log_->Warn(
        "Capture skipped entries",
        {{"worker", options_.name}, {"count", r->skipped.size()}, {"first", r->skipped.front()}});
  }
  if (options_.on_capture) options_.on_capture(report);
}

}  // namespace dk::agent
