// Bucket GC on an in-memory bucket with a settable clock: retention of manifests, mark-and-sweep
// of objects with a grace period, the crash-safe order, and safety against uploads in flight.
#include "libreplica/bucket_gc.h"

#include <gtest/gtest.h>

#include <future>

#include "libreplica/bucket_reader.h"
#include "libreplica/fault_bucket.h"
#include "libreplica/memory_bucket.h"
#include "libreplica/replica_test_util.h"
#include "libreplica/replicator.h"

namespace dk::replica {
namespace {

using dk::testing::CaptureOrDie;
using dk::testing::DiffTrees;
using dk::testing::OpenStoreOrDie;
using dk::testing::ReadTree;
using dk::testing::RemoveTree;
using dk::testing::SplitMix64;
using dk::testing::TempDir;
using dk::testing::TextBytes;
using dk::testing::Tree;
using dk::testing::WriteFile;
using std::chrono::hours;
using std::chrono::milliseconds;
using testing::kHourNs;
using testing::Latch;
using testing::TestClock;

constexpr char kA[] = "ns/a/0";
constexpr char kB[] = "ns/b/0";

// One identity: its store, data directory and the trees of its sets.
struct Pod {
  std::string identity;
  std::unique_ptr<TempDir> dir;
  std::unique_ptr<Store> store;
  std::map<uint64_t, Tree> trees;
};

class BucketGcTest : public ::testing::Test {
 protected:
  BucketGcTest() : bucket_(clock_.Fn()), faulty_(&bucket_), layout_("g") {}

  Pod NewPod(const std::string& identity) {
    Pod p;
    p.identity = identity;
    p.dir = std::make_unique<TempDir>("dk-gc");
    p.store = OpenStoreOrDie(p.dir->Sub("store"), testing::TestStoreOptions());
    return p;
  }

