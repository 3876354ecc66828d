#include "libkube/event_recorder.h"

#include <gtest/gtest.h>

#include "fake_api.h"
#include "libkube/event_aggregator.h"
#include "libkube/fake_clock.h"
#include "libkube/object_meta.h"

namespace dk::kube {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using testing::FakeApi;

TEST(EventAggregatorTest, RepeatsWithinTheWindowBecomeASeries) {
  EventAggregator agg(minutes(6), 100);
  const auto t0 = std::chrono::steady_clock::time_point() + std::chrono::hours(1);
  auto d = agg.Observe("k", t0, "pod.1");
  EXPECT_TRUE(d.create);
  EXPECT_EQ(d.name, "pod.1");
  EXPECT_EQ(d.count, 1);
  d = agg.Observe("k", t0 + minutes(5), "pod.2");
  EXPECT_FALSE(d.create);
  EXPECT_EQ(d.name, "pod.1");
  EXPECT_EQ(d.count, 2);
  d = agg.Observe("k", t0 + minutes(10), "pod.3");  // 5 min after the last one: still a series
  EXPECT_FALSE(d.create);
  EXPECT_EQ(d.count, 3);
  d = agg.Observe("other", t0 + minutes(10), "pod.4");
  EXPECT_TRUE(d.create) << "a different key is a different event";
  d = agg.Observe("k", t0 + minutes(17), "pod.5");  // 7 min of silence: a new event
  EXPECT_TRUE(d.create);
  EXPECT_EQ(d.name, "pod.5");
  EXPECT_EQ(d.count, 1);
}

TEST(EventAggregatorTest, ForgetAndEvictionStartNewEvents) {
  EventAggregator agg(minutes(6), 2);
  const auto t = std::chrono::steady_clock::time_point() + std::chrono::hours(1);
  agg.Observe("a", t, "a.1");
  agg.Forget("a");
  EXPECT_TRUE(agg.Observe("a", t, "a.2").create);
  agg.Observe("b", t, "b.1");
  agg.Observe("a", t, "a.3");  // touch "a": "b" is now the least recent
  agg.Observe("c", t, "c.1");  // evicts "b"
  EXPECT_EQ(agg.size(), 2u);
  EXPECT_FALSE(agg.Observe("a", t, "a.4").create);
  EXPECT_TRUE(agg.Observe("b", t, "b.2").create);
}

class EventRecorderTest : public ::testing::Test {
 protected:
  EventRecorderTest() {
    RestConfig config;
    config.server = "https://fake";
    client_ = std::make_unique<Client>(std::make_unique<testing::FakeApiProxy>(&api_), config,
                                       ClientOptions{nullptr, &clock_});
    recorder_ = std::make_unique<EventRecorder>(
        client_.get(), EventRecorderOptions{"diffkeeper.io/operator", "operator-0"});
  }
  std::vector<nlohmann::json> Events(const std::string& ns = "ns") {
    auto list = client_->List(resources::Events(), ns);
    EXPECT_TRUE(list.ok()) << list.status();
    return list.ok() ? list->items : std::vector<nlohmann::json>{};
  }

