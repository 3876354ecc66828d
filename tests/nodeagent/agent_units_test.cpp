// Small pieces of the agent: pod identities, policy parsing, volume layouts, markers, report
// rate limiting, identity records, node report contents, restore candidates, chunk sources.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "agent_policy.h"
#include "agent_test_util.h"
#include "chunk_sources.h"
#include "node_reporter.h"
#include "pod_identity.h"
#include "report_rate_limiter.h"
#include "restore_controller.h"
#include "restore_marker.h"
#include "store_purger.h"
#include "store_registry.h"
#include "volume_layout.h"

namespace dk::agent {
namespace {

using nlohmann::json;
using testing::Exists;
using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

json StsPod(const std::string& name, const std::string& sts, json volumes = json::array()) {
  return {{"metadata",
           {{"name", name},
            {"namespace", "shop"},
            {"uid", "0a1b2c3d-0000-4000-8000-000000000001"},
            {"ownerReferences", json::array({{{"apiVersion", "apps/v1"},
                                              {"kind", "StatefulSet"},
                                              {"name", sts},
                                              {"controller", true}}})}}},
          {"spec", {{"volumes", volumes}}}};
}

// ---- identities

TEST(AgentPodIdentityTest, FromTheOwnerAndTheNameSuffix) {
  auto id = IdentityOfPod(StsPod("web-12", "web"));
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->Key(), "shop/web/12");
  EXPECT_EQ(id->StoreDir("/s"), "/s/shop/web/12");
}

TEST(AgentPodIdentityTest, ThePodIndexLabelWins) {
  json pod = StsPod("odd-name", "web");
  pod["metadata"]["labels"] = {{"apps.kubernetes.io/pod-index", "3"}};
  auto id = IdentityOfPod(pod);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->ordinal, 3);
}

TEST(AgentPodIdentityTest, RejectsPodsWithoutAStatefulSetAndBadNames) {
  json pod = StsPod("web-0", "web");
  pod["metadata"]["ownerReferences"][0]["kind"] = "ReplicaSet";
  EXPECT_TRUE(IdentityOfPod(pod).status().IsNotFound());
  EXPECT_FALSE(IdentityOfPod(StsPod("web-x", "web")).ok());
  EXPECT_FALSE(ParseIdentityKey("shop/../0").ok());
  EXPECT_FALSE(ParseIdentityKey("shop/web/01").ok());
  EXPECT_FALSE(ParseIdentityKey("Shop/web/0").ok());
  EXPECT_FALSE(ParseIdentityKey("shop/web/0/x").ok());
  EXPECT_TRUE(ParseIdentityKey("shop/web.v2/0").ok());
}

// ---- policies

json PolicyObj(json spec) {
  return {{"metadata", {{"name", "db"}, {"namespace", "shop"}, {"uid", "u"}, {"generation", 4}}},
          {"spec", spec}};
}

TEST(AgentPolicyTest, ParsesTheSample) {
  auto p = ParseAgentPolicy(PolicyObj(
      {{"targetRef", {{"name", "db"}}},
       {"paths",
        json::array({{{"volume", "data"}, {"subPath", "pgdata"}, {"exclude", {"**/*.tmp"}}}})},
       {"capture", {{"debounce", "2s"}, {"snapshotEvery", 20}}},
       {"retention", {{"keepVersions", 50}, {"keepFor", "168h"}}}}));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->stateful_set, "db");
  EXPECT_EQ(p->generation, 4);
  ASSERT_EQ(p->paths.size(), 1u);
  EXPECT_EQ(p->paths[0].sub_path, "pgdata");
  EXPECT_EQ(p->debounce_ms, 2000);
  EXPECT_EQ(p->snapshot_every, 20u);
  EXPECT_EQ(p->keep_versions, 50u);
  EXPECT_EQ(p->keep_for_ns, 168ll * 3600 * 1000000000);
}

