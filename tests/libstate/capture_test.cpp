// Capture: what becomes a version and what does not (unchanged content, touch, mode changes,
// deletions, directories, symlinks, type changes, filters), and the counters it reports.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>

#include "libstate/store.h"
#include "libstate/store_test_util.h"

namespace dk {
namespace {

using namespace dk::testing;  // NOLINT: test helpers

class CaptureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions o = FastOptions();
    o.clock = clock_.Fn();
    store_ = OpenStoreOrDie(tmp_.Sub("store"), o);
  }
  // Reopens the store trusting the stat cache at once (no racy window), for tests about it.
  void TrustStat() {
    StoreOptions o = FastOptions();
    o.clock = clock_.Fn();
    o.racy_window_ns = 0;
    store_.reset();
    store_ = OpenStoreOrDie(tmp_.Sub("store"), o, OpenMode::kReadWrite);
  }
  CaptureResult Capture(const CaptureFilter& f = {}) {
    clock_.Advance(kSecondNs);
    return CaptureOrDie(*store_, src_, f);
  }

  TempDir tmp_;
  const std::string src_ = tmp_.Sub("src");
  FakeClock clock_;
  std::unique_ptr<Store> store_;
};

TEST_F(CaptureTest, UnchangedTreeRecordsNoSetTheSecondTime) {
  TrustStat();
  WriteFile(src_ + "/a.txt", "alpha");
  WriteFile(src_ + "/d/b.txt", "beta");
  CaptureResult first = Capture();
  EXPECT_EQ(first.set, 1u);
  EXPECT_EQ(first.scanned, 3u);
  EXPECT_EQ(first.changed, 3u);
  EXPECT_EQ(first.bytes_read, 9u);
  CaptureResult second = Capture();
  EXPECT_EQ(second.set, 0u);
  EXPECT_EQ(second.changed, 0u);
  EXPECT_EQ(second.deleted, 0u);
  EXPECT_EQ(second.unchanged, 3u);
  EXPECT_EQ(second.bytes_read, 0u);  // the stat cache spared reading anything
  auto sets = store_->Sets();
  ASSERT_TRUE(sets.ok());
  EXPECT_EQ(sets->size(), 1u);
  EXPECT_EQ(LogOrDie(*store_, "a.txt").size(), 1u);
}

TEST_F(CaptureTest, TouchOnlyChangesNoVersionAndRefreshesTheStatCache) {
  TrustStat();
  WriteFile(src_ + "/a.txt", "same content");
  Capture();
  SetMtimeNs(src_ + "/a.txt", MtimeNs(src_ + "/a.txt") + 10 * kSecondNs);
  CaptureResult touched = Capture();
  EXPECT_EQ(touched.set, 0u);
  EXPECT_EQ(touched.changed, 0u);
  EXPECT_EQ(touched.bytes_read, 12u);  // read once to compare the content
  EXPECT_EQ(LogOrDie(*store_, "a.txt").size(), 1u);
  CaptureResult again = Capture();
  EXPECT_EQ(again.set, 0u);
  EXPECT_EQ(again.bytes_read, 0u);  // the new times were remembered
}

TEST_F(CaptureTest, ModeChangeCreatesAVersionButNoNewObject) {
  WriteFile(src_ + "/run.sh", "#!/bin/sh\necho hi\n", 0644);
  Capture();
  auto before = store_->Stats();
  ASSERT_TRUE(before.ok());
  ASSERT_EQ(chmod((src_ + "/run.sh").c_str(), 0755), 0);
  CaptureResult c = Capture();
  EXPECT_NE(c.set, 0u);
  EXPECT_EQ(c.changed, 1u);
  EXPECT_EQ(c.bytes_stored, 0u);
  auto log = LogOrDie(*store_, "run.sh");
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].mode, 0644u);
  EXPECT_EQ(log[1].mode, 0755u);
  EXPECT_EQ(log[0].chunks, log[1].chunks);
  auto after = store_->Stats();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->objects, before->objects);
}

TEST_F(CaptureTest, SameSizeRewriteWithOldMtimeIsStillSeen) {
  // An application that rewrites a file in place and restores its mtime: the change time
  // still moves, so the stat cache must not hide the change.
  WriteFile(src_ + "/db.page", "AAAAAAAA");
  Capture();
  const int64_t mtime = MtimeNs(src_ + "/db.page");
  WriteFile(src_ + "/db.page", "BBBBBBBB");
  SetMtimeNs(src_ + "/db.page", mtime);
  CaptureResult c = Capture();
  EXPECT_EQ(c.changed, 1u);
  EXPECT_EQ(ReadVersionOrDie(*store_, "db.page", 2), "BBBBBBBB");
}

