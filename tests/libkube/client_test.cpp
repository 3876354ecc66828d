#include "libkube/client.h"

#include <gtest/gtest.h>

#include "fake_api.h"
#include "libkube/api_error.h"
#include "libkube/fake_clock.h"
#include "temp_dir.h"

namespace dk::kube {
namespace {

using testing::FakeApi;

const char kCm[] = "/api/v1/namespaces/ns/configmaps";

nlohmann::json ConfigMap(const std::string& name, const std::string& value = "v") {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"namespace", "ns"}}},
          {"data", {{"k", value}}}};
}

std::string Header(const HttpRequest& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

class ClientTest : public ::testing::Test {
 protected:
  ClientTest() {
    auto api = std::make_unique<FakeApi>();
    api_ = api.get();
    RestConfig config;
    config.server = "https://fake";
    config.bearer_token = "secret-token";
    client_ = std::make_unique<Client>(std::move(api), config, ClientOptions{nullptr, &clock_});
  }
  HttpRequest LastRequest() { return api_->Requests().back(); }

  FakeClock clock_;
  FakeApi* api_;
  std::unique_ptr<Client> client_;
};

TEST(ResourceRefTest, BuildsCoreGroupAndClusterScopedPaths) {
  ResourceRef cm = resources::ConfigMaps();
  EXPECT_EQ(cm.ApiVersion(), "v1");
  EXPECT_EQ(cm.CollectionPath("ns"), "/api/v1/namespaces/ns/configmaps");
  EXPECT_EQ(cm.CollectionPath(""), "/api/v1/configmaps");
  EXPECT_EQ(cm.ObjectPath("ns", "a"), "/api/v1/namespaces/ns/configmaps/a");
  ResourceRef crd{"diffkeeper.io", "v1alpha1", "statepolicies", true, "StatePolicy"};
  EXPECT_EQ(crd.ApiVersion(), "diffkeeper.io/v1alpha1");
  EXPECT_EQ(crd.ObjectPath("ns", "p", "status"),
            "/apis/diffkeeper.io/v1alpha1/namespaces/ns/statepolicies/p/status");
  ResourceRef nodes = resources::Nodes();
  EXPECT_EQ(nodes.ObjectPath("ignored", "n1"), "/api/v1/nodes/n1");
  EXPECT_EQ(resources::Leases().CollectionPath("kube-system"),
            "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases");
}

TEST_F(ClientTest, CreateGetUpdateDelete) {
  auto created = client_->Create(resources::ConfigMaps(), "ns", ConfigMap("a"));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(LastRequest().method, "POST");
  EXPECT_EQ(LastRequest().path, kCm);
  EXPECT_EQ(LastRequest().content_type, "application/json");
  EXPECT_EQ(Header(LastRequest(), "Authorization"), "Bearer secret-token");
  EXPECT_EQ(Header(LastRequest(), "Accept"), "application/json");

  auto got = client_->Get(resources::ConfigMaps(), "ns", "a");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)["data"]["k"], "v");

  nlohmann::json changed = *got;
  changed["data"]["k"] = "v2";
  auto updated = client_->Update(resources::ConfigMaps(), "", changed);  // namespace from object
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(LastRequest().method, "PUT");
  EXPECT_EQ(LastRequest().path, std::string(kCm) + "/a");

  // The old version is stale now: typed Conflict, retryable.
  auto stale = client_->Update(resources::ConfigMaps(), "ns", changed);
  EXPECT_TRUE(IsConflict(stale.status())) << stale.status();
  EXPECT_TRUE(stale.status().retryable());

  EXPECT_TRUE(client_->Delete(resources::ConfigMaps(), "ns", "a").ok());
  EXPECT_TRUE(IsNotFound(client_->Get(resources::ConfigMaps(), "ns", "a").status()));
  EXPECT_TRUE(IsNotFound(client_->Delete(resources::ConfigMaps(), "ns", "a")));
}

TEST_F(ClientTest, CreateOfAnExistingNameIsAlreadyExists) {
  ASSERT_TRUE(client_->Create(resources::ConfigMaps(), "ns", ConfigMap("a")).ok());
  Status s = client_->Create(resources::ConfigMaps(), "ns", ConfigMap("a")).status();
  EXPECT_TRUE(IsAlreadyExists(s)) << s;
  EXPECT_FALSE(s.retryable());
  EXPECT_NE(s.message().find("already exists"), std::string::npos);
}

