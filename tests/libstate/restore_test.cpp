// Restore: which state comes back (latest, a set, a point in time, a path subset) and how it
// lands in a target that already holds something (deletions, later files, type changes).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "libstate/manifest.h"
#include "libstate/store.h"
#include "libstate/store_test_util.h"

namespace dk {
namespace {

using namespace dk::testing;  // NOLINT: test helpers

class RestoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions o = FastOptions();
    o.clock = clock_.Fn();
    store_ = OpenStoreOrDie(tmp_.Sub("store"), o);
  }
  // Captures at fake time `t` and returns the set and the tree it recorded.
  std::pair<uint64_t, Tree> CaptureAt(int64_t t) {
    clock_.Set(t);
    CaptureResult c = CaptureOrDie(*store_, src_);
    return {c.set, ReadTree(src_)};
  }
  std::string Fresh() { return tmp_.Sub("restore" + std::to_string(++n_)); }

  TempDir tmp_;
  const std::string src_ = tmp_.Sub("src");
  FakeClock clock_;
  std::unique_ptr<Store> store_;
  int n_ = 0;
  const int64_t t0_ = int64_t{1'700'000'000} * kSecondNs;
};

TEST_F(RestoreTest, PointInTimeRestoresTheLatestSetAtOrBeforeIt) {
  WriteFile(src_ + "/a.txt", "at 100");
  auto [s1, t1] = CaptureAt(t0_ + 100 * kSecondNs);
  WriteFile(src_ + "/a.txt", "at 200, longer");
  WriteFile(src_ + "/b.txt", "born at 200");
  auto [s2, t2] = CaptureAt(t0_ + 200 * kSecondNs);
  WriteFile(src_ + "/a.txt", "at 300, longer still");
  auto [s3, t3] = CaptureAt(t0_ + 300 * kSecondNs);
  ASSERT_EQ(s3, 3u);

  struct Case {
    int64_t at;
    uint64_t set;
    const Tree* tree;
  } cases[] = {{100, s1, &t1}, {199, s1, &t1}, {200, s2, &t2},
               {250, s2, &t2}, {300, s3, &t3}, {1000000, s3, &t3}};
  for (const Case& c : cases) {
    SCOPED_TRACE("time +" + std::to_string(c.at) + "s");
    RestoreRequest r;
    r.time_ns = t0_ + c.at * kSecondNs;
    std::string dir = Fresh();
    RestoreResult res = RestoreOrDie(*store_, dir, r);
    EXPECT_EQ(res.set, c.set);
    EXPECT_EQ(DiffTrees(*c.tree, ReadTree(dir), true), "");
  }
  RestoreRequest early;
  early.time_ns = t0_ + 99 * kSecondNs;
  auto r = store_->Restore(Fresh(), early);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

TEST_F(RestoreTest, RestoreOfASetGivesThatSetAndLatestIsTheDefault) {
  WriteFile(src_ + "/x", "1");
  auto [s1, t1] = CaptureAt(t0_);
  WriteFile(src_ + "/x", "22");
  auto [s2, t2] = CaptureAt(t0_ + kSecondNs);
  RestoreRequest r;
  r.set = s1;
  std::string d1 = Fresh();
  EXPECT_EQ(RestoreOrDie(*store_, d1, r).set, s1);
  EXPECT_EQ(DiffTrees(t1, ReadTree(d1), true), "");
  std::string d2 = Fresh();
  RestoreResult latest = RestoreOrDie(*store_, d2, {});
  EXPECT_EQ(latest.set, s2);
  EXPECT_EQ(DiffTrees(t2, ReadTree(d2), true), "");

  for (uint64_t bad : {uint64_t{0}, uint64_t{3}, uint64_t{1000}}) {
    RestoreRequest b;
    b.set = bad;
    auto res = store_->Restore(Fresh(), b);
    ASSERT_FALSE(res.ok()) << bad;
    EXPECT_EQ(res.status().code(), StatusCode::kNotFound);
    EXPECT_NE(res.status().message().find(std::to_string(bad)), std::string::npos) << res.status();
  }
}

TEST_F(RestoreTest, PathSubsetRestoresOnlyThosePathsAndLeavesTheRestAlone) {
  WriteFile(src_ + "/d1/a.txt", "a1");
  WriteFile(src_ + "/d1/sub/b.txt", "b1");
  WriteFile(src_ + "/d10/c.txt", "c1");  // shares a prefix with d1 but is not under it
  WriteFile(src_ + "/top.txt", "t1");
  auto [s1, t1] = CaptureAt(t0_);
  WriteFile(src_ + "/d1/a.txt", "a2-changed");
  WriteFile(src_ + "/d10/c.txt", "c2-changed");
  WriteFile(src_ + "/top.txt", "t2-changed");
  auto [s2, t2] = CaptureAt(t0_ + kSecondNs);

  // Target: the latest state plus a file of its own.
  std::string dir = Fresh();
  RestoreOrDie(*store_, dir, {});
  WriteFile(dir + "/local-only.txt", "mine");
  RestoreRequest r;
  r.set = s1;
  r.paths = {"d1", "top.txt"};
  RestoreResult res = RestoreOrDie(*store_, dir, r);
  EXPECT_EQ(res.files, 3u);
  Tree want = t2;
  for (const auto& [p, e] : SubTree(t1, r.paths)) want[p] = e;
  want["local-only.txt"] = ReadTree(dir)["local-only.txt"];
  EXPECT_EQ(DiffTrees(want, ReadTree(dir), true), "");
}

TEST_F(RestoreTest, BadSubsetPathsAreRejected) {
  WriteFile(src_ + "/a", "a");
  CaptureAt(t0_);
  for (const char* bad : {"../a", "/a", "a/../../etc", "", "a/"}) {
    RestoreRequest r;
    r.paths = {bad};
    auto res = store_->Restore(Fresh(), r);
    ASSERT_FALSE(res.ok()) << bad;
    EXPECT_EQ(res.status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST_F(RestoreTest, FilesDeletedAtTheSetAreDeletedOnRestore) {
  WriteFile(src_ + "/gone.txt", "soon deleted");
  WriteFile(src_ + "/dir/gone2.txt", "also");
  WriteFile(src_ + "/stays.txt", "stays");
  auto [s1, t1] = CaptureAt(t0_);
  ASSERT_EQ(unlink((src_ + "/gone.txt").c_str()), 0);
  RemoveTree(src_ + "/dir");
  auto [s2, t2] = CaptureAt(t0_ + kSecondNs);

  std::string dir = Fresh();
  RestoreRequest r;
  r.set = s1;
  RestoreOrDie(*store_, dir, r);  // the target holds the old state, deleted files included
  ASSERT_EQ(DiffTrees(t1, ReadTree(dir), true), "");
  RestoreResult res = RestoreOrDie(*store_, dir, {});
  EXPECT_EQ(res.set, s2);
  EXPECT_EQ(DiffTrees(t2, ReadTree(dir), true), "");
}

TEST_F(RestoreTest, SetRestoreRemovesFilesCreatedAfterTheSet) {
  WriteFile(src_ + "/old.txt", "old");
  auto [s1, t1] = CaptureAt(t0_);
  WriteFile(src_ + "/new.txt", "created later");
  WriteFile(src_ + "/newdir/deep/n.txt", "also later");
  MakeSymlink("old.txt", src_ + "/newlink");
  auto [s2, t2] = CaptureAt(t0_ + kSecondNs);

  std::string dir = Fresh();
  RestoreOrDie(*store_, dir, {});
  ASSERT_EQ(DiffTrees(t2, ReadTree(dir), true), "");
  RestoreRequest r;
  r.set = s1;
  RestoreOrDie(*store_, dir, r);
  EXPECT_EQ(DiffTrees(t1, ReadTree(dir), true), "");
}

TEST_F(RestoreTest, ModesMtimesEmptyDirectoriesAndSymlinksAreRestored) {
  WriteFile(src_ + "/ro.txt", "read only", 0444);
  WriteFile(src_ + "/exec.sh", "#!/bin/sh\n", 0750);
  WriteFile(src_ + "/setgid.bin", "g", 02755);
  MakeDirs(src_ + "/private/empty", 0700);
  ASSERT_EQ(chmod((src_ + "/private").c_str(), 0711), 0);
  MakeSymlink("exec.sh", src_ + "/rel-link");
  MakeSymlink("/absolute/elsewhere", src_ + "/abs-link");
  SetMtimeNs(src_ + "/ro.txt", int64_t{1'000'000'000} * kSecondNs + 123456789);
  auto [s1, t1] = CaptureAt(t0_);
  std::string dir = Fresh();
  RestoreResult res = RestoreOrDie(*store_, dir, {});
  EXPECT_EQ(res.files, 3u);
  EXPECT_EQ(res.dirs, 2u);
  EXPECT_EQ(res.symlinks, 2u);
  EXPECT_EQ(DiffTrees(t1, ReadTree(dir), true), "");
  // Nanoseconds where the filesystem keeps them (t1 holds what the source filesystem kept).
  EXPECT_EQ(ReadTree(dir)["ro.txt"].mtime_ns, t1["ro.txt"].mtime_ns);
  EXPECT_EQ(t1["ro.txt"].mtime_ns / kSecondNs, 1'000'000'000);
}

TEST_F(RestoreTest, RestoreLeavesNoTemporaryFilesBehind) {
  for (int i = 0; i < 20; ++i) WriteFile(src_ + "/d/f" + std::to_string(i), std::to_string(i));
  auto [s1, t1] = CaptureAt(t0_);
  std::string dir = Fresh();
  RestoreOrDie(*store_, dir, {});
  RestoreOrDie(*store_, dir, {});                     // over itself
  EXPECT_EQ(DiffTrees(t1, ReadTree(dir), true), "");  // any .dk-tmp-* would show up
}

// The recorded state wins over whatever type now stands at a path in the target.
TEST_F(RestoreTest, RestoreOverATargetReplacesEntriesOfAnotherType) {
  WriteFile(src_ + "/was-file", "file");
  WriteFile(src_ + "/was-dir/inner.txt", "inner");
  WriteFile(src_ + "/was-link-target.txt", "target");
  MakeDirs(src_ + "/was-link");
  WriteFile(src_ + "/was-link/x.txt", "x");
  auto [s1, t1] = CaptureAt(t0_);

  // Target: every path now holds another type.
  std::string dir = Fresh();
  MakeDirs(dir + "/was-file/sub");
  WriteFile(dir + "/was-file/sub/y", "y");
  WriteFile(dir + "/was-dir", "now a file");
  MakeDirs(dir + "/other");
  MakeSymlink("other", dir + "/was-link");  // inside the target: must not be followed
  WriteFile(dir + "/was-link-target.txt", "target");

  RestoreRequest r;
  r.set = s1;
  auto res = store_->Restore(dir, r);
  ASSERT_TRUE(res.ok()) << res.status();
  for (const auto& f : res->failures) ADD_FAILURE() << f.path << ": " << f.error;
  Tree want = t1;
  want["other"] = ReadTree(dir)["other"];
  EXPECT_EQ(DiffTrees(want, ReadTree(dir), true), "");
  EXPECT_EQ(ReadTree(dir + "/other").size(), 0u) << "wrote through the symlink";
}

TEST_F(RestoreTest, RestoreOfAnEmptyStoreIsNotFound) {
  auto res = store_->Restore(Fresh(), {});
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.status().code(), StatusCode::kNotFound);
}

TEST_F(RestoreTest, ProgressEndsWithTheRestorePhaseComplete) {
  for (int i = 0; i < 100; ++i) WriteFile(src_ + "/f" + std::to_string(i), std::to_string(i));
  CaptureAt(t0_);
  std::vector<Progress> seen;
  RestoreRequest r;
  r.progress = [&](const Progress& p) { seen.push_back(p); };
  RestoreOrDie(*store_, Fresh(), r);
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back().phase, "restore");
  EXPECT_EQ(seen.back().done, seen.back().total);
}

// A chunk source that does not verify (a peer, a bucket) and hands back different bytes of the
// right size for one chunk: restore must still catch it by hashing, and leave the file alone.
class TamperingSource final : public ChunkSource {
 public:
  TamperingSource(Store* s, ObjectId bad) : s_(s), bad_(bad) {}
  Result<Bytes> Fetch(const ObjectId& id) override {
    DK_ASSIGN_OR_RETURN(Bytes b, s_->ReadObject(id));
    if (id == bad_ && !b.empty()) b[b.size() / 2] ^= 0x01;
    return b;
  }

 private:
  Store* s_;
  ObjectId bad_;
};

TEST_F(RestoreTest, ChunksFromAnUnverifyingSourceAreHashedBeforeTheyAreWritten) {
  SplitMix64 rng(TestSeed(41));
  WriteFile(src_ + "/big.bin", rng.RandomBytes(600 * 1024));
  WriteFile(src_ + "/small.txt", "fine");
  CaptureAt(t0_);
  auto m = store_->Manifest(std::nullopt);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  const VersionInfo* big = nullptr;
  for (const auto& e : m->entries)
    if (e.path == "big.bin") big = &e;
  ASSERT_NE(big, nullptr);
  ASSERT_GT(big->chunks.size(), 1u);
  TamperingSource src(store_.get(), big->chunks[1]);
  ASSERT_FALSE(src.VerifiesIds());
  std::string dir = Fresh();
  WriteFile(dir + "/big.bin", "older content");
  auto res = RestoreManifest(dir, *m, src, {});
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  ASSERT_EQ(res->failures.size(), 1u);
  EXPECT_EQ(res->failures[0].path, "big.bin");
  EXPECT_NE(res->failures[0].error.find(big->chunks[1].Hex()), std::string::npos)
      << res->failures[0].error;
  EXPECT_EQ(ReadFileString(dir + "/big.bin"), "older content");
  EXPECT_EQ(ReadFileString(dir + "/small.txt"), "fine");
}

// A file of many chunks is hashed on two threads, several chunks in flight: a bad chunk at
// any position (first, inside the window, past it, last) is still the one reported, the file
// is left alone, and every other position restores byte-exact through the same path.
TEST_F(RestoreTest, ParallelVerificationNamesTheBadChunkWhereverItIs) {
  SplitMix64 rng(TestSeed(42));
  Bytes big = rng.RandomBytes(8 << 20);
  WriteFile(src_ + "/big.bin", big);
  CaptureAt(t0_);
  auto m = store_->Manifest(std::nullopt);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_EQ(m->entries.size(), 1u);
  const VersionInfo& v = m->entries[0];
  ASSERT_GE(v.chunks.size(), 12u);  // more than the verifier's window
  const size_t n = v.chunks.size();
  for (size_t bad : {size_t{0}, size_t{1}, size_t{5}, size_t{9}, n - 2, n - 1}) {
    SCOPED_TRACE("bad chunk " + std::to_string(bad) + " of " + std::to_string(n));
    TamperingSource src(store_.get(), v.chunks[bad]);
    std::string dir = Fresh();
    WriteFile(dir + "/big.bin", "older content");
    auto res = RestoreManifest(dir, *m, src, {});
    ASSERT_TRUE(res.ok()) << res.status().ToString();
    ASSERT_EQ(res->failures.size(), 1u);
    EXPECT_NE(res->failures[0].error.find(v.chunks[bad].Hex()), std::string::npos)
        << res->failures[0].error;
    EXPECT_EQ(ReadFileString(dir + "/big.bin"), "older content");
  }
  TamperingSource clean(store_.get(), ObjectId{});
  std::string dir = Fresh();
  auto res = RestoreManifest(dir, *m, clean, {});
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_TRUE(res->failures.empty());
  EXPECT_TRUE(ReadFileString(dir + "/big.bin") == ToString(big));
}

// A file whose write fails part-way (here: EFBIG past RLIMIT_FSIZE, which binds root too)
// while later chunks are still being verified and queued for it: it is reported, its
// temporary file removed, the other files restored, and the restore does not hang.
TEST_F(RestoreTest, AWriteThatFailsMidFileIsReportedAndTheOthersAreRestored) {
  SplitMix64 rng(TestSeed(43));
  Bytes big = rng.RandomBytes(900 * 1024);
  WriteFile(src_ + "/big.bin", big);
  WriteFile(src_ + "/small.txt", "fine");
  WriteFile(src_ + "/z/other.txt", "also fine");
  CaptureAt(t0_);
  std::string dir = Fresh();
  struct rlimit old_limit;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  struct sigaction ignore {
  }, old_action;
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGXFSZ, &ignore, &old_action), 0);
  struct rlimit small = old_limit;
  small.rlim_cur = 200 * 1024;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  auto res = store_->Restore(dir, {});
  setrlimit(RLIMIT_FSIZE, &old_limit);
  sigaction(SIGXFSZ, &old_action, nullptr);
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  ASSERT_EQ(res->failures.size(), 1u);
  EXPECT_EQ(res->failures[0].path, "big.bin");
  EXPECT_NE(res->failures[0].error.find("write big.bin"), std::string::npos)
      << res->failures[0].error;
  EXPECT_EQ(res->files, 2u);
  EXPECT_EQ(ReadFileString(dir + "/small.txt"), "fine");
  EXPECT_EQ(ReadFileString(dir + "/z/other.txt"), "also fine");
  Tree t = ReadTree(dir);
  EXPECT_EQ(t.count("big.bin"), 0u);
  for (const auto& entry : t)
    EXPECT_EQ(entry.first.find(".dk-tmp-"), std::string::npos) << entry.first;
}

}  // namespace
}  // namespace dk
