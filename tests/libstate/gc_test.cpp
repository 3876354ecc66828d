// Retention and garbage collection: which versions and sets go, that delta chains whose
// bases go are rebased and still restore byte-exact, that objects are freed and the data
// file shrinks, and that the store verifies clean afterwards.
#include <gtest/gtest.h>
#include <unistd.h>

#include <set>

#include "libstate/chunker.h"
#include "libstate/store.h"
#include "libstate/store_test_util.h"

namespace dk {
namespace {

using namespace dk::testing;  // NOLINT: test helpers

class GcTest : public ::testing::Test {
 protected:
  StoreOptions Opts() {
    StoreOptions o = FastOptions();
    o.clock = clock_.Fn();
    return o;
  }
  void OpenStore(const StoreOptions& o) { store_ = OpenStoreOrDie(tmp_.Sub("store"), o); }
  // Writes `content` to `rel` under the source, captures an hour later than the previous
  // capture, and remembers the state.
  uint64_t Step(const std::string& rel, const Bytes& content) {
    WriteFile(src_ + "/" + rel, content);
    clock_.Advance(kHourNs);
    CaptureResult c = CaptureOrDie(*store_, src_);
    trees_[c.set] = ReadTree(src_);
    times_[c.set] = clock_.now();
    return c.set;
  }
  Tree RestoreSet(uint64_t set) {
    RestoreRequest r;
    r.set = set;
    std::string dir = tmp_.Sub("restore" + std::to_string(++n_));
    RestoreOrDie(*store_, dir, r);
    return ReadTree(dir);
  }
  std::set<uint64_t> SetNumbers() {
    auto sets = store_->Sets();
    EXPECT_TRUE(sets.ok()) << sets.status();
    std::set<uint64_t> out;
    if (sets.ok())
      for (const auto& s : *sets) out.insert(s.set);
    return out;
  }

  TempDir tmp_;
  const std::string src_ = tmp_.Sub("src");
  FakeClock clock_;
  std::unique_ptr<Store> store_;
  std::map<uint64_t, Tree> trees_;
  std::map<uint64_t, int64_t> times_;
  int n_ = 0;
};

Bytes B(std::string_view s) { return Bytes(s.begin(), s.end()); }

Bytes Edit(SplitMix64& rng, Bytes b) {
  for (int i = 0; i < 3; ++i) b[rng.Below(b.size())] ^= static_cast<uint8_t>(1 + rng.Below(255));
  b.push_back(static_cast<uint8_t>(rng.Next()));
  return b;
}

TEST_F(GcTest, KeepLastDropsOlderVersionsRebasesChainsAndKeepsTheRestExact) {
  const uint64_t seed = TestSeed(11);
  SCOPED_TRACE("seed=" + std::to_string(seed));
  SplitMix64 rng(seed);
  StoreOptions o = Opts();
  o.snapshot_every = 0;  // one snapshot, then a chain of deltas: every kept version needs a
  o.max_chain = 64;      // dropped base
  OpenStore(o);
  WriteFile(src_ + "/static.txt", "never changes");
  Bytes content = rng.RandomBytes(12000);
  std::vector<Bytes> contents;
  for (int v = 0; v < 12; ++v) {
    if (v) content = Edit(rng, content);
    Step("f.bin", content);
    contents.push_back(content);
  }
  auto log = LogOrDie(*store_, "f.bin");
  ASSERT_EQ(log.size(), 12u);
  EXPECT_EQ(VersionKindName(log[11].kind), "delta");
  const uint64_t first_kept_set = log[9].set;

  RetentionPolicy p;
  p.keep_last = 3;
  auto g = store_->Gc(p);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->versions_dropped, 9u);
  EXPECT_GE(g->objects_freed, 9u);
  EXPECT_GE(g->objects_rebased, 1u);
  EXPECT_EQ(VerifyProblems(*store_), "");

  log = LogOrDie(*store_, "f.bin");
  ASSERT_EQ(log.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(log[i].seq, 10 + i);
    EXPECT_EQ(ReadVersionOrDie(*store_, "f.bin", 10 + i), ToString(contents[9 + i]));
  }
  EXPECT_EQ(LogOrDie(*store_, "static.txt").size(), 1u);  // the only version is never dropped

