// libkube against a real control plane (kube-apiserver + etcd from e2e/cluster).
//
// Every test skips unless DK_KUBECONFIG names an admin kubeconfig; with_cluster.sh sets it up.
// The apiserver-restart test also needs DK_RESTART_APISERVER_CMD (a shell command that restarts
// the apiserver and returns). Each test works in its own namespace, deleted at the end.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <random>
#include <thread>

#include "libkube/api_error.h"
#include "libkube/client.h"
#include "libkube/cpprest_transport.h"
#include "libkube/event_recorder.h"
#include "libkube/informer.h"
#include "libkube/kubeconfig.h"
#include "libkube/object_meta.h"

extern char** environ;

namespace dk::kube {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Objects the tests create carry this label; informers select on it (namespaces also hold
// ConfigMaps made by controllers, e.g. kube-root-ca.crt).
constexpr char kTestLabel[] = "libkube-it";

nlohmann::json ConfigMap(const std::string& ns, const std::string& name,
                         nlohmann::json data = {{"k", "v"}}) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"namespace", ns}, {"labels", {{"test", kTestLabel}}}}},
          {"data", std::move(data)}};
}

// Collects informer notifications as "add a" / "update a" / "delete a".
class Recorder {
 public:
  EventHandlers Handlers() {
    EventHandlers h;
    h.on_add = [this](const nlohmann::json& o) { Add("add " + GetName(o)); };
    h.on_update = [this](const nlohmann::json&, const nlohmann::json& o) {
      Add("update " + GetName(o));
    };
    h.on_delete = [this](const nlohmann::json& o) { Add("delete " + GetName(o)); };
    return h;
  }
  bool WaitForCall(const std::string& call, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] {
      return std::find(calls_.begin(), calls_.end(), call) != calls_.end();
    });
  }
  std::vector<std::string> Take() {
    std::lock_guard<std::mutex> g(mu_);
    std::vector<std::string> out;
    out.swap(calls_);
    return out;
  }

 private:
  void Add(std::string s) {
    std::lock_guard<std::mutex> g(mu_);
    calls_.push_back(std::move(s));
    cv_.notify_all();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> calls_;
};

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* kubeconfig = std::getenv("DK_KUBECONFIG");
    if (kubeconfig == nullptr || *kubeconfig == '\0') {
      GTEST_SKIP() << "DK_KUBECONFIG is not set: no control plane to test against "
                      "(run tests/libkube/with_cluster.sh, or point it at an admin kubeconfig)";
    }
    kubeconfig_ = kubeconfig;
    auto config = LoadKubeconfig(kubeconfig_);
    ASSERT_TRUE(config.ok()) << config.status();
    ClientOptions co;
    co.logger = &logger_;
    auto client = Client::Create(*config, co);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = std::move(client).value();

    std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (char& c : test) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (test.size() > 40) test.resize(40);
    ns_ = "dk-it-" + test + "-" + std::to_string(std::random_device{}() % 100000);
    nlohmann::json ns = {
        {"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns_}}}};
    auto created =
        RetryUnavailable([&] { return client_->Create(resources::Namespaces(), "", ns); });
    ASSERT_TRUE(created.ok()) << created.status();
  }
  void TearDown() override {
    for (const std::string& crd : crds_to_delete_) {
      Status s = client_->Delete(resources::CustomResourceDefinitions(), "", crd);
      if (!s.ok() && !IsNotFound(s)) ADD_FAILURE() << "deleting CRD " << crd << ": " << s;
    }
    if (client_ && !ns_.empty()) {
      Status s = client_->Delete(resources::Namespaces(), "", ns_);
      if (!s.ok() && !IsNotFound(s)) ADD_FAILURE() << "deleting namespace: " << s;
    }
  }

  // Retries a call while the apiserver is unavailable (starting up, restarting).
  template <typename F>
  auto RetryUnavailable(F f, std::chrono::seconds budget = seconds(120)) -> decltype(f()) {
    const auto deadline = std::chrono::steady_clock::now() + budget;
    for (;;) {
      auto r = f();
      if (r.ok() || r.status().code() != StatusCode::kUnavailable ||
          std::chrono::steady_clock::now() > deadline) {
        return r;
      }
      std::this_thread::sleep_for(milliseconds(500));
    }
  }

  // Compacts etcd's history up to its current revision through etcd's v3 JSON gateway
  // (DK_ETCD_ENDPOINT, e.g. http://127.0.0.1:2379), so that a watch from an old
  // resourceVersion cannot be served from etcd either (the apiserver delegates watches to etcd
  // while a watch cache is not ready): the apiserver must answer 410.
  void CompactEtcd() {
    const char* endpoint = std::getenv("DK_ETCD_ENDPOINT");
    if (endpoint == nullptr || *endpoint == '\0') {
      logger_.Warn("DK_ETCD_ENDPOINT is not set: not compacting etcd");
      return;  // the fresh watch cache of a test CRD still answers 410
    }
    RestConfig rc;
    rc.server = endpoint;
    auto etcd = NewCppRestTransport(rc, nullptr);
    ASSERT_TRUE(etcd.ok()) << etcd.status();
    HttpRequest range{"POST",
                      "/v3/kv/range",
                      {},
                      "application/json",
                      R"({"key":"L3JlZ2lzdHJ5","limit":1})"};  // "/registry"
    auto r = (*etcd)->Send(range);
    ASSERT_TRUE(r.ok() && r->status_code == 200) << r.status() << " " << (r.ok() ? r->body : "");
    nlohmann::json j = nlohmann::json::parse(r->body, nullptr, false);
    ASSERT_TRUE(j.is_object() && j["header"]["revision"].is_string()) << r->body;
    const std::string revision = j["header"]["revision"];
    HttpRequest compact{"POST",
                        "/v3/kv/compaction",
                        {},
                        "application/json",
                        nlohmann::json({{"revision", revision}, {"physical", true}}).dump()};
    r = (*etcd)->Send(compact);
    ASSERT_TRUE(r.ok() && r->status_code == 200) << r.status() << " " << (r.ok() ? r->body : "");
    logger_.Info("Compacted etcd", {{"revision", revision}});
  }

  std::unique_ptr<Informer> NewInformer(Recorder* recorder,
                                        ResourceRef resource = resources::ConfigMaps()) {
    InformerOptions o;
    o.resource = std::move(resource);
    o.ns = ns_;
    o.label_selector = std::string("test=") + kTestLabel;
    o.page_size = 2;
    o.backoff = {milliseconds(100), seconds(2), 2.0, 0.5, 0};
    o.watch_timeout = seconds(60);
    auto inf = std::make_unique<Informer>(client_.get(), std::move(o));
    inf->AddEventHandlers(recorder->Handlers());
    return inf;
  }

  // Creates a namespaced CRD of a fresh group/resource (it.diffkeeper.io/v1, kind Widget<n>,
  // status subresource, any fields), deleted in TearDown; returns once the apiserver serves it.
  // A fresh resource also has a fresh watch cache, which starts at the current resourceVersion:
  // older versions are then certainly "too old" (410), unlike for built-in resources of a young
  // cluster whose cache may still reach back to resourceVersion 1.
  void CreateTestCrd(ResourceRef* out) {
    const std::string group = "it.diffkeeper.io";
    const std::string n = std::to_string(std::random_device{}() % 1000000);
    const std::string plural = "widget" + n + "s";
    const std::string kind = "Widget" + n;
    nlohmann::json schema = {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}};
    nlohmann::json crd = {
        {"apiVersion", "apiextensions.k8s.io/v1"},
        {"kind", "CustomResourceDefinition"},
        {"metadata", {{"name", plural + "." + group}}},
        {"spec",
         {{"group", group},
          {"scope", "Namespaced"},
          {"names", {{"plural", plural}, {"singular", "widget" + n}, {"kind", kind}}},
          {"versions",
           {{{"name", "v1"},
             {"served", true},
             {"storage", true},
             {"schema", {{"openAPIV3Schema", schema}}},
             {"subresources", {{"status", nlohmann::json::object()}}}}}}}}};
    auto created = client_->Create(resources::CustomResourceDefinitions(), "", crd);
    ASSERT_TRUE(created.ok()) << created.status();
    crds_to_delete_.push_back(plural + "." + group);
    *out = ResourceRef{group, "v1", plural, true, kind};
    // Established, then served (discovery of a new resource takes a moment: 404 until then).
    const auto deadline = std::chrono::steady_clock::now() + seconds(30);
    for (;;) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "CRD " << plural << " not served";
      if (client_->List(*out, ns_).ok()) break;
      std::this_thread::sleep_for(milliseconds(100));
    }
  }

  nlohmann::json Widget(const ResourceRef& ref, const std::string& name,
                        nlohmann::json spec = {{"k", "v"}}) {
    return {{"apiVersion", ref.ApiVersion()},
            {"kind", ref.kind},
            {"metadata", {{"name", name}, {"namespace", ns_}, {"labels", {{"test", kTestLabel}}}}},
            {"spec", std::move(spec)}};
  }

  JsonLogger logger_{LogLevel::kInfo, "libkube-it"};
  std::vector<std::string> crds_to_delete_;
  std::string kubeconfig_;
  std::unique_ptr<Client> client_;
  std::string ns_;
};

