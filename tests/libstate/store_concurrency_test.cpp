// Thread safety (store.h: "a Store may be used from several threads; writes are serialised
// internally"): readers running while captures and GC (which swaps the data file) run must
// neither crash nor see anything but complete states. Races are found by repetition; run
// under the ASan build to catch use-after-free.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "libstate/store.h"
#include "libstate/store_test_util.h"

namespace dk {
namespace {

using namespace dk::testing;  // NOLINT: test helpers

TEST(StoreConcurrencyTest, ReadersRunSafelyWhileGcSwapsTheDataFile) {
  TempDir tmp;
  const std::string src = tmp.Sub("src");
  FakeClock clock;
  StoreOptions o = FastOptions();
  o.clock = clock.Fn();
  o.delta = DeltaChoice::kNone;
  auto s = OpenStoreOrDie(tmp.Sub("store"), o);
  for (int v = 0; v < 6; ++v) {
    WriteFile(src + "/a.txt", "version " + std::to_string(v));
    clock.Advance(kSecondNs);
    CaptureOrDie(*s, src);
  }
  std::atomic<bool> done{false};
  std::atomic<int> reads{0};
  // One reader per read-only call (each opens a transaction on the environment), so that
  // every one of them gets to run while GC holds the store.
  std::vector<std::thread> readers;
  for (int which = 0; which < 3; ++which) {
    readers.emplace_back([&, which] {
      while (!done.load()) {
        bool ok = which == 0   ? s->Sets().ok() && !s->Sets()->empty()
                  : which == 1 ? s->Log("a.txt").ok()
                               : s->Stats().ok();
        if (!ok) {
          ADD_FAILURE() << "reader " << which << " failed while GC ran";
          return;
        }
        ++reads;
      }
    });
  }
  RetentionPolicy keep;  // no rule: nothing dropped, but the data file is swapped every time
  keep.compact = true;
  for (int i = 0; i < 30 && !::testing::Test::HasFailure(); ++i) {
    auto g = s->Gc(keep);
    ASSERT_TRUE(g.ok()) << g.status();
  }
  done = true;
  for (auto& r : readers) r.join();
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(VerifyProblems(*s), "");
}

TEST(StoreConcurrencyTest, ConcurrentCapturesReadsAndRestoresSeeOnlyCompleteStates) {
  const uint64_t seed = TestSeed(41);
  SCOPED_TRACE("seed=" + std::to_string(seed));
  SplitMix64 rng(seed);
  TempDir tmp;
  const std::string src = tmp.Sub("src");
  auto s = OpenStoreOrDie(tmp.Sub("store"), FastOptions());
  // Each file always holds "<name>:<n>:" followed by n copies of its name, so any content a
  // reader gets can be checked on its own.
  auto content = [](const std::string& name, int n) {
    std::string c = name + ":" + std::to_string(n) + ":";
    for (int i = 0; i < n; ++i) c += name;
    return c;
  };
  auto valid = [&](const std::string& name, const std::string& c) {
    int n = -1;
    std::string prefix = name + ":";
    if (c.rfind(prefix, 0) != 0) return false;
    n = std::atoi(c.c_str() + prefix.size());
    return n >= 0 && c == content(name, n);
  };
  for (const char* f : {"a", "b", "c"}) WriteFile(src + "/" + f, content(f, 0));
  CaptureOrDie(*s, src);

  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&, t] {
      int k = 0;
      while (!done.load()) {
        const std::string name = t == 0 ? "a" : "b";
        auto log = s->Log(name);
        if (!log.ok()) {
          ++failures;
          continue;
        }
        auto c = s->ReadVersion(name, log->back().seq);
        if (!c.ok() || !valid(name, ToString(*c))) ++failures;
        if (++k % 8 == 0) {
          std::string dir = tmp.Sub("r" + std::to_string(t) + "-" + std::to_string(k));
          auto r = s->Restore(dir, {});
          if (!r.ok() || !r->failures.empty()) ++failures;
          for (const auto& [p, e] : ReadTree(dir))
            if (!valid(p, e.content)) ++failures;
          RemoveTree(dir);
        }
      }
    });
  }
  for (int i = 1; i <= 40; ++i) {
    for (const char* f : {"a", "b", "c"}) {
      if (rng.OneIn(2)) WriteFile(src + "/" + f, content(f, i));
    }
    CaptureOrDie(*s, src);
  }
  done = true;
  for (auto& r : readers) r.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(VerifyProblems(*s), "");
}

}  // namespace
}  // namespace dk
