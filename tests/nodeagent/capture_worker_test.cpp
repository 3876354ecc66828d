// CaptureWorker: watcher semantics end to end (real inotify, real store), debounce, max delay,
// back-pressure, scopes, final capture on Stop(), a vanished root.
#include "capture_worker.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>

#include "agent_test_util.h"
#include "pinned_dir.h"

namespace dk::agent {
namespace {

using testing::Exists;
using testing::ReadFile;
using testing::TempDir;
using testing::WaitFor;
using testing::WriteFile;

class AgentCaptureWorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = dir_.Sub("data");
    std::filesystem::create_directories(data_);
    StoreOptions so;
    so.sync = false;
    auto s = Store::Open(dir_.Sub("store"), so, OpenMode::kCreate);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }
  void TearDown() override {
    if (worker_) worker_->Stop();
  }

  CaptureWorkerOptions Options(uint32_t debounce_ms = 50, uint32_t max_delay_ms = 1000) {
    CaptureWorkerOptions o;
    o.name = "test";
    o.root = data_;
    o.watch.debounce_ms = debounce_ms;
    o.watch.max_delay_ms = max_delay_ms;
    o.retry_initial = std::chrono::milliseconds(50);
    o.on_capture = [this](const CaptureReport& r) {
      std::lock_guard<std::mutex> lock(mu_);
      reports_.push_back(r);
    };
    return o;
  }
  void StartWorker(CaptureWorkerOptions o, CaptureGate* gate = nullptr) {
    worker_ = std::make_unique<CaptureWorker>(store_.get(), std::move(o), gate, nullptr);
    ASSERT_TRUE(worker_->Start().ok());
    ASSERT_TRUE(WaitFor([&] { return Reports() >= 1; })) << "no initial capture";
  }
  size_t Reports() {
    std::lock_guard<std::mutex> lock(mu_);
    return reports_.size();
  }
  std::vector<CaptureReport> ReportsCopy() {
    std::lock_guard<std::mutex> lock(mu_);
    return reports_;
  }
  size_t SetsSince(size_t first_report) {
    std::lock_guard<std::mutex> lock(mu_);
    size_t n = 0;
    for (size_t i = first_report; i < reports_.size(); ++i) n += reports_[i].result.set ? 1 : 0;
    return n;
  }
  // The content of `path` in the store's latest state; nullopt when absent or deleted.
  std::optional<std::string> Latest(const std::string& path) {
    auto log = store_->Log(path);
    if (!log.ok() || log->empty()) return std::nullopt;
    const VersionInfo& v = log->back();
    if (v.kind == VersionKind::kDeleted) return std::nullopt;
    auto bytes = store_->ReadVersion(path, v.seq);
    if (!bytes.ok()) return std::nullopt;
    return std::string(bytes->begin(), bytes->end());
  }
  bool WaitLatest(const std::string& path, const std::optional<std::string>& want) {
    return WaitFor([&] { return Latest(path) == want; });
  }

  // Releases the gate when a test holding it fails early (the worker's final capture needs it).
  struct GateHold {
    CaptureGate* gate;
    bool held = true;
    explicit GateHold(CaptureGate* g) : gate(g) { gate->Acquire(); }
    void Release() {
      if (held) gate->Release();
      held = false;
    }
    ~GateHold() { Release(); }
  };

  TempDir dir_;
  std::string data_;
  std::unique_ptr<Store> store_;
  CaptureGate gate_{1};  // outlives the worker
  std::unique_ptr<CaptureWorker> worker_;
  std::mutex mu_;
  std::vector<CaptureReport> reports_;
};

TEST_F(AgentCaptureWorkerTest, InitialCaptureRecordsTheExistingTree) {
  WriteFile(data_ + "/a.txt", "alpha");
  WriteFile(data_ + "/sub/b.txt", "beta");
  StartWorker(Options());
  auto r = ReportsCopy();
  ASSERT_TRUE(r[0].initial);
  ASSERT_TRUE(r[0].status.ok());
  EXPECT_NE(r[0].result.set, 0u);
  EXPECT_EQ(Latest("a.txt"), "alpha");
  EXPECT_EQ(Latest("sub/b.txt"), "beta");
}

TEST_F(AgentCaptureWorkerTest, CapturesCreateModifyAndDelete) {
  StartWorker(Options());
  WriteFile(data_ + "/a.txt", "one");
  ASSERT_TRUE(WaitLatest("a.txt", "one"));
  WriteFile(data_ + "/a.txt", "two, longer");
  ASSERT_TRUE(WaitLatest("a.txt", "two, longer"));
  std::filesystem::remove(data_ + "/a.txt");
  ASSERT_TRUE(WaitLatest("a.txt", std::nullopt));
  auto log = store_->Log("a.txt");
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 3u);
  EXPECT_EQ(log->back().kind, VersionKind::kDeleted);
}