TEST_F(ClusterTest, ConfigMapCrud) {
  const ResourceRef cm = resources::ConfigMaps();
  auto created = client_->Create(cm, ns_, ConfigMap(ns_, "a"));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_FALSE(GetUid(*created).empty());
  EXPECT_TRUE(IsAlreadyExists(client_->Create(cm, ns_, ConfigMap(ns_, "a")).status()));

  auto got = client_->Get(cm, ns_, "a");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)["data"]["k"], "v");

  nlohmann::json changed = *got;
  changed["data"]["k"] = "v2";
  auto updated = client_->Update(cm, ns_, changed);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_NE(GetResourceVersion(*updated), GetResourceVersion(*got));

  auto merged = client_->Patch(cm, ns_, "a", PatchType::kMerge, {{"data", {{"m", "1"}}}});
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_EQ((*merged)["data"]["m"], "1");
  auto json_patched =
      client_->Patch(cm, ns_, "a", PatchType::kJson,
                     nlohmann::json::array({{{"op", "test"}, {"path", "/data/k"}, {"value", "v2"}},
                                            {{"op", "remove"}, {"path", "/data/m"}}}));
  ASSERT_TRUE(json_patched.ok()) << json_patched.status();
  EXPECT_FALSE((*json_patched)["data"].contains("m"));
  auto failed_test = client_->Patch(
      cm, ns_, "a", PatchType::kJson,
      nlohmann::json::array({{{"op", "test"}, {"path", "/data/k"}, {"value", "nope"}}}));
  EXPECT_FALSE(failed_test.ok());

  for (int i = 0; i < 5; ++i) {
    nlohmann::json o = ConfigMap(ns_, "page-" + std::to_string(i));
    o["metadata"]["labels"]["group"] = "paged";
    ASSERT_TRUE(client_->Create(cm, ns_, o).ok());
  }
  ListOptions lo;
  lo.label_selector = "group=paged";
  lo.limit = 2;
  auto page = client_->List(cm, ns_, lo);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->items.size(), 2u);
  EXPECT_FALSE(page->continue_token.empty());
  auto all = client_->ListAll(cm, ns_, lo);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->items.size(), 5u);
  EXPECT_EQ(all->items[0]["kind"], "ConfigMap");

  DeleteOptions wrong_uid;
  wrong_uid.precondition_uid = "00000000-0000-0000-0000-000000000000";
  Status s = client_->Delete(cm, ns_, "a", wrong_uid);
  EXPECT_EQ(s.code(), StatusCode::kConflict) << s;
  DeleteOptions right;
  right.precondition_uid = GetUid(*created);
  right.propagation = PropagationPolicy::kBackground;
  ASSERT_TRUE(client_->Delete(cm, ns_, "a", right).ok());
  EXPECT_TRUE(IsNotFound(client_->Get(cm, ns_, "a").status()));
  EXPECT_TRUE(IsNotFound(client_->Delete(cm, ns_, "a")));
}