TEST(AgentPolicyTest, RejectsWhatTheCrdWouldReject) {
  auto base = [] {
    return json{{"targetRef", {{"name", "db"}}}, {"paths", json::array({{{"volume", "data"}}})}};
  };
  json s = base();
  s["paths"][0]["subPath"] = "../etc";
  EXPECT_FALSE(ParseAgentPolicy(PolicyObj(s)).ok());
  s = base();
  s["paths"][0]["subPath"] = "/abs";
  EXPECT_FALSE(ParseAgentPolicy(PolicyObj(s)).ok());
  s = base();
  s["paths"] = json::array();
  EXPECT_FALSE(ParseAgentPolicy(PolicyObj(s)).ok());
  s = base();
  s["capture"] = {{"debounce", "soon"}};
  EXPECT_FALSE(ParseAgentPolicy(PolicyObj(s)).ok());
  s = base();
  s["paths"][0]["volume"] = "Data_1";
  EXPECT_FALSE(ParseAgentPolicy(PolicyObj(s)).ok());
  s = base();
  s["capture"] = {{"chunking", {{"minSize", 100}, {"avgSize", 3000}, {"maxSize", 9000}}}};
  EXPECT_FALSE(ParseAgentPolicy(PolicyObj(s)).ok()) << "avgSize must be a power of two";
}

// ---- layouts

AgentPolicy OnePath(std::string volume, std::string sub = "", std::vector<std::string> inc = {},
                    std::vector<std::string> exc = {}) {
  AgentPolicy p;
  p.name = "db";
  p.stateful_set = "db";
  p.paths.push_back({std::move(volume), std::move(sub), std::move(inc), std::move(exc)});
  return p;
}

TEST(AgentVolumeLayoutTest, EmptyDirVolumesShareThePluginDirectory) {
  json vols = json::array({{{"name", "data"}, {"emptyDir", json::object()}},
                           {{"name", "logs"}, {"emptyDir", json::object()}},
                           {{"name", "cache"}, {"emptyDir", json::object()}}});
  AgentPolicy p = OnePath("data", "pgdata", {}, {"**/*.tmp", "postmaster.pid"});
  p.paths.push_back({"logs", "", {"*.log"}, {}});
  auto l = ResolveLayout(StsPod("db-0", "db", vols), p, {"/k", ""});
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->kind, LayoutKind::kVolumes);
  EXPECT_EQ(l->HostPath(),
            "/k/pods/0a1b2c3d-0000-4000-8000-000000000001/volumes/kubernetes.io~empty-dir");
  EXPECT_EQ(l->scopes, (std::vector<std::string>{"data/pgdata", "logs"}));
  EXPECT_EQ(l->filter.include, (std::vector<std::string>{"data/pgdata/**", "logs/**/*.log"}));
  EXPECT_EQ(l->filter.exclude,
            (std::vector<std::string>{"data/pgdata/**/*.tmp", "data/pgdata/**/postmaster.pid",
                                      "cache/**"}));
  // The rewritten globs keep their meaning.
  EXPECT_TRUE(GlobMatch(l->filter.exclude[1], "data/pgdata/postmaster.pid"));
  EXPECT_TRUE(GlobMatch(l->filter.exclude[0], "data/pgdata/base/x.tmp"));
  EXPECT_FALSE(GlobMatch(l->filter.include[0], "data/other/file"));
  EXPECT_TRUE(GlobMatch(l->filter.include[1], "logs/app/today.log"));
}

TEST(AgentVolumeLayoutTest, SinglePathsOfOtherKinds) {
  json vols = json::array({{{"name", "mem"}, {"emptyDir", {{"medium", "Memory"}}}},
                           {{"name", "host"}, {"hostPath", {{"path", "/srv/db/"}}}}});
  auto mem = ResolveLayout(StsPod("db-0", "db", vols), OnePath("mem", "a/b"), {"/k", ""});
  ASSERT_TRUE(mem.ok()) << mem.status();
  EXPECT_EQ(mem->kind, LayoutKind::kSingle);
  EXPECT_EQ(mem->HostPath(),
            "/k/pods/0a1b2c3d-0000-4000-8000-000000000001/volumes/kubernetes.io~empty-dir/mem/a/b");
  auto host = ResolveLayout(StsPod("db-0", "db", vols), OnePath("host"), {"/k", "/host"});
  ASSERT_TRUE(host.ok()) << host.status();
  EXPECT_EQ(host->HostPath(), "/host/srv/db");
  auto paths = host->StorePaths({"host/x/y", "host"});
  ASSERT_TRUE(paths.ok()) << paths.status();
  EXPECT_EQ(*paths, (std::vector<std::string>{"x/y"}));
  EXPECT_FALSE(host->StorePaths({"other/x"}).ok());
}