TEST_F(AgentCaptureWorkerTest, RenameOverIsOneConsistentChange) {
  WriteFile(data_ + "/config", "old");
  WriteFile(data_ + "/config.new", "new");
  StartWorker(Options());
  ASSERT_EQ(Latest("config"), "old");
  std::rename((data_ + "/config.new").c_str(), (data_ + "/config").c_str());
  ASSERT_TRUE(WaitLatest("config", "new"));
  ASSERT_TRUE(WaitLatest("config.new", std::nullopt));
  // Both sides of the rename are in the same capture set: no set has both files or neither.
  auto a = store_->Log("config");
  auto b = store_->Log("config.new");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->back().set, b->back().set);
}

TEST_F(AgentCaptureWorkerTest, NewSubdirectoriesAreWatchedAndTheirFilesCaptured) {
  StartWorker(Options());
  // Files written right after mkdir, before the new directory can have a watch: the rescan that
  // a new directory triggers finds them.
  std::filesystem::create_directories(data_ + "/x/y/z");
  WriteFile(data_ + "/x/y/z/early.txt", "early");
  ASSERT_TRUE(WaitLatest("x/y/z/early.txt", "early"));
  // And the new directory is watched from then on.
  WriteFile(data_ + "/x/y/z/later.txt", "later");
  ASSERT_TRUE(WaitLatest("x/y/z/later.txt", "later"));
  EXPECT_GE(worker_->Snapshot().watched_dirs, 4u);
}

TEST_F(AgentCaptureWorkerTest, QueueOverflowTriggersAFullRescan) {
  int max_events = 16384;
  {
    std::ifstream in("/proc/sys/fs/inotify/max_queued_events");
    in >> max_events;
  }
  if (max_events > 200000) GTEST_SKIP() << "max_queued_events too large to overflow quickly";
  StartWorker(Options(50, 1000));
  worker_->PauseWatchForTest();
  // The watch thread stops reading after its current batch: deliver one.
  WriteFile(data_ + "/trigger", "t");
  ASSERT_TRUE(WaitLatest("trigger", "t"));
  // Each file in a watched directory makes at least three events (create, modify, close-write):
  // more than the kernel queues while nobody reads.
  const int n = max_events / 3 + 2000;
  for (int i = 0; i < n; ++i) {
    std::ofstream(data_ + "/f" + std::to_string(i)) << i;
  }
  worker_->ResumeWatchForTest();
  ASSERT_TRUE(WaitFor([&] { return Latest("f" + std::to_string(n - 1)).has_value(); },
                      std::chrono::seconds(60)));
  EXPECT_GE(worker_->Snapshot().watch_overflows, 1u);
  EXPECT_TRUE(WaitFor([&] {
    for (const auto& r : ReportsCopy())
      if (r.rescan && !r.initial && r.new_overflows > 0) return true;
    return false;
  })) << "the overflow must lead to a full rescan capture";
  EXPECT_EQ(Latest("f0"), "0");
}

TEST_F(AgentCaptureWorkerTest, DebounceCoalescesABurstIntoOneCapture) {
  StartWorker(Options(/*debounce_ms=*/300, /*max_delay_ms=*/5000));
  const size_t before = Reports();
  for (int i = 0; i < 50; ++i) WriteFile(data_ + "/burst.txt", "write " + std::to_string(i));
  ASSERT_TRUE(WaitLatest("burst.txt", "write 49"));
  // Quiet period: no further capture follows.
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  EXPECT_EQ(SetsSince(before), 1u);
  auto log = store_->Log("burst.txt");
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log->size(), 1u) << "intermediate writes must not become versions";
}