TEST_F(ClusterTest, CustomResourceWithStatusSubresource) {
  ResourceRef widgets;
  CreateTestCrd(&widgets);
  if (HasFatalFailure()) return;
  auto cw = client_->Create(widgets, ns_, Widget(widgets, "w1", {{"size", 1}}));
  ASSERT_TRUE(cw.ok()) << cw.status();
  EXPECT_EQ((*cw)["kind"], widgets.kind);

  nlohmann::json with_status = *cw;
  with_status["status"] = {{"phase", "Ready"}};
  with_status["spec"]["size"] = 99;  // ignored by the status subresource
  auto st = client_->UpdateStatus(widgets, ns_, with_status);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ((*st)["status"]["phase"], "Ready");
  EXPECT_EQ((*st)["spec"]["size"], 1);

  nlohmann::json spec_change = *st;
  spec_change["spec"]["size"] = 2;
  spec_change["status"]["phase"] = "Ignored";  // ignored by the main resource
  auto sp = client_->Update(widgets, ns_, spec_change);
  ASSERT_TRUE(sp.ok()) << sp.status();
  EXPECT_EQ((*sp)["spec"]["size"], 2);
  EXPECT_EQ((*sp)["status"]["phase"], "Ready");

  PatchOptions po;
  po.subresource = "status";
  auto ps =
      client_->Patch(widgets, ns_, "w1", PatchType::kMerge, {{"status", {{"phase", "Done"}}}}, po);
  ASSERT_TRUE(ps.ok()) << ps.status();
  EXPECT_EQ((*ps)["status"]["phase"], "Done");
}