TEST(AgentVolumeLayoutTest, ClearMessagesForWhatCannotBeCaptured) {
  json vols = json::array({{{"name", "cfg"}, {"configMap", {{"name", "x"}}}},
                           {{"name", "pvc"}, {"persistentVolumeClaim", {{"claimName", "c"}}}},
                           {{"name", "a"}, {"emptyDir", json::object()}},
                           {{"name", "h"}, {"hostPath", {{"path", "/h"}}}}});
  auto cfg = ResolveLayout(StsPod("db-0", "db", vols), OnePath("cfg"), {"/k", ""});
  EXPECT_NE(cfg.status().message().find("read-only projection"), std::string::npos);
  auto pvc = ResolveLayout(StsPod("db-0", "db", vols), OnePath("pvc"), {"/k", ""});
  EXPECT_NE(pvc.status().message().find("persistentVolumeClaim"), std::string::npos);
  auto missing = ResolveLayout(StsPod("db-0", "db", vols), OnePath("nope"), {"/k", ""});
  EXPECT_NE(missing.status().message().find("no volume named 'nope'"), std::string::npos);
  AgentPolicy mixed = OnePath("a");
  mixed.paths.push_back({"h", "", {}, {}});
  auto m = ResolveLayout(StsPod("db-0", "db", vols), mixed, {"/k", ""});
  EXPECT_NE(m.status().message().find("several paths"), std::string::npos) << m.status();
}

// ---- markers

TEST(AgentMarkerTest, RoundTripsAndIsAtomic) {
  TempDir d;
  const std::string uid = "0a1b2c3d-0000-4000-8000-000000000001";
  auto none = ReadMarker(d.Sub("m"), uid);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  RestoreMarker m;
  m.result = MarkerResult::kRestored;
  m.message = "restored \"quoted\"";
  m.set = 42;
  m.root = std::string(64, 'f');
  m.restore = "shop/db-0-0a1b2c3d";
  ASSERT_TRUE(WriteMarker(d.Sub("m"), uid, m).ok());
  auto got = ReadMarker(d.Sub("m"), uid);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->result, MarkerResult::kRestored);
  EXPECT_EQ((*got)->message, m.message);
  EXPECT_EQ((*got)->set, 42u);
  EXPECT_EQ((*got)->root, m.root);
  EXPECT_FALSE((*got)->time.empty());
  // The file restore-wait reads is exactly the protocol's JSON; no temporary is left behind.
  auto j = json::parse(ReadFile(d.Sub("m/") + uid));
  EXPECT_EQ(j["result"], "restored");
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(d.Sub("m"))) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1u);
}

TEST(AgentMarkerTest, RefusesUidsThatCouldEscapeTheDirectory) {
  TempDir d;
  RestoreMarker m;
  EXPECT_FALSE(WriteMarker(d.path(), "../etc/passwd", m).ok());
  EXPECT_FALSE(WriteMarker(d.path(), "", m).ok());
  EXPECT_FALSE(ReadMarker(d.path(), "a/b").ok());
}

TEST(AgentMarkerTest, AGarbledMarkerIsCorruptionNotSuccess) {
  TempDir d;
  const std::string uid = "abc";
  WriteFile(d.Sub(uid), "{\"result\":\"maybe\"}");
  EXPECT_TRUE(ReadMarker(d.path(), uid).status().IsCorruption());
  WriteFile(d.Sub(uid), "not json");
  EXPECT_TRUE(ReadMarker(d.path(), uid).status().IsCorruption());
}

TEST(AgentMarkerTest, PruneKeepsLiveAndRecentMarkers) {
  TempDir d;
  RestoreMarker m;
  ASSERT_TRUE(WriteMarker(d.path(), "aaaa", m).ok());
  ASSERT_TRUE(WriteMarker(d.path(), "bbbb", m).ok());
  EXPECT_EQ(PruneMarkers(d.path(), {"aaaa"}, 3600), 0u) << "a recent marker was pruned";
  EXPECT_EQ(PruneMarkers(d.path(), {"aaaa"}, 0), 1u);
  EXPECT_TRUE(Exists(d.Sub("aaaa")));
  EXPECT_FALSE(Exists(d.Sub("bbbb")));
}

// ---- report rate limiting

