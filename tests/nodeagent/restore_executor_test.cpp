// RestoreExecutor: restore safety (verified, byte-exact with modes, mtimes and links, never
// twice, never over newer data, never through a symlink, corruption detected), the marker
// protocol, point-in-time, resumable restores from a peer, and the bucket as the last source.
#include "restore_executor.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "agent_test_util.h"
#include "libreplica/fault_bucket.h"
#include "libreplica/layout.h"
#include "libreplica/memory_bucket.h"
#include "libreplica/replicator.h"
#include "libstate/manifest.h"
#include "peer_source.h"

namespace dk::agent {
namespace {

using nlohmann::json;
using testing::Exists;
using testing::RandomBytes;
using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

constexpr char kOldUid[] = "11111111-1111-1111-1111-111111111111";
constexpr char kNewUid[] = "22222222-2222-2222-2222-222222222222";

json Pod(const std::string& uid, const json& volumes) {
  return {{"metadata",
           {{"name", "db-0"},
            {"namespace", "shop"},
            {"uid", uid},
            {"ownerReferences", json::array({{{"apiVersion", "apps/v1"},
                                              {"kind", "StatefulSet"},
                                              {"name", "db"},
                                              {"controller", true}}})}}},
          {"spec", {{"volumes", volumes}}}};
}

AgentPolicy Policy(const std::string& volume, const std::string& sub_path = "") {
  AgentPolicy p;
  p.ns = "shop";
  p.name = "db";
  p.stateful_set = "db";
  p.paths.push_back({volume, sub_path, {}, {}});
  return p;
}

// A peer whose answers can fail or be tampered with.
class FakePeer final : public PeerSource {
 public:
  explicit FakePeer(PeerSource* real) : real_(real) {}
  Result<StoreInfo> Info(const PodIdentity& id) override {
    if (down) return Status::Unavailable("peer down");
    return real_->Info(id);
  }
  Result<std::string> Manifest(const PodIdentity& id, std::optional<uint64_t> set,
                               std::optional<int64_t> time_ns) override {
    if (down) return Status::Unavailable("peer down");
    auto m = real_->Manifest(id, set, time_ns);
    if (m.ok() && tamper_manifest) {
      // A peer (or a man in the middle) changes a file's recorded mode and keeps the root.
      auto d = DecodeManifest(*m);
      if (!d.ok()) return d.status();
      for (auto& e : d->entries)
        if (e.type == EntryType::kFile) e.mode ^= 0004;
      return EncodeManifest(*d);
    }
    return m;
  }
  Result<Bytes> Object(const PodIdentity& id, const ObjectId& object) override {
    if (down) return Status::Unavailable("peer down");
    int n = ++objects_served;
    if (fail_after >= 0 && n > fail_after) return Status::Unavailable("peer went away");
    auto b = real_->Object(id, object);
    if (b.ok() && corrupt_objects && !b->empty()) (*b)[0] ^= 0xff;
    return b;
  }
  bool down = false;
  bool tamper_manifest = false;
  bool corrupt_objects = false;
  int fail_after = -1;
  std::atomic<int> objects_served{0};

 private:
  PeerSource* real_;
};

class AgentRestoreExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kroot_ = dir_.Sub("kubelet");
    id_ = PodIdentity{"shop", "db", 0};
    volumes_ = json::array({{{"name", "data"}, {"emptyDir", json::object()}},
                            {{"name", "cache"}, {"emptyDir", json::object()}}});
    StoreOptions defaults;
    defaults.sync = false;
    local_ = std::make_unique<StoreRegistry>(dir_.Sub("node1/stores"), defaults, nullptr);
    remote_ = std::make_unique<StoreRegistry>(dir_.Sub("node2/stores"), defaults, nullptr);
    remote_source_ = std::make_unique<LocalPeerSource>(remote_.get());
    peer_ = std::make_unique<FakePeer>(remote_source_.get());
    RestoreExecutorOptions o;
    o.marker_dir = dir_.Sub("node1/markers");
    o.spool_dir = dir_.Sub("node1/spool");
    o.node_name = "node-1";
    executor_ = std::make_unique<RestoreExecutor>(
        o, local_.get(),
        [this](const SourceCandidate&) -> Result<std::unique_ptr<PeerSource>> {
          connects_++;
          return std::unique_ptr<PeerSource>(new Forward(peer_.get()));
        },
        nullptr);
  }

