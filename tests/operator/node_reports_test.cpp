#include "node_reports.h"

#include <gtest/gtest.h>

namespace dk::op {
namespace {

using nlohmann::json;

json Report(const std::string& node, const json& pods) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", "diffkeeper-node-" + node}, {"namespace", "diffkeeper-system"}}},
          {"data",
           {{"endpoint", "https://10.0.0.1:9443"},
            {"heartbeat", "2025-11-27T12:00:00Z"},
            {"pods", pods.dump()}}}};
}

json Entry(int ordinal, const std::string& capture, int64_t sets, int64_t stored,
           const json& errors = json::array()) {
  return {{"namespace", "demo"},
          {"policy", "db"},
          {"statefulSet", "db"},
          {"ordinal", ordinal},
          {"pod", "db-" + std::to_string(ordinal)},
          {"podUID", "u" + std::to_string(ordinal)},
          {"versions", sets * 3},
          {"sets", sets},
          {"logicalBytes", 1000},
          {"storedBytes", stored},
          {"lastCapture", capture},
          {"lastRoot", "root-" + capture},
          {"lastSet", sets},
          {"errors", errors}};
}

TEST(NodeReportsTest, ParsesAReportAndSkipsIncompleteEntries) {
  json pods = json::array({Entry(0, "2025-11-27T12:00:00Z", 4, 500),
                           {{"namespace", "demo"}, {"statefulSet", "db"}}});  // no ordinal
  auto r = ParseNodeReport(Report("node-1", pods));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->node, "node-1");
  EXPECT_EQ(r->endpoint, "https://10.0.0.1:9443");
  ASSERT_EQ(r->pods.size(), 1u);
  EXPECT_EQ(r->pods[0].ordinal, 0);
  EXPECT_EQ(r->pods[0].sets, 4);
  EXPECT_EQ(r->pods[0].node, "node-1");

  json bad = Report("node-2", json::array());
  bad["data"]["pods"] = "{not json";
  EXPECT_EQ(ParseNodeReport(bad).status().code(), StatusCode::kInvalidArgument);
  json empty = Report("node-3", json::array());
  empty["data"].erase("pods");
  EXPECT_TRUE(ParseNodeReport(empty).ok());
}

TEST(NodeReportsTest, TheLatestCaptureOfAnOrdinalWinsAndStoredBytesAddUp) {
  // Pod db-0 moved from node-1 to node-2: node-2 has the newer state.
  std::vector<NodeReport> reports = {
      *ParseNodeReport(Report("node-1", json::array({Entry(0, "2025-11-27T10:00:00Z", 3, 300),
                                                     Entry(1, "2025-11-27T11:00:00Z", 2, 200)}))),
      *ParseNodeReport(Report("node-2", json::array({Entry(0, "2025-11-27T12:00:00Z", 5, 700)}))),
  };
  PolicyStatusSummary s = SummarizePolicy("demo", "db", reports, {});
  EXPECT_EQ(s.protected_pods, 2);
  EXPECT_EQ(s.versions, 5 + 2);
  EXPECT_EQ(s.stored_bytes, 300 + 200 + 700);
  EXPECT_EQ(s.logical_bytes, 2000);
  ASSERT_EQ(s.pods.size(), 2u);
  EXPECT_EQ(s.pods[0]["pod"], "db-0");
  EXPECT_EQ(s.pods[0]["node"], "node-2");
  EXPECT_EQ(s.pods[0]["versions"], 5);
  EXPECT_EQ(s.pods[0]["lastCapture"], "2025-11-27T12:00:00Z");
  EXPECT_EQ(s.pods[0]["lastVerifiedRoot"], "root-2025-11-27T12:00:00Z");
  EXPECT_EQ(s.pods[1]["node"], "node-1");
  // Other StatefulSets and namespaces are not counted.
  EXPECT_EQ(SummarizePolicy("demo", "web", reports, {}).protected_pods, 0);
  EXPECT_EQ(SummarizePolicy("prod", "db", reports, {}).protected_pods, 0);
}

TEST(NodeReportsTest, AgentErrorsAndTheLastFinishedRestoreAreReported) {
  std::vector<NodeReport> reports = {*ParseNodeReport(Report(
      "node-1", json::array({Entry(0, "2025-11-27T10:00:00Z", 3, 300, {"ENOSPC on /data"})})))};
  auto restore = [](const std::string& name, const json& spec, const std::string& phase,
                    const std::string& done) {
    return json{
        {"metadata",
         {{"name", name}, {"namespace", "demo"}, {"creationTimestamp", "2025-11-27T09:00:00Z"}}},
        {"spec", spec},
        {"status",
         {{"phase", phase},
          {"completionTime", done},
          {"source", "peer:node-2"},
          {"message", "ok"}}}};
  };
  std::vector<json> restores = {
      restore("old", {{"policy", "db"}, {"ordinal", 0}}, "Failed", "2025-11-27T09:30:00Z"),
      restore("new", {{"policy", "db"}, {"pod", "db-0"}}, "Succeeded", "2025-11-27T09:40:00Z"),
      restore("running", {{"policy", "db"}, {"ordinal", 0}}, "Running", ""),
  };
  PolicyStatusSummary s = SummarizePolicy("demo", "db", reports, restores);
  ASSERT_EQ(s.errors.size(), 1u);
  EXPECT_EQ(s.errors[0], "node-1: db-0: ENOSPC on /data");
  EXPECT_EQ(s.pods[0]["errors"][0], "ENOSPC on /data");
  EXPECT_EQ(s.pods[0]["lastRestore"]["name"], "new");
  EXPECT_EQ(s.pods[0]["lastRestore"]["result"], "Succeeded");
  EXPECT_EQ(s.pods[0]["lastRestore"]["source"], "peer:node-2");
  EXPECT_EQ(s.pods[0]["lastRestore"]["time"], "2025-11-27T09:40:00Z");
}