TEST_F(ClusterTest, WatchSeesCreateUpdateDeleteInOrder) {
  const ResourceRef cm = resources::ConfigMaps();
  auto list = client_->List(cm, ns_);
  ASSERT_TRUE(list.ok()) << list.status();
  std::vector<std::string> seen;
  std::mutex mu;
  std::condition_variable cv;
  Cancellation cancel;
  Status watch_status;
  std::thread watcher([&] {
    WatchOptions wo;
    wo.resource_version = list->resource_version;
    wo.timeout = seconds(60);
    watch_status = client_->Watch(
        cm, ns_, wo,
        [&](const WatchEvent& e) {
          if (e.type == WatchEventType::kBookmark) return true;
          // The controller-manager's root-CA publisher adds kube-root-ca.crt to every new
          // namespace at a moment of its choosing (CI saw it between MODIFIED and DELETED).
          if (GetName(e.object) != "w") return true;
          std::lock_guard<std::mutex> g(mu);
          seen.push_back(std::string(WatchEventTypeName(e.type)) + " " + GetName(e.object) + " " +
                         e.object["data"].value("k", ""));
          cv.notify_all();
          return seen.size() < 3;
        },
        &cancel);
  });
  ASSERT_TRUE(client_->Create(cm, ns_, ConfigMap(ns_, "w", {{"k", "1"}})).ok());
  ASSERT_TRUE(client_->Patch(cm, ns_, "w", PatchType::kMerge, {{"data", {{"k", "2"}}}}).ok());
  ASSERT_TRUE(client_->Delete(cm, ns_, "w").ok());
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, seconds(30), [&] { return seen.size() >= 3; });
  }
  cancel.Cancel();
  watcher.join();
  EXPECT_TRUE(watch_status.ok()) << watch_status;
  EXPECT_EQ(seen, (std::vector<std::string>{"ADDED w 1", "MODIFIED w 2", "DELETED w 2"}));
}