  // A pass-through owned wrapper (the executor owns what the connector returns).
  class Forward final : public PeerSource {
   public:
    explicit Forward(PeerSource* p) : p_(p) {}
    Result<StoreInfo> Info(const PodIdentity& id) override { return p_->Info(id); }
    Result<std::string> Manifest(const PodIdentity& id, std::optional<uint64_t> s,
                                 std::optional<int64_t> t) override {
      return p_->Manifest(id, s, t);
    }
    Result<Bytes> Object(const PodIdentity& id, const ObjectId& o) override {
      return p_->Object(id, o);
    }

   private:
    PeerSource* p_;
  };

  std::string VolumeDir(const std::string& uid, const std::string& volume = "data") {
    return kroot_ + "/pods/" + uid + "/volumes/kubernetes.io~empty-dir/" + volume;
  }
  VolumeLayout Layout(const std::string& uid, const AgentPolicy& policy) {
    LayoutOptions lo;
    lo.kubelet_root = kroot_;
    auto l = ResolveLayout(Pod(uid, volumes_), policy, lo);
    EXPECT_TRUE(l.ok()) << l.status();
    return *l;
  }
  // The old pod's data, captured into `registry`'s store of the identity; returns the set.
  uint64_t Capture(StoreRegistry* registry) {
    VolumeLayout l = Layout(kOldUid, Policy("data"));
    StoreOptions so;
    auto store = registry->Get(id_, &so);
    EXPECT_TRUE(store.ok()) << store.status();
    EXPECT_TRUE(registry->NotePod(id_, "db", "db-0", kOldUid, "volumes").ok());
    auto r = (*store)->Capture(l.HostPath(), l.filter);
    EXPECT_TRUE(r.ok()) << r.status();
    RestorePoint p{r->set, r->root, SystemClockNs()};
    if (r->set) {
      EXPECT_TRUE(registry->SetRestorePoint(id_, p).ok());
    }
    auto sets = (*store)->Sets();
    return sets->back().set;
  }
  void MakeOldPod() {
    std::string d = VolumeDir(kOldUid);
    WriteFile(d + "/pgdata/base/16384/1259", RandomBytes(testing::TestSeed(), 1 << 20));
    WriteFile(d + "/pgdata/PG_VERSION", "16\n");
    WriteFile(d + "/pgdata/postgresql.conf", "max_connections = 100\n");
    chmod((d + "/pgdata/postgresql.conf").c_str(), 0600);
    chmod((d + "/pgdata").c_str(), 0700);
    std::filesystem::create_directories(d + "/pgdata/pg_tblspc");  // empty directory
    symlink("postgresql.conf", (d + "/pgdata/current.conf").c_str());
    WriteFile(VolumeDir(kOldUid, "cache") + "/junk", "not protected");
  }
  void MakeNewPod() {
    std::filesystem::create_directories(VolumeDir(kNewUid));
    std::filesystem::create_directories(VolumeDir(kNewUid, "cache"));
  }
  RestoreJob Job(std::vector<SourceCandidate> candidates) {
    RestoreJob j;
    j.restore = "shop/db-0-22222222";
    j.id = id_;
    j.pod_uid = kNewUid;
    j.layout = Layout(kNewUid, Policy("data"));
    j.candidates = std::move(candidates);
    return j;
  }
  SourceCandidate Local() {
    SourceCandidate c;
    c.node = "node-1";
    c.local = true;
    return c;
  }
  SourceCandidate Remote(StoreRegistry* reg) {
    SourceCandidate c;
    c.node = "node-2";
    c.endpoint = "https://node-2:9443";
    IdentityRecord rec = reg->Record(id_);
    c.last_set = rec.point.set;
    c.last_root = rec.point.root.Hex();
    c.last_capture_ns = rec.point.time_ns;
    return c;
  }
  void ExpectSameTree(const std::string& a, const std::string& b) {
    for (const auto& e : std::filesystem::recursive_directory_iterator(a)) {
      std::string rel = e.path().lexically_relative(a).string();
      std::string other = b + "/" + rel;
      struct stat sa, sb;
      ASSERT_EQ(lstat(e.path().c_str(), &sa), 0);
      ASSERT_EQ(lstat(other.c_str(), &sb), 0) << "missing after restore: " << rel;
      EXPECT_EQ(sa.st_mode, sb.st_mode) << rel;
      if (S_ISREG(sa.st_mode)) {
        EXPECT_EQ(ReadFile(e.path()), ReadFile(other)) << rel;
        EXPECT_EQ(sa.st_mtim.tv_sec, sb.st_mtim.tv_sec) << rel;
        EXPECT_EQ(sa.st_mtim.tv_nsec, sb.st_mtim.tv_nsec) << rel;
      }
      if (S_ISLNK(sa.st_mode)) {
        EXPECT_EQ(std::filesystem::read_symlink(e.path()), std::filesystem::read_symlink(other));
      }
    }
  }
  std::optional<RestoreMarker> Marker() {
    auto m = ReadMarker(dir_.Sub("node1/markers"), kNewUid);
    EXPECT_TRUE(m.ok());
    return m.ok() ? *m : std::nullopt;
  }

