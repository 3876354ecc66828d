// Bucket maintenance of the operator: which bucket prefixes are collected with which retention,
// the schedule, metrics, and the purge of a deleted policy's identities (on an in-memory bucket;
// tests/libreplica covers GC itself and the purge against a real S3 server).
#include "bucket_maintenance.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "installation.h"
#include "libreplica/fault_bucket.h"
#include "libreplica/layout.h"
#include "libreplica/memory_bucket.h"
#include "libstate/hash.h"
#include "libsvc/metrics.h"
#include "test_objects.h"

namespace dk::op {
namespace {

using nlohmann::json;
using std::chrono::hours;
using std::chrono::seconds;
using testing::Policy;

constexpr int64_t kNow = int64_t{1'764'244'800} * 1'000'000'000;  // 2025-11-27T12:00:00Z
constexpr int64_t kHour = int64_t{3600} * 1'000'000'000;

json S3Policy(const std::string& ns, const std::string& name, const std::string& prefix,
              const json& retention = json::object()) {
  json p = Policy(ns, name, name,
                  {{"storage",
                    {{"type", "S3"},
                     {"s3",
                      {{"endpoint", "http://127.0.0.1:9000/"},
                       {"bucket", "bkt"},
                       {"prefix", prefix},
                       {"credentialsSecretRef", {{"name", "creds"}}}}}}}});
  if (!retention.empty()) p["spec"]["retention"] = retention;
  return p;
}

TEST(BucketTargetsTest, OnePerPrefixWithTheLargestRetentionOfItsPolicies) {
  json deleting = S3Policy("demo", "gone", "dk");
  deleting["metadata"]["deletionTimestamp"] = "2025-11-27T12:00:00Z";
  std::vector<json> policies = {
      S3Policy("demo", "db", "dk", {{"keepVersions", 5}}),
      S3Policy("shop", "cart", "dk/", {{"keepVersions", 30}, {"keepFor", "2h"}}),  // same prefix
      S3Policy("demo", "web", "other", {{"keepVersions", 3}}),
      Policy("demo", "local", "local"),  // storage Local
      deleting,
  };
  // The same prefix through another Secret: the same target (one retention for the prefix).
  policies[1]["spec"]["storage"]["s3"]["credentialsSecretRef"]["name"] = "cart-creds";
  std::vector<BucketTarget> t = BucketTargets(policies, json::array());
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].s3.prefix, "dk/");
  EXPECT_EQ(t[0].s3.credentials_secret, "creds");  // demo/db's, the first
  EXPECT_EQ(t[0].s3.region, "us-east-1");
  EXPECT_EQ(t[0].s3.endpoint, "http://127.0.0.1:9000");
  EXPECT_EQ(t[0].keep_last, 30u);
  EXPECT_EQ(t[0].keep_within, hours(2));
  EXPECT_EQ(t[0].policies, (std::vector<std::string>{"demo/db", "shop/cart"}));
  EXPECT_FALSE(t[0].purge_only);
  EXPECT_EQ(t[0].Describe(), "s3://bkt/dk/ at http://127.0.0.1:9000");
  EXPECT_EQ(t[1].s3.prefix, "other/");
  EXPECT_EQ(t[1].keep_last, 3u);
  EXPECT_EQ(t[1].keep_within, seconds(0));
  std::reverse(policies.begin(), policies.end());
  t = BucketTargets(policies, json::array());
  EXPECT_EQ(t[0].s3.credentials_secret, "creds") << "independent of the order";
  EXPECT_EQ(t[0].policies, (std::vector<std::string>{"demo/db", "shop/cart"}));
}

TEST(BucketTargetsTest, DeletedPoliciesInThePurgeListKeepTheirPrefixCollected) {
  // The agent configuration lists a policy deleted with onDelete: Delete with its bucket.
  json deleting = S3Policy("demo", "gone", "purged", {{"keepVersions", 7}, {"onDelete", "Delete"}});
  deleting["metadata"]["deletionTimestamp"] = "2025-11-27T12:00:00Z";
  json local_gone = Policy("demo", "lgone", "lgone", {{"retention", {{"onDelete", "Delete"}}}});
  local_gone["metadata"]["deletionTimestamp"] = "2025-11-27T12:00:00Z";
  InstallationOptions io;
  json cm = DesiredAgentConfig(io, {deleting, local_gone, S3Policy("demo", "db", "dk")}, json(),
                               json(), std::chrono::system_clock::now());
  json purge = json::parse(cm["data"]["purge.json"].get<std::string>());
  ASSERT_EQ(purge.size(), 2u);
  EXPECT_EQ(purge[0]["policy"], "gone");
  EXPECT_EQ(purge[0]["storage"]["s3"]["prefix"], "purged");
  EXPECT_EQ(purge[0]["storage"]["s3"]["credentialsSecretRef"]["name"], "creds");
  EXPECT_EQ(purge[0]["retention"]["keepVersions"], 7);
  EXPECT_FALSE(purge[1].contains("storage"));  // storage Local: nothing in a bucket

  std::vector<BucketTarget> t = BucketTargets({S3Policy("demo", "db", "dk")}, purge);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].s3.prefix, "dk/");
  EXPECT_FALSE(t[0].purge_only);
  EXPECT_EQ(t[1].s3.prefix, "purged/");
  EXPECT_TRUE(t[1].purge_only);
  EXPECT_TRUE(t[1].policies.empty());
  EXPECT_EQ(t[1].keep_last, 7u);
  // A purge entry of a prefix that a live policy still uses adds to that target only.
  purge[0]["storage"]["s3"]["prefix"] = "dk/";
  t = BucketTargets({S3Policy("demo", "db", "dk")}, purge);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_FALSE(t[0].purge_only);
  EXPECT_EQ(t[0].keep_last, 100u);  // the live policy's default keepVersions
}