  // Captures `files` (path -> content; empty content = delete) and replicates the set.
  uint64_t Replicate(Pod& pod, const std::map<std::string, std::string>& files,
                     hours replicator_grace = hours(1)) {
    for (const auto& [path, content] : files) {
      if (content.empty()) {
        RemoveTree(pod.dir->Sub("data/" + path));
      } else {
        testing::WriteIfChanged(pod.dir->Sub("data/" + path), content);
      }
    }
    auto r = CaptureOrDie(*pod.store, pod.dir->Sub("data"));
    pod.trees[r.set] = ReadTree(pod.dir->Sub("data"));
    ReplicatorOptions o;
    o.identity = pod.identity;
    o.prefix = "g";
    o.gc_grace = replicator_grace;
    o.head_min_size = 0;
    o.clock = clock_.Fn();
    auto rep = Replicator::Create(pod.store.get(), &faulty_, o);
    EXPECT_TRUE(rep.ok());
    (*rep)->Notify(r.set);
    (*rep)->Start();
    EXPECT_TRUE((*rep)->WaitIdle(milliseconds(20'000)).ok()) << (*rep)->status().last_error;
    return r.set;
  }

  BucketGcOptions GcOptions() {
    BucketGcOptions o;
    o.grace = hours(1);
    o.keep_last = 2;
    o.now = [this]() -> Result<int64_t> { return clock_.now(); };
    return o;
  }

  BucketGcReport Gc(const BucketGcOptions& o) {
    auto r = CollectBucketGarbage(faulty_, layout_, o);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : BucketGcReport{};
  }

  void ExpectRestores(const Pod& pod, std::optional<uint64_t> set, uint64_t local) {
    TempDir out("dk-gc-out");
    auto r = testing::RestoreOrFail(bucket_, layout_, pod.identity, out.Sub("t"), set);
    EXPECT_TRUE(r.restore.failures.empty())
        << (r.restore.failures.empty() ? "" : r.restore.failures[0].error);
    EXPECT_EQ(DiffTrees(pod.trees.at(local), ReadTree(out.Sub("t")), true), "");
  }

  std::string Garbage(const std::string& content) {
    const ObjectId id = HashBytes(AsBytes(content));
    EXPECT_TRUE(bucket_.Put(layout_.ObjectKey(id), AsBytes(content)).ok());
    return layout_.ObjectKey(id);
  }

  bool Has(const std::string& key) { return bucket_.Peek(key).has_value(); }

  // Five sets of A, each with a file of its own; B shares A's common file.
  void Populate() {
    a_ = NewPod(kA);
    b_ = NewPod(kB);
    SplitMix64 rng(42);
    common_ = std::string(AsChars(TextBytes(rng, 9'000)));
    for (int v = 1; v <= 5; ++v) {
      a_sets_.push_back(Replicate(a_, {{"common.txt", common_},
                                       {"v.txt", "only in version " + std::to_string(v)},
                                       {"old.txt", v == 1 ? "only in set 1" : ""}}));
    }
    b_sets_.push_back(Replicate(b_, {{"common.txt", common_}, {"b.txt", "b"}}));
  }

  std::string ObjectKeyOf(const Pod& pod, uint64_t local_set, const std::string& path) {
    auto m = pod.store->Manifest(local_set);
    EXPECT_TRUE(m.ok());
    for (const auto& e : m->entries) {
      if (e.path == path) return layout_.ObjectKey(e.chunks.at(0));
    }
    ADD_FAILURE() << path;
    return "";
  }

  TestClock clock_;
  MemoryBucket bucket_;
  FaultBucket faulty_;
  BucketLayout layout_;
  Pod a_, b_;
  std::vector<uint64_t> a_sets_, b_sets_;
  std::string common_;
};

TEST_F(BucketGcTest, DeletesOnlyUnreferencedObjectsOlderThanTheGrace) {
  Populate();
  const std::string old_only = ObjectKeyOf(a_, a_sets_[0], "old.txt");
  const std::string v1 = ObjectKeyOf(a_, a_sets_[0], "v.txt");
  const std::string v4 = ObjectKeyOf(a_, a_sets_[3], "v.txt");
  const std::string common = ObjectKeyOf(a_, a_sets_[4], "common.txt");
  const std::string old_garbage = Garbage("left by an interrupted upload, long ago");

  // Within the grace period nothing but manifests beyond retention goes... and they are young.
  BucketGcReport r = Gc(GcOptions());
  EXPECT_EQ(r.manifests_deleted, 0u) << "every manifest is younger than the grace";
  EXPECT_EQ(r.objects_deleted, 0u);
  EXPECT_GT(r.objects_young, 0u);

  clock_.Advance(2 * kHourNs);
  const std::string young_garbage = Garbage("an upload in flight right now");
  r = Gc(GcOptions());
  EXPECT_EQ(r.identities, 2u);
  EXPECT_EQ(r.manifests, 6u);
  EXPECT_EQ(r.manifests_deleted, 3u);  // A keeps sets 4 and 5; B keeps its head
  EXPECT_EQ(r.manifests_kept, 3u);
  EXPECT_FALSE(Has(layout_.ManifestKey(kA, a_sets_[0])));
  EXPECT_FALSE(Has(layout_.ManifestKey(kA, a_sets_[2])));
  EXPECT_TRUE(Has(layout_.ManifestKey(kA, a_sets_[3])));
  EXPECT_FALSE(Has(old_only));
  EXPECT_FALSE(Has(v1));
  EXPECT_FALSE(Has(old_garbage));
  EXPECT_TRUE(Has(young_garbage)) << "younger than the grace period";
  EXPECT_TRUE(Has(v4));
  EXPECT_TRUE(Has(common));
  EXPECT_EQ(r.objects_young, 1u);
  EXPECT_EQ(r.objects_missing, 0u);
  EXPECT_TRUE(r.problems.empty());
  ExpectRestores(a_, std::nullopt, a_sets_[4]);
  ExpectRestores(a_, a_sets_[3], a_sets_[3]);
  ExpectRestores(b_, std::nullopt, b_sets_[0]);
  // Nothing left to do.
  r = Gc(GcOptions());
  EXPECT_EQ(r.manifests_deleted + r.objects_deleted, 0u);
}

TEST_F(BucketGcTest, DryRunDeletesNothing) {
  Populate();
  clock_.Advance(2 * kHourNs);
  const auto before = bucket_.Keys();
  BucketGcOptions o = GcOptions();
  o.dry_run = true;
  BucketGcReport r = Gc(o);
  EXPECT_EQ(r.manifests_deleted, 3u);
  EXPECT_GT(r.objects_deleted, 0u);
  EXPECT_EQ(bucket_.Keys(), before);
}

TEST_F(BucketGcTest, RetentionKeepsTheHeadAndRecentManifests) {
  Populate();
  clock_.Advance(2 * kHourNs);
  BucketGcOptions o = GcOptions();
  o.keep_last = 0;  // the head's manifest is kept anyway
  o.keep_within = std::chrono::seconds(3 * 3600);
  BucketGcReport r = Gc(o);
  EXPECT_EQ(r.manifests_deleted, 0u) << "all written within 3 h";
  o.keep_within = std::chrono::seconds(0);
  r = Gc(o);
  EXPECT_EQ(r.manifests_deleted, 4u);
  auto sets = ListSets(bucket_, layout_, kA);
  ASSERT_TRUE(sets.ok());
  EXPECT_EQ(*sets, std::vector<uint64_t>{a_sets_[4]});
  ExpectRestores(a_, std::nullopt, a_sets_[4]);
}

TEST_F(BucketGcTest, ManifestNewerThanTheHeadIsKeptWithItsObjects) {
  Populate();
  // Set 6 of A: objects and manifest written, head write "crashed".
  faulty_.SetRule([](std::string_view op, std::string_view key) {
    if (op == "PUT" && key.find("/heads/") != std::string_view::npos) {
      return Status::Unavailable("injected");
    }
    return Status::Ok();
  });
  WriteFile(a_.dir->Sub("data/v.txt"), "version 6, head never written");
  auto c = CaptureOrDie(*a_.store, a_.dir->Sub("data"));
  ReplicatorOptions ro;
  ro.identity = kA;
  ro.prefix = "g";
  ro.clock = clock_.Fn();
  ro.gc_grace = hours(1);
  ro.initial_backoff = milliseconds(1);
  ro.max_backoff = milliseconds(2);
  auto rep = Replicator::Create(a_.store.get(), &faulty_, ro);
  ASSERT_TRUE(rep.ok());
  (*rep)->Notify(c.set);
  (*rep)->Start();
  for (int i = 0; i < 5000 && (*rep)->status().consecutive_failures == 0; ++i) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  (*rep)->Stop();
  faulty_.ClearRule();
  ASSERT_TRUE(Has(layout_.ManifestKey(kA, c.set)));
  const std::string v6 = ObjectKeyOf(a_, c.set, "v.txt");
  clock_.Advance(2 * kHourNs);
  BucketGcOptions o = GcOptions();
  o.keep_last = 0;
  Gc(o);
  EXPECT_TRUE(Has(layout_.ManifestKey(kA, c.set)));
  EXPECT_TRUE(Has(layout_.ManifestKey(kA, a_sets_[4])));
  EXPECT_TRUE(Has(v6)) << "referenced by a manifest newer than the head";
  ExpectRestores(a_, std::nullopt, a_sets_[4]);
}

TEST_F(BucketGcTest, UnreadableHeadOrKeptManifestAbortsBeforeDeleting) {
  Populate();
  clock_.Advance(2 * kHourNs);
  Garbage("old garbage");
  const auto before = bucket_.Keys();
  // A head whose manifest is missing.
  const std::string b_manifest = layout_.ManifestKey(kB, b_sets_[0]);
  const Bytes saved = *bucket_.Peek(b_manifest);
  ASSERT_TRUE(bucket_.Delete(b_manifest).ok());
  auto r = CollectBucketGarbage(bucket_, layout_, GcOptions());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("nothing deleted"), std::string::npos) << r.status();
  bucket_.PokeForTest(b_manifest, saved);
  bucket_.SetLastModifiedForTest(b_manifest, clock_.now() - 2 * kHourNs);
  EXPECT_EQ(bucket_.Keys(), before);
  // A kept (non-head) manifest that is corrupt.
  const std::string a4 = layout_.ManifestKey(kA, a_sets_[3]);
  Bytes m = *bucket_.Peek(a4);
  m.resize(m.size() / 2);
  bucket_.PokeForTest(a4, m);
  r = CollectBucketGarbage(bucket_, layout_, GcOptions());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_NE(r.status().message().find(a4), std::string::npos) << r.status();
  EXPECT_EQ(bucket_.Keys(), before);
}

TEST_F(BucketGcTest, ReportsReferencedObjectsThatAreMissing) {
  Populate();
  const std::string v5 = ObjectKeyOf(a_, a_sets_[4], "v.txt");
  ASSERT_TRUE(bucket_.Delete(v5).ok());
  BucketGcReport r = Gc(GcOptions());
  EXPECT_EQ(r.objects_missing, 1u);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].find(v5), std::string::npos);
}

TEST_F(BucketGcTest, OldChunkReusedByAnUploadInFlightSurvivesGc) {
  Populate();
  // "old.txt" of A's set 1 is referenced only by a manifest that retention will drop.
  const std::string old_only = ObjectKeyOf(a_, a_sets_[0], "old.txt");
  clock_.Advance(2 * kHourNs);
  // Pod C captures the same content and starts replicating; hold it before its manifest.
  Latch release;
  faulty_.SetRule([&](std::string_view op, std::string_view key) {
    if (op == "PUT" && key.find("/manifests/ns/c/") != std::string_view::npos) release.Wait();
    return Status::Ok();
  });
  Pod c = NewPod("ns/c/0");
  auto replicated = std::async(std::launch::async, [&] {
    return Replicate(c, {{"old.txt", "only in set 1"}});
  });
  release.AwaitWaiter();
  // GC runs while C's manifest is not yet written.
  BucketGcReport r = Gc(GcOptions());
  EXPECT_GT(r.manifests_deleted, 0u);
  EXPECT_FALSE(Has(layout_.ManifestKey(kA, a_sets_[0])));
  EXPECT_TRUE(Has(old_only)) << "re-uploaded by C (it was older than grace/2): young again";
  release.Open();
  const uint64_t cs = replicated.get();
  faulty_.ClearRule();
  ExpectRestores(c, std::nullopt, cs);
}

// The control for the test above: a replicator whose gc_grace exceeds GC's grace trusts the old
// chunk, and GC deletes it under the upload in flight. This is why the rule exists.
TEST_F(BucketGcTest, ReplicatorGraceLongerThanGcGraceLosesAChunk) {
  Populate();
  const std::string old_only = ObjectKeyOf(a_, a_sets_[0], "old.txt");
  clock_.Advance(2 * kHourNs);
  Latch release;
  faulty_.SetRule([&](std::string_view op, std::string_view key) {
    if (op == "PUT" && key.find("/manifests/ns/c/") != std::string_view::npos) release.Wait();
    return Status::Ok();
  });
  Pod c = NewPod("ns/c/0");
  auto replicated = std::async(std::launch::async, [&] {
    return Replicate(c, {{"old.txt", "only in set 1"}}, hours(10));  // misconfigured
  });
  release.AwaitWaiter();
  Gc(GcOptions());
  EXPECT_FALSE(Has(old_only));
  release.Open();
  const uint64_t cs = replicated.get();
  faulty_.ClearRule();
  TempDir out("dk-gc-out");
  auto r = RestoreFromBucket(bucket_, layout_, "ns/c/0", out.Sub("t"), RestoreRequest{});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->set, cs);
  ASSERT_EQ(r->restore.failures.size(), 1u);
  EXPECT_NE(r->restore.failures[0].error.find(old_only), std::string::npos);
}

TEST_F(BucketGcTest, PurgeDeletesHeadsThenManifestsOfMatchingIdentitiesOnly) {
  Populate();
  Pod a1 = NewPod("ns/a/1");
  Replicate(a1, {{"common.txt", common_}, {"x.txt", "ordinal 1"}});
  Pod other = NewPod("ns/ab/0");  // shares the text "ns/a" but is another StatefulSet
  Replicate(other, {{"common.txt", common_}, {"o.txt", "ab"}});
  const std::string a_only = ObjectKeyOf(a_, a_sets_[4], "v.txt");
  const std::string common = ObjectKeyOf(a_, a_sets_[4], "common.txt");

  // A delete that fails half-way (after the heads) leaves the heads gone, manifests present...
  int deletes = 0;
  faulty_.SetRule([&deletes](std::string_view op, std::string_view key) {
    if (op == "DELETE" && key.find("/manifests/") != std::string_view::npos && ++deletes > 2) {
      return Status::Unavailable("injected: endpoint went away");
    }
    return Status::Ok();
  });
  auto failed = PurgeIdentities(faulty_, layout_, "ns/a/");
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("bucket purge"), std::string::npos) << failed.status();
  EXPECT_FALSE(Has(layout_.HeadKey(kA)));
  EXPECT_FALSE(Has(layout_.HeadKey("ns/a/1")));
  EXPECT_FALSE(bucket_.Keys("g/manifests/ns/a/").empty());
  // ... and calling again finishes.
  faulty_.ClearRule();
  auto r = PurgeIdentities(faulty_, layout_, "ns/a/");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->identities, 2u);
  EXPECT_EQ(r->heads_deleted, 0u);
  EXPECT_EQ(r->manifests_deleted, 5u + 1u - 2u);
  EXPECT_TRUE(bucket_.Keys("g/manifests/ns/a/").empty());
  EXPECT_TRUE(bucket_.Keys("g/heads/ns/a/").empty());
  // Other identities keep everything; a restore of a purged one finds no state.
  ExpectRestores(b_, std::nullopt, b_sets_[0]);
  EXPECT_TRUE(Has(layout_.HeadKey("ns/ab/0")));
  EXPECT_TRUE(ReadHead(bucket_, layout_, kA).status().IsNotFound());

  // Chunk objects go with GC after the grace period; shared ones stay.
  clock_.Advance(2 * kHourNs);
  BucketGcReport gc = Gc(GcOptions());
  EXPECT_EQ(gc.identities, 2u);
  EXPECT_FALSE(Has(a_only));
  EXPECT_TRUE(Has(common)) << "B and ns/ab/0 still reference it";
  ExpectRestores(b_, std::nullopt, b_sets_[0]);
}

TEST_F(BucketGcTest, PurgeRejectsAPrefixThatIsNotOneOfSegments) {
  for (const char* bad : {"", "/", "ns/a", "ns/../", "ns//"}) {
    EXPECT_EQ(PurgeIdentities(bucket_, layout_, bad).status().code(), StatusCode::kInvalidArgument)
        << bad;
  }
  auto none = PurgeIdentities(bucket_, layout_, "ns/none/");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->identities, 0u);
}

TEST_F(BucketGcTest, RejectsNegativeDurations) {
  BucketGcOptions o = GcOptions();
  o.grace = std::chrono::seconds(-1);
  EXPECT_EQ(CollectBucketGarbage(bucket_, layout_, o).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace dk::replica