  TempDir dir_;
  std::string kroot_;
  PodIdentity id_;
  json volumes_;
  std::unique_ptr<StoreRegistry> local_, remote_;
  std::unique_ptr<LocalPeerSource> remote_source_;
  std::unique_ptr<FakePeer> peer_;
  std::unique_ptr<RestoreExecutor> executor_;
  int connects_ = 0;
};

TEST_F(AgentRestoreExecutorTest, RestoresTheLatestLocalStateByteExactAndWritesTheMarker) {
  SCOPED_TRACE("seed " + std::to_string(testing::TestSeed()));
  MakeOldPod();
  uint64_t set = Capture(local_.get());
  MakeNewPod();
  RestoreOutcome o = executor_->Run(Job({Local()}));
  ASSERT_TRUE(o.done) << o.message;
  ASSERT_TRUE(o.succeeded) << o.message;
  EXPECT_EQ(o.source, "local");
  EXPECT_EQ(o.set, set);
  EXPECT_EQ(o.files, 3u);
  ExpectSameTree(VolumeDir(kOldUid), VolumeDir(kNewUid));
  EXPECT_FALSE(Exists(VolumeDir(kNewUid, "cache") + "/junk")) << "unprotected volume restored";
  auto m = Marker();
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->result, MarkerResult::kRestored);
  EXPECT_EQ(m->set, set);
  EXPECT_EQ(m->root, o.root);
  EXPECT_EQ(m->restore, "shop/db-0-22222222");
}

TEST_F(AgentRestoreExecutorTest, NeverRestoresTwiceIntoTheSamePod) {
  MakeOldPod();
  Capture(local_.get());
  MakeNewPod();
  ASSERT_TRUE(executor_->Run(Job({Local()})).succeeded);
  // The application starts and writes; then the StateRestore is reconciled again (agent restart).
  WriteFile(VolumeDir(kNewUid) + "/pgdata/PG_VERSION", "17\n");
  RestoreOutcome again = executor_->Run(Job({Local()}));
  EXPECT_TRUE(again.done);
  EXPECT_TRUE(again.succeeded);
  EXPECT_EQ(again.source, "marker");
  EXPECT_EQ(ReadFile(VolumeDir(kNewUid) + "/pgdata/PG_VERSION"), "17\n");
}

TEST_F(AgentRestoreExecutorTest, NoStateAnywhereStartsEmpty) {
  MakeNewPod();
  RestoreOutcome o = executor_->Run(Job({}));
  ASSERT_TRUE(o.done);
  EXPECT_TRUE(o.succeeded);
  EXPECT_EQ(o.message, "no captured state; starting empty");
  auto m = Marker();
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->result, MarkerResult::kEmpty);
}