TEST(AgentReportRateLimiterTest, BatchesOrdinaryChangesAndHeartbeats) {
  using namespace std::chrono;
  ReportRateLimiter l(seconds(10), seconds(2), seconds(60));
  auto t0 = ReportRateLimiter::Clock::now();
  EXPECT_TRUE(l.Due(t0)) << "the first report goes out at once";
  l.Reported(t0);
  EXPECT_FALSE(l.Due(t0 + seconds(59)));
  EXPECT_TRUE(l.Due(t0 + seconds(60))) << "heartbeat";
  // A busy node: a change every 10 ms makes one report per interval, not 1000.
  int reports = 0;
  auto last = t0;
  for (auto t = t0 + milliseconds(10); t < t0 + seconds(10) * 5; t += milliseconds(10)) {
    l.MarkDirty(false, t);
    if (l.Due(t)) {
      EXPECT_GE(t - last, seconds(10));
      l.Reported(t);
      last = t;
      ++reports;
    }
  }
  EXPECT_LE(reports, 5);
  EXPECT_GE(reports, 4);
}

TEST(AgentReportRateLimiterTest, ImportantChangesGoSoonButNotInAFlood) {
  using namespace std::chrono;
  ReportRateLimiter l(seconds(10), seconds(2), seconds(60));
  auto t0 = ReportRateLimiter::Clock::now();
  l.Reported(t0);
  l.MarkDirty(true, t0 + milliseconds(100));
  EXPECT_FALSE(l.Due(t0 + milliseconds(1999)));
  EXPECT_TRUE(l.Due(t0 + seconds(2)));
  l.Reported(t0 + seconds(2));
  l.MarkDirty(true, t0 + seconds(30));
  EXPECT_TRUE(l.Due(t0 + seconds(30))) << "long after the last report: at once";
}

TEST(AgentReportRateLimiterTest, FailuresBackOffAndKeepTheChange) {
  using namespace std::chrono;
  ReportRateLimiter l(seconds(10), seconds(2), seconds(60));
  auto t0 = ReportRateLimiter::Clock::now();
  l.MarkDirty(true, t0);
  l.Failed(t0);
  EXPECT_FALSE(l.Due(t0 + milliseconds(900)));
  EXPECT_TRUE(l.Due(t0 + seconds(1)));
  l.Failed(t0 + seconds(1));
  EXPECT_FALSE(l.Due(t0 + milliseconds(2900)));
  EXPECT_TRUE(l.Due(t0 + seconds(3)));
  EXPECT_TRUE(l.dirty());
}

// ---- identity records, node reports, candidates

TEST(AgentStoreRegistryTest, RecordsPersistAndTheRestorePointOnlyMovesForward) {
  TempDir d;
  PodIdentity id{"shop", "db", 0};
  {
    StoreOptions o;
    o.sync = false;
    StoreRegistry reg(d.Sub("stores"), o, nullptr);
    StoreOptions so;
    ASSERT_TRUE(reg.Get(id, &so).ok());
    ASSERT_TRUE(reg.NotePod(id, "db", "db-0", "uid-1", "volumes").ok());
    RestorePoint p{7, ObjectId(), 123};
    p.root.bytes[0] = 9;
    ASSERT_TRUE(reg.SetRestorePoint(id, p).ok());
    ASSERT_TRUE(reg.SetRestorePoint(id, RestorePoint{5, ObjectId(), 999}).ok());
    EXPECT_EQ(reg.Record(id).point.set, 7u);
  }
  StoreOptions o;
  StoreRegistry again(d.Sub("stores"), o, nullptr);
  EXPECT_TRUE(again.Exists(id));
  auto rec = again.Record(id);
  EXPECT_EQ(rec.point.set, 7u);
  EXPECT_EQ(rec.point.time_ns, 123);
  EXPECT_EQ(rec.point.root.bytes[0], 9);
  EXPECT_EQ(rec.pod_uid, "uid-1");
  EXPECT_EQ(rec.layout, "volumes");
  ASSERT_EQ(again.List().size(), 1u);
  EXPECT_EQ(again.List()[0].Key(), "shop/db/0");
  EXPECT_TRUE(again.Get(PodIdentity{"shop", "db", 1}).status().IsNotFound());
}

