// Store end to end: the seven integration cases of the Go prototype
// (/work/shared/reference/phase4-test-results.md), done for real — every version restored
// byte-exact, migration of a realistic v1 store, corruption that is actually detected.
#include "libstate/store.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>

#include "libstate/chunker.h"
#include "libstate/hash.h"
#include "libstate/legacy_v1.h"
#include "libstate/merkle.h"
#include "libstate/store_test_util.h"

namespace dk {
namespace {

using namespace dk::testing;  // NOLINT: test helpers

// The root a file version of `content` has: Merkle root over the ids of its chunks.
ObjectId ContentRoot(ByteView content, const ChunkerParams& params) {
  std::vector<ObjectId> ids;
  for (const ChunkSpan& c : Chunker(params).Split(content))
    ids.push_back(HashBytes(content.subspan(c.offset, c.size)));
  return MerkleRoot(ids);
}

class StoreTest : public ::testing::Test {
 protected:
  StoreOptions Opts() {
    StoreOptions o = FastOptions();
    o.clock = clock_.Fn();
    return o;
  }
  std::unique_ptr<Store> Open(const StoreOptions& o, OpenMode m = OpenMode::kCreate) {
    return OpenStoreOrDie(store_, o, m);
  }
  // A new, not yet existing directory for a restore.
  std::string Fresh() { return tmp_.Sub("restore" + std::to_string(++restores_)); }
  Tree RestoreTree(Store& s, std::optional<uint64_t> set) {
    RestoreRequest r;
    r.set = set;
    std::string dir = Fresh();
    RestoreOrDie(s, dir, r);
    return ReadTree(dir);
  }