class BucketMaintainerTest : public ::testing::Test {
 protected:
  BucketMaintainerTest()
      : bucket_([] { return kNow; }),
        layout_("dk/"),
        maintainer_(
            [this](const S3Spec& s3) -> Result<std::unique_ptr<replica::Bucket>> {
              opened_.push_back(s3.bucket + "/" + s3.prefix);
              if (!open_error_.ok()) return open_error_;
              return std::unique_ptr<replica::Bucket>(
                  std::make_unique<replica::FaultBucket>(&bucket_));
            },
            Options(), &registry_, nullptr) {
    target_ = BucketTargets({S3Policy("demo", "db", "dk")}, json::array()).at(0);
  }

  static BucketMaintenanceOptions Options() {
    BucketMaintenanceOptions o;
    o.interval = hours(6);
    o.grace = hours(24);
    o.bucket_now = []() -> Result<int64_t> { return kNow; };
    return o;
  }

  // An unreferenced object written `age_ns` before now.
  std::string Garbage(const std::string& content, int64_t age_ns) {
    const std::string key = layout_.ObjectKey(HashBytes(AsBytes(content)));
    EXPECT_TRUE(bucket_.Put(key, AsBytes(content)).ok());
    bucket_.SetLastModifiedForTest(key, kNow - age_ns);
    return key;
  }

  // The value of sample `sample` (name and labels as rendered, without the prefix), -1 if absent.
  double Metric(const std::string& sample) {
    const std::string text = registry_.Render();
    const std::string want = "\ndiffkeeper_" + sample + " ";
    const size_t at = text.find(want);
    return at == std::string::npos ? -1 : std::stod(text.substr(at + want.size()));
  }

  replica::MemoryBucket bucket_;
  replica::BucketLayout layout_;
  svc::MetricsRegistry registry_;
  std::vector<std::string> opened_;
  Status open_error_;
  BucketMaintainer maintainer_;
  BucketTarget target_;
};

TEST_F(BucketMaintainerTest, CollectsEachTargetOncePerIntervalAndCountsWhatItDeleted) {
  const std::string old1 = Garbage("left by an interrupted upload", 30 * kHour);
  const std::string old2 = Garbage("another one, longer", 48 * kHour);
  const std::string young = Garbage("an upload in flight", kHour);
  const auto t0 = std::chrono::steady_clock::now();

  std::vector<GcOutcome> r = maintainer_.RunDue({target_}, t0);
  ASSERT_EQ(r.size(), 1u);
  ASSERT_TRUE(r[0].status.ok()) << r[0].status;
  EXPECT_EQ(r[0].report.objects_deleted, 2u);
  EXPECT_EQ(r[0].report.objects_young, 1u);
  EXPECT_FALSE(bucket_.Peek(old1));
  EXPECT_FALSE(bucket_.Peek(old2));
  EXPECT_TRUE(bucket_.Peek(young));
  EXPECT_EQ(Metric("operator_bucket_gc_runs_total{result=\"success\"}"), 1);
  EXPECT_EQ(Metric("operator_bucket_gc_objects_deleted_total"), 2);
  EXPECT_EQ(Metric("operator_bucket_gc_bytes_deleted_total"),
            static_cast<double>(std::string("left by an interrupted upload").size() +
                                std::string("another one, longer").size()));

  // Not due again before the interval.
  EXPECT_TRUE(maintainer_.RunDue({target_}, t0 + hours(5)).empty());
  EXPECT_EQ(maintainer_.RunDue({target_}, t0 + hours(7)).size(), 1u);
  EXPECT_EQ(opened_.size(), 2u);
  EXPECT_EQ(opened_[0], "bkt/dk/");
  // A target that disappears and comes back is due at once.
  EXPECT_TRUE(maintainer_.RunDue({}, t0 + hours(8)).empty());
  EXPECT_EQ(maintainer_.RunDue({target_}, t0 + hours(8)).size(), 1u);
}