  // Sets before the first kept version are gone; the others restore exactly.
  for (const auto& [set, tree] : trees_) {
    SCOPED_TRACE("set " + std::to_string(set));
    if (set < first_kept_set) {
      EXPECT_FALSE(SetNumbers().count(set));
      RestoreRequest r;
      r.set = set;
      auto res = store_->Restore(tmp_.Sub("dropped" + std::to_string(set)), r);
      EXPECT_EQ(res.status().code(), StatusCode::kNotFound);
    } else {
      EXPECT_EQ(DiffTrees(tree, RestoreSet(set), true), "");
    }
  }
  auto st = store_->Stats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->versions, 4u);
  // New captures still delta against the rebased chain and everything verifies.
  content = Edit(rng, content);
  uint64_t s = Step("f.bin", content);
  EXPECT_EQ(DiffTrees(trees_[s], RestoreSet(s), true), "");
  EXPECT_EQ(VerifyProblems(*store_), "");
}

TEST_F(GcTest, KeepWithinKeepsTheWindowAndTheVersionInEffectAtItsStart) {
  const uint64_t seed = TestSeed(12);
  SCOPED_TRACE("seed=" + std::to_string(seed));
  SplitMix64 rng(seed);
  OpenStore(Opts());
  Bytes content = TextBytes(rng, 9000);
  std::vector<Bytes> contents;
  std::vector<uint64_t> sets;
  for (int v = 0; v < 12; ++v) {
    if (v) content = Edit(rng, content);
    sets.push_back(Step("wal", content));
    contents.push_back(content);
  }
  // Window: the last 3.5 hours. Versions 9..12 are inside; version 8 was in effect at the
  // window's start and must stay so that a restore to that moment works.
  const int64_t cutoff = clock_.now() - 3 * kHourNs - kHourNs / 2;
  RetentionPolicy p;
  p.keep_within_ns = 3 * kHourNs + kHourNs / 2;
  auto g = store_->Gc(p);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->versions_dropped, 7u);
  EXPECT_EQ(g->sets_dropped, 7u);
  auto log = LogOrDie(*store_, "wal");
  ASSERT_EQ(log.size(), 5u);
  EXPECT_EQ(log.front().seq, 8u);
  for (const auto& v : log)
    EXPECT_EQ(ReadVersionOrDie(*store_, "wal", v.seq), ToString(contents[v.seq - 1]));

  RestoreRequest at_cutoff;
  at_cutoff.time_ns = cutoff;
  std::string dir = tmp_.Sub("at-cutoff");
  RestoreResult r = RestoreOrDie(*store_, dir, at_cutoff);
  EXPECT_EQ(r.set, sets[7]);
  EXPECT_EQ(DiffTrees(trees_[sets[7]], ReadTree(dir), true), "");
  RestoreRequest before;
  before.time_ns = times_[sets[6]];
  EXPECT_EQ(store_->Restore(tmp_.Sub("before"), before).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(VerifyProblems(*store_), "");
}

TEST_F(GcTest, KeepLastAndKeepWithinKeepTheUnionOfBothRules) {
  const uint64_t seed = TestSeed(13);
  SCOPED_TRACE("seed=" + std::to_string(seed));
  SplitMix64 rng(seed);
  OpenStore(Opts());
  Bytes content = rng.RandomBytes(3000);
  for (int v = 0; v < 10; ++v) {
    if (v) content = Edit(rng, content);
    Step("a", content);
  }
  RetentionPolicy p;
  p.keep_last = 5;
  p.keep_within_ns = kHourNs / 2;  // alone it would keep 1 (+1 in effect at the cut-off)
  auto g = store_->Gc(p);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(LogOrDie(*store_, "a").size(), 5u);
  p.keep_last = 2;
  p.keep_within_ns = 4 * kHourNs - 1;  // versions 7..10 newer, 6 in effect at the cut-off
  g = store_->Gc(p);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(LogOrDie(*store_, "a").size(), 5u);
  EXPECT_EQ(LogOrDie(*store_, "a").front().seq, 6u);
  EXPECT_EQ(VerifyProblems(*store_), "");
}

TEST_F(GcTest, NoRuleKeepsEverything) {
  SplitMix64 rng(TestSeed(14));
  OpenStore(Opts());
  for (int v = 0; v < 4; ++v) Step("a", rng.RandomBytes(100 + static_cast<size_t>(v)));
  RetentionPolicy none;
  auto g = store_->Gc(none);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->versions_dropped, 0u);
  EXPECT_EQ(g->objects_freed, 0u);
  EXPECT_EQ(g->sets_dropped, 0u);
  EXPECT_EQ(LogOrDie(*store_, "a").size(), 4u);
  for (const auto& [set, tree] : trees_) EXPECT_EQ(DiffTrees(tree, RestoreSet(set), true), "");
}

