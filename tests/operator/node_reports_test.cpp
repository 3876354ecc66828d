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

}  // namespace
}  // namespace dk::op