TEST_F(AgentRestoreExecutorTest, NeverOverwritesNewerData) {
  MakeOldPod();
  Capture(local_.get());
  MakeNewPod();
  WriteFile(VolumeDir(kNewUid) + "/pgdata/PG_VERSION", "newer\n");  // written after the capture
  RestoreOutcome o = executor_->Run(Job({Local()}));
  ASSERT_TRUE(o.done);
  EXPECT_TRUE(o.succeeded);
  EXPECT_NE(o.message.find("newer than the captured state"), std::string::npos) << o.message;
  EXPECT_EQ(ReadFile(VolumeDir(kNewUid) + "/pgdata/PG_VERSION"), "newer\n");
  EXPECT_FALSE(Exists(VolumeDir(kNewUid) + "/pgdata/postgresql.conf"));
}

TEST_F(AgentRestoreExecutorTest, RestoresFromAPeerWhenItHasTheLatestState) {
  MakeOldPod();
  Capture(remote_.get());
  MakeNewPod();
  RestoreOutcome o = executor_->Run(Job({Remote(remote_.get())}));
  ASSERT_TRUE(o.succeeded) << o.message;
  EXPECT_EQ(o.source, "peer:node-2");
  ExpectSameTree(VolumeDir(kOldUid), VolumeDir(kNewUid));
  EXPECT_FALSE(Exists(dir_.Sub("node1/spool/") + kNewUid)) << "spool kept after success";
}

TEST_F(AgentRestoreExecutorTest, AnInterruptedPeerRestoreResumesWithoutRefetching) {
  MakeOldPod();
  Capture(remote_.get());
  MakeNewPod();
  peer_->fail_after = 5;
  RestoreOutcome first = executor_->Run(Job({Remote(remote_.get())}));
  ASSERT_FALSE(first.done) << "a vanished peer must be retried, not failed: " << first.message;
  EXPECT_FALSE(Marker().has_value());
  int served_first = peer_->objects_served.load();
  {
    size_t spooled = 0;
    std::string spool = dir_.Sub("node1/spool/") + kNewUid;
    if (Exists(spool))
      for (const auto& e : std::filesystem::directory_iterator(spool))
        spooled += e.is_regular_file();
    EXPECT_EQ(spooled, 5u) << "chunks fetched before the interruption are kept";
  }
  peer_->fail_after = -1;
  peer_->objects_served = 0;
  RestoreOutcome second = executor_->Run(Job({Remote(remote_.get())}));
  ASSERT_TRUE(second.succeeded) << second.message;
  ExpectSameTree(VolumeDir(kOldUid), VolumeDir(kNewUid));
  // The 5 chunks fetched before the interruption came from the spool.
  auto m = DecodeManifest(*remote_source_->Manifest(id_, std::nullopt, std::nullopt));
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(peer_->objects_served.load(), static_cast<int>(m->Chunks().size()) - 5)
      << "first attempt served " << served_first;
  EXPECT_NE(second.message.find("already on this node"), std::string::npos);
}

TEST_F(AgentRestoreExecutorTest, AnUnreachablePeerIsRetriedNotMistakenForNoState) {
  MakeOldPod();
  Capture(remote_.get());
  MakeNewPod();
  peer_->down = true;
  RestoreOutcome o = executor_->Run(Job({Remote(remote_.get())}));
  EXPECT_FALSE(o.done);
  EXPECT_NE(o.message.find("cannot reach"), std::string::npos) << o.message;
  EXPECT_FALSE(Marker().has_value());
  RestoreOutcome failed = executor_->Fail(Job({Remote(remote_.get())}), "gave up: " + o.message);
  EXPECT_TRUE(failed.done);
  EXPECT_FALSE(failed.succeeded);
  ASSERT_TRUE(Marker().has_value());
  EXPECT_EQ(Marker()->result, MarkerResult::kFailed);
}

TEST_F(AgentRestoreExecutorTest, CorruptChunksFromAPeerAreDetectedAndNothingIsWritten) {
  MakeOldPod();
  Capture(remote_.get());
  MakeNewPod();
  peer_->corrupt_objects = true;
  RestoreOutcome o = executor_->Run(Job({Remote(remote_.get())}));
  ASSERT_TRUE(o.done);
  EXPECT_FALSE(o.succeeded);
  EXPECT_NE(o.message.find("does not match"), std::string::npos) << o.message;
  EXPECT_FALSE(Exists(VolumeDir(kNewUid) + "/pgdata/base/16384/1259"));
  EXPECT_EQ(Marker()->result, MarkerResult::kFailed);
}