  TempDir tmp_;
  const std::string store_ = tmp_.Sub("store");
  const std::string src_ = tmp_.Sub("src");
  FakeClock clock_;
  int restores_ = 0;
};

// A small edit that changes the size (so it is seen whatever the timestamp granularity):
// overwrite a few bytes and insert a few.
Bytes SmallEdit(SplitMix64& rng, Bytes b) {
  for (int i = 0; i < 4 && !b.empty(); ++i)
    b[rng.Below(b.size())] = static_cast<uint8_t>(rng.Next());
  Bytes ins = rng.RandomBytes(1 + rng.Below(5));
  b.insert(b.begin() + static_cast<ptrdiff_t>(rng.Below(b.size() + 1)), ins.begin(), ins.end());
  return b;
}

// --- 1. TestBinaryDiffsEndToEnd ------------------------------------------------------------

TEST_F(StoreTest, EndToEndCreateModifyRestoreGivesBackEachStateExactly) {
  const uint64_t seed = TestSeed(1);
  SCOPED_TRACE("seed=" + std::to_string(seed));
  SplitMix64 rng(seed);
  WriteFile(src_ + "/test.txt", "Version 1: original content of the test file\n", 0640);
  Bytes blob = rng.RandomBytes(50000);
  WriteFile(src_ + "/data/blob.bin", blob, 0600);
  MakeDirs(src_ + "/empty", 0750);
  MakeSymlink("test.txt", src_ + "/link");
  auto s = Open(Opts());

  CaptureResult c1 = CaptureOrDie(*s, src_);
  EXPECT_EQ(c1.set, 1u);
  EXPECT_EQ(c1.changed, 5u);  // test.txt, data, data/blob.bin, empty, link
  Tree t1 = ReadTree(src_);

  clock_.Advance(kSecondNs);
  WriteFile(src_ + "/test.txt", "Version 2: modified content with different text, longer\n", 0640);
  for (size_t i = 1000; i < 1100; ++i) blob[i] ^= 0x5a;
  blob.push_back(7);
  WriteFile(src_ + "/data/blob.bin", blob, 0600);
  CaptureResult c2 = CaptureOrDie(*s, src_);
  EXPECT_EQ(c2.set, 2u);
  EXPECT_EQ(c2.changed, 2u);
  EXPECT_EQ(c2.unchanged, 3u);
  Tree t2 = ReadTree(src_);

  EXPECT_EQ(DiffTrees(t1, RestoreTree(*s, 1), true), "");
  EXPECT_EQ(DiffTrees(t2, RestoreTree(*s, std::nullopt), true), "");

  auto log = LogOrDie(*s, "test.txt");
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(ReadVersionOrDie(*s, "test.txt", 1), t1["test.txt"].content);
  EXPECT_EQ(ReadVersionOrDie(*s, "test.txt", 2), t2["test.txt"].content);
  EXPECT_EQ(ReadVersionOrDie(*s, "data/blob.bin", 1), t1["data/blob.bin"].content);
  EXPECT_EQ(ReadVersionOrDie(*s, "data/blob.bin", 2), t2["data/blob.bin"].content);

  // Restoring the latest state over a damaged copy of the source repairs it.
  RemoveTree(src_ + "/test.txt");
  WriteFile(src_ + "/data/blob.bin", "garbage", 0777);
  RemoveTree(src_ + "/empty");
  RestoreResult r = RestoreOrDie(*s, src_);
  EXPECT_EQ(r.set, 2u);
  EXPECT_EQ(r.files, 2u);
  EXPECT_EQ(r.symlinks, 1u);
  EXPECT_EQ(r.dirs, 2u);
  EXPECT_EQ(r.root, c2.root);
  EXPECT_EQ(DiffTrees(t2, ReadTree(src_), true), "");
  EXPECT_EQ(VerifyProblems(*s), "");
}

// --- 2. TestMigrationMVPToDiff ---------------------------------------------------------------

TEST_F(StoreTest, MigrationFromV1KeepsEveryVersionByteExact) {
  const uint64_t seed = TestSeed(2);
  SCOPED_TRACE("seed=" + std::to_string(seed));
  SplitMix64 rng(seed);
  const int64_t t0 = clock_.now() - 100 * kHourNs;
  const size_t kSizes[] = {0, 1, 100, 3000, 20000, 70000, 300000};
  const uint32_t kModes[] = {0644, 0600, 0755, 0640};
  std::vector<V1Snapshot> snaps;
  std::map<std::string, std::vector<V1Snapshot>> by_path;
  std::set<int64_t> times;
  for (int i = 0; i < 120; ++i) {
    std::string path = (i % 3 == 0) ? "f" + std::to_string(i) + ".txt"
                                    : "dir" + std::to_string(i % 7) + "/sub/f" + std::to_string(i);
    const int versions = 1 + static_cast<int>(rng.Below(5));
    size_t size = kSizes[rng.Below(i % 20 == 0 ? 7 : 6)];  // a few 300 KB (chunked) files
    Bytes content = (i % 2) ? rng.RandomBytes(size) : TextBytes(rng, size);
    for (int v = 0; v < versions; ++v) {
      V1Snapshot s;
      s.path = path;
      // Five rounds of snapshots shared by most files, plus a few files at their own times.
      s.time_ns = t0 + v * kHourNs + ((i % 40 == 0) ? (i + 1) * kSecondNs : 0);
      s.mode = kModes[(i + v) % 4];
      if (v > 0) {
        content = rng.OneIn(3) ? rng.RandomBytes(kSizes[rng.Below(6)]) : SmallEdit(rng, content);
      }
      std::string tag = "#v" + std::to_string(v);  // consecutive snapshots always differ
      content.insert(content.end(), tag.begin(), tag.end());
      s.content = content;
      times.insert(s.time_ns);
      by_path[path].push_back(s);
      snaps.push_back(s);
    }
  }
  // Interleave paths the way a v1 store accumulated them (order of seqs per path kept).
  ASSERT_TRUE(WriteV1Store(store_, snaps).ok());

  {
    auto ro = Store::Open(store_, Opts(), OpenMode::kReadOnly);
    ASSERT_FALSE(ro.ok());
    EXPECT_EQ(ro.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(ro.status().message().find("schema 1"), std::string::npos) << ro.status();
  }
  {
    auto s = Open(Opts(), OpenMode::kReadWrite);
    auto sets = s->Sets();
    ASSERT_TRUE(sets.ok()) << sets.status();
    ASSERT_EQ(sets->size(), times.size());
    std::vector<int64_t> set_times;
    for (const auto& si : *sets) set_times.push_back(si.time_ns);
    EXPECT_EQ(set_times, std::vector<int64_t>(times.begin(), times.end()));

    for (const auto& [path, versions] : by_path) {
      auto log = LogOrDie(*s, path);
      ASSERT_EQ(log.size(), versions.size()) << path;
      for (size_t k = 0; k < versions.size(); ++k) {
        SCOPED_TRACE(path + " version " + std::to_string(k + 1));
        EXPECT_EQ(log[k].seq, k + 1);
        EXPECT_EQ(log[k].time_ns, versions[k].time_ns);
        EXPECT_EQ(log[k].mode, versions[k].mode);
        EXPECT_EQ(log[k].size, versions[k].content.size());
        EXPECT_EQ(log[k].root, ContentRoot(versions[k].content, Opts().chunker));
        EXPECT_TRUE(log[k].content_hash.IsZero());  // schema 3: no whole-content hash
        EXPECT_EQ(ReadVersionOrDie(*s, path, k + 1), ToString(versions[k].content));
      }
    }
    EXPECT_EQ(VerifyProblems(*s), "");

    // Capture sets restore the v1 state at their time (the first, the last and two more:
    // restores fsync every file, and every version was read back above already).
    for (const auto& si : *sets) {
      if (si.set != 1 && si.set != sets->size() && !rng.OneIn(sets->size() / 2)) continue;
      SCOPED_TRACE("set " + std::to_string(si.set));
      Tree want;
      for (const auto& [path, versions] : by_path) {
        const V1Snapshot* at = nullptr;
        for (const auto& v : versions)
          if (v.time_ns <= si.time_ns) at = &v;
        if (!at) continue;
        TreeEntry e;
        e.mode = at->mode;
        e.content = ToString(at->content);
        e.mtime_ns = at->time_ns;
        want[path] = e;
        for (size_t slash = path.find('/'); slash != std::string::npos;
             slash = path.find('/', slash + 1)) {
          TreeEntry d;
          d.type = EntryType::kDir;
          d.mode = 0755;
          want[path.substr(0, slash)] = d;
        }
      }
      EXPECT_EQ(DiffTrees(want, RestoreTree(*s, si.set), true), "");
    }
  }
  {
    RawStoreForTest raw(store_);
    EXPECT_EQ(raw.Get("meta", "schema"), std::to_string(kSchemaVersion));
    EXPECT_FALSE(raw.HasDb("snapshots"));
  }
  auto ro = Store::Open(store_, Opts(), OpenMode::kReadOnly);
  ASSERT_TRUE(ro.ok()) << ro.status();
  auto stats = (*ro)->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->schema_version, kSchemaVersion);
  EXPECT_EQ(stats->files, by_path.size());
  EXPECT_EQ(stats->versions, snaps.size());
}

// --- 3. TestMultiVersionDiffChain ------------------------------------------------------------

TEST_F(StoreTest, FifteenVersionChainAcrossSnapshotIntervalsRestoresEveryVersion) {
  const uint64_t seed = TestSeed(3);
  SCOPED_TRACE("seed=" + std::to_string(seed));
  SplitMix64 rng(seed);
  StoreOptions o = Opts();
  o.snapshot_every = 10;
  auto s = Open(o);
  Bytes content = rng.RandomBytes(8192);  // below the chunker's minimum: one chunk
  WriteFile(src_ + "/other.txt", "unchanged neighbour\n");
  std::vector<Bytes> contents;
  std::vector<Tree> trees;
  std::vector<uint64_t> sets;
  for (int v = 1; v <= 15; ++v) {
    if (v > 1) content = SmallEdit(rng, content);
    WriteFile(src_ + "/chain.bin", content, 0600);
    clock_.Advance(kSecondNs * 60);
    sets.push_back(CaptureOrDie(*s, src_).set);
    contents.push_back(content);
    trees.push_back(ReadTree(src_));
  }
  auto log = LogOrDie(*s, "chain.bin");
  ASSERT_EQ(log.size(), 15u);
  for (size_t i = 0; i < 15; ++i) {
    const uint64_t seq = i + 1;
    SCOPED_TRACE("version " + std::to_string(seq));
    EXPECT_EQ(log[i].seq, seq);
    EXPECT_EQ(log[i].set, sets[i]);
    VersionKind want = (seq == 1 || seq == 11) ? VersionKind::kSnapshot : VersionKind::kDelta;
    EXPECT_EQ(VersionKindName(log[i].kind), VersionKindName(want));
    EXPECT_EQ(ReadVersionOrDie(*s, "chain.bin", seq), ToString(contents[i]));
    EXPECT_EQ(DiffTrees(trees[i], RestoreTree(*s, sets[i]), true), "");
    if (want == VersionKind::kDelta) {
      EXPECT_LT(log[i].new_stored_bytes, 1000u);  // a patch, not another 8 KiB
    }
  }
  EXPECT_EQ(VerifyProblems(*s), "");
}

// --- 4. TestLargeFileChunking ----------------------------------------------------------------

TEST_F(StoreTest, TenMebibyteFileIsChunkedAndRestoredByteExact) {
  const uint64_t seed = TestSeed(4);
  SCOPED_TRACE("seed=" + std::to_string(seed));
  SplitMix64 rng(seed);
  Bytes big = rng.RandomBytes(10u << 20);
  WriteFile(src_ + "/big.bin", big);
  auto s = Open(Opts());
  CaptureOrDie(*s, src_);
  auto log = LogOrDie(*s, "big.bin");
  ASSERT_EQ(log.size(), 1u);
  const VersionInfo& v = log[0];
  EXPECT_EQ(VersionKindName(v.kind), "chunked");
  const ChunkerParams p;
  EXPECT_GE(v.chunks.size(), (10u << 20) / p.max_size);
  EXPECT_LE(v.chunks.size(), (10u << 20) / p.min_size);
  ASSERT_EQ(v.chunk_sizes.size(), v.chunks.size());
  uint64_t sum = 0;
  for (uint32_t c : v.chunk_sizes) sum += c;
  EXPECT_EQ(sum, big.size());
  EXPECT_EQ(v.size, big.size());
  EXPECT_EQ(v.root, MerkleRoot(v.chunks));
  EXPECT_EQ(v.root, ContentRoot(big, ChunkerParams{}));
  EXPECT_EQ(std::set<ObjectId>(v.chunks.begin(), v.chunks.end()).size(), v.chunks.size());
  EXPECT_TRUE(ReadVersionOrDie(*s, "big.bin", 1) == ToString(big));
  Tree t = RestoreTree(*s, std::nullopt);
  EXPECT_TRUE(t["big.bin"].content == ToString(big));

  // An insertion in the middle costs a chunk or two, not another 10 MiB.
  Bytes ins = rng.RandomBytes(100);
  big.insert(big.begin() + (5 << 20), ins.begin(), ins.end());
  WriteFile(src_ + "/big.bin", big);
  clock_.Advance(kSecondNs);
  CaptureResult c2 = CaptureOrDie(*s, src_);
  EXPECT_LT(c2.bytes_stored, 3u * p.max_size);
  auto log2 = LogOrDie(*s, "big.bin");
  ASSERT_EQ(log2.size(), 2u);
  std::set<ObjectId> old(v.chunks.begin(), v.chunks.end());
  size_t fresh = 0;
  for (const auto& id : log2[1].chunks) fresh += old.count(id) ? 0 : 1;
  EXPECT_LE(fresh, 3u);
  EXPECT_TRUE(ReadVersionOrDie(*s, "big.bin", 2) == ToString(big));
  EXPECT_TRUE(RestoreTree(*s, 1)["big.bin"].content == t["big.bin"].content);
  EXPECT_TRUE(RestoreTree(*s, 2)["big.bin"].content == ToString(big));
  auto st = s->Stats();
  ASSERT_TRUE(st.ok());
  EXPECT_LE(st->objects, v.chunks.size() + 3);
  EXPECT_EQ(VerifyProblems(*s), "");
}

// --- 5. TestMerkleIntegrity ------------------------------------------------------------------

TEST_F(StoreTest, MerkleIntegrityDetectsACorruptedObjectAndNamesFileVersionAndObject) {
  const uint64_t seed = TestSeed(5);
  SCOPED_TRACE("seed=" + std::to_string(seed));
  SplitMix64 rng(seed);
  WriteFile(src_ + "/a.txt", TextBytes(rng, 5000));
  WriteFile(src_ + "/b.txt", TextBytes(rng, 6000));
  Bytes big = rng.RandomBytes(1500000);  // above max_size: at least two chunks
  WriteFile(src_ + "/big.bin", big);
  Tree before = ReadTree(src_);
  ObjectId victim;
  {
    auto s = Open(Opts());
    CaptureResult c = CaptureOrDie(*s, src_);
    // Roots are over content: the file root over its chunk ids, the set root over entries.
    auto log = LogOrDie(*s, "big.bin");
    ASSERT_GE(log[0].chunks.size(), 2u);
    EXPECT_EQ(log[0].root, MerkleRoot(log[0].chunks));
    EXPECT_EQ(log[0].root, ContentRoot(big, Opts().chunker));
    auto sets = s->Sets();
    ASSERT_TRUE(sets.ok());
    ASSERT_EQ(sets->size(), 1u);
    EXPECT_EQ((*sets)[0].root, c.root);
    EXPECT_FALSE(c.root.IsZero());
    EXPECT_EQ(VerifyProblems(*s), "");
    victim = log[0].chunks[1];
  }
  // Flip one byte in the middle of the stored (compressed) object.
  CorruptObjectForTest(store_, victim, [](std::string* v) { (*v)[v->size() / 2] ^= 0x10; });

  auto s = Open(Opts(), OpenMode::kReadWrite);
  auto rv = s->ReadVersion("big.bin", 1);
  ASSERT_FALSE(rv.ok());
  EXPECT_EQ(rv.status().code(), StatusCode::kCorruption);
  EXPECT_NE(rv.status().message().find("big.bin"), std::string::npos) << rv.status();
  EXPECT_NE(rv.status().message().find("version 1"), std::string::npos) << rv.status();
  EXPECT_NE(rv.status().message().find(victim.Hex()), std::string::npos) << rv.status();
  EXPECT_EQ(ReadVersionOrDie(*s, "a.txt", 1), before["a.txt"].content);

  std::string target = Fresh();
  auto r = s->Restore(target, {});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->failures.size(), 1u);
  EXPECT_EQ(r->failures[0].path, "big.bin");
  EXPECT_EQ(r->failures[0].seq, 1u);
  EXPECT_NE(r->failures[0].error.find("Corruption"), std::string::npos) << r->failures[0].error;
  EXPECT_NE(r->failures[0].error.find("big.bin"), std::string::npos) << r->failures[0].error;
  EXPECT_NE(r->failures[0].error.find("version 1"), std::string::npos) << r->failures[0].error;
  EXPECT_NE(r->failures[0].error.find(victim.Hex()), std::string::npos) << r->failures[0].error;
  EXPECT_EQ(r->files, 2u);
  Tree got = ReadTree(target);
  Tree want = before;
  want.erase("big.bin");  // verified before writing: nothing half-restored
  EXPECT_EQ(DiffTrees(want, got, true), "");