TEST_F(ClusterTest, WatchFromATooOldResourceVersionIsGone) {
  ResourceRef widgets;
  CreateTestCrd(&widgets);
  if (HasFatalFailure()) return;
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(client_->Create(widgets, ns_, Widget(widgets, "old-" + std::to_string(i))).ok());
  }
  CompactEtcd();
  if (HasFatalFailure()) return;
  WatchOptions wo;
  wo.resource_version = "1";
  wo.timeout = seconds(30);
  int events = 0;
  const auto start = std::chrono::steady_clock::now();
  Status s = client_->Watch(widgets, ns_, wo, [&](const WatchEvent&) {
    ++events;
    return true;
  });
  EXPECT_TRUE(IsGone(s)) << s;
  EXPECT_EQ(events, 0);
  EXPECT_EQ(ApiHttpCode(s), 410);
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(20)) << "answered quickly";
  logger_.Info("Watch at resourceVersion 1 ended", {{"status", s.ToString()}, {"events", events}});
}

TEST_F(ClusterTest, InformerRelistsAfterGoneAndReportsWhatChangedInTheGap) {
  ResourceRef widgets;
  CreateTestCrd(&widgets);
  if (HasFatalFailure()) return;
  for (const char* n : {"a", "b", "c"}) {
    ASSERT_TRUE(client_->Create(widgets, ns_, Widget(widgets, n)).ok());
  }
  Recorder rec;
  auto inf = NewInformer(&rec, widgets);
  inf->Start();
  ASSERT_TRUE(inf->WaitForSync(seconds(30)));
  EXPECT_EQ(inf->cache().Size(), 3u);
  rec.Take();
  inf->PauseWatchForTest();
  // The gap: changes the informer cannot see as events.
  ASSERT_TRUE(client_->Delete(widgets, ns_, "a").ok());
  ASSERT_TRUE(
      client_->Patch(widgets, ns_, "b", PatchType::kMerge, {{"spec", {{"k", "gap"}}}}).ok());
  ASSERT_TRUE(client_->Create(widgets, ns_, Widget(widgets, "d")).ok());
  CompactEtcd();
  if (HasFatalFailure()) return;
  inf->ResumeWatchForTest("1");  // older than the resource's watch cache and etcd: 410
  ASSERT_TRUE(rec.WaitForCall("add d", seconds(30)));
  ASSERT_TRUE(rec.WaitForCall("delete a", seconds(5)));
  ASSERT_TRUE(rec.WaitForCall("update b", seconds(5)));
  EXPECT_EQ(inf->ListCount(), 2) << "exactly one re-list";
  EXPECT_EQ(inf->cache().Keys(), (std::vector<std::string>{ns_ + "/b", ns_ + "/c", ns_ + "/d"}));
  EXPECT_EQ((*inf->Get(ns_, "b"))["spec"]["k"], "gap");
  // Watching again after the re-list.
  ASSERT_TRUE(client_->Create(widgets, ns_, Widget(widgets, "e")).ok());
  EXPECT_TRUE(rec.WaitForCall("add e", seconds(30)));
  inf->Stop();
}

