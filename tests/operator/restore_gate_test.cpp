#include "restore_gate.h"

#include <gtest/gtest.h>

#include "api.h"
#include "test_objects.h"

namespace dk::op {
namespace {

using nlohmann::json;
using std::chrono::seconds;
using testing::Policy;
using testing::StsPod;

std::chrono::system_clock::time_point T(const std::string& s) { return *ParseRfc3339(s); }

json GatedPod() {
  json pod = StsPod("demo", "db", 2, "4f1c2a9e-1111-2222-3333-444455556666");
  pod["metadata"]["labels"][kGatedLabel] = "true";
  pod["metadata"]["annotations"] = {{kPolicyAnnotation, "db"}};
  pod["spec"]["nodeName"] = "node-1";
  pod["status"] = {{"phase", "Pending"}};
  return pod;
}

struct Fixture {
  json pod = GatedPod();
  Result<PolicySpec> spec =
      ParsePolicySpec(Policy("demo", "db", "db", {{"restore", {{"timeout", "60s"}}}}));
  GatePlan Plan(const json* restore, const std::string& now, int reported = 0) {
    GateInputs in;
    in.pod = &pod;
    in.policy_name = "db";
    in.spec = &spec;
    in.restore = restore;
    in.reported_failures = reported;
    in.now = T(now);
    return PlanGatedPod(in);
  }
};

TEST(RestoreGateTest, AGatedPodGetsItsStateRestore) {
  Fixture f;
  GatePlan p = f.Plan(nullptr, "2025-11-27T12:00:00Z");
  ASSERT_TRUE(p.create_restore.has_value());
  const json& r = *p.create_restore;
  EXPECT_EQ(r["metadata"]["name"], "db-2-4f1c2a9e");
  EXPECT_EQ(r["metadata"]["namespace"], "demo");
  EXPECT_EQ(r["metadata"]["labels"][kRestoreForPodLabel], "4f1c2a9e-1111-2222-3333-444455556666");
  EXPECT_EQ(r["metadata"]["ownerReferences"][0]["kind"], "Pod");
  EXPECT_EQ(r["metadata"]["ownerReferences"][0]["uid"], "4f1c2a9e-1111-2222-3333-444455556666");
  EXPECT_EQ(r["spec"]["policy"], "db");
  EXPECT_EQ(r["spec"]["pod"], "db-2");
  EXPECT_EQ(r["spec"]["ordinal"], 2);
  EXPECT_EQ(r["spec"]["podUID"], "4f1c2a9e-1111-2222-3333-444455556666");
  ASSERT_EQ(p.events.size(), 1u);
  EXPECT_EQ(p.events[0].reason, "RestoreRequested");
  EXPECT_NE(p.events[0].message.find("timeout 1m0s"), std::string::npos) << p.events[0].message;
}

TEST(RestoreGateTest, NothingForUngatedFinishedOrDeletingPods) {
  Fixture f;
  f.pod["metadata"]["labels"].erase(kGatedLabel);
  EXPECT_FALSE(f.Plan(nullptr, "2025-11-27T12:00:00Z").create_restore);
  f.pod = GatedPod();
  f.pod["status"]["phase"] = "Succeeded";
  EXPECT_FALSE(f.Plan(nullptr, "2025-11-27T12:00:00Z").create_restore);
  f.pod = GatedPod();
  f.pod["metadata"]["deletionTimestamp"] = "2025-11-27T11:00:00Z";
  EXPECT_FALSE(f.Plan(nullptr, "2025-11-27T12:00:00Z").create_restore);
  // The gate already passed (the application runs): too late to restore.
  f.pod = GatedPod();
  f.pod["status"]["initContainerStatuses"] =
      json::array({{{"name", kRestoreWaitContainer},
                    {"restartCount", 0},
                    {"state", {{"terminated", {{"exitCode", 0}}}}}}});
  EXPECT_FALSE(f.Plan(nullptr, "2025-11-27T12:00:00Z").create_restore);
}

TEST(RestoreGateTest, AnUnfinishedRestoreIsFailedAfterTheTimeoutPlusGrace) {
  Fixture f;
  json restore = {{"apiVersion", kApiVersion},
                  {"kind", "StateRestore"},
                  {"metadata",
                   {{"name", "db-2-4f1c2a9e"},
                    {"namespace", "demo"},
                    {"creationTimestamp", "2025-11-27T12:00:00Z"},
                    {"resourceVersion", "5"}}},
                  {"spec", {{"policy", "db"}, {"pod", "db-2"}}},
                  {"status", {{"phase", "Running"}, {"node", "node-1"}}}};
  GatePlan early = f.Plan(&restore, "2025-11-27T12:01:00Z");
  EXPECT_FALSE(early.fail_restore);
  ASSERT_TRUE(early.requeue_at.has_value());
  EXPECT_EQ(*early.requeue_at, T("2025-11-27T12:01:30Z"));  // 60s timeout + 30s grace

  GatePlan late = f.Plan(&restore, "2025-11-27T12:01:31Z");
  ASSERT_TRUE(late.fail_restore.has_value());
  const json& st = (*late.fail_restore)["status"];
  EXPECT_EQ(st["phase"], "Failed");
  EXPECT_EQ(st["node"], "node-1");  // the agent's fields are kept
  EXPECT_EQ(st["message"],
            "timed out after 1m0s: no node agent finished the restore (the pod is on node "
            "node-1); restore-wait keeps the pod from starting");
  EXPECT_EQ((*late.fail_restore)["metadata"]["resourceVersion"], "5");  // optimistic update
  ASSERT_EQ(late.events.size(), 2u);
  EXPECT_TRUE(late.events[0].warning);
  EXPECT_EQ(late.events[0].reason, "RestoreTimedOut");

  restore["status"]["phase"] = "Succeeded";
  EXPECT_FALSE(f.Plan(&restore, "2025-11-27T13:00:00Z").fail_restore);
}

TEST(RestoreGateTest, EachRestoreWaitFailureIsReportedOnce) {
  Fixture f;
  json restore = {
      {"metadata", {{"name", "db-2-4f1c2a9e"}, {"creationTimestamp", "2025-11-27T12:00:00Z"}}},
      {"status", {{"phase", "Failed"}}}};
  f.pod["status"]["initContainerStatuses"] = json::array(
      {{{"name", kRestoreWaitContainer},
        {"restartCount", 0},
        {"state",
         {{"terminated", {{"exitCode", 2}, {"message", "restore-wait: timed out after 1m"}}}}}}});
  GatePlan p = f.Plan(&restore, "2025-11-27T12:02:00Z");
  ASSERT_EQ(p.events.size(), 1u);
  EXPECT_EQ(p.events[0].reason, "RestoreGateFailed");
  EXPECT_EQ(p.events[0].message,
            "restore-wait exited with code 2: restore-wait: timed out after 1m");
  EXPECT_EQ(p.reported_failures, 1);
  // Same failure seen again: no new event.
  EXPECT_TRUE(f.Plan(&restore, "2025-11-27T12:02:05Z", p.reported_failures).events.empty());
  // Restarted and failed again (crash loop): one more.
  f.pod["status"]["initContainerStatuses"][0]["restartCount"] = 1;
  f.pod["status"]["initContainerStatuses"][0]["state"] = {
      {"waiting", {{"reason", "CrashLoopBackOff"}}}};
  f.pod["status"]["initContainerStatuses"][0]["lastState"] = {{"terminated", {{"exitCode", 1}}}};
  GatePlan again = f.Plan(&restore, "2025-11-27T12:03:00Z", p.reported_failures);
  EXPECT_TRUE(again.events.empty());  // restartCount 1 == failures already reported
  f.pod["status"]["initContainerStatuses"][0]["restartCount"] = 2;
  GatePlan third = f.Plan(&restore, "2025-11-27T12:04:00Z", p.reported_failures);
  ASSERT_EQ(third.events.size(), 1u);
  EXPECT_EQ(third.events[0].message, "restore-wait exited with code 1: the restore failed");
}

json UserRestore(const std::string& name, const std::string& created, json spec,
                 const std::string& phase = "", const std::string& adopted_by = "") {
  json r = {{"apiVersion", kApiVersion},
            {"kind", "StateRestore"},
            {"metadata", {{"name", name}, {"namespace", "demo"}, {"creationTimestamp", created}}},
            {"spec", spec}};
  if (!phase.empty()) r["status"] = {{"phase", phase}};
  if (!adopted_by.empty()) r["metadata"]["labels"] = {{kRestoreForPodLabel, adopted_by}};
  return r;
}

TEST(RestoreGateTest, AUserRestoreNamingThePodIsCarriedOutByItsNextGatedInstance) {
  const std::string uid = "4f1c2a9e-1111-2222-3333-444455556666";
  json pod = GatedPod();
  std::vector<json> rs = {
      // not this pod, another policy, an operator's, finished, another pod's adoption
      UserRestore("other-ordinal", "2025-11-27T12:00:05Z", {{"policy", "db"}, {"ordinal", 1}}),
      UserRestore("other-policy", "2025-11-27T12:00:05Z", {{"policy", "x"}, {"pod", "db-2"}}),
      UserRestore("operators", "2025-11-27T12:00:05Z",
                  {{"policy", "db"}, {"pod", "db-2"}, {"podUID", "aaaa"}}),
      UserRestore("finished", "2025-11-27T12:00:09Z", {{"policy", "db"}, {"pod", "db-2"}},
                  "Failed"),
      UserRestore("earlier-pod", "2025-11-27T12:00:09Z", {{"policy", "db"}, {"pod", "db-2"}},
                  "Pending", "0000-old"),
      // candidates: by name and by ordinal; the newest wins
      UserRestore("by-name", "2025-11-27T12:00:01Z",
                  {{"policy", "db"}, {"pod", "db-2"}, {"time", "2025-11-27T11:00:00Z"}}, "Pending"),
      UserRestore("by-ordinal", "2025-11-27T12:00:02Z", {{"policy", "db"}, {"ordinal", 2}}),
  };
  const json* got = UserRestoreForPod(rs, pod, "db");
  ASSERT_NE(got, nullptr);
  EXPECT_EQ((*got)["metadata"]["name"], "by-ordinal");

  // Once adopted by this pod it stays the pod's, whatever its phase.
  rs.push_back(UserRestore("adopted", "2025-11-27T12:00:00Z", {{"policy", "db"}, {"pod", "db-2"}},
                           "Succeeded", uid));
  got = UserRestoreForPod(rs, pod, "db");
  ASSERT_NE(got, nullptr);
  EXPECT_EQ((*got)["metadata"]["name"], "adopted");

  // Nothing for this pod: the operator creates its own.
  std::vector<json> none(rs.begin(), rs.begin() + 5);
  EXPECT_EQ(UserRestoreForPod(none, pod, "db"), nullptr);
}

TEST(RestoreGateTest, AUserRestoreOlderThanThePodTimesOutFromThePodsCreation) {
  Fixture f;  // restore timeout 60s; the fixture's grace is GateInputs' default (30s)
  f.pod["metadata"]["creationTimestamp"] = "2025-11-27T12:00:00Z";
  json user = UserRestore("back", "2025-11-27T10:00:00Z", {{"policy", "db"}, {"pod", "db-2"}},
                          "Pending", "4f1c2a9e-1111-2222-3333-444455556666");
  GatePlan p = f.Plan(&user, "2025-11-27T12:00:10Z");
  EXPECT_FALSE(p.fail_restore.has_value()) << "created two hours before the pod, not timed out";
  ASSERT_TRUE(p.requeue_at.has_value());
  EXPECT_EQ(*p.requeue_at, T("2025-11-27T12:01:30Z"));
  EXPECT_TRUE(f.Plan(&user, "2025-11-27T12:01:31Z").fail_restore.has_value());
}

}  // namespace
}  // namespace dk::op