TEST_F(AgentRestoreExecutorTest, ATamperedManifestIsRejected) {
  MakeOldPod();
  Capture(remote_.get());
  MakeNewPod();
  peer_->tamper_manifest = true;
  RestoreOutcome o = executor_->Run(Job({Remote(remote_.get())}));
  ASSERT_TRUE(o.done);
  EXPECT_FALSE(o.succeeded);
  EXPECT_NE(o.message.find("Corruption"), std::string::npos) << o.message;
  EXPECT_FALSE(Exists(VolumeDir(kNewUid) + "/pgdata"));
}

TEST_F(AgentRestoreExecutorTest, AManifestWithAnotherRootThanReportedIsRejected) {
  MakeOldPod();
  Capture(remote_.get());
  MakeNewPod();
  SourceCandidate c = Remote(remote_.get());
  c.last_root = std::string(64, 'a');
  RestoreOutcome o = executor_->Run(Job({c}));
  ASSERT_TRUE(o.done);
  EXPECT_FALSE(o.succeeded);
  EXPECT_NE(o.message.find("not the reported"), std::string::npos) << o.message;
}

TEST_F(AgentRestoreExecutorTest, RestoresAPointInTime) {
  MakeOldPod();
  uint64_t first = Capture(local_.get());
  WriteFile(VolumeDir(kOldUid) + "/pgdata/PG_VERSION", "17\n");
  uint64_t second = Capture(local_.get());
  ASSERT_GT(second, first);
  MakeNewPod();
  RestoreJob job = Job({Local()});
  job.set = first;
  RestoreOutcome o = executor_->Run(job);
  ASSERT_TRUE(o.succeeded) << o.message;
  EXPECT_EQ(o.set, first);
  EXPECT_EQ(ReadFile(VolumeDir(kNewUid) + "/pgdata/PG_VERSION"), "16\n");
}

TEST_F(AgentRestoreExecutorTest, RestoresOnlyTheRequestedPaths) {
  MakeOldPod();
  Capture(local_.get());
  MakeNewPod();
  RestoreJob job = Job({Local()});
  job.volume_paths = {"data/pgdata/PG_VERSION"};
  RestoreOutcome o = executor_->Run(job);
  ASSERT_TRUE(o.succeeded) << o.message;
  EXPECT_TRUE(Exists(VolumeDir(kNewUid) + "/pgdata/PG_VERSION"));
  EXPECT_FALSE(Exists(VolumeDir(kNewUid) + "/pgdata/postgresql.conf"));
}

TEST_F(AgentRestoreExecutorTest, NeverWritesThroughASymlinkPlantedInTheVolume) {
  MakeOldPod();
  Capture(local_.get());
  // The new pod's volume contains a symlink where a restored directory goes.
  std::filesystem::create_directories(VolumeDir(kNewUid));
  std::filesystem::create_directories(dir_.Sub("outside"));
  symlink(dir_.Sub("outside").c_str(), (VolumeDir(kNewUid) + "/pgdata").c_str());
  RestoreOutcome o = executor_->Run(Job({Local()}));
  ASSERT_TRUE(o.done);
  EXPECT_TRUE(std::filesystem::is_empty(dir_.Sub("outside"))) << "wrote outside the volume";
}

TEST_F(AgentRestoreExecutorTest, RefusesAVolumeDirectoryThatIsASymlink) {
  WriteFile(dir_.Sub("src/state.db"), "x");
  // A single hostPath-like layout whose directory is swapped for a symlink.
  volumes_ = json::array({{{"name", "data"}, {"emptyDir", {{"medium", "Memory"}}}}});
  std::filesystem::create_directories(kroot_ + "/pods/" + kNewUid +
                                      "/volumes/kubernetes.io~empty-dir");
  std::filesystem::create_directories(dir_.Sub("outside"));
  symlink(dir_.Sub("outside").c_str(), VolumeDir(kNewUid).c_str());
  VolumeLayout l = Layout(kNewUid, Policy("data"));
  ASSERT_EQ(l.kind, LayoutKind::kSingle);
  auto pinned = l.Pin(true);
  ASSERT_FALSE(pinned.ok());
  EXPECT_EQ(pinned.status().code(), StatusCode::kPermissionDenied) << pinned.status();
}