  auto rep = s->Verify();
  ASSERT_TRUE(rep.ok());
  ASSERT_FALSE(rep->problems.empty());
  bool named = false;
  for (const auto& p : rep->problems) named = named || p.find(victim.Hex()) != std::string::npos;
  EXPECT_TRUE(named) << VerifyProblems(*s);
}

// --- 6. TestCASDeduplication -----------------------------------------------------------------

TEST_F(StoreTest, IdenticalContentIsStoredOnceWithOneReferencePerVersion) {
  const uint64_t seed = TestSeed(6);
  SCOPED_TRACE("seed=" + std::to_string(seed));
  SplitMix64 rng(seed);
  Bytes same = rng.RandomBytes(10000);
  WriteFile(src_ + "/x/one.dat", same);
  WriteFile(src_ + "/y/two.dat", same, 0600);  // the mode is metadata, not content
  ObjectId id;
  {
    auto s = Open(Opts());
    CaptureOrDie(*s, src_);
    auto st = s->Stats();
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st->objects, 1u);
    auto a = LogOrDie(*s, "x/one.dat"), b = LogOrDie(*s, "y/two.dat");
    ASSERT_EQ(a[0].chunks.size(), 1u);
    EXPECT_EQ(a[0].chunks, b[0].chunks);
    EXPECT_EQ(a[0].chunks[0], HashBytes(same));
    EXPECT_EQ(b[0].new_stored_bytes, 0u);  // the second reference stored nothing
    id = a[0].chunks[0];
  }
  EXPECT_EQ(ObjectRefsForTest(store_, id), (std::pair<uint64_t, uint64_t>{2, 0}));
  {
    // A large file and its copy share all chunks.
    Bytes big = rng.RandomBytes(1u << 20);
    WriteFile(src_ + "/big1", big);
    WriteFile(src_ + "/big2", big);
    auto s = Open(Opts(), OpenMode::kReadWrite);
    clock_.Advance(kSecondNs);
    CaptureOrDie(*s, src_);
    auto log = LogOrDie(*s, "big1");
    EXPECT_EQ(LogOrDie(*s, "big2")[0].chunks, log[0].chunks);
    auto st = s->Stats();
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st->objects,
              1u + std::set<ObjectId>(log[0].chunks.begin(), log[0].chunks.end()).size());