TEST_F(GcTest, DroppingMostDataShrinksTheDataFileOnDisk) {
  const uint64_t seed = TestSeed(15);
  SCOPED_TRACE("seed=" + std::to_string(seed));
  SplitMix64 rng(seed);
  StoreOptions o = Opts();
  o.delta = DeltaChoice::kNone;  // random data: delta attempts would only cost time
  OpenStore(o);
  Bytes last;
  for (int v = 0; v < 8; ++v) {
    last = rng.RandomBytes(4u << 20);  // incompressible, nothing shared: 32 MiB in all
    Step("big.bin", last);
  }
  RetentionPolicy p;
  p.keep_last = 1;
  auto g = store_->Gc(p);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->versions_dropped, 7u);
  EXPECT_GT(g->objects_freed, 7u * (4u << 20) / ChunkerParams{}.max_size);
  EXPECT_GT(g->bytes_before, 28ull << 20);
  EXPECT_LT(g->bytes_after, g->bytes_before / 4) << g->bytes_before << " -> " << g->bytes_after;
  auto st = store_->Stats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->file_bytes + st->pack_bytes, g->bytes_after);
  // The pack that was 7/8 garbage was rewritten: what is left is live payload and the 8-byte
  // header of each pack.
  EXPECT_EQ(st->pack_bytes, st->packed_live_bytes + 8 * st->packs);
  EXPECT_EQ(g->packs_removed, 1u);
  EXPECT_EQ(VerifyProblems(*store_), "");
  EXPECT_TRUE(ReadVersionOrDie(*store_, "big.bin", 8) == ToString(last));
  // The store stays writable after the data file was swapped.
  uint64_t s = Step("small.txt", B("after gc"));
  EXPECT_EQ(DiffTrees(trees_[s], RestoreSet(s), true), "");
}

TEST_F(GcTest, DeletedFilesKeepTheirDeletionUntilItLeavesTheWindow) {
  SplitMix64 rng(TestSeed(16));
  OpenStore(Opts());
  Step("doomed.txt", rng.RandomBytes(500));
  Step("keeper.txt", rng.RandomBytes(500));
  ASSERT_EQ(unlink((src_ + "/doomed.txt").c_str()), 0);
  clock_.Advance(kHourNs);
  uint64_t del_set = CaptureOrDie(*store_, src_).set;
  trees_[del_set] = ReadTree(src_);
  Step("keeper.txt", rng.RandomBytes(600));
  RetentionPolicy p;
  p.keep_last = 1;
  auto g = store_->Gc(p);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(VerifyProblems(*store_), "");
  // Every remaining set restores exactly; the deleted file is absent from all of them.
  for (uint64_t set : SetNumbers()) {
    SCOPED_TRACE("set " + std::to_string(set));
    Tree got = RestoreSet(set);
    EXPECT_EQ(DiffTrees(trees_[set], got, true), "");
    EXPECT_FALSE(got.count("doomed.txt"));
  }
}

