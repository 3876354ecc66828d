// Replication against a real S3-compatible server (versitygw, started by e2e/s3/server.sh through
// the ctest fixture `s3_server`; DK_S3_ENV names its env file). Each test works under its own
// prefix, so the tests can run in parallel against one server.
//
// Labels: integration;s3.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <thread>

#include "libreplica/bucket_gc.h"
#include "libreplica/bucket_reader.h"
#include "libreplica/fault_bucket.h"
#include "libreplica/replica_test_util.h"
#include "libreplica/replicator.h"
#include "libreplica/s3_bucket.h"
#include "libreplica/tcp_proxy.h"
#include "libs3/s3_client.h"
#include "s3_server_env.h"

namespace dk::replica {
namespace {

using dk::testing::CaptureOrDie;
using dk::testing::DiffTrees;
using dk::testing::MakeDirs;
using dk::testing::MakeSymlink;
using dk::testing::OpenStoreOrDie;
using dk::testing::ReadTree;
using dk::testing::RemoveTree;
using dk::testing::SplitMix64;
using dk::testing::TempDir;
using dk::testing::TextBytes;
using dk::testing::Tree;
using dk::testing::WriteFile;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr milliseconds kWait{120'000};
constexpr size_t kMiB = 1 << 20;

using dk::testing::S3ServerEnv;

// A clock ahead of the real one (RequestTimeTooSkewed).
class SkewedClock final : public s3::Clock {
 public:
  explicit SkewedClock(seconds skew) : skew_(skew) {}
  std::chrono::system_clock::time_point Now() override {
    return std::chrono::system_clock::now() + skew_;
  }
  void SleepFor(milliseconds d) override { s3::RealClock()->SleepFor(d); }

 private:
  seconds skew_;
};

class ReplicaIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(S3ServerEnv().count("S3_ENDPOINT"))
        << "no S3 server: set DK_S3_ENV to the env file written by `e2e/s3/server.sh start DIR` "
           "(ctest does this through the s3_server fixture)";
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    prefix_ = std::string("replica-") + info->name() + "-" + std::to_string(::getpid());
    layout_ = BucketLayout(prefix_);
    bucket_ = NewBucket(S3Options());
    ASSERT_NE(bucket_, nullptr);
  }

  s3::S3Options S3Options() {
    const auto& env = S3ServerEnv();
    s3::S3Options o;
    o.endpoint = env.at("S3_ENDPOINT");
    o.region = env.at("S3_REGION");
    o.bucket = env.at("S3_BUCKET");
    o.credentials = {env.at("S3_ACCESS_KEY"), env.at("S3_SECRET_KEY"), ""};
    o.request_timeout = milliseconds(10'000);
    o.retry.max_attempts = 2;
    o.retry.initial_backoff = milliseconds(20);
    o.retry.max_backoff = milliseconds(100);
    return o;
  }

  std::unique_ptr<S3Bucket> NewBucket(const s3::S3Options& o) {
    auto b = S3Bucket::Create(o);
    EXPECT_TRUE(b.ok()) << b.status();
    return b.ok() ? std::move(b).value() : nullptr;
  }

  ReplicatorOptions Options(const std::string& identity = "ns/db/0") {
    ReplicatorOptions o;
    o.identity = identity;
    o.prefix = prefix_;
    o.writer = "node-test";
    o.initial_backoff = milliseconds(50);
    o.max_backoff = milliseconds(500);
    return o;
  }

  std::unique_ptr<Replicator> NewReplicator(Store* store, Bucket* bucket, ReplicatorOptions o) {
    auto r = Replicator::Create(store, bucket, std::move(o));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? std::move(r).value() : nullptr;
  }

  // Waits (bounded) until the replicator reports a failure.
  ReplicationStatus AwaitFailing(Replicator& rep, uint64_t min_failures = 1) {
    ReplicationStatus st;
    for (int i = 0; i < 6000; ++i) {
      st = rep.status();
      if (st.failing && st.consecutive_failures >= min_failures) break;
      std::this_thread::sleep_for(milliseconds(10));
    }
    return st;
  }

  void ExpectRestores(Bucket& bucket, const std::string& identity, std::optional<uint64_t> set,
                      const Tree& expected) {
    TempDir out("dk-replica-it-out");
    auto r = testing::RestoreOrFail(bucket, layout_, identity, out.Sub("t"), set);
    EXPECT_TRUE(r.restore.failures.empty())
        << (r.restore.failures.empty() ? "" : r.restore.failures[0].error);
    EXPECT_EQ(DiffTrees(expected, ReadTree(out.Sub("t")), true), "");
  }

  std::string prefix_;
  BucketLayout layout_;
  std::unique_ptr<S3Bucket> bucket_;
};

// The workload: small files in directories, a 10 MiB file cut into chunks, a symlink, an empty
// directory, modes; later versions edit, insert into the large file, delete and add.
class Workload {
 public:
  explicit Workload(std::string root) : root_(std::move(root)) {}