    // Deleting one copy keeps its history (and reference); retention then drops it.
    RemoveTree(src_ + "/y");
    clock_.Advance(kSecondNs);
    CaptureOrDie(*s, src_);
  }
  EXPECT_EQ(ObjectRefsForTest(store_, id), (std::pair<uint64_t, uint64_t>{2, 0}));
  {
    auto s = Open(Opts(), OpenMode::kReadWrite);
    RetentionPolicy keep1;
    keep1.keep_last = 1;
    auto g = s->Gc(keep1);
    ASSERT_TRUE(g.ok()) << g.status();
    EXPECT_EQ(g->objects_freed, 0u);  // x/one.dat still holds the content
    EXPECT_EQ(VerifyProblems(*s), "");
  }
  EXPECT_EQ(ObjectRefsForTest(store_, id), (std::pair<uint64_t, uint64_t>{1, 0}));
  {
    auto s = Open(Opts(), OpenMode::kReadWrite);
    RemoveTree(src_ + "/x");
    clock_.Advance(kSecondNs);
    CaptureOrDie(*s, src_);
    RetentionPolicy keep1;
    keep1.keep_last = 1;
    auto g = s->Gc(keep1);
    ASSERT_TRUE(g.ok()) << g.status();
    EXPECT_EQ(g->objects_freed, 1u);
    EXPECT_EQ(VerifyProblems(*s), "");
  }
  EXPECT_EQ(ObjectRefsForTest(store_, id), std::nullopt);
}

