#include "policy_spec.h"

#include <gtest/gtest.h>

#include "test_objects.h"

namespace dk::op {
namespace {

using nlohmann::json;
using testing::Policy;

TEST(PolicySpecTest, AppliesTheCrdDefaultsToAMinimalSpec) {
  auto s = ParsePolicySpec(Policy("ns", "p", "db"));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->target_name, "db");
  ASSERT_EQ(s->paths.size(), 1u);
  EXPECT_EQ(s->paths[0].volume, "data");
  EXPECT_EQ(s->paths[0].sub_path, "");
  EXPECT_EQ(s->debounce, std::chrono::seconds(2));
  EXPECT_EQ(s->snapshot_every, 20);
  EXPECT_EQ(s->max_chain, 50);
  EXPECT_EQ(s->delta_engine, "auto");
  EXPECT_EQ(s->chunk_avg, 262144u);
  EXPECT_EQ(s->keep_versions, 100);
  EXPECT_FALSE(s->keep_for.has_value());
  EXPECT_EQ(s->on_delete, "Retain");
  EXPECT_EQ(s->restore_timeout, std::chrono::minutes(10));
  EXPECT_EQ(s->on_timeout, "Fail");
  EXPECT_EQ(s->storage_type, "Local");
  EXPECT_FALSE(s->paused);
  EXPECT_TRUE(s->Gates());
}

TEST(PolicySpecTest, ReadsEverySetting) {
  json extra = {
      {"paths",
       {{{"volume", "data"}, {"subPath", "pg"}, {"include", {"*.db"}}, {"exclude", {"*.tmp"}}}}},
      {"capture",
       {{"debounce", "500ms"},
        {"snapshotEvery", 5},
        {"maxChain", 9},
        {"deltaEngine", "zstd"},
        {"chunking", {{"minSize", 1024}, {"avgSize", 4096}, {"maxSize", 16384}}}}},
      {"retention", {{"keepVersions", 7}, {"keepFor", "24h"}, {"onDelete", "Delete"}}},
      {"restore", {{"onReschedule", "Skip"}, {"timeout", "90s"}, {"onTimeout", "StartEmpty"}}},
      {"storage",
       {{"type", "S3"},
        {"s3",
         {{"endpoint", "https://minio:9000"},
          {"bucket", "dk-state"},
          {"prefix", "a/"},
          {"region", "eu"},
          {"credentialsSecretRef", {{"name", "creds"}}}}}}},
      {"paused", true}};
  auto s = ParsePolicySpec(Policy("ns", "p", "db", extra));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->paths[0].sub_path, "pg");
  EXPECT_EQ(s->paths[0].include, (std::vector<std::string>{"*.db"}));
  EXPECT_EQ(s->debounce, std::chrono::milliseconds(500));
  EXPECT_EQ(s->chunk_min, 1024u);
  EXPECT_EQ(*s->keep_for, std::chrono::hours(24));
  EXPECT_EQ(s->restore_timeout, std::chrono::seconds(90));
  ASSERT_TRUE(s->s3.has_value());
  EXPECT_EQ(s->s3->credentials_secret, "creds");
  EXPECT_FALSE(s->Gates());

  json agent = PolicyToAgentJson(Policy("ns", "p", "db", extra), *s);
  EXPECT_EQ(agent["statefulSet"], "db");
  EXPECT_EQ(agent["namespace"], "ns");
  EXPECT_EQ(agent["uid"], "uid-p");
  EXPECT_EQ(agent["capture"]["debounce"], "500ms");
  EXPECT_EQ(agent["restore"]["timeout"], "1m30s");
  EXPECT_EQ(agent["retention"]["keepFor"], "24h0m0s");
  EXPECT_EQ(agent["storage"]["s3"]["bucket"], "dk-state");
  EXPECT_EQ(agent["paused"], true);
}

// Every rejection carries the CRD's message (crds/diffkeeper.io_statepolicies.yaml), so a
// user sees the same words whether the API server or the operator caught the problem.
TEST(PolicySpecTest, RejectsBadSpecsWithTheCrdMessages) {
  struct Case {
    const char* extra;  // JSON merged into the spec
    std::string message;
  };
  const std::vector<Case> cases = {
      {R"({"targetRef": {"name": "Bad_Name"}})",
       "targetRef.name must be a StatefulSet name: lower-case letters, digits, '-' and '.'"},
      {R"({"paths": []})", "spec.paths must name at least one volume to protect"},
      {R"({"paths": [{"volume": "data"}, {"volume": "data"}]})",
       "each volume and subPath pair may appear only once in spec.paths"},
      {R"({"paths": [{"volume": "Data"}]})",
       "volume must be the name of a volume of the pod template (a DNS label: lower-case "
       "letters, digits and '-')"},
      {R"({"paths": [{"volume": "data", "subPath": "/abs"}]})",
       "subPath must be relative to the volume (no leading '/')"},
      {R"({"paths": [{"volume": "data", "subPath": "a/../b"}]})", "subPath must not contain '..'"},
      {R"({"capture": {"debounce": "2 seconds"}})",
       "capture.debounce must be a duration such as 500ms, 2s or 1m"},
      {R"({"capture": {"debounce": "20m"}})", "capture.debounce must be between 100ms and 10m"},
      {R"({"capture": {"chunking": {"minSize": 9000, "avgSize": 8192, "maxSize": 65536}}})",
       "capture.chunking sizes must satisfy minSize < avgSize < maxSize"},
      {R"({"capture": {"chunking": {"minSize": 1024, "avgSize": 5000, "maxSize": 65536}}})",
       "capture.chunking.avgSize must be a power of two, e.g. 65536"},
      {R"({"retention": {"keepFor": "30s"}})", "retention.keepFor must be at least 1m"},
      {R"({"retention": {"keepFor": "1 week"}})",
       "retention.keepFor must be a duration such as 30m, 24h or 720h"},
      {R"({"restore": {"timeout": "5s"}})", "restore.timeout must be between 10s and 24h"},
      {R"({"restore": {"timeout": "ten"}})",
       "restore.timeout must be a duration such as 90s, 10m or 1h"},
      {R"({"storage": {"type": "S3"}})", "storage.s3 is required when storage.type is S3"},
      {R"({"storage": {"type": "Local", "s3": {"bucket": "b-1"}}})",
       "storage.s3 may only be set when storage.type is S3"},
      {R"({"storage": {"type": "S3", "s3": {"bucket": "B", "credentialsSecretRef": {"name": "c"}}}})",
       "s3.bucket must be a bucket name: 3 to 63 lower-case letters, digits, '.' and '-'"},
      {R"({"storage": {"type": "S3", "s3": {"bucket": "bkt", "endpoint": "ftp://x",
           "credentialsSecretRef": {"name": "c"}}}})",
       "s3.endpoint must be an http:// or https:// URL"},
  };
  for (const auto& c : cases) {
    auto s = ParsePolicySpec(Policy("ns", "p", "db", json::parse(c.extra)));
    ASSERT_FALSE(s.ok()) << c.extra;
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(s.status().message(), c.message) << c.extra;
  }
}

TEST(PolicySpecTest, WrongTypesAreRejectedWithoutThrowing) {
  json p = Policy("ns", "p", "db");
  p["spec"]["capture"] = {{"snapshotEvery", "many"}};
  auto s = ParsePolicySpec(p);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(), "spec.capture.snapshotEvery must be an integer");
  EXPECT_FALSE(ParsePolicySpec(json::object()).ok());
  EXPECT_FALSE(ParsePolicySpec(json{{"spec", "x"}}).ok());
}

}  // namespace
}  // namespace dk::op