  void Version(int v) {
    SplitMix64 rng(500 + v);
    if (v == 1) {
      for (int i = 0; i < 60; ++i) {
        WriteFile(Path("small/d" + std::to_string(i % 6) + "/f" + std::to_string(i) + ".txt"),
                  TextBytes(rng, 100 + rng.Below(6000)));
      }
      big_ = TextBytes(rng, 6 * kMiB);
      Bytes noise = rng.RandomBytes(4 * kMiB);  // incompressible part
      big_.insert(big_.end(), noise.begin(), noise.end());
      WriteFile(Path("data/big.bin"), big_);
      WriteFile(Path("bin/run.sh"), "#!/bin/sh\necho hi\n", 0755);
      MakeDirs(Path("links"));
      MakeSymlink("../data/big.bin", Path("links/big"));
      MakeDirs(Path("empty/dir"));
    } else if (v == 2) {
      for (int i = 0; i < 60; i += 7) {
        WriteFile(Path("small/d" + std::to_string(i % 6) + "/f" + std::to_string(i) + ".txt"),
                  TextBytes(rng, 300));
      }
      RemoveTree(Path("small/d1/f1.txt"));
      RemoveTree(Path("small/d2"));
      WriteFile(Path("small/new.txt"), "added in version 2\n");
      Bytes insert = rng.RandomBytes(3000);
      big_.insert(big_.begin() + 5 * kMiB, insert.begin(), insert.end());
      WriteFile(Path("data/big.bin"), big_);
    } else {
      RemoveTree(Path("data/big.bin"));
      WriteFile(Path("bin/run.sh"), "#!/bin/sh\necho version 3\n", 0700);
      WriteFile(Path("small/d0/f0.txt"), TextBytes(rng, 2000), 0600);
    }
  }
  std::string Path(const std::string& rel) const { return root_ + "/" + rel; }