// --- 7. TestSnapshotInterval -----------------------------------------------------------------

struct IntervalCase {
  uint32_t snapshot_every;
  uint32_t max_chain;
  std::set<uint64_t> snapshots;  // versions expected whole
};

class SnapshotIntervalTest : public StoreTest,
                             public ::testing::WithParamInterface<IntervalCase> {};

TEST_P(SnapshotIntervalTest, TwelveVersionsAreSnapshotsExactlyWhereTheIntervalSays) {
  const IntervalCase& ic = GetParam();
  const uint64_t seed = TestSeed(7);
  SCOPED_TRACE("seed=" + std::to_string(seed));
  SplitMix64 rng(seed);
  StoreOptions o = Opts();
  o.snapshot_every = ic.snapshot_every;
  o.max_chain = ic.max_chain;
  auto s = Open(o);
  Bytes content = TextBytes(rng, 6000);
  std::vector<Bytes> contents;
  for (int v = 1; v <= 12; ++v) {
    if (v > 1) content = SmallEdit(rng, content);
    WriteFile(src_ + "/wal.log", content);
    clock_.Advance(kSecondNs);
    CaptureOrDie(*s, src_);
    contents.push_back(content);
  }
  auto log = LogOrDie(*s, "wal.log");
  ASSERT_EQ(log.size(), 12u);
  for (uint64_t seq = 1; seq <= 12; ++seq) {
    SCOPED_TRACE("version " + std::to_string(seq));
    const VersionInfo& v = log[seq - 1];
    EXPECT_EQ(VersionKindName(v.kind), ic.snapshots.count(seq) ? "snapshot" : "delta");
    EXPECT_EQ(ReadVersionOrDie(*s, "wal.log", seq), ToString(contents[seq - 1]));
  }
  EXPECT_EQ(VerifyProblems(*s), "");
}