TEST_F(AgentCaptureWorkerTest, MaxDelayCapturesAContinuousWriter) {
  StartWorker(Options(/*debounce_ms=*/200, /*max_delay_ms=*/400));
  const size_t before = Reports();
  // Writes every 20 ms for 1.6 s: the debounce never expires, the max delay does.
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(1600);
  int i = 0;
  while (std::chrono::steady_clock::now() < end) {
    WriteFile(data_ + "/log.txt", std::string(static_cast<size_t>(++i), 'x'));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  size_t during = SetsSince(before);
  EXPECT_GE(during, 2u) << "captures must happen while writes continue";
  ASSERT_TRUE(WaitLatest("log.txt", std::string(static_cast<size_t>(i), 'x')));
}

TEST_F(AgentCaptureWorkerTest, BackPressureKeepsMemoryBoundedAndCoalesces) {
  auto o = Options(20, 200);
  o.watch.max_dirty = 50;
  StartWorker(o, &gate_);
  const size_t before = Reports();
  // Captures cannot run (the only slot is ours) while files keep being written: the worker
  // takes one batch and waits for the gate; everything after piles up in its pending batch.
  GateHold hold(&gate_);
  WriteFile(data_ + "/first", "1");
  ASSERT_TRUE(WaitFor([&] { return gate_.waiting() == 1; }));
  size_t max_paths = 0;
  for (int i = 0; i < 500; ++i) {
    WriteFile(data_ + "/f" + std::to_string(i), std::to_string(i));
    if (i % 10 == 0) max_paths = std::max(max_paths, worker_->Snapshot().pending_paths);
  }
  ASSERT_TRUE(WaitFor([&] {
    auto s = worker_->Snapshot();
    max_paths = std::max(max_paths, s.pending_paths);
    return s.pending && s.pending_rescan;
  })) << "past max_dirty the pending batch must degrade to a rescan";
  EXPECT_LE(max_paths, 50u) << "the pending batch grew past max_dirty";
  EXPECT_EQ(worker_->Snapshot().pending_paths, 0u);
  hold.Release();
  ASSERT_TRUE(WaitLatest("f499", "499"));
  ASSERT_TRUE(WaitFor([&] { return !worker_->Snapshot().pending; }));
  // Everything written while blocked went into two or three captures, not 500.
  EXPECT_LE(SetsSince(before), 3u);
  EXPECT_EQ(Latest("f0"), "0");
}

TEST_F(AgentCaptureWorkerTest, ChangesOutsideTheScopesDoNotTriggerCaptures) {
  std::filesystem::create_directories(data_ + "/data");
  std::filesystem::create_directories(data_ + "/cache");
  auto o = Options(30, 200);
  o.scopes = {"data"};
  o.filter.include = {"data/**"};
  o.filter.exclude = {"cache/**"};
  StartWorker(o);
  const size_t before = Reports();
  for (int i = 0; i < 20; ++i) WriteFile(data_ + "/cache/junk" + std::to_string(i), "x");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(Reports(), before) << "a change outside the protected paths made a capture";
  WriteFile(data_ + "/data/db", "rows");
  ASSERT_TRUE(WaitLatest("data/db", "rows"));
  EXPECT_FALSE(Latest("cache/junk0").has_value());
}

TEST_F(AgentCaptureWorkerTest, StopMakesAFinalCaptureOfPendingChanges) {
  StartWorker(Options(/*debounce_ms=*/10000, /*max_delay_ms=*/60000));
  WriteFile(data_ + "/late.txt", "written just before SIGTERM");
  worker_->Stop();
  EXPECT_EQ(Latest("late.txt"), "written just before SIGTERM");
  auto r = ReportsCopy();
  ASSERT_FALSE(r.empty());
  EXPECT_TRUE(r.back().final);
}

TEST_F(AgentCaptureWorkerTest, ARemovedRootIsNotRecordedAsDeletingEverything) {
  WriteFile(data_ + "/keep.txt", "precious");
  auto pinned = PinnedDir::Open(dir_.path(), "data", false);
  ASSERT_TRUE(pinned.ok()) << pinned.status();
  auto o = Options(20, 200);
  o.root = pinned->ProcPath();
  o.watch_root = data_;
  StartWorker(o, &gate_);
  ASSERT_EQ(Latest("keep.txt"), "precious");
  GateHold hold(&gate_);  // the capture of the removal waits until the directory is gone
  std::filesystem::remove_all(data_);
  ASSERT_TRUE(WaitFor([&] { return gate_.waiting() == 1; }));
  hold.Release();
  ASSERT_TRUE(WaitFor([&] { return worker_->Snapshot().root_missing; }));
  EXPECT_EQ(Latest("keep.txt"), "precious");
}

TEST_F(AgentCaptureWorkerTest, RequestRescanMakesACaptureWithoutEvents) {
  StartWorker(Options(20, 200));
  auto before = worker_->Snapshot();
  worker_->RequestRescan();
  ASSERT_TRUE(WaitFor([&] { return worker_->Snapshot().captures > before.captures; }));
  EXPECT_EQ(worker_->Snapshot().errors, 0u);
}

}  // namespace
}  // namespace dk::agent