TEST(AgentNodeReporterTest, TheReportDescribesEveryIdentity) {
  TempDir d;
  StoreOptions o;
  o.sync = false;
  StoreRegistry reg(d.Sub("stores"), o, nullptr);
  PodIdentity id{"shop", "db", 2};
  StoreOptions so;
  auto store = reg.Get(id, &so);
  ASSERT_TRUE(store.ok());
  WriteFile(d.Sub("data/a"), "hello");
  auto cap = (*store)->Capture(d.Sub("data"), {});
  ASSERT_TRUE(cap.ok());
  ASSERT_TRUE(reg.NotePod(id, "db", "db-2", "uid-2", "volumes").ok());
  ASSERT_TRUE(reg.SetRestorePoint(id, {cap->set, cap->root, 1764244800123456789}).ok());
  reg.NoteError(id, "something broke");
  NodeReporterOptions ro;
  ro.node = "node-1";
  ro.ns = "diffkeeper-system";
  NodeReporter rep(
      nullptr, &reg, ro, [] { return std::string("https://10.0.0.1:9443"); }, nullptr, nullptr);
  json cm = rep.Build();
  EXPECT_EQ(cm["metadata"]["name"], "diffkeeper-node-node-1");
  EXPECT_EQ(cm["metadata"]["labels"]["diffkeeper.io/node-report"], "true");
  EXPECT_EQ(cm["data"]["endpoint"], "https://10.0.0.1:9443");
  auto pods = json::parse(cm["data"]["pods"].get<std::string>());
  ASSERT_EQ(pods.size(), 1u);
  EXPECT_EQ(pods[0]["statefulSet"], "db");
  EXPECT_EQ(pods[0]["ordinal"], 2);
  EXPECT_EQ(pods[0]["podUID"], "uid-2");
  EXPECT_EQ(pods[0]["lastSet"], cap->set);
  EXPECT_EQ(pods[0]["lastRoot"], cap->root.Hex());
  EXPECT_EQ(pods[0]["lastCapture"], "2025-11-27T12:00:00.123456789Z");
  EXPECT_EQ(pods[0]["versions"], 1);
  EXPECT_EQ(pods[0]["errors"][0], "something broke");
  // Candidates as another node sees this report.
  auto c = CandidatesFromReports({cm}, id, "node-2");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].node, "node-1");
  EXPECT_EQ(c[0].endpoint, "https://10.0.0.1:9443");
  EXPECT_EQ(c[0].last_capture_ns, 1764244800123456789);
  EXPECT_TRUE(CandidatesFromReports({cm}, id, "node-1").empty()) << "own report is not a peer";
  EXPECT_TRUE(CandidatesFromReports({cm}, PodIdentity{"shop", "db", 1}, "node-2").empty());
}

TEST(AgentStorePurgerTest, DeletesOnlyTheStoresOfThePurgedPolicy) {
  TempDir d;
  StoreOptions o;
  o.sync = false;
  StoreRegistry reg(d.Sub("stores"), o, nullptr);
  StoreOptions so;
  PodIdentity gone0{"shop", "old", 0}, gone1{"shop", "old", 1}, busy{"shop", "old", 2},
      newer{"shop", "old", 3}, other{"shop", "db", 0};
  for (const auto& id : {gone0, gone1, busy, newer, other}) ASSERT_TRUE(reg.Get(id, &so).ok());
  // Captured after the purge request: belongs to a new policy for the same StatefulSet.
  ASSERT_TRUE(reg.SetRestorePoint(newer, {1, ObjectId(), 1764244800000000000 + 1}).ok());
  json cm = {{"data",
              {{"purge.json", json::array({{{"namespace", "shop"},
                                            {"policy", "old"},
                                            {"uid", "u"},
                                            {"statefulSet", "old"},
                                            {"requested", "2025-11-27T12:00:00Z"}}})
                                  .dump()}}}};
  std::vector<std::string> forgotten;
  size_t n = ApplyPurges(
      cm, &reg, [&](const PodIdentity& id) { return id == busy; }, nullptr,
      [&](const PodIdentity& id) {
        EXPECT_TRUE(reg.Exists(id)) << "called before the store is deleted";
        forgotten.push_back(id.Key());
      });
  EXPECT_EQ(n, 2u);
  std::sort(forgotten.begin(), forgotten.end());
  EXPECT_EQ(forgotten, (std::vector<std::string>{"shop/old/0", "shop/old/1"}));
  EXPECT_FALSE(reg.Exists(gone0));
  EXPECT_FALSE(reg.Exists(gone1));
  EXPECT_FALSE(Exists(gone0.StoreDir(d.Sub("stores"))));
  EXPECT_TRUE(reg.Exists(busy));
  EXPECT_TRUE(reg.Exists(newer));
  EXPECT_TRUE(reg.Exists(other));
  EXPECT_EQ(reg.List().size(), 3u);
  EXPECT_EQ(ApplyPurges(
                {{"data", {{"purge.json", "not json"}}}}, &reg,
                [](const PodIdentity&) { return false; }, nullptr),
            0u);
}

