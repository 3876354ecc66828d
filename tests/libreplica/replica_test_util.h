// Helpers shared by the libreplica tests: a settable clock usable from several threads, a
// latch for holding a bucket call in flight, and store/tree shortcuts.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>

#include "libreplica/bucket_reader.h"
#include "libstate/options.h"
#include "libstate/store.h"
#include "libstate/store_test_util.h"

namespace dk::replica::testing {

using dk::testing::kHourNs;
using dk::testing::kSecondNs;

// Thread-safe settable wall clock.
class TestClock {
 public:
  explicit TestClock(int64_t start_ns = int64_t{1'700'000'000} * 1'000'000'000) : now_(start_ns) {}
  ClockFn Fn() {
    return [this] { return now_.load(); };
  }
  int64_t now() const { return now_.load(); }
  void Advance(int64_t d) { now_ += d; }

 private:
  std::atomic<int64_t> now_;
};

// A gate that bucket fault rules wait on.
class Latch {
 public:
  void Open() {
    {
      std::lock_guard<std::mutex> l(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  void Wait() {
    std::unique_lock<std::mutex> l(mu_);
    ++waiters_;
    cv_.notify_all();
    cv_.wait(l, [&] { return open_; });
  }
  // Blocks until some call waits on the latch.
  void AwaitWaiter() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return waiters_ > 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  int waiters_ = 0;
};

// Writes `content` to `path` unless it already holds exactly that: rewriting identical content
// only moves the mtime, which libstate does not record as a version, so a test that compares
// restored mtimes must not do it.
inline void WriteIfChanged(const std::string& path, std::string_view content) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && dk::testing::ReadFileString(path) == content) return;
  dk::testing::WriteFile(path, content);
}

inline StoreOptions TestStoreOptions() {
  StoreOptions o = dk::testing::FastOptions();
  o.chunker = dk::testing::SmallChunker();
  return o;
}

// Restores `identity` from the bucket (latest, or bucket set `set`) into `target` and returns
// the restore result; fails the test on error.
inline BucketRestoreResult RestoreOrFail(Bucket& bucket, const BucketLayout& layout,
                                         std::string_view identity, const std::string& target,
                                         std::optional<uint64_t> set = std::nullopt) {
  RestoreRequest req;
  req.set = set;
  auto r = RestoreFromBucket(bucket, layout, identity, target, req);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? std::move(r).value() : BucketRestoreResult{};
}

}  // namespace dk::replica::testing