INSTANTIATE_TEST_SUITE_P(
    Intervals, SnapshotIntervalTest,
    ::testing::Values(IntervalCase{10, 16, {1, 11}}, IntervalCase{5, 16, {1, 6, 11}},
                      IntervalCase{1, 16, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}},
                      // No interval: only the chain bound forces a snapshot.
                      IntervalCase{0, 4, {1, 6, 11}}, IntervalCase{0, 16, {1}}));

TEST_F(StoreTest, StatsReportTheSchemaRecordedInTheStoreNotTheBuildsConstant) {
  {
    auto s = Open(Opts());
    WriteFile(src_ + "/a.txt", "a");
    CaptureOrDie(*s, src_);
  }
  auto ro = Store::Open(store_, Opts(), OpenMode::kReadOnly);
  ASSERT_TRUE(ro.ok()) << ro.status();
  // Another process (a newer build, say) records a different schema while this one has the
  // store open: Stats must say what the store says.
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    {
      RawStoreForTest raw(store_);
      raw.Put("meta", "schema", "7");
    }
    _exit(0);
  }
  int wstatus = 0;
  ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
  ASSERT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
  auto stats = (*ro)->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->schema_version, 7u);
}

// Schema 2 stored a SHA-256 of the whole content of every file version; schema 3 does not
// (the root identifies it); schema 4 adds packed objects. A schema-2 store is read as it is,
// also read-only, and the first writable open records the current schema and changes no
// version.
TEST_F(StoreTest, SchemaTwoStoreIsReadAsIsAndMarkedCurrentOnWritableOpen) {
  WriteFile(src_ + "/a.txt", "version one of a\n");
  WriteFile(src_ + "/b.txt", "b stays\n");
  {
    auto s = Open(Opts());
    CaptureOrDie(*s, src_);
  }
  {
    RawStoreForTest raw(store_);
    raw.Put("meta", "schema", "2");
  }
  {
    auto ro = Store::Open(store_, Opts(), OpenMode::kReadOnly);
    ASSERT_TRUE(ro.ok()) << ro.status();
    auto st = (*ro)->Stats();
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st->schema_version, 2u);
    EXPECT_EQ(ReadVersionOrDie(**ro, "a.txt", 1), "version one of a\n");
    EXPECT_EQ(VerifyProblems(**ro), "");
  }
  {
    RawStoreForTest raw(store_);
    EXPECT_EQ(raw.Get("meta", "schema"), std::optional<std::string>("2"));  // untouched
  }
  auto s = Open(Opts());
  auto st = s->Stats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->schema_version, kSchemaVersion);
  EXPECT_EQ(LogOrDie(*s, "a.txt").size(), 1u);
  WriteFile(src_ + "/a.txt", "version two of a\n");
  CaptureResult c = CaptureOrDie(*s, src_);
  EXPECT_EQ(c.changed, 1u);
  EXPECT_EQ(ReadVersionOrDie(*s, "a.txt", 2), "version two of a\n");
  EXPECT_EQ(LogOrDie(*s, "b.txt").size(), 1u);
  EXPECT_EQ(VerifyProblems(*s), "");
}