 private:
  std::string root_;
  Bytes big_;
};

TEST_F(ReplicaIntegrationTest, ReplicatesSetsAndRestoresByteExactAtLatestAndOlderSets) {
  TempDir dir("dk-replica-it");
  auto store = OpenStoreOrDie(dir.Sub("store"), dk::testing::FastOptions());
  auto rep = NewReplicator(store.get(), bucket_.get(), Options());
  rep->Start();
  Workload w(dir.Sub("data"));
  std::map<uint64_t, Tree> trees;
  std::vector<uint64_t> sets;
  std::vector<uint64_t> uploaded;
  for (int v = 1; v <= 3; ++v) {
    w.Version(v);
    auto c = CaptureOrDie(*store, dir.Sub("data"));
    trees[c.set] = ReadTree(dir.Sub("data"));
    sets.push_back(c.set);
    rep->Notify(c.set);
    ASSERT_TRUE(rep->WaitIdle(kWait).ok()) << rep->status().last_error;
    uploaded.push_back(rep->status().objects_uploaded);
  }
  const ReplicationStatus st = rep->status();
  EXPECT_EQ(st.sets_replicated, 3u);
  EXPECT_EQ(st.last_set, sets.back());
  EXPECT_EQ(st.lag_sets, 0u);
  auto first = store->Manifest(sets[0]);
  ASSERT_TRUE(first.ok()) << first.status();
  const size_t first_chunks = first->Chunks().size();
  EXPECT_GE(first_chunks, 10u) << "the 10 MiB file is cut into chunks (at most 1 MiB each)";
  EXPECT_GE(uploaded[0], first_chunks) << "every chunk of the first set is uploaded";
  EXPECT_LT(uploaded[1] - uploaded[0], 40u) << "version 2 sends only what changed";
  EXPECT_EQ(uploaded[2], uploaded[1] + 2) << "version 3: two changed small files";
  auto head = ReadHead(*bucket_, layout_, "ns/db/0");
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->set, sets.back());
  EXPECT_EQ(head->root, (*store->Sets()).back().root);

  // A node with no local copy: restore from the bucket into empty directories.
  ExpectRestores(*bucket_, "ns/db/0", std::nullopt, trees[sets[2]]);
  ExpectRestores(*bucket_, "ns/db/0", sets[1], trees[sets[1]]);
  ExpectRestores(*bucket_, "ns/db/0", sets[0], trees[sets[0]]);
}

TEST_F(ReplicaIntegrationTest, SharedContentIsUploadedOnceAcrossIdentities) {
  TempDir a("dk-replica-it-a"), b("dk-replica-it-b");
  SplitMix64 rng(99);
  const Bytes shared = rng.RandomBytes(2 * kMiB);
  WriteFile(a.Sub("data/shared.bin"), shared);
  WriteFile(a.Sub("data/own-a.txt"), "pod a\n");
  WriteFile(b.Sub("data/shared.bin"), shared);
  WriteFile(b.Sub("data/own-b.txt"), "pod b\n");
  auto sa = OpenStoreOrDie(a.Sub("store"), dk::testing::FastOptions());
  auto sb = OpenStoreOrDie(b.Sub("store"), dk::testing::FastOptions());
  auto ca = CaptureOrDie(*sa, a.Sub("data"));
  auto cb = CaptureOrDie(*sb, b.Sub("data"));
  auto ra = NewReplicator(sa.get(), bucket_.get(), Options("ns/web/0"));
  auto rb = NewReplicator(sb.get(), bucket_.get(), Options("ns/web/1"));
  ra->Start();
  ASSERT_TRUE(ra->WaitIdle(kWait).ok()) << ra->status().last_error;
  rb->Start();
  ASSERT_TRUE(rb->WaitIdle(kWait).ok()) << rb->status().last_error;
  const size_t chunks_a = sa->Manifest(ca.set)->Chunks().size();
  EXPECT_EQ(ra->status().objects_uploaded, chunks_a);
  EXPECT_EQ(rb->status().objects_uploaded, 1u) << "only own-b.txt is new";
  EXPECT_EQ(rb->status().objects_reused, chunks_a - 1);
  auto objects = s3::S3Client::Create(S3Options()).value()->ListAllObjects(layout_.ObjectsPrefix());
  ASSERT_TRUE(objects.ok());
  EXPECT_EQ(objects->size(), chunks_a + 1);
  ExpectRestores(*bucket_, "ns/web/1", std::nullopt, ReadTree(b.Sub("data")));
  (void)cb;
}

TEST_F(ReplicaIntegrationTest, HeadIsWrittenLastAFailureBeforeItKeepsTheOldState) {
  TempDir dir("dk-replica-it");
  auto store = OpenStoreOrDie(dir.Sub("store"), dk::testing::FastOptions());
  FaultBucket faulty(bucket_.get());
  auto rep = NewReplicator(store.get(), &faulty, Options());
  rep->Start();
  Workload w(dir.Sub("data"));
  w.Version(1);
  auto c1 = CaptureOrDie(*store, dir.Sub("data"));
  const Tree t1 = ReadTree(dir.Sub("data"));
  rep->Notify(c1.set);
  ASSERT_TRUE(rep->WaitIdle(kWait).ok()) << rep->status().last_error;

  faulty.SetRule([](std::string_view op, std::string_view key) {
    if (op == "PUT" && key.find("/heads/") != std::string_view::npos) {
      return Status::Unavailable("injected: the node died before writing the head");
    }
    return Status::Ok();
  });
  w.Version(2);
  auto c2 = CaptureOrDie(*store, dir.Sub("data"));
  const Tree t2 = ReadTree(dir.Sub("data"));
  rep->Notify(c2.set);
  const ReplicationStatus st = AwaitFailing(*rep);
  EXPECT_TRUE(st.failing);
  rep->Stop();
  // Objects and manifest of set 2 are there; the head still names set 1, which restores.
  EXPECT_TRUE(bucket_->Head(layout_.ManifestKey("ns/db/0", c2.set)).ok());
  auto head = ReadHead(*bucket_, layout_, "ns/db/0");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->set, c1.set);
  ExpectRestores(*bucket_, "ns/db/0", std::nullopt, t1);
  // The fault clears: replication finishes set 2.
  faulty.ClearRule();
  rep->Start();
  ASSERT_TRUE(rep->WaitIdle(kWait).ok()) << rep->status().last_error;
  EXPECT_EQ(ReadHead(*bucket_, layout_, "ns/db/0")->set, c2.set);
  ExpectRestores(*bucket_, "ns/db/0", std::nullopt, t2);
}

