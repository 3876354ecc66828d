#include "libkube/informer.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <set>
#include <thread>

#include "fake_api.h"
#include "libkube/object_meta.h"

namespace dk::kube {
namespace {

using testing::FakeApi;

const char kCm[] = "/api/v1/namespaces/ns/configmaps";

nlohmann::json ConfigMap(const std::string& name, const std::string& value = "v",
                         const std::string& node = "n1") {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"namespace", "ns"}}},
          {"data", {{"k", value}, {"node", node}}}};
}

// Collects handler calls as "add a", "update a", "delete a".
class Recorder {
 public:
  EventHandlers Handlers() {
    EventHandlers h;
    h.on_add = [this](const nlohmann::json& o) { Add("add " + GetName(o)); };
    h.on_update = [this](const nlohmann::json& old_obj, const nlohmann::json& o) {
      EXPECT_EQ(GetName(old_obj), GetName(o));
      Add("update " + GetName(o));
    };
    h.on_delete = [this](const nlohmann::json& o) { Add("delete " + GetName(o)); };
    return h;
  }
  // Waits (real time, bounded) for at least n calls; returns them all.
  std::vector<std::string> WaitFor(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(10), [&] { return calls_.size() >= n; });
    return calls_;
  }
  std::vector<std::string> Take() {
    std::lock_guard<std::mutex> g(mu_);
    std::vector<std::string> out;
    out.swap(calls_);
    return out;
  }
  std::set<std::thread::id> Threads() {
    std::lock_guard<std::mutex> g(mu_);
    return threads_;
  }

 private:
  void Add(std::string s) {
    std::lock_guard<std::mutex> g(mu_);
    calls_.push_back(std::move(s));
    threads_.insert(std::this_thread::get_id());
    cv_.notify_all();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> calls_;
  std::set<std::thread::id> threads_;
};

class InformerTest : public ::testing::Test {
 protected:
  InformerTest() {
    auto api = std::make_unique<FakeApi>();
    api_ = api.get();
    RestConfig config;
    config.server = "https://fake";
    client_ = std::make_unique<Client>(std::move(api), config);
  }
  std::unique_ptr<Informer> NewInformer(int64_t page_size = 2) {
    InformerOptions o;
    o.resource = resources::ConfigMaps();
    o.ns = "ns";
    o.page_size = page_size;
    o.backoff = {std::chrono::milliseconds(1), std::chrono::milliseconds(20), 2.0, 0.5, 7};
    auto inf = std::make_unique<Informer>(client_.get(), o);
    inf->AddEventHandlers(recorder_.Handlers());
    return inf;
  }
  // Waits until the informer's watch is open again after `n_watches` requests were seen.
  std::vector<HttpRequest> WatchRequests() {
    std::vector<HttpRequest> out;
    for (auto& r : api_->Requests()) {
      if (r.path.find("watch=true") != std::string::npos) out.push_back(r);
    }
    return out;
  }

  FakeApi* api_;
  std::unique_ptr<Client> client_;
  Recorder recorder_;
};

TEST_F(InformerTest, ListsPagesThenWatchesAndSyncs) {
  for (const char* n : {"a", "b", "c"}) api_->Put(kCm, ConfigMap(n));
  auto inf = NewInformer();
  EXPECT_FALSE(inf->HasSynced());
  inf->Start();
  ASSERT_TRUE(inf->WaitForSync(std::chrono::seconds(10)));
  // All initial adds were delivered before HasSynced turned true.
  EXPECT_EQ(recorder_.Take(), (std::vector<std::string>{"add a", "add b", "add c"}));
  EXPECT_EQ(inf->cache().Size(), 3u);
  EXPECT_EQ(inf->ListCount(), 1);
  ASSERT_TRUE(api_->WaitForWatches(1));

  api_->Put(kCm, ConfigMap("d"));
  api_->Put(kCm, ConfigMap("a", "changed"));
  api_->Remove(kCm, "b");
  EXPECT_EQ(recorder_.WaitFor(3), (std::vector<std::string>{"add d", "update a", "delete b"}));
  EXPECT_EQ((*inf->Get("ns", "a"))["data"]["k"], "changed");
  EXPECT_FALSE(inf->Get("ns", "b").has_value());
  EXPECT_EQ(inf->LastResourceVersion(), std::to_string(api_->ResourceVersion()));

  // Paged list: limit=2 needed two requests.
  int lists = 0;
  for (auto& r : api_->Requests()) lists += r.path.find("limit=2") != std::string::npos;
  EXPECT_EQ(lists, 2);
  inf->Stop();
}

TEST_F(InformerTest, HandlersRunOnOneThreadThatIsNotTheCaller) {
  auto inf = NewInformer();
  inf->Start();
  ASSERT_TRUE(inf->WaitForSync(std::chrono::seconds(10)));
  ASSERT_TRUE(api_->WaitForWatches(1));
  for (int i = 0; i < 20; ++i) api_->Put(kCm, ConfigMap("o" + std::to_string(i)));
  ASSERT_EQ(recorder_.WaitFor(20).size(), 20u);
  auto threads = recorder_.Threads();
  ASSERT_EQ(threads.size(), 1u);
  EXPECT_NE(*threads.begin(), std::this_thread::get_id());
}