// A changed chunk is stored as a delta against up to four chunks of the previous version
// (those where its bytes were), each of which may itself be such a delta. Decoding must visit each
// object of that graph once, not once per path through it (3^depth per chunk: a 64 MiB checkpoint
// whose every chunk changes took minutes per capture by its fifth version). Bound: every chunk of
// every version decoded a few times, linear in the chain length.
TEST_F(StoreTest, DeltaChainsOfEveryChunkDecodeInLinearNotExponentialWork) {
  SplitMix64 rng(TestSeed(77));
  StoreOptions o = Opts();
  o.chunker = SmallChunker();
  auto s = Open(o);
  Bytes data = rng.RandomBytes(64 * 1024);
  const int kVersions = 10;  // one snapshot, then nine deltas on deltas
  uint64_t chunks = 0;
  for (int v = 1; v <= kVersions; ++v) {
    if (v > 1) {
      for (size_t off = 0; off + 256 < data.size(); off += 256)  // every chunk, 1 byte in 256
        data[off + rng.Next() % 256] ^= static_cast<uint8_t>(1 + rng.Next() % 255);
    }
    WriteFile(src_ + "/ckpt.bin", data);
    clock_.Advance(kSecondNs);
    const uint64_t before = s->ObjectsDecoded();
    CaptureResult c = CaptureOrDie(*s, src_);
    EXPECT_EQ(c.objects_decoded, s->ObjectsDecoded() - before);
    auto log = LogOrDie(*s, "ckpt.bin");
    ASSERT_EQ(log.size(), static_cast<size_t>(v));
    chunks = log.back().chunks.size();
    EXPECT_LE(c.objects_decoded, 8 * chunks * static_cast<uint64_t>(v))
        << "capture of version " << v;
    if (v > 1) {
      EXPECT_GE(c.objects_decoded, chunks / 2) << "every chunk changed: bases are decoded";
    }
  }
  auto st = s->Stats();
  ASSERT_TRUE(st.ok());
  ASSERT_GT(st->delta_objects, 8 * chunks) << "the chains this test is about were not built";
  const uint64_t before = s->ObjectsDecoded();
  EXPECT_TRUE(ReadVersionOrDie(*s, "ckpt.bin", kVersions) == ToString(data));
  EXPECT_LE(s->ObjectsDecoded() - before, 8 * chunks * kVersions);
  EXPECT_EQ(VerifyProblems(*s), "");
}