TEST_F(ClusterTest, OptimisticConcurrencyConflictAndRetry) {
  const ResourceRef cm = resources::ConfigMaps();
  ASSERT_TRUE(client_->Create(cm, ns_, ConfigMap(ns_, "counter", {{"n", "0"}})).ok());
  auto first = client_->Get(cm, ns_, "counter");
  auto second = client_->Get(cm, ns_, "counter");
  ASSERT_TRUE(first.ok() && second.ok());
  (*first)["data"]["n"] = "1";
  ASSERT_TRUE(client_->Update(cm, ns_, *first).ok());
  (*second)["data"]["n"] = "1";
  Status conflict = client_->Update(cm, ns_, *second).status();
  EXPECT_TRUE(IsConflict(conflict)) << conflict;
  EXPECT_EQ(ApiReason(conflict), "Conflict");
  EXPECT_TRUE(conflict.retryable());

  // Read-modify-write with retry on conflict from several threads: no lost increments.
  constexpr int kThreads = 4, kIncrements = 10;
  std::atomic<int> conflicts{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrements; ++i) {
        for (;;) {
          auto cur = client_->Get(cm, ns_, "counter");
          ASSERT_TRUE(cur.ok()) << cur.status();
          int n = std::stoi((*cur)["data"]["n"].get<std::string>());
          (*cur)["data"]["n"] = std::to_string(n + 1);
          Status s = client_->Update(cm, ns_, *cur).status();
          if (s.ok()) break;
          ASSERT_TRUE(IsConflict(s)) << s;
          conflicts.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  auto final_cm = client_->Get(cm, ns_, "counter");
  ASSERT_TRUE(final_cm.ok());
  EXPECT_EQ((*final_cm)["data"]["n"], std::to_string(1 + kThreads * kIncrements));
  logger_.Info("Concurrent increments done", {{"conflicts", conflicts.load()}});
}

TEST_F(ClusterTest, ServerSideApplyByTwoFieldManagers) {
  const ResourceRef cm = resources::ConfigMaps();
  PatchOptions a;
  a.field_manager = "manager-a";
  auto applied =
      client_->Apply(cm, ns_, ConfigMap(ns_, "ssa", {{"owned-by-a", "1"}, {"shared", "a"}}), a);
  ASSERT_TRUE(applied.ok()) << applied.status();

  PatchOptions b;
  b.field_manager = "manager-b";
  Status conflict = client_->Apply(cm, ns_, ConfigMap(ns_, "ssa", {{"shared", "b"}}), b).status();
  EXPECT_TRUE(IsConflict(conflict)) << conflict;
  EXPECT_NE(conflict.message().find("manager-a"), std::string::npos) << conflict;

  b.force = true;
  auto forced = client_->Apply(cm, ns_, ConfigMap(ns_, "ssa", {{"shared", "b"}}), b);
  ASSERT_TRUE(forced.ok()) << forced.status();
  EXPECT_EQ((*forced)["data"]["shared"], "b");
  EXPECT_EQ((*forced)["data"]["owned-by-a"], "1") << "a's other field is untouched";
  std::set<std::string> managers;
  for (const auto& mf : (*forced)["metadata"]["managedFields"])
    managers.insert(mf.value("manager", ""));
  EXPECT_TRUE(managers.count("manager-a") && managers.count("manager-b"));

  // Re-applying a's config without "shared" now conflicts no more and keeps b's value.
  auto again = client_->Apply(cm, ns_, ConfigMap(ns_, "ssa", {{"owned-by-a", "2"}}), a);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)["data"]["shared"], "b");
  EXPECT_EQ((*again)["data"]["owned-by-a"], "2");
}

TEST_F(ClusterTest, EventRecorderAggregatesRepeats) {
  const ResourceRef cm = resources::ConfigMaps();
  auto obj = client_->Create(cm, ns_, ConfigMap(ns_, "subject"));
  ASSERT_TRUE(obj.ok());
  {
    EventRecorder rec(client_.get(), {"diffkeeper.io/libkube-it", "it-0"});
    for (int i = 0; i < 3; ++i) {
      rec.Record(*obj, EventType::kWarning, "RestoreFailed", "Restore", "no snapshot yet");
    }
    rec.Record(*obj, EventType::kNormal, "Captured", "Capture", "1 file");
    rec.Flush();
  }
  auto events = client_->List(resources::Events(), ns_);
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->items.size(), 2u);
  for (const auto& e : events->items) {
    EXPECT_EQ(e["regarding"]["uid"], GetUid(*obj));
    if (e["reason"] == "RestoreFailed") {
      EXPECT_EQ(e["series"]["count"], 3) << e.dump();
    } else {
      EXPECT_FALSE(e.contains("series")) << e.dump();
    }
  }
}