TEST_F(ReplicaIntegrationTest, EndpointDownShowsErrorAndLagThenCatchesUp) {
  const std::string endpoint = S3ServerEnv().at("S3_ENDPOINT");
  const int server_port = std::stoi(endpoint.substr(endpoint.rfind(':') + 1));
  testing::TcpProxy proxy(server_port);
  ASSERT_TRUE(proxy.Start());
  s3::S3Options o = S3Options();
  o.endpoint = "http://127.0.0.1:" + std::to_string(proxy.port());
  auto bucket = NewBucket(o);
  TempDir dir("dk-replica-it");
  auto store = OpenStoreOrDie(dir.Sub("store"), dk::testing::FastOptions());
  auto rep = NewReplicator(store.get(), bucket.get(), Options());
  rep->Start();
  Workload w(dir.Sub("data"));
  w.Version(1);
  auto c1 = CaptureOrDie(*store, dir.Sub("data"));
  rep->Notify(c1.set);
  ASSERT_TRUE(rep->WaitIdle(kWait).ok()) << rep->status().last_error;

  proxy.Stop();  // the endpoint goes away
  w.Version(2);
  auto c2 = CaptureOrDie(*store, dir.Sub("data"));
  rep->Notify(c2.set);
  w.Version(3);
  auto c3 = CaptureOrDie(*store, dir.Sub("data"));
  const Tree t3 = ReadTree(dir.Sub("data"));
  rep->Notify(c3.set);
  ReplicationStatus st = AwaitFailing(*rep, 2);
  EXPECT_TRUE(st.failing);
  EXPECT_EQ(st.last_error_reason, "EndpointUnavailable");
  EXPECT_NE(st.last_error.find("unreachable"), std::string::npos) << st.last_error;
  EXPECT_EQ(st.lag_sets, 2u);
  EXPECT_GT(st.lag_seconds, 0.0);
  EXPECT_EQ(st.last_set, c1.set);
  EXPECT_EQ(st.state, "backoff");
  EXPECT_GT(st.next_retry_ns, 0);
  std::printf("status while down: %s\n", st.ToJson().c_str());
  // Nothing is lost locally.
  EXPECT_EQ((*store->Sets()).back().set, c3.set);

  ASSERT_TRUE(proxy.Start());  // same port: the endpoint is back
  rep->RetryNow();
  ASSERT_TRUE(rep->WaitIdle(kWait).ok()) << rep->status().last_error;
  st = rep->status();
  EXPECT_FALSE(st.failing);
  EXPECT_EQ(st.last_set, c3.set);
  EXPECT_EQ(st.lag_sets, 0u);
  EXPECT_EQ(st.lag_seconds, 0.0);
  ExpectRestores(*bucket_, "ns/db/0", std::nullopt, t3);
}