// A changed chunk is delta-encoded against the previous version's chunks where its bytes
// were, found through the unchanged chunks before it: after an insertion near the start has
// moved everything by more than a few chunks, an edit further on still costs a small delta,
// not a whole chunk.
TEST_F(StoreTest, ChangedChunksAfterAnInsertionFindTheirBasesWhereTheBytesMoved) {
  SplitMix64 rng(TestSeed(78));
  StoreOptions o = Opts();
  o.chunker = SmallChunker();  // chunks of 256 B .. 4 KiB
  auto s = Open(o);
  Bytes data = rng.RandomBytes(128 * 1024);
  WriteFile(src_ + "/f.bin", data);
  CaptureOrDie(*s, src_);
  Bytes ins = rng.RandomBytes(16 * 1024);  // moves everything after it by 4 max-size chunks
  data.insert(data.begin() + 1000, ins.begin(), ins.end());
  for (size_t off = 60 * 1024; off < 120 * 1024; off += 8 * 1024) data[off] ^= 0x5a;
  WriteFile(src_ + "/f.bin", data);
  clock_.Advance(kSecondNs);
  CaptureResult c = CaptureOrDie(*s, src_);
  // The insertion itself (16 KiB of random bytes, incompressible) plus small deltas for the
  // 8 edited chunks; stored whole, those would add 8 chunks of random bytes (~8 KiB or more).
  EXPECT_LT(c.bytes_stored, 16 * 1024 + 4 * 1024) << "edited chunks were not delta-encoded";
  EXPECT_TRUE(ReadVersionOrDie(*s, "f.bin", 2) == ToString(data));
  EXPECT_EQ(VerifyProblems(*s), "");
}

// A float32 checkpoint with a tenth of its values nudged in place: the changed chunks are
// stored as sparse XOR deltas (engine 3) compared where each chunk sat in the previous
// version, whatever byte the chunk boundaries fall on, and they are smaller than patch-from
// alone would store.
TEST_F(StoreTest, NumbersNudgedInPlaceAreStoredAsSparseXorDeltas) {
  auto stored = [&](DeltaChoice delta, const std::string& dir, size_t* xor_deltas) {
    StoreOptions o = Opts();
    o.delta = delta;
    o.chunker = SmallChunker();  // chunks of 256 B .. 4 KiB, cut at any byte
    auto s = OpenStoreOrDie(dir, o, OpenMode::kCreate);
    SplitMix64 rng(TestSeed(79));
    std::vector<float> values(64 * 1024);
    auto uniform = [&rng] { return static_cast<float>(rng.Below(1 << 24)) / (1 << 24); };
    for (float& v : values) v = (uniform() + uniform() + uniform() - 1.5f) * 0.1f;
    std::vector<std::string> versions;
    uint64_t bytes = 0;
    for (int version = 1; version <= 3; ++version) {
      if (version > 1) {
        for (float& v : values)
          if (rng.OneIn(10)) v += (uniform() - 0.5f) * 0.004f;
      }
      std::string content(reinterpret_cast<const char*>(values.data()), values.size() * 4);
      WriteFile(src_ + "/model.ckpt", content);
      clock_.Advance(kSecondNs);
      bytes += CaptureOrDie(*s, src_).bytes_stored;
      versions.push_back(content);
    }
    for (size_t v = 0; v < versions.size(); ++v) {
      EXPECT_TRUE(ReadVersionOrDie(*s, "model.ckpt", v + 1) == versions[v]) << "version " << v + 1;
    }
    EXPECT_EQ(VerifyProblems(*s), "");
    s.reset();
    // Object records: u8 format, u8 codec (2 delta), u8 engine (FORMAT.md).
    *xor_deltas = 0;
    RawStoreForTest raw(dir);
    for (const auto& [id, rec] : raw.All("objects")) {
      if (rec.size() > 2 && rec[1] == 2 && rec[2] == 3) ++*xor_deltas;
    }
    return bytes;
  };
  size_t xor_auto = 0, xor_zstd = 0;
  const uint64_t with_auto = stored(DeltaChoice::kAuto, tmp_.Sub("auto"), &xor_auto);
  const uint64_t with_zstd = stored(DeltaChoice::kZstd, tmp_.Sub("zstd"), &xor_zstd);
  EXPECT_EQ(xor_zstd, 0u);
  // 256 KiB in chunks of ~1 KiB: about 250 changed chunks per version. In chunks this small
  // zstd's frame and block overhead is a good part of either patch, and XOR wins about 40% of
  // them (it wins nearly all at the default 256 KiB chunks).
  EXPECT_GT(xor_auto, 100u);
  EXPECT_LT(with_auto, with_zstd) << "sparse XOR deltas were not smaller";
  std::printf("stored: %llu bytes with auto (%zu XOR deltas), %llu with zstd patch-from only\n",
              static_cast<unsigned long long>(with_auto), xor_auto,
              static_cast<unsigned long long>(with_zstd));
}

}  // namespace
}  // namespace dk