TEST(AgentRfc3339Test, RoundTripsWithNanoseconds) {
  int64_t ns = 0;
  ASSERT_TRUE(ParseRfc3339("2025-11-27T12:00:00Z", &ns));
  EXPECT_EQ(ns, 1764244800ll * 1000000000);
  ASSERT_TRUE(ParseRfc3339("2025-11-27T13:00:00.5+01:00", &ns));
  EXPECT_EQ(ns, 1764244800ll * 1000000000 + 500000000);
  EXPECT_EQ(Rfc3339Nano(1764244800123456789), "2025-11-27T12:00:00.123456789Z");
  EXPECT_FALSE(ParseRfc3339("yesterday", &ns));
  EXPECT_FALSE(ParseRfc3339("2025-11-27T12:00:00", &ns));
}

TEST(AgentRestoreOrdinalTest, FromOrdinalOrPodName) {
  EXPECT_EQ(RestoreOrdinal({{"spec", {{"ordinal", 3}}}}, "db"), 3);
  EXPECT_EQ(RestoreOrdinal({{"spec", {{"pod", "db-7"}}}}, "db"), 7);
  EXPECT_EQ(RestoreOrdinal({{"spec", {{"pod", "web-7"}}}}, "db"), -1);
}

// The agent's chunk sources say they verify (so restore does not hash every chunk twice):
// they must. An upstream chunk that does not match its id is refused, and a damaged spooled
// chunk is fetched again rather than returned.
class FakeUpstream final : public ChunkSource {
 public:
  Result<Bytes> Fetch(const ObjectId& id) override {
    ++fetches;
    auto it = chunks.find(id);
    if (it == chunks.end()) return Status::NotFound("no chunk " + id.Hex());
    return it->second;
  }
  std::map<ObjectId, Bytes> chunks;
  int fetches = 0;
};

TEST(AgentChunkSourceTest, SpoolSourceChecksEveryChunkItReturnsAgainstItsId) {
  TempDir d;
  const std::string text = "chunk content";
  Bytes good(text.begin(), text.end());
  const ObjectId id = HashBytes(good);
  FakeUpstream upstream;
  Bytes bad = good;
  bad[0] ^= 1;
  upstream.chunks[id] = bad;
  SpoolChunkSource src(nullptr, d.Sub("spool"), &upstream);
  EXPECT_TRUE(src.VerifiesIds());
  auto r = src.Fetch(id);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();
  EXPECT_FALSE(Exists(d.Sub("spool/" + id.Hex()))) << "a bad chunk was spooled";

  upstream.chunks[id] = good;
  ASSERT_TRUE(src.Fetch(id).ok());
  ASSERT_TRUE(Exists(d.Sub("spool/" + id.Hex())));
  WriteFile(d.Sub("spool/" + id.Hex()), "damaged on disk");
  auto again = src.Fetch(id);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(*again == good);
  EXPECT_EQ(upstream.fetches, 3) << "the damaged spooled chunk was not fetched again";
}

TEST(AgentChunkSourceTest, StoreSourceReturnsOnlyVerifiedObjects) {
  TempDir d;
  WriteFile(d.Sub("data/a.txt"), "some protected content");
  StoreOptions o;
  o.sync = false;
  auto s = Store::Open(d.Sub("store"), o, OpenMode::kCreate);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_TRUE((*s)->Capture(d.Sub("data"), {}).ok());
  auto m = (*s)->Manifest(std::nullopt);
  ASSERT_TRUE(m.ok());
  StoreChunkSource src(s->get());
  EXPECT_TRUE(src.VerifiesIds());  // Store::ReadObject hashes what it decodes
  auto c = src.Fetch(m->Chunks().at(0));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(std::string(c->begin(), c->end()), "some protected content");
}

}  // namespace
}  // namespace dk::agent