TEST_F(InformerTest, RelistsAfterGoneAndDeliversDeletesForObjectsThatVanished) {
  for (const char* n : {"a", "b", "c"}) api_->Put(kCm, ConfigMap(n));
  auto inf = NewInformer();
  inf->Start();
  ASSERT_TRUE(inf->WaitForSync(std::chrono::seconds(10)));
  recorder_.Take();
  inf->PauseWatchForTest();
  // The gap: changes the informer does not see as events, then history is compacted.
  api_->Remove(kCm, "a");
  api_->Put(kCm, ConfigMap("b", "changed"));
  api_->Put(kCm, ConfigMap("d"));
  api_->Compact();
  inf->ResumeWatchForTest("");
  auto calls = recorder_.WaitFor(3);
  EXPECT_EQ(calls, (std::vector<std::string>{"delete a", "update b", "add d"}));
  EXPECT_EQ(inf->ListCount(), 2) << "re-listed once after 410";
  EXPECT_EQ(inf->cache().Keys(), (std::vector<std::string>{"ns/b", "ns/c", "ns/d"}));
  // And it watches again from the new list.
  ASSERT_TRUE(api_->WaitForWatches(1));
  api_->Put(kCm, ConfigMap("e"));
  EXPECT_EQ(recorder_.WaitFor(4).back(), "add e");
}

TEST_F(InformerTest, ForcedOldResourceVersionTriggersRelist) {
  api_->Put(kCm, ConfigMap("a"));
  api_->Compact();
  auto inf = NewInformer();
  inf->Start();
  ASSERT_TRUE(inf->WaitForSync(std::chrono::seconds(10)));
  inf->PauseWatchForTest();
  inf->ResumeWatchForTest("1");  // too old: the fake answers with an ERROR 410 event
  api_->Put(kCm, ConfigMap("b"));
  // "b" arrives through the re-list or the watch after it; either way the list happened first.
  EXPECT_EQ(recorder_.WaitFor(2), (std::vector<std::string>{"add a", "add b"}))
      << "no duplicate add of a";
  EXPECT_EQ(inf->ListCount(), 2);
}

TEST_F(InformerTest, ReconnectsFromTheLastVersionAfterTheServerWasDown) {
  api_->Put(kCm, ConfigMap("a"));
  auto inf = NewInformer();
  inf->Start();
  ASSERT_TRUE(inf->WaitForSync(std::chrono::seconds(10)));
  ASSERT_TRUE(api_->WaitForWatches(1));
  const std::string rv = inf->LastResourceVersion();
  const size_t before = api_->WatchRequestCount();
  api_->SetDown(true);  // ends the open watch with a connection error; reconnects fail
  ASSERT_TRUE(api_->WaitForWatchRequests(before + 2)) << "retried while down";
  api_->SetDown(false);
  const size_t down_attempts = api_->WatchRequestCount();
  ASSERT_TRUE(api_->WaitForWatchRequests(down_attempts + 1));
  ASSERT_TRUE(api_->WaitForWatches(1));
  api_->Put(kCm, ConfigMap("b"));
  EXPECT_EQ(recorder_.WaitFor(2), (std::vector<std::string>{"add a", "add b"}));
  EXPECT_EQ(inf->ListCount(), 1) << "resumed without re-listing";
  auto watches = WatchRequests();
  EXPECT_NE(watches.back().path.find("resourceVersion=" + rv), std::string::npos)
      << watches.back().path;
}

TEST_F(InformerTest, ServerClosedWatchIsReopenedWithoutDuplicates) {
  api_->Put(kCm, ConfigMap("a"));
  auto inf = NewInformer();
  inf->Start();
  ASSERT_TRUE(inf->WaitForSync(std::chrono::seconds(10)));
  ASSERT_TRUE(api_->WaitForWatches(1));
  api_->Put(kCm, ConfigMap("b"));
  ASSERT_EQ(recorder_.WaitFor(2).size(), 2u);
  api_->DropWatches();
  ASSERT_TRUE(api_->WaitForWatches(1));
  api_->Put(kCm, ConfigMap("c"));
  EXPECT_EQ(recorder_.WaitFor(3), (std::vector<std::string>{"add a", "add b", "add c"}));
  EXPECT_EQ(inf->ListCount(), 1);
}

TEST_F(InformerTest, RetriesAFailingInitialList) {
  api_->Put(kCm, ConfigMap("a"));
  api_->FailNext("GET", kCm, 500, "InternalError");
  api_->FailNext("GET", kCm, 429, "TooManyRequests");
  auto inf = NewInformer();
  inf->Start();
  ASSERT_TRUE(inf->WaitForSync(std::chrono::seconds(10)));
  EXPECT_EQ(inf->cache().Size(), 1u);
}

TEST_F(InformerTest, IndexesTheCache) {
  api_->Put(kCm, ConfigMap("a", "v", "n1"));
  api_->Put(kCm, ConfigMap("b", "v", "n2"));
  auto inf = NewInformer();
  ASSERT_TRUE(inf->AddIndex("node", IndexByField("data.node")).ok());
  inf->Start();
  ASSERT_TRUE(inf->WaitForSync(std::chrono::seconds(10)));
  auto on_n1 = inf->cache().ByIndex("node", "n1");
  ASSERT_TRUE(on_n1.ok());
  ASSERT_EQ(on_n1->size(), 1u);
  EXPECT_EQ(GetName((*on_n1)[0]), "a");
}

TEST_F(InformerTest, StopEndsAnOpenWatchPromptly) {
  auto inf = NewInformer();
  inf->Start();
  ASSERT_TRUE(inf->WaitForSync(std::chrono::seconds(10)));
  ASSERT_TRUE(api_->WaitForWatches(1));
  inf->Stop();
  EXPECT_EQ(api_->OpenWatches(), 0);
  inf->Stop();  // idempotent
}

}  // namespace
}  // namespace dk::kube
