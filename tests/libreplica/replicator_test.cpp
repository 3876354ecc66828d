// Replicator against an in-memory bucket: crash ordering, what is uploaded, backlog coalescing,
// failures and recovery, status, stop, restart, and the bucket's set numbering.
#include "libreplica/replicator.h"

#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "libreplica/bucket_reader.h"
#include "libreplica/fault_bucket.h"
#include "libreplica/layout.h"
#include "libreplica/memory_bucket.h"
#include "libreplica/replica_test_util.h"

namespace dk::replica {
namespace {

using dk::testing::CaptureOrDie;
using dk::testing::DiffTrees;
using dk::testing::OpenStoreOrDie;
using dk::testing::ReadTree;
using dk::testing::SplitMix64;
using dk::testing::TempDir;
using dk::testing::TextBytes;
using dk::testing::Tree;
using dk::testing::WriteFile;
using std::chrono::milliseconds;
using testing::Latch;
using testing::TestClock;

constexpr char kIdentity[] = "ns/db/0";
constexpr milliseconds kWait{20'000};

class ReplicatorTest : public ::testing::Test {
 protected:
  ReplicatorTest() : bucket_(clock_.Fn()), faulty_(&bucket_), layout_("pfx") {
    store_ = OpenStoreOrDie(dir_.Sub("store"), testing::TestStoreOptions());
  }

  ReplicatorOptions Options() {
    ReplicatorOptions o;
    o.identity = kIdentity;
    o.prefix = "pfx";
    o.writer = "node-a";
    o.initial_backoff = milliseconds(2);
    o.max_backoff = milliseconds(10);
    o.gc_grace = std::chrono::hours(1);
    o.head_min_size = 0;  // the test chunks are small: ask about every one
    o.clock = clock_.Fn();
    return o;
  }

  std::unique_ptr<Replicator> NewReplicator(ReplicatorOptions o, Store* store = nullptr) {
    auto r = Replicator::Create(store ? store : store_.get(), &faulty_, std::move(o));
    EXPECT_TRUE(r.ok()) << r.status();
    return std::move(r).value();
  }

  // Writes a few files (one large enough for several chunks), captures, returns the set.
  uint64_t Capture(int version) {
    SplitMix64 rng(1000 + version);
    const std::string data = dir_.Sub("data");
    WriteFile(data + "/small.txt", "version " + std::to_string(version) + "\n");
    WriteFile(data + "/big.bin", TextBytes(rng, 20'000));
    testing::WriteIfChanged(data + "/sub/const.txt", "never changes\n");
    if (version % 2 == 0) {
      WriteFile(data + "/even.txt", "even " + std::to_string(version));
    } else {
      dk::testing::RemoveTree(data + "/even.txt");
    }
    auto r = CaptureOrDie(*store_, data);
    trees_[r.set] = ReadTree(data);
    return r.set;
  }

  // The restore of bucket set `set` (latest when nullopt) matches the tree captured as `local`.
  void ExpectRestores(std::optional<uint64_t> set, uint64_t local) {
    TempDir out("dk-replica-restore");
    auto r = testing::RestoreOrFail(faulty_, layout_, kIdentity, out.Sub("t"), set);
    EXPECT_TRUE(r.restore.failures.empty());
    EXPECT_EQ(DiffTrees(trees_.at(local), ReadTree(out.Sub("t")), true), "");
  }

  Head BucketHead() {
    auto h = ReadHead(bucket_, layout_, kIdentity);
    EXPECT_TRUE(h.ok()) << h.status();
    return h.ok() ? *h : Head{};
  }

  TestClock clock_;
  TempDir dir_{"dk-replica"};
  MemoryBucket bucket_;
  FaultBucket faulty_;
  BucketLayout layout_;
  std::unique_ptr<Store> store_;
  std::map<uint64_t, Tree> trees_;
};

TEST_F(ReplicatorTest, ReplicatesEverySetObjectsThenManifestThenHead) {
  auto rep = NewReplicator(Options());
  rep->Start();
  std::vector<uint64_t> sets;
  for (int v = 1; v <= 3; ++v) {
    sets.push_back(Capture(v));
    rep->Notify(sets.back());
    ASSERT_TRUE(rep->WaitIdle(kWait).ok());
  }
  // Per set: every object PUT precedes the manifest PUT, which precedes the head PUT.
  const auto log = bucket_.WriteLog();
  size_t manifests = 0, heads = 0;
  bool object_after_manifest = false;
  std::string phase = "objects";
  for (const auto& w : log) {
    if (w.find("/objects/") != std::string::npos) {
      if (phase == "manifest") object_after_manifest = true;
      phase = "objects";
    } else if (w.find("/manifests/") != std::string::npos) {
      ++manifests;
      phase = "manifest";
    } else if (w.find("/heads/") != std::string::npos) {
      ++heads;
      EXPECT_EQ(phase, "manifest") << "head written before its manifest";
      phase = "head";
    }
  }
  EXPECT_FALSE(object_after_manifest);
  EXPECT_EQ(manifests, 3u);
  EXPECT_EQ(heads, 3u);
  EXPECT_EQ(BucketHead().set, sets.back());
  EXPECT_EQ(BucketHead().source_set, sets.back());
  EXPECT_EQ(BucketHead().writer, "node-a");
  auto listed = ListSets(bucket_, layout_, kIdentity);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(*listed, sets);
  for (uint64_t s : sets) ExpectRestores(s, s);
  ExpectRestores(std::nullopt, sets.back());

  const ReplicationStatus st = rep->status();
  EXPECT_EQ(st.state, "idle");
  EXPECT_EQ(st.last_set, sets.back());
  EXPECT_EQ(st.last_bucket_set, sets.back());
  EXPECT_EQ(st.sets_replicated, 3u);
  EXPECT_EQ(st.lag_sets, 0u);
  EXPECT_EQ(st.lag_seconds, 0.0);
  EXPECT_FALSE(st.failing);
  EXPECT_GT(st.bytes_uploaded, 0u);
  EXPECT_NE(st.ToJson().find("\"lastSet\":" + std::to_string(sets.back())), std::string::npos);
}

TEST_F(ReplicatorTest, UnchangedChunksAreNeitherAskedAboutNorSent) {
  auto rep = NewReplicator(Options());
  rep->Start();
  rep->Notify(Capture(1));
  ASSERT_TRUE(rep->WaitIdle(kWait).ok());
  const uint64_t first_uploads = rep->status().objects_uploaded;
  EXPECT_GT(first_uploads, 3u);
  bucket_.ResetCounts();
  // Only small.txt changes; big.bin's chunks are in the head's manifest.
  WriteFile(dir_.Sub("data") + "/small.txt", "edited\n");
  auto r = CaptureOrDie(*store_, dir_.Sub("data"));
  trees_[r.set] = ReadTree(dir_.Sub("data"));
  rep->Notify(r.set);
  ASSERT_TRUE(rep->WaitIdle(kWait).ok());
  const BucketCallCounts c = bucket_.counts();
  EXPECT_EQ(c.head, 1u) << "only the new chunk is looked up";
  EXPECT_EQ(c.put, 3u) << "one chunk, the manifest, the head";
  EXPECT_EQ(rep->status().objects_uploaded, first_uploads + 1);
  ExpectRestores(std::nullopt, r.set);
}

TEST_F(ReplicatorTest, FullBacklogCoalescesToTheNewestSets) {
  Latch release;
  std::atomic<int> head_puts{0};
  faulty_.SetRule([&](std::string_view op, std::string_view key) {
    if (op == "PUT" && key.find("/heads/") != std::string_view::npos && head_puts++ == 0) {
      release.Wait();  // hold the first set in flight
    }
    return Status::Ok();
  });
  ReplicatorOptions o = Options();
  o.max_backlog = 2;
  auto rep = NewReplicator(o);
  rep->Start();
  const uint64_t first = Capture(1);
  rep->Notify(first);
  release.AwaitWaiter();
  std::vector<uint64_t> later;
  for (int v = 2; v <= 8; ++v) {
    later.push_back(Capture(v));
    rep->Notify(later.back());
  }
  ReplicationStatus mid = rep->status();
  EXPECT_EQ(mid.backlog, 2u);
  EXPECT_EQ(mid.sets_coalesced, 5u);
  EXPECT_EQ(mid.lag_sets, later.back()) << "nothing replicated yet";
  release.Open();
  ASSERT_TRUE(rep->WaitIdle(kWait).ok());
  auto listed = ListSets(bucket_, layout_, kIdentity);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(*listed, (std::vector<uint64_t>{first, later[5], later[6]}));
  const ReplicationStatus st = rep->status();
  EXPECT_EQ(st.sets_replicated, 3u);
  EXPECT_EQ(st.sets_coalesced, 5u);
  EXPECT_EQ(st.lag_sets, 0u);
  ExpectRestores(std::nullopt, later.back());
  ExpectRestores(later[5], later[5]);
}

TEST_F(ReplicatorTest, EndpointDownIsRetriedAndReportedThenCatchesUp) {
  auto rep = NewReplicator(Options());
  rep->Start();
  rep->Notify(Capture(1));
  ASSERT_TRUE(rep->WaitIdle(kWait).ok());
  faulty_.SetRule([](std::string_view, std::string_view) {
    return Status::Unavailable("GET dk-test/x: connection refused; gave up after 3 attempts");
  });
  const int64_t captured_at = clock_.now();
  const uint64_t s2 = Capture(2);
  rep->Notify(s2);
  const uint64_t s3 = Capture(3);
  rep->Notify(s3);
  clock_.Advance(30 * testing::kSecondNs);
  ReplicationStatus st;
  for (int i = 0; i < 2000; ++i) {
    st = rep->status();
    if (st.consecutive_failures >= 3) break;
    std::this_thread::sleep_for(milliseconds(2));
  }
  EXPECT_TRUE(st.failing);
  EXPECT_GE(st.consecutive_failures, 3u);
  EXPECT_EQ(st.last_error_reason, "EndpointUnavailable");
  EXPECT_NE(st.last_error.find("unreachable"), std::string::npos) << st.last_error;
  EXPECT_NE(st.last_error.find("connection refused"), std::string::npos) << st.last_error;
  EXPECT_EQ(st.lag_sets, 2u);
  EXPECT_DOUBLE_EQ(st.lag_seconds, (clock_.now() - captured_at) / 1e9);
  EXPECT_EQ(st.last_set, 1u);
  EXPECT_FALSE(rep->WaitIdle(milliseconds(1)).ok());
  EXPECT_EQ(BucketHead().set, 1u);  // the old head still stands

  faulty_.ClearRule();
  rep->RetryNow();
  ASSERT_TRUE(rep->WaitIdle(kWait).ok());
  st = rep->status();
  EXPECT_FALSE(st.failing);
  EXPECT_EQ(st.last_set, s3);
  EXPECT_EQ(st.lag_sets, 0u);
  EXPECT_EQ(st.last_error_reason, "EndpointUnavailable") << "kept for the report";
  ExpectRestores(std::nullopt, s3);
}

TEST_F(ReplicatorTest, FailureReasonsAreClassified) {
  struct Case {
    Status error;
    const char* reason;
    const char* words;
  };
  const std::vector<Case> cases = {
      {Status::PermissionDenied("PUT b/k: S3 InvalidAccessKeyId (HTTP 403)"), "AccessDenied",
       "credentials"},
      {Status::NotFound("PUT b/k: S3 NoSuchBucket: The specified bucket does not exist"),
       "BucketNotFound", "does not exist"},
      {Status::FailedPrecondition("clock skew: the S3 server rejected the request time"),
       "ClockSkew", "clock"},
      {Status::Corruption("PUT b/k: S3 BadDigest"), "Corruption", "damaged"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.reason);
    MemoryBucket bucket(clock_.Fn());
    FaultBucket faulty(&bucket);
    faulty.SetRule([&](std::string_view op, std::string_view) {
      return op == "PUT" ? c.error : Status::Ok();
    });
    if (store_->Sets()->empty()) Capture(1);
    auto r = Replicator::Create(store_.get(), &faulty, Options());
    ASSERT_TRUE(r.ok());
    auto rep = std::move(r).value();
    rep->Start();
    ReplicationStatus st;
    for (int i = 0; i < 5000 && !(st = rep->status()).failing; ++i) {
      std::this_thread::sleep_for(milliseconds(1));
    }
    EXPECT_EQ(st.last_error_reason, c.reason);
    EXPECT_NE(st.last_error.find(c.words), std::string::npos) << st.last_error;
    EXPECT_NE(st.last_error.find(c.error.message()), std::string::npos) << st.last_error;
    EXPECT_EQ(st.lag_sets, 1u);
    rep->Stop();
    EXPECT_EQ(rep->status().state, "stopped");
  }
}

TEST_F(ReplicatorTest, StopFinishesTheSetInFlight) {
  Latch release;
  faulty_.SetRule([&](std::string_view op, std::string_view key) {
    if (op == "PUT" && key.find("/manifests/") != std::string_view::npos) release.Wait();
    return Status::Ok();
  });
  auto rep = NewReplicator(Options());
  rep->Start();
  const uint64_t s1 = Capture(1);
  rep->Notify(s1);
  release.AwaitWaiter();
  auto stopped = std::async(std::launch::async, [&] { rep->Stop(); });
  EXPECT_EQ(stopped.wait_for(milliseconds(50)), std::future_status::timeout)
      << "Stop returned while a set was in flight";
  release.Open();
  stopped.get();
  EXPECT_EQ(BucketHead().set, s1);
  EXPECT_EQ(rep->status().state, "stopped");
  EXPECT_EQ(rep->status().last_set, s1);
}

TEST_F(ReplicatorTest, HeadWrittenLastSoAFailedHeadLeavesTheOldStateReadable) {
  auto rep = NewReplicator(Options());
  rep->Start();
  const uint64_t s1 = Capture(1);
  rep->Notify(s1);
  ASSERT_TRUE(rep->WaitIdle(kWait).ok());
  faulty_.SetRule([](std::string_view op, std::string_view key) {
    if (op == "PUT" && key.find("/heads/") != std::string_view::npos) {
      return Status::Unavailable("injected: crash before the head");
    }
    return Status::Ok();
  });
  const uint64_t s2 = Capture(2);
  rep->Notify(s2);
  for (int i = 0; i < 5000 && !rep->status().failing; ++i) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  rep->Stop();
  EXPECT_TRUE(bucket_.Peek(layout_.ManifestKey(kIdentity, s2)).has_value());
  EXPECT_EQ(BucketHead().set, s1);
  ExpectRestores(std::nullopt, s1);
  faulty_.ClearRule();
  rep->Start();
  ASSERT_TRUE(rep->WaitIdle(kWait).ok());
  EXPECT_EQ(BucketHead().set, s2);
  ExpectRestores(std::nullopt, s2);
}

TEST_F(ReplicatorTest, RestartReadsTheHeadAndCatchesUpWithTheStore) {
  const uint64_t s1 = Capture(1);
  {
    auto rep = NewReplicator(Options());
    rep->Notify(s1);  // before Start: queued
    rep->Start();
    ASSERT_TRUE(rep->WaitIdle(kWait).ok());
  }
  bucket_.ResetCounts();
  {
    auto rep = NewReplicator(Options());
    rep->Start();
    ASSERT_TRUE(rep->WaitIdle(kWait).ok());
    EXPECT_EQ(bucket_.counts().put, 0u) << "already replicated";
    EXPECT_EQ(rep->status().last_set, s1);
  }
  const uint64_t s2 = Capture(2);  // captured while no replicator ran
  auto rep = NewReplicator(Options());
  rep->Start();
  ASSERT_TRUE(rep->WaitIdle(kWait).ok());
  EXPECT_EQ(BucketHead().set, s2);
  EXPECT_EQ(rep->status().last_set, s2);
  ExpectRestores(std::nullopt, s2);
}

TEST_F(ReplicatorTest, SetGoneFromTheStoreIsSkipped) {
  auto rep = NewReplicator(Options());
  rep->Start();
  ASSERT_TRUE(rep->WaitIdle(kWait).ok());
  rep->Notify(77);
  ASSERT_TRUE(rep->WaitIdle(kWait).ok());
  const ReplicationStatus st = rep->status();
  EXPECT_EQ(st.sets_skipped, 1u);
  EXPECT_EQ(st.last_error_reason, "SetGone");
  EXPECT_FALSE(st.failing);
  EXPECT_EQ(st.lag_sets, 0u);
}

TEST_F(ReplicatorTest, IdenticalContentIsUploadedOnceAcrossIdentities) {
  auto a = NewReplicator(Options());
  a->Start();
  a->Notify(Capture(1));
  ASSERT_TRUE(a->WaitIdle(kWait).ok());
  const uint64_t objects = bucket_.Keys("pfx/objects/").size();
  // A second pod with the same files, its own store and its own index.
  TempDir other("dk-replica-b");
  auto store_b = OpenStoreOrDie(other.Sub("store"), testing::TestStoreOptions());
  auto r = CaptureOrDie(*store_b, dir_.Sub("data"));
  ReplicatorOptions o = Options();
  o.identity = "ns/db/1";
  auto b = NewReplicator(o, store_b.get());
  b->Start();
  b->Notify(r.set);
  ASSERT_TRUE(b->WaitIdle(kWait).ok());
  EXPECT_EQ(b->status().objects_uploaded, 0u);
  EXPECT_EQ(b->status().objects_reused, objects);
  EXPECT_EQ(bucket_.Keys("pfx/objects/").size(), objects);
}

TEST_F(ReplicatorTest, SmallChunksAreUploadedWithoutAskingFirst) {
  auto a = NewReplicator(Options());
  a->Start();
  a->Notify(Capture(1));
  ASSERT_TRUE(a->WaitIdle(kWait).ok());
  const uint64_t objects = bucket_.Keys("pfx/objects/").size();
  bucket_.ResetCounts();
  TempDir other("dk-replica-b");
  auto store_b = OpenStoreOrDie(other.Sub("store"), testing::TestStoreOptions());
  auto r = CaptureOrDie(*store_b, dir_.Sub("data"));
  ReplicatorOptions o = Options();
  o.identity = "ns/db/1";
  o.head_min_size = 1 << 20;  // every test chunk is below it
  auto b = NewReplicator(o, store_b.get());
  b->Start();
  b->Notify(r.set);
  ASSERT_TRUE(b->WaitIdle(kWait).ok());
  EXPECT_EQ(bucket_.counts().head, 0u);
  EXPECT_EQ(b->status().objects_uploaded, objects);
  EXPECT_EQ(bucket_.Keys("pfx/objects/").size(), objects) << "same keys, same content";
}

TEST_F(ReplicatorTest, ObjectsOlderThanHalfTheGraceAreUploadedAgain) {
  auto a = NewReplicator(Options());
  a->Start();
  a->Notify(Capture(1));
  ASSERT_TRUE(a->WaitIdle(kWait).ok());
  const uint64_t objects = bucket_.Keys("pfx/objects/").size();
  clock_.Advance(31 * 60 * testing::kSecondNs);  // gc_grace is 1 h: these are now at risk
  TempDir other("dk-replica-b");
  auto store_b = OpenStoreOrDie(other.Sub("store"), testing::TestStoreOptions());
  auto r = CaptureOrDie(*store_b, dir_.Sub("data"));
  ReplicatorOptions o = Options();
  o.identity = "ns/db/1";
  auto b = NewReplicator(o, store_b.get());
  b->Start();
  b->Notify(r.set);
  ASSERT_TRUE(b->WaitIdle(kWait).ok());
  EXPECT_EQ(b->status().objects_refreshed, objects);
  EXPECT_EQ(b->status().objects_uploaded, objects);
  for (const auto& k : bucket_.Keys("pfx/objects/")) {
    EXPECT_EQ(bucket_.Head(k)->last_modified_ns, clock_.now()) << k;
  }
}

TEST_F(ReplicatorTest, MovedPodContinuesTheNumberingAndAStaleWriterIsSkipped) {
  // Node A replicated sets 1..3; it captures set 4 but has not replicated it.
  auto a = NewReplicator(Options());
  a->Start();
  uint64_t s = 0;
  for (int v = 1; v <= 3; ++v) {
    s = Capture(v);
    a->Notify(s);
    ASSERT_TRUE(a->WaitIdle(kWait).ok());
  }
  a->Stop();
  const uint64_t a4 = Capture(4);
  // The pod moves to node B: a fresh store whose set 1 is captured later.
  TempDir other("dk-replica-b");
  StoreOptions so = testing::TestStoreOptions();
  const int64_t later = dk::SystemClockNs() + testing::kHourNs;
  so.clock = [later] { return later; };
  auto store_b = OpenStoreOrDie(other.Sub("store"), so);
  dk::testing::WriteFile(other.Sub("data") + "/moved.txt", "state on node b\n");
  auto rb = CaptureOrDie(*store_b, other.Sub("data"));
  ASSERT_EQ(rb.set, 1u);
  ReplicatorOptions ob = Options();
  ob.writer = "node-b";
  auto b = NewReplicator(ob, store_b.get());
  b->Start();
  ASSERT_TRUE(b->WaitIdle(kWait).ok());
  Head h = BucketHead();
  EXPECT_EQ(h.set, 4u) << "bucket numbering continues above node A's sets";
  EXPECT_EQ(h.source_set, 1u);
  EXPECT_EQ(h.writer, "node-b");
  // Node A's agent restarts with its older set 4: it must not roll the bucket back.
  auto a2 = NewReplicator(Options());
  a2->Start();
  a2->Notify(a4);
  ASSERT_TRUE(a2->WaitIdle(kWait).ok());
  EXPECT_EQ(a2->status().last_error_reason, "Superseded");
  EXPECT_EQ(a2->status().sets_skipped, 1u);
  EXPECT_EQ(BucketHead(), h);
}

TEST_F(ReplicatorTest, RejectsBadOptions) {
  ReplicatorOptions o = Options();
  o.identity = "a//b";
  EXPECT_EQ(Replicator::Create(store_.get(), &bucket_, o).status().code(),
            StatusCode::kInvalidArgument);
  o = Options();
  o.max_backlog = 0;
  EXPECT_FALSE(Replicator::Create(store_.get(), &bucket_, o).ok());
  o = Options();
  o.parallelism = 0;
  EXPECT_FALSE(Replicator::Create(store_.get(), &bucket_, o).ok());
  EXPECT_FALSE(Replicator::Create(nullptr, &bucket_, Options()).ok());
}

}  // namespace
}  // namespace dk::replica