TEST_F(ClientTest, UpdateRequiresResourceVersion) {
  auto r = client_->Update(resources::ConfigMaps(), "ns", ConfigMap("a"));
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("resourceVersion"), std::string::npos);
  EXPECT_TRUE(api_->Requests().empty()) << "refused before any request";
}

TEST_F(ClientTest, RejectsNamesThatWouldChangeThePath) {
  for (const char* bad : {"", "a/b", "..", "a?b", "a b", "%2F"}) {
    EXPECT_EQ(client_->Get(resources::ConfigMaps(), "ns", bad).status().code(),
              StatusCode::kInvalidArgument)
        << bad;
  }
  EXPECT_EQ(client_->Get(resources::ConfigMaps(), "n/s", "a").status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(ClientTest, ListEncodesSelectorsAndPagesWithContinue) {
  for (int i = 0; i < 7; ++i) {
    nlohmann::json cm = ConfigMap("cm" + std::to_string(i));
    cm["metadata"]["labels"]["app"] = i % 2 ? "odd" : "even";
    api_->Put(kCm, cm);
  }
  ListOptions lo;
  lo.label_selector = "app=even";
  lo.field_selector = "metadata.name!=x y";
  lo.limit = 2;
  auto page = client_->List(resources::ConfigMaps(), "ns", lo);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(LastRequest().path, std::string(kCm) +
                                    "?labelSelector=app%3Deven&fieldSelector=metadata.name%21%3Dx%"
                                    "20y&limit=2");
  EXPECT_EQ(page->items.size(), 2u);
  EXPECT_FALSE(page->continue_token.empty());
  EXPECT_EQ(page->items[0]["kind"], "ConfigMap") << "kind filled in for list items";
  EXPECT_EQ(page->items[0]["apiVersion"], "v1");

  auto all = client_->ListAll(resources::ConfigMaps(), "ns", lo);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->items.size(), 4u);
  EXPECT_EQ(all->resource_version, std::to_string(api_->ResourceVersion()));
  EXPECT_NE(LastRequest().path.find("continue="), std::string::npos);
}

TEST_F(ClientTest, ListAllReportsAnExpiredContinueTokenAsGone) {
  for (int i = 0; i < 4; ++i) api_->Put(kCm, ConfigMap("cm" + std::to_string(i)));
  api_->FailNext("GET", std::string(kCm) + "?continue=", 410, "Expired");
  ListOptions lo;
  lo.limit = 2;
  auto all = client_->ListAll(resources::ConfigMaps(), "ns", lo);
  EXPECT_TRUE(IsGone(all.status())) << all.status();
}

TEST_F(ClientTest, PatchesUseTheRightContentTypes) {
  api_->Put(kCm, ConfigMap("a"));
  auto merged = client_->Patch(resources::ConfigMaps(), "ns", "a", PatchType::kMerge,
                               {{"data", {{"k2", "x"}}}});
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_EQ((*merged)["data"]["k2"], "x");
  EXPECT_EQ(LastRequest().method, "PATCH");
  EXPECT_EQ(LastRequest().content_type, "application/merge-patch+json");

  (void)client_->Patch(resources::ConfigMaps(), "ns", "a", PatchType::kJson,
                       nlohmann::json::array({{{"op", "remove"}, {"path", "/data/k2"}}}));
  EXPECT_EQ(LastRequest().content_type, "application/json-patch+json");
  EXPECT_EQ(LastRequest().body, "[{\"op\":\"remove\",\"path\":\"/data/k2\"}]");

  EXPECT_EQ(client_->Patch(resources::ConfigMaps(), "ns", "a", PatchType::kJson, {{"a", 1}})
                .status()
                .code(),
            StatusCode::kInvalidArgument)
      << "a JSON patch is an array";
}

TEST_F(ClientTest, ApplySendsApplyPatchWithFieldManagerAndForce) {
  api_->Put(kCm, ConfigMap("a"));
  PatchOptions po;
  po.field_manager = "diffkeeper";
  po.force = true;
  (void)client_->Apply(resources::ConfigMaps(), "", ConfigMap("a"), po);
  HttpRequest r = LastRequest();
  EXPECT_EQ(r.method, "PATCH");
  EXPECT_EQ(r.path, std::string(kCm) + "/a?fieldManager=diffkeeper&force=true");
  EXPECT_EQ(r.content_type, "application/apply-patch+yaml");
  EXPECT_EQ(nlohmann::json::parse(r.body), ConfigMap("a"));

  PatchOptions no_manager;
  EXPECT_EQ(
      client_->Apply(resources::ConfigMaps(), "ns", ConfigMap("a"), no_manager).status().code(),
      StatusCode::kInvalidArgument);
  nlohmann::json no_kind = ConfigMap("a");
  no_kind.erase("kind");
  EXPECT_EQ(client_->Apply(resources::ConfigMaps(), "ns", no_kind, po).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(ClientTest, DeleteSendsPropagationAndPreconditions) {
  nlohmann::json stored = api_->Put(kCm, ConfigMap("a"));
  DeleteOptions d;
  d.propagation = PropagationPolicy::kForeground;
  d.precondition_uid = "wrong-uid";
  Status s = client_->Delete(resources::ConfigMaps(), "ns", "a", d);
  EXPECT_TRUE(IsConflict(s)) << s;
  nlohmann::json body = nlohmann::json::parse(LastRequest().body);
  EXPECT_EQ(body["propagationPolicy"], "Foreground");
  EXPECT_EQ(body["preconditions"]["uid"], "wrong-uid");
  EXPECT_EQ(body["kind"], "DeleteOptions");

  d.precondition_uid = stored["metadata"]["uid"];
  d.precondition_resource_version = stored["metadata"]["resourceVersion"];
  d.grace_period_seconds = 0;
  EXPECT_TRUE(client_->Delete(resources::ConfigMaps(), "ns", "a", d).ok());
  body = nlohmann::json::parse(LastRequest().body);
  EXPECT_EQ(body["gracePeriodSeconds"], 0);
  EXPECT_EQ(body["preconditions"]["resourceVersion"], stored["metadata"]["resourceVersion"]);
}

TEST_F(ClientTest, UpdateStatusTargetsTheSubresource) {
  nlohmann::json stored = api_->Put(kCm, ConfigMap("a"));
  stored["status"] = {{"phase", "Ready"}};
  stored["data"]["k"] = "ignored by /status";
  auto r = client_->UpdateStatus(resources::ConfigMaps(), "ns", stored);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(LastRequest().path, std::string(kCm) + "/a/status");
  EXPECT_EQ((*r)["status"]["phase"], "Ready");
  EXPECT_EQ((*r)["data"]["k"], "v");
}

TEST_F(ClientTest, ServerErrorsCarryReasonAndMessage) {
  api_->FailNext("GET", std::string(kCm) + "/a", 403, "Forbidden");
  Status s = client_->Get(resources::ConfigMaps(), "ns", "a").status();
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(ApiReason(s), "Forbidden");
  EXPECT_NE(s.message().find("GET /api/v1/namespaces/ns/configmaps/a: injected failure"),
            std::string::npos)
      << s;
  api_->SetDown(true);
  Status down = client_->Get(resources::ConfigMaps(), "ns", "a").status();
  EXPECT_EQ(down.code(), StatusCode::kUnavailable);
  EXPECT_TRUE(down.retryable());
}

TEST(ClientTokenTest, RereadsARotatedTokenFileAfter401) {
  testing::TempDir dir;
  FakeClock clock;
  auto api = std::make_unique<FakeApi>();
  FakeApi* fake = api.get();
  RestConfig config;
  config.server = "https://fake";
  config.bearer_token_file = dir.Write("token", "old");
  Client client(std::move(api), config, ClientOptions{nullptr, &clock});
  fake->Put(kCm, ConfigMap("a"));
  ASSERT_TRUE(client.Get(resources::ConfigMaps(), "ns", "a").ok());
  dir.Write("token", "new");
  fake->FailNext("GET", kCm, 401, "Unauthorized");
  ASSERT_TRUE(client.Get(resources::ConfigMaps(), "ns", "a").ok());
  auto reqs = fake->Requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(Header(reqs[1], "Authorization"), "Bearer old");
  EXPECT_EQ(Header(reqs[2], "Authorization"), "Bearer new");
}

TEST_F(ClientTest, WatchDeliversEventsInOrderFromTheGivenVersion) {
  api_->Put(kCm, ConfigMap("a"));
  const std::string from = std::to_string(api_->ResourceVersion());
  api_->Put(kCm, ConfigMap("b"));
  api_->Put(kCm, ConfigMap("a", "changed"));
  api_->Remove(kCm, "b");
  std::vector<std::string> seen;
  WatchOptions wo;
  wo.resource_version = from;
  wo.timeout = std::chrono::seconds(60);
  Status s = client_->Watch(resources::ConfigMaps(), "ns", wo, [&](const WatchEvent& e) {
    seen.push_back(std::string(WatchEventTypeName(e.type)) + " " +
                   e.object["metadata"]["name"].get<std::string>());
    return seen.size() < 3;
  });
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(seen, (std::vector<std::string>{"ADDED b", "MODIFIED a", "DELETED b"}));
  EXPECT_EQ(LastRequest().path, std::string(kCm) + "?watch=true&resourceVersion=" + from +
                                    "&allowWatchBookmarks=true&timeoutSeconds=60");
}

TEST_F(ClientTest, WatchFromACompactedVersionReturnsGone) {
  api_->Put(kCm, ConfigMap("a"));
  api_->Compact();
  WatchOptions wo;
  wo.resource_version = "1";
  int events = 0;
  Status s = client_->Watch(resources::ConfigMaps(), "ns", wo, [&](const WatchEvent&) {
    ++events;
    return true;
  });
  EXPECT_TRUE(IsGone(s)) << s;
  EXPECT_EQ(events, 0) << "ERROR events are not passed to the handler";
}

TEST_F(ClientTest, WatchRefusedWithHttp410ReturnsGone) {
  api_->FailNext("WATCH", kCm, 410, "Expired");
  Status s = client_->Watch(resources::ConfigMaps(), "ns", WatchOptions{},
                            [](const WatchEvent&) { return true; });
  EXPECT_TRUE(IsGone(s)) << s;
}

TEST_F(ClientTest, WatchEndsWhenCancelled) {
  Cancellation cancel;
  std::thread canceller([&] {
    ASSERT_TRUE(api_->WaitForWatches(1));
    cancel.Cancel();
  });
  Status s = client_->Watch(
      resources::ConfigMaps(), "ns", WatchOptions{}, [](const WatchEvent&) { return true; },
      &cancel);
  canceller.join();
  EXPECT_TRUE(s.ok()) << s;
}

// A transport that replays a scripted body in fixed chunks.
class ScriptedStream final : public HttpTransport {
 public:
  ScriptedStream(int code, std::vector<std::string> chunks) : code_(code), chunks_(chunks) {}
  Result<HttpResponse> Send(const HttpRequest&) override { return HttpResponse{500, "", ""}; }
  Result<HttpResponse> Stream(const HttpRequest&, const BodyChunkHandler& on_chunk,
                              Cancellation*) override {
    HttpResponse r{code_, "application/json", ""};
    for (const std::string& c : chunks_) {
      if (code_ != 200) {
        r.body += c;
      } else if (!on_chunk(c)) {
        break;
      }
    }
    return r;
  }

 private:
  int code_;
  std::vector<std::string> chunks_;
};

Status WatchScripted(int code, std::vector<std::string> chunks, std::vector<WatchEvent>* out) {
  Client c(std::make_unique<ScriptedStream>(code, std::move(chunks)), RestConfig{});
  return c.Watch(resources::ConfigMaps(), "ns", WatchOptions{}, [&](const WatchEvent& e) {
    out->push_back(e);
    return true;
  });
}

TEST(ClientWatchStreamTest, HandlesBookmarksPartialLinesAndTruncation) {
  std::vector<WatchEvent> events;
  Status s = WatchScripted(200,
                           {"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"na",
                            "me\":\"a\"}}}\n{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":",
                            "{\"resourceVersion\":\"77\"}}}\n"},
                           &events);
  EXPECT_TRUE(s.ok()) << s;
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].type, WatchEventType::kBookmark);
  EXPECT_EQ(events[1].object["metadata"]["resourceVersion"], "77");

  events.clear();
  s = WatchScripted(200, {"{\"type\":\"ADDED\",\"object\":{}}\n{\"type\":\"ADD"}, &events);
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << "the stream ended inside an event";
  EXPECT_EQ(events.size(), 1u);

  events.clear();
  s = WatchScripted(200, {"garbage\n"}, &events);
  EXPECT_EQ(s.code(), StatusCode::kCorruption);

  s = WatchScripted(
      403, {"{\"kind\":\"Status\",\"reason\":\"Forbidden\",\"message\":\"no watch\"}"}, &events);
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(ApiReason(s), "Forbidden");
}

}  // namespace
}  // namespace dk::kube