TEST(NodeReportsTest, RestoreOrdinalFromOrdinalOrPodName) {
  EXPECT_EQ(RestoreOrdinal({{"spec", {{"ordinal", 3}}}}, "db"), 3);
  EXPECT_EQ(RestoreOrdinal({{"spec", {{"pod", "db-12"}}}}, "db"), 12);
  EXPECT_EQ(RestoreOrdinal({{"spec", {{"pod", "web-1"}}}}, "db"), -1);
  EXPECT_EQ(RestoreOrdinal({{"spec", {{"pod", "db-x"}}}}, "db"), -1);
}

json Replication(int64_t last_set, int64_t lag_sets, bool failing,
                 const std::string& replicated = "2025-11-27T12:00:05Z") {
  json r = {{"identity", "demo/db/0"},
            {"bucket", "s3 bucket bkt at http://127.0.0.1:9000"},
            {"state", failing ? "backoff" : "idle"},
            {"lastSet", last_set},
            {"lastBucketSet", last_set + 100},
            {"lastRoot", last_set ? "root-" + std::to_string(last_set) : ""},
            {"lastSetTime", "2025-11-27T12:00:00.123456789Z"},
            {"lastReplicated", replicated},
            {"latestSet", last_set + lag_sets},
            {"lagSets", lag_sets},
            {"lagSeconds", lag_sets ? 42.7 : 0.0},
            {"backlog", 0},
            {"failing", failing},
            {"consecutiveFailures", failing ? 3 : 0},
            {"lastErrorReason", failing ? "AccessDenied" : ""},
            {"lastError", failing ? "PUT heads/demo/db/0.json: 403 AccessDenied" : ""},
            {"lastErrorTime", failing ? "2025-11-27T12:00:04Z" : ""},
            {"nextRetry", ""}};
  return r;
}

TEST(NodeReportsTest, ReplicationOfTheCapturingNodeIsReportedPerPod) {
  json e0 = Entry(0, "2025-11-27T12:00:00Z", 4, 500);
  e0["replication"] = Replication(4, 2, /*failing=*/true);
  json e1 = Entry(1, "2025-11-27T12:00:00Z", 2, 200);
  e1["replication"] = json::object();  // storage Local on that node's view: nothing
  auto r = ParseNodeReport(Report("node-1", json::array({e0, e1})));
  ASSERT_TRUE(r.ok()) << r.status();
  const ReportedReplication& rep = r->pods[0].replication;
  EXPECT_TRUE(rep.present);
  EXPECT_EQ(rep.last_set, 4);
  EXPECT_EQ(rep.last_bucket_set, 104);
  EXPECT_EQ(rep.lag_sets, 2);
  EXPECT_EQ(rep.lag_seconds, 42);  // whole seconds
  EXPECT_TRUE(rep.failing);
  EXPECT_EQ(rep.last_error_reason, "AccessDenied");
  EXPECT_FALSE(r->pods[1].replication.present);

  PolicyStatusSummary s = SummarizePolicy("demo", "db", {*r}, {});
  ASSERT_EQ(s.pods.size(), 2u);
  const json& j = s.pods[0]["replication"];
  EXPECT_EQ(j["node"], "node-1");
  EXPECT_EQ(j["lastSet"], 4);
  EXPECT_EQ(j["bucketSet"], 104);
  EXPECT_EQ(j["lastRoot"], "root-4");
  EXPECT_EQ(j["lagSets"], 2);
  EXPECT_EQ(j["lagSeconds"], 42);
  EXPECT_EQ(j["failing"], true);
  EXPECT_EQ(j["consecutiveFailures"], 3);
  EXPECT_EQ(j["lastErrorReason"], "AccessDenied");
  EXPECT_EQ(j["lastSetTime"], "2025-11-27T12:00:00Z");
  EXPECT_EQ(j["lastReplicated"], "2025-11-27T12:00:05Z");
  EXPECT_FALSE(j.contains("nextRetry"));
  EXPECT_FALSE(s.pods[1].contains("replication"));
  ASSERT_EQ(s.replication.size(), 1u);
  EXPECT_EQ(s.replication[0].pod, "db-0");
}

TEST(NodeReportsTest, AMovedPodShowsTheOldNodesReplicationUntilTheNewOneHasOne) {
  json old_node = Entry(0, "2025-11-27T10:00:00Z", 3, 300);
  old_node["replication"] = Replication(3, 0, false, "2025-11-27T10:00:02Z");
  json new_node = Entry(0, "2025-11-27T12:00:00Z", 5, 500);  // not replicating yet
  std::vector<NodeReport> reports = {
      *ParseNodeReport(Report("node-1", json::array({old_node}))),
      *ParseNodeReport(Report("node-2", json::array({new_node}))),
  };
  PolicyStatusSummary s = SummarizePolicy("demo", "db", reports, {});
  ASSERT_EQ(s.pods.size(), 1u);
  EXPECT_EQ(s.pods[0]["node"], "node-2");
  EXPECT_EQ(s.pods[0]["replication"]["node"], "node-1");
  EXPECT_EQ(s.pods[0]["replication"]["lastSet"], 3);

  // Once node-2 replicates, its status is the one shown.
  new_node["replication"] = Replication(5, 0, false, "2025-11-27T12:00:01Z");
  reports[1] = *ParseNodeReport(Report("node-2", json::array({new_node})));
  s = SummarizePolicy("demo", "db", reports, {});
  EXPECT_EQ(s.pods[0]["replication"]["node"], "node-2");
  EXPECT_EQ(s.pods[0]["replication"]["lastSet"], 5);
}

}  // namespace
}  // namespace dk::op