// A child process running libkube_lease_helper, its stdout readable line by line.
class Candidate {
 public:
  Candidate(const std::string& ns, const std::string& identity) : identity_(identity) {
    int fds[2];
    EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    std::vector<std::string> args = {DK_LEASE_HELPER, ns,     "it-lease", identity,
                                     "4000",          "3000", "1000"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    EXPECT_EQ(posix_spawn(&pid_, DK_LEASE_HELPER, &fa, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    out_ = fds[0];
  }
  ~Candidate() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close(out_);
  }
  // Waits up to `timeout` for a line equal to `line`.
  bool WaitForLine(const std::string& line, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      size_t nl;
      while ((nl = buf_.find('\n')) != std::string::npos) {
        std::string got = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        if (got == line) return true;
      }
      auto left =
          std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{out_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
      char tmp[256];
      ssize_t n = read(out_, tmp, sizeof(tmp));
      if (n <= 0) return false;
      buf_.append(tmp, static_cast<size_t>(n));
    }
  }
  void Signal(int sig) { kill(pid_, sig); }
  int Wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }
  const std::string& identity() const { return identity_; }

 private:
  std::string identity_;
  pid_t pid_ = -1;
  int out_ = -1;
  std::string buf_;
};

TEST_F(ClusterTest, LeaderElectionTakeoverAfterTheLeaderIsKilled) {
  setenv("DK_KUBECONFIG", kubeconfig_.c_str(), 1);
  Candidate a(ns_, "candidate-a");
  ASSERT_TRUE(a.WaitForLine("LEADING candidate-a", seconds(30)));
  Candidate b(ns_, "candidate-b");
  EXPECT_FALSE(b.WaitForLine("LEADING candidate-b", seconds(6))) << "two leaders at once";

  auto lease = client_->Get(resources::Leases(), ns_, "it-lease");
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_EQ((*lease)["spec"]["holderIdentity"], "candidate-a");

  const auto killed_at = std::chrono::steady_clock::now();
  a.Signal(SIGKILL);
  a.Wait();
  // lease 4s + retry 1s jittered by up to 1.2x, plus slack for a loaded machine.
  ASSERT_TRUE(b.WaitForLine("LEADING candidate-b", seconds(20)));
  const auto takeover = std::chrono::steady_clock::now() - killed_at;
  EXPECT_GE(takeover, milliseconds(2500)) << "took over before the lease could have expired";
  lease = client_->Get(resources::Leases(), ns_, "it-lease");
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ((*lease)["spec"]["holderIdentity"], "candidate-b");
  EXPECT_GE((*lease)["spec"]["leaseTransitions"].get<int>(), 1);

  // A clean shutdown releases the lease.
  b.Signal(SIGTERM);
  EXPECT_TRUE(b.WaitForLine("STOPPED candidate-b", seconds(10)));
  int status = b.Wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  lease = client_->Get(resources::Leases(), ns_, "it-lease");
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ((*lease)["spec"].value("holderIdentity", ""), "");
}

TEST_F(ClusterTest, InformerSurvivesAnApiserverRestart) {
  const char* restart = std::getenv("DK_RESTART_APISERVER_CMD");
  if (restart == nullptr || *restart == '\0') {
    GTEST_SKIP() << "DK_RESTART_APISERVER_CMD is not set: cannot restart the apiserver";
  }
  const ResourceRef cm = resources::ConfigMaps();
  ASSERT_TRUE(client_->Create(cm, ns_, ConfigMap(ns_, "before")).ok());
  Recorder rec;
  auto inf = NewInformer(&rec);
  inf->Start();
  ASSERT_TRUE(inf->WaitForSync(seconds(30)));
  ASSERT_TRUE(rec.WaitForCall("add before", seconds(5)));

  logger_.Info("Restarting the apiserver", {{"command", restart}});
  ASSERT_EQ(std::system(restart), 0) << restart;

  auto created = RetryUnavailable([&] { return client_->Create(cm, ns_, ConfigMap(ns_, "after")); },
                                  seconds(180));
  ASSERT_TRUE(created.ok() || IsAlreadyExists(created.status())) << created.status();
  EXPECT_TRUE(rec.WaitForCall("add after", seconds(120)));
  auto patched = RetryUnavailable([&] {
    return client_->Patch(cm, ns_, "before", PatchType::kMerge, {{"data", {{"k", "x"}}}});
  });
  ASSERT_TRUE(patched.ok()) << patched.status();
  EXPECT_TRUE(rec.WaitForCall("update before", seconds(60)));
  EXPECT_EQ(inf->cache().Size(), 2u);
  inf->Stop();
}

}  // namespace
}  // namespace dk::kube