TEST_F(BucketMaintainerTest, AFailureIsReportedAndRetriedAtTheNextInterval) {
  const std::string old = Garbage("garbage", 30 * kHour);
  open_error_ = Status::NotFound("Secret diffkeeper-system/creds not found");
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<GcOutcome> r = maintainer_.RunDue({target_}, t0);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_FALSE(r[0].status.ok());
  EXPECT_NE(r[0].status.message().find("bucket GC of s3://bkt/dk/ at http://127.0.0.1:9000"),
            std::string::npos)
      << r[0].status;
  EXPECT_NE(r[0].status.message().find("Secret diffkeeper-system/creds not found"),
            std::string::npos);
  EXPECT_EQ(Metric("operator_bucket_gc_runs_total{result=\"error\"}"), 1);
  EXPECT_TRUE(bucket_.Peek(old));
  EXPECT_TRUE(maintainer_.RunDue({target_}, t0 + hours(1)).empty());
  open_error_ = Status::Ok();
  r = maintainer_.RunDue({target_}, t0 + hours(6));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(r[0].status.ok()) << r[0].status;
  EXPECT_FALSE(bucket_.Peek(old));
}

TEST_F(BucketMaintainerTest, PurgeDeletesThePoliciesIdentitiesAndCollectsOldGarbage) {
  // Heads and manifests of demo/db/0 and demo/db/1 (content irrelevant to the purge).
  for (const char* id : {"demo/db/0", "demo/db/1"}) {
    ASSERT_TRUE(bucket_.Put(layout_.HeadKey(id), AsBytes(std::string("{}"))).ok());
    ASSERT_TRUE(bucket_.Put(layout_.ManifestKey(id, 1), AsBytes(std::string("m1"))).ok());
    ASSERT_TRUE(bucket_.Put(layout_.ManifestKey(id, 2), AsBytes(std::string("m2"))).ok());
  }
  const std::string old = Garbage("a chunk only db used, long ago", 30 * kHour);
  const std::string young = Garbage("a chunk db uploaded an hour ago", kHour);

  auto r = maintainer_.Purge(target_, "demo", "db");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->identities, 2u);
  EXPECT_EQ(r->heads_deleted, 2u);
  EXPECT_EQ(r->manifests_deleted, 4u);
  EXPECT_TRUE(bucket_.Keys("dk/heads/").empty());
  EXPECT_TRUE(bucket_.Keys("dk/manifests/").empty());
  EXPECT_FALSE(bucket_.Peek(old)) << "collected right after the purge";
  EXPECT_TRUE(bucket_.Peek(young)) << "within the grace period: a later run";
  EXPECT_EQ(Metric("operator_bucket_purged_identities_total"), 2);
  // Heads go before manifests.
  std::vector<std::string> deletes;
  for (const auto& w : bucket_.WriteLog()) {
    if (w.rfind("DELETE dk/heads/", 0) == 0 || w.rfind("DELETE dk/manifests/", 0) == 0)
      deletes.push_back(w.substr(7, 8));
  }
  ASSERT_EQ(deletes.size(), 6u);
  EXPECT_EQ(deletes[0], "dk/heads");
  EXPECT_EQ(deletes[1], "dk/heads");
  EXPECT_EQ(deletes[2], "dk/manif");

  open_error_ = Status::PermissionDenied("403 AccessDenied");
  EXPECT_EQ(maintainer_.Purge(target_, "demo", "db").status().code(),
            StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace dk::op