TEST_F(CaptureTest, SameSizeRewritesRightAfterCaptureAreNeverMissed) {
  // Timestamps are coarse (a jiffy before Linux 6.13's multigrain timestamps; whole seconds
  // on ext4 with 128-byte inodes, 2 s on FAT): a rewrite in the same tick as the previous
  // capture's stat leaves size, mtime, ctime and inode all equal. Run with TMPDIR on such a
  // filesystem to see the race; the default racy window must cover it.
  WriteFile(src_ + "/hot.dat", "value=00");
  Capture();
  for (int i = 1; i < 40; ++i) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "value=%02d", i);
    WriteFile(src_ + "/hot.dat", buf);  // same inode, same size
    CaptureResult c = Capture();
    ASSERT_EQ(c.changed, 1u) << "rewrite " << i << " was not captured";
    auto log = LogOrDie(*store_, "hot.dat");
    ASSERT_EQ(ReadVersionOrDie(*store_, "hot.dat", log.back().seq), buf);
  }
}

TEST_F(CaptureTest, RecentlyChangedFilesAreReadAgainButRecordNoVersion) {
  WriteFile(src_ + "/fresh.txt", "just written");
  Capture();
  CaptureResult again = Capture();  // within the racy window: read, compared, not recorded
  EXPECT_EQ(again.set, 0u);
  EXPECT_EQ(again.bytes_read, 12u);
  EXPECT_EQ(LogOrDie(*store_, "fresh.txt").size(), 1u);
}

TEST_F(CaptureTest, NegativeRacyWindowIsRejected) {
  StoreOptions o = FastOptions();
  o.racy_window_ns = -1;
  auto s = Store::Open(tmp_.Sub("other"), o, OpenMode::kCreate);
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(CaptureTest, DeletedFileGetsADeletionVersionAndRecreationContinuesTheLog) {
  WriteFile(src_ + "/a.txt", "one");
  WriteFile(src_ + "/keep.txt", "stays");
  Capture();
  ASSERT_EQ(unlink((src_ + "/a.txt").c_str()), 0);
  CaptureResult c = Capture();
  EXPECT_EQ(c.deleted, 1u);
  EXPECT_EQ(c.changed, 0u);
  EXPECT_NE(c.set, 0u);
  auto log = LogOrDie(*store_, "a.txt");
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(VersionKindName(log[1].kind), "deleted");
  auto rv = store_->ReadVersion("a.txt", 2);
  EXPECT_EQ(rv.status().code(), StatusCode::kNotFound);
  EXPECT_NE(rv.status().message().find("a.txt"), std::string::npos);
  // A second capture does not delete it again.
  EXPECT_EQ(Capture().set, 0u);
  WriteFile(src_ + "/a.txt", "two");
  Capture();
  log = LogOrDie(*store_, "a.txt");
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(ReadVersionOrDie(*store_, "a.txt", 3), "two");
  EXPECT_EQ(ReadVersionOrDie(*store_, "a.txt", 1), "one");
  auto st = store_->Stats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->live_files, 2u);
}

TEST_F(CaptureTest, DirectoriesAndSymlinksAreVersionedEntries) {
  MakeDirs(src_ + "/empty", 0700);
  WriteFile(src_ + "/target.txt", "t");
  MakeSymlink("target.txt", src_ + "/lnk");
  MakeSymlink("/nonexistent/absolute", src_ + "/dangling");
  Capture();
  auto dir = LogOrDie(*store_, "empty");
  ASSERT_EQ(dir.size(), 1u);
  EXPECT_EQ(EntryTypeName(dir[0].type), "dir");
  EXPECT_EQ(dir[0].mode, 0700u);
  auto lnk = LogOrDie(*store_, "lnk");
  EXPECT_EQ(EntryTypeName(lnk[0].type), "symlink");
  EXPECT_EQ(lnk[0].link_target, "target.txt");
  EXPECT_EQ(ReadVersionOrDie(*store_, "lnk", 1), "target.txt");
  EXPECT_EQ(LogOrDie(*store_, "dangling")[0].link_target, "/nonexistent/absolute");

  // Retargeting a link and changing a directory's mode are changes; adding a file to a
  // directory is not a change of the directory.
  ASSERT_EQ(unlink((src_ + "/lnk").c_str()), 0);
  MakeSymlink("elsewhere.txt", src_ + "/lnk");
  ASSERT_EQ(chmod((src_ + "/empty").c_str(), 0755), 0);
  CaptureResult c = Capture();
  EXPECT_EQ(c.changed, 2u);
  EXPECT_EQ(LogOrDie(*store_, "lnk")[1].link_target, "elsewhere.txt");
  EXPECT_EQ(LogOrDie(*store_, "empty")[1].mode, 0755u);
  WriteFile(src_ + "/empty/now-not", "x");
  c = Capture();
  EXPECT_EQ(c.changed, 1u);
  EXPECT_EQ(LogOrDie(*store_, "empty").size(), 2u);
}