TEST_F(AgentRestoreExecutorTest, ALayoutChangeIsReportedNotMisrestored) {
  MakeOldPod();
  Capture(local_.get());  // recorded with the "volumes" layout
  volumes_ = json::array({{{"name", "data"}, {"emptyDir", {{"medium", "Memory"}}}}});
  std::filesystem::create_directories(VolumeDir(kNewUid));
  RestoreOutcome o = executor_->Run(Job({Local()}));
  ASSERT_TRUE(o.done);
  EXPECT_FALSE(o.succeeded);
  EXPECT_NE(o.message.find("layout"), std::string::npos) << o.message;
}

// ---- The bucket (policy storage S3) as the last source.

class AgentBucketRestoreTest : public AgentRestoreExecutorTest {
 protected:
  // Replicates the latest set of `registry`'s store of the identity to the memory bucket.
  void Replicate(StoreRegistry* registry) {
    auto store = registry->Get(id_);
    ASSERT_TRUE(store.ok()) << store.status();
    replica::ReplicatorOptions o;
    o.identity = id_.Key();
    o.prefix = "team/";
    o.writer = "node-2";
    auto rep = replica::Replicator::Create(*store, &bucket_, o);
    ASSERT_TRUE(rep.ok()) << rep.status();
    (*rep)->Start();
    Status s = (*rep)->WaitIdle(std::chrono::seconds(30));
    ASSERT_TRUE(s.ok()) << s;
    (*rep)->Stop();
  }
  RestoreJob BucketJob(std::vector<SourceCandidate> candidates) {
    RestoreJob j = Job(std::move(candidates));
    BucketSource b;
    b.prefix = "team/";
    b.describe = "memory bucket";
    b.open = [this]() -> Result<std::unique_ptr<replica::Bucket>> {
      ++opens_;
      return std::unique_ptr<replica::Bucket>(new replica::FaultBucket(&faulty_));
    };
    j.bucket = std::move(b);
    return j;
  }

  replica::MemoryBucket bucket_;
  replica::FaultBucket faulty_{&bucket_};
  int opens_ = 0;
};

TEST_F(AgentBucketRestoreTest, RestoresFromTheBucketWhenNoNodeHasState) {
  SCOPED_TRACE("seed " + std::to_string(testing::TestSeed()));
  MakeOldPod();
  Capture(remote_.get());
  Replicate(remote_.get());
  MakeNewPod();
  RestoreOutcome o = executor_->Run(BucketJob({}));
  ASSERT_TRUE(o.done) << o.message;
  ASSERT_TRUE(o.succeeded) << o.message;
  EXPECT_EQ(o.source, "bucket");
  EXPECT_EQ(o.files, 3u);
  EXPECT_EQ(o.root, remote_->Record(id_).point.root.Hex());
  EXPECT_NE(o.message.find("downloaded from memory bucket"), std::string::npos) << o.message;
  ExpectSameTree(VolumeDir(kOldUid), VolumeDir(kNewUid));
  EXPECT_FALSE(Exists(VolumeDir(kNewUid, "cache") + "/junk"));
  ASSERT_TRUE(Marker().has_value());
  EXPECT_EQ(Marker()->result, MarkerResult::kRestored);
  EXPECT_FALSE(Exists(dir_.Sub("node1/spool/") + kNewUid)) << "spool kept after success";
}

TEST_F(AgentBucketRestoreTest, TheBucketStandsInForAnUnreachableNodeWithTheSameState) {
  MakeOldPod();
  Capture(remote_.get());
  Replicate(remote_.get());
  MakeNewPod();
  peer_->down = true;
  RestoreOutcome o = executor_->Run(BucketJob({Remote(remote_.get())}));
  ASSERT_TRUE(o.succeeded) << o.message;
  EXPECT_EQ(o.source, "bucket");
  ExpectSameTree(VolumeDir(kOldUid), VolumeDir(kNewUid));
}