TEST_F(ReplicaIntegrationTest, BadCredentialsMissingBucketAndClockSkewAreClearErrors) {
  TempDir dir("dk-replica-it");
  auto store = OpenStoreOrDie(dir.Sub("store"), dk::testing::FastOptions());
  WriteFile(dir.Sub("data/f.txt"), "x\n");
  CaptureOrDie(*store, dir.Sub("data"));
  SkewedClock skewed(seconds(3 * 3600));
  struct Case {
    const char* name;
    std::function<void(s3::S3Options*)> edit;
    const char* reason;
    const char* words;
  };
  const std::vector<Case> cases = {
      {"wrong secret", [](s3::S3Options* o) { o->credentials.secret_key = "wrong-secret"; },
       "AccessDenied", "credentials"},
      {"unknown access key", [](s3::S3Options* o) { o->credentials.access_key = "nobody"; },
       "AccessDenied", "credentials"},
      {"missing bucket", [](s3::S3Options* o) { o->bucket = "dk-no-such-bucket"; },
       "BucketNotFound", "does not exist"},
      {"clock skew", [&](s3::S3Options* o) { o->clock = &skewed; }, "ClockSkew", "NTP"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    s3::S3Options o = S3Options();
    c.edit(&o);
    auto bucket = NewBucket(o);
    ASSERT_NE(bucket, nullptr);
    auto rep = NewReplicator(store.get(), bucket.get(), Options());
    rep->Start();
    const ReplicationStatus st = AwaitFailing(*rep);
    rep->Stop();
    EXPECT_EQ(st.last_error_reason, c.reason) << st.last_error;
    EXPECT_NE(st.last_error.find(c.words), std::string::npos) << st.last_error;
    EXPECT_EQ(st.lag_sets, 1u);
    EXPECT_EQ(st.last_error.find(S3Options().credentials.secret_key), std::string::npos);
    std::printf("%s: %s\n", c.name, st.last_error.c_str());
  }
}

TEST_F(ReplicaIntegrationTest, CorruptedObjectFailsItsFileNamingTheObjectOthersRestore) {
  TempDir dir("dk-replica-it");
  auto store = OpenStoreOrDie(dir.Sub("store"), dk::testing::FastOptions());
  Workload w(dir.Sub("data"));
  w.Version(1);
  auto c = CaptureOrDie(*store, dir.Sub("data"));
  const Tree tree = ReadTree(dir.Sub("data"));
  auto rep = NewReplicator(store.get(), bucket_.get(), Options());
  rep->Start();
  ASSERT_TRUE(rep->WaitIdle(kWait).ok()) << rep->status().last_error;
  auto m = store->Manifest(c.set);
  ASSERT_TRUE(m.ok());
  std::string key;
  for (const auto& e : m->entries) {
    if (e.path == "data/big.bin") key = layout_.ObjectKey(e.chunks.at(e.chunks.size() / 2));
  }
  ASSERT_FALSE(key.empty());
  auto client = s3::S3Client::Create(S3Options());
  ASSERT_TRUE(client.ok());
  auto original = (*client)->GetObject(key);
  ASSERT_TRUE(original.ok());
  for (const char* damage : {"garbage", "truncated"}) {
    SCOPED_TRACE(damage);
    const Bytes bad = std::string(damage) == "garbage"
                          ? Bytes(original->size(), 0xa5)
                          : Bytes(original->begin(), original->begin() + original->size() / 2);
    ASSERT_TRUE((*client)->PutObject(key, bad).ok());
    TempDir out("dk-replica-it-out");
    auto r = RestoreFromBucket(*bucket_, layout_, "ns/db/0", out.Sub("t"), RestoreRequest{});
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->restore.failures.size(), 1u);
    EXPECT_EQ(r->restore.failures[0].path, "data/big.bin");
    EXPECT_NE(r->restore.failures[0].error.find("Corruption"), std::string::npos);
    EXPECT_NE(r->restore.failures[0].error.find(key), std::string::npos)
        << r->restore.failures[0].error;
    std::printf("%s\n", r->restore.failures[0].error.c_str());
    Tree expected = tree;
    expected.erase("data/big.bin");
    EXPECT_EQ(DiffTrees(expected, ReadTree(out.Sub("t")), true), "");
  }
}