TEST_F(CaptureTest, TypeChangeOfAPathIsANewVersionOfTheNewType) {
  WriteFile(src_ + "/x", "file first");
  Capture();
  ASSERT_EQ(unlink((src_ + "/x").c_str()), 0);
  WriteFile(src_ + "/x/inner.txt", "now a directory");
  Capture();
  ASSERT_EQ(unlink((src_ + "/x/inner.txt").c_str()), 0);
  ASSERT_EQ(rmdir((src_ + "/x").c_str()), 0);
  MakeSymlink("somewhere", src_ + "/x");
  Capture();
  auto log = LogOrDie(*store_, "x");
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(EntryTypeName(log[0].type), "file");
  EXPECT_EQ(EntryTypeName(log[1].type), "dir");
  EXPECT_EQ(EntryTypeName(log[2].type), "symlink");
  auto inner = LogOrDie(*store_, "x/inner.txt");
  ASSERT_EQ(inner.size(), 2u);
  EXPECT_EQ(VersionKindName(inner[1].kind), "deleted");
  EXPECT_EQ(ReadVersionOrDie(*store_, "x", 1), "file first");
}

TEST_F(CaptureTest, VersionAndSetTimesComeFromTheInjectedClock) {
  WriteFile(src_ + "/a", "1");
  clock_.Set(int64_t{1'234'567'890} * kSecondNs);
  CaptureResult c = CaptureOrDie(*store_, src_);
  EXPECT_EQ(LogOrDie(*store_, "a")[0].time_ns, int64_t{1'234'567'890} * kSecondNs);
  auto sets = store_->Sets();
  ASSERT_TRUE(sets.ok());
  ASSERT_EQ(sets->size(), 1u);
  EXPECT_EQ((*sets)[0].set, c.set);
  EXPECT_EQ((*sets)[0].time_ns, int64_t{1'234'567'890} * kSecondNs);
  EXPECT_EQ((*sets)[0].root, c.root);
  EXPECT_EQ((*sets)[0].live_entries, 1u);
  EXPECT_EQ((*sets)[0].logical_bytes, 1u);
}

TEST_F(CaptureTest, ExcludeAndIncludeFiltersDecideWhatIsCaptured) {
  WriteFile(src_ + "/keep.txt", "k");
  WriteFile(src_ + "/skip.tmp", "s");
  WriteFile(src_ + "/d/deep.txt", "d");
  WriteFile(src_ + "/d/deep.bin", "b");
  WriteFile(src_ + "/cache/c.txt", "c");
  CaptureFilter f;
  f.exclude = {"*.tmp", "cache"};
  f.include = {"**/*.txt"};
  Capture(f);
  EXPECT_TRUE(store_->Log("keep.txt").ok());
  EXPECT_TRUE(store_->Log("d/deep.txt").ok());
  EXPECT_TRUE(store_->Log("d").ok());  // directories are walked (and recorded)
  EXPECT_EQ(store_->Log("skip.tmp").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Log("d/deep.bin").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Log("cache/c.txt").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Log("cache").status().code(), StatusCode::kNotFound);
}

TEST_F(CaptureTest, FilesUnderANewlyExcludedDirectoryAreNotRecordedAsDeleted) {
  // Excluding a path means "stop looking", not "it is gone": its history stays live.
  WriteFile(src_ + "/cache/top.bin", "t");
  WriteFile(src_ + "/app/cache/nested.bin", "n");
  WriteFile(src_ + "/app/data.txt", "d");
  Capture();
  CaptureFilter f;
  f.exclude = {"cache"};
  CaptureResult c = Capture(f);
  EXPECT_EQ(c.deleted, 0u);
  for (const char* p : {"cache/top.bin", "app/cache/nested.bin", "app/cache", "cache"}) {
    auto log = LogOrDie(*store_, p);
    EXPECT_EQ(log.size(), 1u) << p << " was recorded as " << VersionKindName(log.back().kind);
  }
}

TEST_F(CaptureTest, SpecialFilesAreSkippedWithAReason) {
  WriteFile(src_ + "/a.txt", "a");
  ASSERT_EQ(mkfifo((src_ + "/pipe").c_str(), 0600), 0);
  clock_.Advance(kSecondNs);
  auto c = store_->Capture(src_, {});
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->skipped.size(), 1u);
  EXPECT_NE(c->skipped[0].find("pipe"), std::string::npos) << c->skipped[0];
  EXPECT_EQ(c->changed, 1u);
  EXPECT_EQ(store_->Log("pipe").status().code(), StatusCode::kNotFound);
}

TEST_F(CaptureTest, ProgressIsReportedForTheCapturePhase) {
  for (int i = 0; i < 300; ++i) WriteFile(src_ + "/f" + std::to_string(i), std::to_string(i));
  std::vector<Progress> seen;
  auto c = store_->Capture(src_, {}, [&](const Progress& p) { seen.push_back(p); });
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back().phase, "capture");
  EXPECT_EQ(seen.back().done, 300u);
  EXPECT_EQ(seen.back().total, 300u);
}

// Reading a small file must cost about its size: a capture that zero-fills a multi-MiB read
// buffer for every changed file takes ~20 ms per file (seconds for a thousand small files).
// Measured in minor page faults, which fresh buffer memory costs and which do not depend on
// the machine's speed.
TEST_F(CaptureTest, CapturingSmallFilesDoesNotTouchMegabytesPerFile) {
  SplitMix64 rng(TestSeed(31));
  StoreOptions o = FastOptions();
  o.delta = DeltaChoice::kNone;  // measure reading and storing, not the delta engines
  store_.reset();
  store_ = OpenStoreOrDie(tmp_.Sub("store"), o, OpenMode::kReadWrite);
  constexpr int kCount = 200;
  for (int i = 0; i < kCount; ++i)
    WriteFile(src_ + "/f" + std::to_string(i), rng.RandomBytes(1000));
  CaptureOrDie(*store_, src_);  // warm-up: first allocations, LMDB pages
  for (int i = 0; i < kCount; ++i)
    WriteFile(src_ + "/f" + std::to_string(i), rng.RandomBytes(1001));
  rusage before, after;
  getrusage(RUSAGE_SELF, &before);
  CaptureResult c = Capture();
  getrusage(RUSAGE_SELF, &after);
  EXPECT_EQ(c.changed, static_cast<uint64_t>(kCount));
  const long faults = after.ru_minflt - before.ru_minflt;
  // 4 KiB pages: 8 MiB of fresh buffer per file would be over 2000 faults each. A few
  // hundred per file allow for sanitizer builds (shadow memory, no reuse of freed memory).
  RecordProperty("minor_faults", static_cast<int>(faults));
  EXPECT_LT(faults, 600L * kCount) << faults << " minor page faults for " << kCount << " files";
}

TEST_F(CaptureTest, StatsAccountForEveryPageOfTheDataFile) {
  SplitMix64 rng(TestSeed(32));
  for (int i = 0; i < 50; ++i) WriteFile(src_ + "/f" + std::to_string(i), rng.RandomBytes(300));
  WriteFile(src_ + "/big", rng.RandomBytes(20000));  // too big for a leaf page: packed
  Capture();
  for (int i = 0; i < 50; i += 2) WriteFile(src_ + "/f" + std::to_string(i), rng.RandomBytes(300));
  Capture();  // copy-on-write: the pages the first capture's tree used are now free
  auto st = store_->Stats();
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->page_size, static_cast<uint64_t>(sysconf(_SC_PAGESIZE)));
  std::map<std::string, StoreStats::Database> db;
  uint64_t used = st->free_pages;
  for (const auto& d : st->databases) {
    db[d.name] = d;
    used += d.pages;
  }
  for (const char* name : {"meta", "objects", "refs", "deps", "files", "versions", "sets"})
    EXPECT_EQ(db.count(name), 1u) << name;
  EXPECT_EQ(db["objects"].entries, st->objects);
  EXPECT_EQ(db["versions"].entries, st->versions);
  EXPECT_EQ(db["files"].entries, st->files);
  EXPECT_EQ(db["sets"].entries, 2u);
  EXPECT_EQ(db["objects"].overflow_pages, 0u);
  EXPECT_EQ(st->packs, 1u);
  EXPECT_GE(st->packed_live_bytes, 20000u);
  EXPECT_EQ(st->pack_bytes, st->packed_live_bytes + 8);  // payload after an 8-byte header
  EXPECT_GT(st->free_pages, 0u);
  // What is not in a database or free is LMDB's own: two meta pages, the catalog, the freelist.
  EXPECT_LE(used, st->pages);
  EXPECT_LE(st->pages - used, 8u);
  EXPECT_LE(st->pages * st->page_size, st->file_bytes + st->page_size);
}

// LMDB reuses the pages a commit freed only two write transactions later. Captures that each
// rewrite most of the tree would then leave two captures' worth of free pages in the data
// file (the pages the last one freed and those the one before freed, which the last could
// not reuse); after a commit that freed many, the store makes them reusable by the next
// capture, so what stays free is about what the last capture freed: less than the tree.
TEST_F(CaptureTest, ACaptureReusesThePagesThePreviousCaptureFreed) {
  SplitMix64 rng(TestSeed(33));
  for (int round = 1; round <= 4; ++round) {
    for (int i = 0; i < 1500; ++i)
      WriteFile(src_ + "/d" + std::to_string(i % 30) + "/f" + std::to_string(i),
                rng.RandomBytes(100));
    clock_.Advance(3 * kSecondNs);
    Capture();
  }
  auto st = store_->Stats();
  ASSERT_TRUE(st.ok()) << st.status();
  const uint64_t used = st->pages - st->free_pages;
  RecordProperty("pages", static_cast<int>(st->pages));
  RecordProperty("free_pages", static_cast<int>(st->free_pages));
  std::printf("pages %llu, free %llu\n", static_cast<unsigned long long>(st->pages),
              static_cast<unsigned long long>(st->free_pages));
  EXPECT_LT(st->free_pages, used) << "free pages of two captures stayed in the data file";
}

// The extra commit that releases freed pages costs an fsync: a capture of one changed file
// (what the agent does most) never pays it, a capture that rewrote much of the tree does.
TEST_F(CaptureTest, OnlyCapturesThatFreedManyPagesCommitTheRelease) {
  struct Counter final : Logger {
    void Log(LogLevel, std::string_view msg, std::initializer_list<LogField>) override {
      if (msg == "Released freed pages for reuse") ++released;
    }
    bool Enabled(LogLevel) const override { return true; }
    int released = 0;
  } counter;
  StoreOptions o = FastOptions();
  o.clock = clock_.Fn();
  o.logger = &counter;
  o.racy_window_ns = 0;  // unchanged files are not re-read (their heads not rewritten)
  store_.reset();
  store_ = OpenStoreOrDie(tmp_.Sub("store2"), o);
  SplitMix64 rng(TestSeed(34));
  auto write = [&](int i) {
    WriteFile(src_ + "/d" + std::to_string(i % 30) + "/f" + std::to_string(i),
              rng.RandomBytes(100));
  };
  for (int i = 0; i < 1500; ++i) write(i);
  Capture();
  counter.released = 0;
  for (int round = 0; round < 5; ++round) {
    write(static_cast<int>(rng.Below(1500)));
    clock_.Advance(3 * kSecondNs);
    EXPECT_EQ(Capture().changed, 1u);
  }
  EXPECT_EQ(counter.released, 0) << "one-file captures committed a release";
  for (int i = 0; i < 1500; ++i) write(i);
  clock_.Advance(3 * kSecondNs);
  Capture();
  EXPECT_EQ(counter.released, 1);
}

TEST_F(CaptureTest, CaptureOfAMissingRootFailsWithNotFoundNamingIt) {
  auto c = store_->Capture(tmp_.Sub("nope"), {});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kNotFound);
  EXPECT_NE(c.status().message().find(tmp_.Sub("nope")), std::string::npos) << c.status();
}

TEST_F(CaptureTest, ReadOnlyStoreRefusesToCapture) {
  WriteFile(src_ + "/a", "a");
  Capture();
  store_.reset();
  auto ro = OpenStoreOrDie(tmp_.Sub("store"), FastOptions(), OpenMode::kReadOnly);
  auto c = ro->Capture(src_, {});
  EXPECT_EQ(c.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(ReadVersionOrDie(*ro, "a", 1), "a");
}

}  // namespace
}  // namespace dk