TEST_F(AgentBucketRestoreTest, AReachableNodeComesBeforeTheBucket) {
  MakeOldPod();
  Capture(remote_.get());
  Replicate(remote_.get());
  MakeNewPod();
  RestoreOutcome o = executor_->Run(BucketJob({Remote(remote_.get())}));
  ASSERT_TRUE(o.succeeded) << o.message;
  EXPECT_EQ(o.source, "peer:node-2");
  EXPECT_EQ(opens_, 0) << "the bucket was read although the node with the state answered";
}

TEST_F(AgentBucketRestoreTest, AnOlderBucketStateIsNeverRestoredInsteadOfAnUnreachableNode) {
  MakeOldPod();
  Capture(remote_.get());
  Replicate(remote_.get());
  // A newer capture on the node that the bucket has not received yet.
  WriteFile(VolumeDir(kOldUid) + "/pgdata/PG_VERSION", "17\n");
  Capture(remote_.get());
  MakeNewPod();
  peer_->down = true;
  RestoreOutcome o = executor_->Run(BucketJob({Remote(remote_.get())}));
  EXPECT_FALSE(o.done) << o.message;
  EXPECT_NE(o.message.find("older state"), std::string::npos) << o.message;
  EXPECT_FALSE(Marker().has_value());
  EXPECT_FALSE(Exists(VolumeDir(kNewUid) + "/pgdata/PG_VERSION"));
}

TEST_F(AgentBucketRestoreTest, CorruptBucketObjectsAreDetectedAndNotWritten) {
  MakeOldPod();
  Capture(remote_.get());
  Replicate(remote_.get());
  MakeNewPod();
  // Replace every chunk object by a valid zstd frame of other content.
  auto keys = bucket_.Keys("team/objects/");
  ASSERT_FALSE(keys.empty());
  std::string other_key;
  for (const auto& k : keys) {
    if (other_key.empty()) {
      other_key = k;
      continue;
    }
    bucket_.PokeForTest(k, *bucket_.Peek(other_key));
  }
  bucket_.PokeForTest(other_key, *bucket_.Peek(keys.back()));
  RestoreOutcome o = executor_->Run(BucketJob({}));
  ASSERT_TRUE(o.done) << o.message;
  EXPECT_FALSE(o.succeeded);
  EXPECT_NE(o.message.find("does not match"), std::string::npos) << o.message;
  EXPECT_FALSE(Exists(VolumeDir(kNewUid) + "/pgdata/base/16384/1259"));
}

TEST_F(AgentBucketRestoreTest, AnUnreadableBucketIsRetriedNotMistakenForNoState) {
  MakeOldPod();
  Capture(remote_.get());
  Replicate(remote_.get());
  MakeNewPod();
  faulty_.SetRule([](std::string_view, std::string_view) {
    return Status::Unavailable("connection refused (endpoint down)");
  });
  RestoreOutcome o = executor_->Run(BucketJob({}));
  EXPECT_FALSE(o.done) << o.message;
  EXPECT_NE(o.message.find("cannot read the bucket"), std::string::npos) << o.message;
  EXPECT_FALSE(Marker().has_value());
  faulty_.ClearRule();
  RestoreOutcome again = executor_->Run(BucketJob({}));
  ASSERT_TRUE(again.succeeded) << again.message;
  EXPECT_EQ(again.source, "bucket");
  ExpectSameTree(VolumeDir(kOldUid), VolumeDir(kNewUid));
}

TEST_F(AgentBucketRestoreTest, AnEmptyBucketMeansNoStateAnywhere) {
  MakeNewPod();
  RestoreOutcome o = executor_->Run(BucketJob({}));
  ASSERT_TRUE(o.done);
  EXPECT_TRUE(o.succeeded);
  EXPECT_EQ(o.message, "no captured state; starting empty");
}

}  // namespace
}  // namespace dk::agent