// A delta whose base list names the same object twice (a file of repeating content: several
// neighbouring chunks of the previous version are one object) must survive the rebase when
// that base is dropped.
TEST_F(GcTest, RebaseOfADeltaWithARepeatedBaseChunk) {
  const uint64_t seed = TestSeed(17);
  SCOPED_TRACE("seed=" + std::to_string(seed));
  SplitMix64 rng(seed);
  StoreOptions o = Opts();
  o.chunker = ChunkerParams{1024, 8192, 16384};
  o.snapshot_every = 0;
  OpenStore(o);
  // A random block of exactly max_size with no cut point inside: repeated, it is cut into
  // identical chunks, so version 1 is one object eight times over.
  Chunker chunker(o.chunker);
  Bytes block;
  for (int tries = 0; tries < 100000; ++tries) {
    Bytes candidate = rng.RandomBytes(o.chunker.max_size);
    Bytes twice = candidate;
    twice.insert(twice.end(), candidate.begin(), candidate.end());
    if (chunker.NextCut(twice) == o.chunker.max_size) {
      block = std::move(candidate);
      break;
    }
  }
  ASSERT_FALSE(block.empty()) << "no cut-free block found";
  Bytes v1;
  for (int i = 0; i < 8; ++i) v1.insert(v1.end(), block.begin(), block.end());
  Step("rep.bin", v1);
  auto log = LogOrDie(*store_, "rep.bin");
  ASSERT_EQ(log[0].chunks.size(), 8u);
  ASSERT_EQ(std::set<ObjectId>(log[0].chunks.begin(), log[0].chunks.end()).size(), 1u);
  // Version 2 edits every copy a little: each new chunk is a delta against its old
  // neighbours, i.e. against [X, X, X], and no version but the first uses X itself.
  Bytes v2 = v1;
  for (int c = 0; c < 8; ++c)
    for (int i = 0; i < 8; ++i) v2[static_cast<size_t>(c) * 16384 + 5000 + 97 * c + i] ^= 0xff;
  Step("rep.bin", v2);
  log = LogOrDie(*store_, "rep.bin");
  ASSERT_EQ(log[1].chunks.size(), 8u);
  auto st = store_->Stats();
  ASSERT_TRUE(st.ok());
  ASSERT_EQ(st->delta_objects, 8u) << "the edited chunks were not stored as deltas";
  EXPECT_EQ(VerifyProblems(*store_), "");

  // Dropping version 1 leaves X only as a delta base: the rebase rewrites its dependents.
  RetentionPolicy p;
  p.keep_last = 1;
  auto g = store_->Gc(p);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->objects_rebased, 8u);
  EXPECT_EQ(g->objects_freed, 1u);
  EXPECT_EQ(VerifyProblems(*store_), "");
  EXPECT_TRUE(ReadVersionOrDie(*store_, "rep.bin", 2) == ToString(v2));
}

TEST_F(GcTest, ReadOnlyStoreRefusesGc) {
  OpenStore(Opts());
  Step("a", B("a"));
  store_.reset();
  auto ro = OpenStoreOrDie(tmp_.Sub("store"), Opts(), OpenMode::kReadOnly);
  RetentionPolicy p;
  p.keep_last = 1;
  EXPECT_EQ(ro->Gc(p).status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(GcTest, RecompressShrinksWholeObjectsAtRestAndKeepsContentExact) {
  const uint64_t seed = TestSeed(31);
  SCOPED_TRACE("seed=" + std::to_string(seed));
  SplitMix64 rng(seed);
  StoreOptions o = Opts();
  o.zstd_level = 1;  // fast at capture time
  OpenStore(o);
  for (int i = 0; i < 8; ++i)
    WriteFile(src_ + "/t" + std::to_string(i) + ".txt", TextBytes(rng, 200000));
  // Incompressible: gains nothing from level 19, so its objects stay where they are, in the
  // same pack as the text's replaced payloads (which make up about a third of it).
  WriteFile(src_ + "/random.bin", rng.RandomBytes(1u << 20));
  uint64_t set = CaptureOrDie(*store_, src_).set;
  trees_[set] = ReadTree(src_);
  auto before = store_->Stats();
  ASSERT_TRUE(before.ok()) << before.status();

  RetentionPolicy p;
  p.recompress_level = 19;
  auto r = store_->Gc(p);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GT(r->recompress_saved, 0u);
  auto after = store_->Stats();
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->stored_bytes + r->recompress_saved, before->stored_bytes);
  EXPECT_EQ(after->objects, before->objects);
  // On disk too: the replaced payloads do not stay behind in the packs.
  EXPECT_LT(r->bytes_after + r->recompress_saved / 2, r->bytes_before)
      << r->bytes_before << " -> " << r->bytes_after << ", saved " << r->recompress_saved;
  EXPECT_EQ(after->pack_bytes, after->packed_live_bytes + 8 * after->packs);
  EXPECT_EQ(VerifyProblems(*store_), "");
  EXPECT_EQ(DiffTrees(trees_[set], RestoreSet(set), true), "");

  // Objects already at the level are left alone.
  auto again = store_->Gc(p);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->recompress_saved, 0u);
}

TEST_F(GcTest, RecompressRejectsALevelOutOfRange) {
  OpenStore(Opts());
  WriteFile(src_ + "/a.txt", "a");
  CaptureOrDie(*store_, src_);
  RetentionPolicy p;
  p.recompress_level = 42;
  auto r = store_->Gc(p);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("1..19"), std::string::npos) << r.status();
}

}  // namespace
}  // namespace dk