TEST_F(ReplicaIntegrationTest, BucketGcDeletesOnlyUnreferencedObjectsOlderThanTheGrace) {
  TempDir dir("dk-replica-it");
  auto store = OpenStoreOrDie(dir.Sub("store"), dk::testing::FastOptions());
  auto rep = NewReplicator(store.get(), bucket_.get(), Options());
  rep->Start();
  std::vector<uint64_t> sets;
  std::map<uint64_t, Tree> trees;
  for (int v = 1; v <= 3; ++v) {
    WriteFile(dir.Sub("data/v.txt"), "version " + std::to_string(v) + "\n");
    if (v == 1) WriteFile(dir.Sub("data/only-in-1.txt"), "gone after set 1\n");
    if (v == 2) RemoveTree(dir.Sub("data/only-in-1.txt"));
    if (v == 1) WriteFile(dir.Sub("data/kept.txt"), "always here\n");
    auto c = CaptureOrDie(*store, dir.Sub("data"));
    sets.push_back(c.set);
    trees[c.set] = ReadTree(dir.Sub("data"));
    rep->Notify(c.set);
    ASSERT_TRUE(rep->WaitIdle(kWait).ok()) << rep->status().last_error;
  }
  rep->Stop();
  auto key_of = [&](uint64_t set, const std::string& path) {
    auto m = store->Manifest(set);
    EXPECT_TRUE(m.ok()) << m.status();
    for (const auto& e : m->entries) {
      if (e.path == path) return layout_.ObjectKey(e.chunks.at(0));
    }
    return std::string();
  };
  const std::string only1 = key_of(sets[0], "only-in-1.txt");
  const std::string v1 = key_of(sets[0], "v.txt");
  const std::string v2 = key_of(sets[1], "v.txt");
  const std::string kept = key_of(sets[2], "kept.txt");
  const std::string garbage = layout_.ObjectKey(HashBytes(AsBytes("garbage")));
  ASSERT_TRUE(bucket_->Put(garbage, AsBytes("garbage")).ok());

  BucketGcOptions o;
  o.grace = std::chrono::hours(1);
  o.keep_last = 1;
  // The server's clock (gc/clock): everything is young, so no object goes.
  auto r = CollectBucketGarbage(*bucket_, layout_, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_LT(std::abs(r->now_ns - SystemClockNs()), int64_t{300} * 1'000'000'000);
  EXPECT_EQ(r->objects_deleted, 0u);
  EXPECT_EQ(r->manifests_deleted, 0u);
  EXPECT_GT(r->objects_young, 0u);
  // Two hours later (on the server's clock): sets 1 and 2 leave; their only objects and the
  // garbage go; what set 3 uses stays.
  const int64_t server_now = r->now_ns;
  o.now = [&]() -> Result<int64_t> { return server_now + 2 * dk::testing::kHourNs; };
  r = CollectBucketGarbage(*bucket_, layout_, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->manifests_deleted, 2u);
  EXPECT_EQ(r->objects_deleted, 4u) << "only-in-1.txt, v.txt of sets 1 and 2, the garbage";
  EXPECT_EQ(bucket_->Head(only1).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(bucket_->Head(v2).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(bucket_->Head(v1).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(bucket_->Head(garbage).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(bucket_->Head(kept).ok());
  EXPECT_EQ(bucket_->Head(layout_.ManifestKey("ns/db/0", sets[0])).status().code(),
            StatusCode::kNotFound);
  ExpectRestores(*bucket_, "ns/db/0", std::nullopt, trees[sets[2]]);
}

TEST_F(ReplicaIntegrationTest, PurgeOfAStatefulSetsIdentitiesThenGcLeavesOthersRestorable) {
  // demo/db/0 and demo/db/1 (the StatefulSet being purged) and demo/web/0 share a chunk.
  TempDir dir("dk-replica-it-purge");
  SplitMix64 rng(7);
  const Bytes shared = rng.RandomBytes(300'000);
  std::map<std::string, std::unique_ptr<Store>> stores;
  std::map<std::string, Tree> trees;
  std::map<std::string, std::string> own_keys;
  for (const std::string id : {"demo/db/0", "demo/db/1", "demo/web/0"}) {
    const std::string d = dir.Sub(id);
    WriteFile(d + "/data/shared.bin", shared);
    WriteFile(d + "/data/own.txt", "only " + id + "\n");
    stores[id] = OpenStoreOrDie(d + "/store", dk::testing::FastOptions());
    auto c = CaptureOrDie(*stores[id], d + "/data");
    trees[id] = ReadTree(d + "/data");
    auto m = stores[id]->Manifest(c.set);
    ASSERT_TRUE(m.ok()) << m.status();
    for (const auto& e : m->entries) {
      if (e.path == "own.txt") own_keys[id] = layout_.ObjectKey(e.chunks.at(0));
    }
    auto rep = NewReplicator(stores[id].get(), bucket_.get(), Options(id));
    rep->Start();
    ASSERT_TRUE(rep->WaitIdle(kWait).ok()) << rep->status().last_error;
    rep->Stop();
  }

  auto purged = PurgeIdentities(*bucket_, layout_, "demo/db/");
  ASSERT_TRUE(purged.ok()) << purged.status();
  EXPECT_EQ(purged->identities, 2u);
  EXPECT_EQ(purged->heads_deleted, 2u);
  EXPECT_EQ(purged->manifests_deleted, 2u);
  EXPECT_EQ(ReadHead(*bucket_, layout_, "demo/db/0").status().code(), StatusCode::kNotFound);
  auto left = s3::S3Client::Create(S3Options())
                  .value()
                  ->ListAllObjects(layout_.prefix() + "manifests/demo/db/");
  ASSERT_TRUE(left.ok()) << left.status();
  EXPECT_TRUE(left->empty());

  // GC on the server's clock a day and an hour later: the purged pods' own chunks go, the
  // shared one stays for demo/web/0, which still restores byte-exact.
  BucketGcOptions o;
  o.grace = std::chrono::hours(24);
  auto now = CollectBucketGarbage(*bucket_, layout_, o);  // takes the server's clock
  ASSERT_TRUE(now.ok()) << now.status();
  EXPECT_EQ(now->objects_deleted, 0u) << "everything is younger than the grace";
  const int64_t later = now->now_ns + 25 * dk::testing::kHourNs;
  o.now = [later]() -> Result<int64_t> { return later; };
  auto r = CollectBucketGarbage(*bucket_, layout_, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->identities, 1u);
  EXPECT_EQ(r->objects_deleted, 2u) << "own.txt of db-0 and db-1";
  EXPECT_EQ(bucket_->Head(own_keys["demo/db/0"]).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(bucket_->Head(own_keys["demo/db/1"]).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(bucket_->Head(own_keys["demo/web/0"]).ok());
  ExpectRestores(*bucket_, "demo/web/0", std::nullopt, trees["demo/web/0"]);
}

}  // namespace
}  // namespace dk::replica