  nlohmann::json pod_ = {{"apiVersion", "v1"},
                         {"kind", "Pod"},
                         {"metadata", {{"name", "db-0"}, {"namespace", "ns"}, {"uid", "u1"}}}};
  FakeApi api_;
  FakeClock clock_;
  std::unique_ptr<Client> client_;
  std::unique_ptr<EventRecorder> recorder_;
};

TEST_F(EventRecorderTest, CreatesAnEventsK8sIoV1Event) {
  recorder_->Record(pod_, EventType::kWarning, "RestoreFailed", "Restore", "no snapshot");
  recorder_->Flush();
  auto events = Events();
  ASSERT_EQ(events.size(), 1u);
  const nlohmann::json& e = events[0];
  EXPECT_EQ(e["apiVersion"], "events.k8s.io/v1");
  EXPECT_EQ(e["type"], "Warning");
  EXPECT_EQ(e["reason"], "RestoreFailed");
  EXPECT_EQ(e["action"], "Restore");
  EXPECT_EQ(e["note"], "no snapshot");
  EXPECT_EQ(e["reportingController"], "diffkeeper.io/operator");
  EXPECT_EQ(e["reportingInstance"], "operator-0");
  EXPECT_EQ(e["eventTime"], "2024-01-01T00:00:00.000000Z");
  EXPECT_EQ(e["regarding"], nlohmann::json({{"apiVersion", "v1"},
                                            {"kind", "Pod"},
                                            {"name", "db-0"},
                                            {"namespace", "ns"},
                                            {"uid", "u1"}}));
  EXPECT_EQ(GetName(e).rfind("db-0.", 0), 0u) << GetName(e);
  EXPECT_FALSE(e.contains("series"));
}

TEST_F(EventRecorderTest, RepeatsPatchTheSeriesInsteadOfCreatingObjects) {
  recorder_->Record(pod_, EventType::kNormal, "Captured", "Capture", "3 files");
  recorder_->Flush();
  clock_.Advance(seconds(30));
  recorder_->Record(pod_, EventType::kNormal, "Captured", "Capture", "3 files");
  clock_.Advance(seconds(30));
  recorder_->Record(pod_, EventType::kNormal, "Captured", "Capture", "3 files");
  recorder_->Flush();
  auto events = Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["series"]["count"], 3);
  EXPECT_EQ(events[0]["series"]["lastObservedTime"], "2024-01-01T00:01:00.000000Z");
  int posts = 0, patches = 0;
  for (const auto& r : api_.Requests()) {
    if (r.path.find("/events") == std::string::npos) continue;
    posts += r.method == "POST";
    patches += r.method == "PATCH";
    if (r.method == "PATCH") {
      EXPECT_EQ(r.content_type, "application/merge-patch+json");
    }
  }
  EXPECT_EQ(posts, 1);
  EXPECT_EQ(patches, 2);
  // A different note is a different event.
  recorder_->Record(pod_, EventType::kNormal, "Captured", "Capture", "4 files");
  recorder_->Flush();
  EXPECT_EQ(Events().size(), 2u);
}

TEST_F(EventRecorderTest, AfterTheWindowOrADeletedEventANewObjectIsCreated) {
  recorder_->Record(pod_, EventType::kNormal, "Captured", "Capture", "x");
  recorder_->Flush();
  clock_.Advance(minutes(7));
  recorder_->Record(pod_, EventType::kNormal, "Captured", "Capture", "x");
  recorder_->Flush();
  ASSERT_EQ(Events().size(), 2u);
  // The server expired the newest Event (TTL): the next repeat creates a fresh one.
  for (const auto& e : Events()) {
    if (e["eventTime"] == "2024-01-01T00:07:00.000000Z") {
      api_.Remove("/apis/events.k8s.io/v1/namespaces/ns/events", GetName(e));
    }
  }
  recorder_->Record(pod_, EventType::kNormal, "Captured", "Capture", "x");
  recorder_->Flush();
  auto events = Events();
  ASSERT_EQ(events.size(), 2u);
  for (const auto& e : events) EXPECT_FALSE(e.contains("series")) << e.dump();
}

TEST_F(EventRecorderTest, ClusterScopedObjectsGetEventsInDefault) {
  nlohmann::json node = {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", "n1"}}}};
  recorder_->Record(node, EventType::kNormal, "AgentReady", "Start", "ok");
  recorder_->Flush();
  EXPECT_EQ(Events("default").size(), 1u);
}

TEST_F(EventRecorderTest, FailuresAreLoggedNotFatal) {
  api_.SetDown(true);
  recorder_->Record(pod_, EventType::kNormal, "Captured", "Capture", "x");
  recorder_->Flush();
  api_.SetDown(false);
  recorder_->Record(pod_, EventType::kNormal, "Captured", "Capture", "x");
  recorder_->Flush();
  auto events = Events();
  ASSERT_EQ(events.size(), 1u) << "the failed create was forgotten, not patched";
  EXPECT_FALSE(events[0].contains("series"));
}

}  // namespace
}  // namespace dk::kube
