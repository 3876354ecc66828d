// The operator's bucket maintenance against a real S3 server (versitygw, the ctest fixture
// `s3_server`; DK_S3_ENV names its env file): credentials from a Secret object as the API
// server returns it, GC of a policy's prefix and the purge of a deleted policy's identities,
// and a Secret with a wrong key failing with a clear message that does not contain it.
//
// Labels: integration;s3.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <map>

#include "base64.h"
#include "bucket_maintenance.h"
#include "libreplica/layout.h"
#include "libreplica/s3_bucket.h"
#include "libstate/hash.h"
#include "libsvc/metrics.h"
#include "s3_server_env.h"

namespace dk::op {
namespace {

using dk::testing::S3ServerEnv;
using nlohmann::json;

json Secret(const std::string& access, const std::string& secret) {
  return {
      {"apiVersion", "v1"},
      {"kind", "Secret"},
      {"metadata", {{"name", "s3-creds"}, {"namespace", "diffkeeper-system"}}},
      {"data", {{"accessKeyID", Base64Encode(access)}, {"secretAccessKey", Base64Encode(secret)}}}};
}

class BucketMaintenanceIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = S3ServerEnv();
    ASSERT_TRUE(env_.count("S3_ENDPOINT"))
        << "no S3 server: set DK_S3_ENV to the env file written by `e2e/s3/server.sh start DIR` "
           "(ctest does this through the s3_server fixture)";
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    prefix_ = std::string("operator-") + info->name() + "-" + std::to_string(::getpid()) + "/";
    policy_ = {{"apiVersion", "diffkeeper.io/v1alpha1"},
               {"kind", "StatePolicy"},
               {"metadata", {{"name", "db"}, {"namespace", "demo"}, {"uid", "u1"}}},
               {"spec",
                {{"targetRef", {{"name", "db"}}},
                 {"paths", {{{"volume", "data"}}}},
                 {"retention", {{"keepVersions", 2}}},
                 {"storage",
                  {{"type", "S3"},
                   {"s3",
                    {{"endpoint", env_["S3_ENDPOINT"]},
                     {"bucket", env_["S3_BUCKET"]},
                     {"prefix", prefix_},
                     {"region", env_["S3_REGION"]},
                     {"credentialsSecretRef", {{"name", "s3-creds"}}}}}}}}}};
    secret_ = Secret(env_["S3_ACCESS_KEY"], env_["S3_SECRET_KEY"]);
    // A direct client, to set up and check the bucket independently of the maintainer.
    s3::S3Options o;
    o.endpoint = env_["S3_ENDPOINT"];
    o.region = env_["S3_REGION"];
    o.bucket = env_["S3_BUCKET"];
    o.credentials = {env_["S3_ACCESS_KEY"], env_["S3_SECRET_KEY"], ""};
    auto b = replica::S3Bucket::Create(o);
    ASSERT_TRUE(b.ok()) << b.status();
    direct_ = std::move(b).value();
  }

  std::unique_ptr<BucketMaintainer> Maintainer(std::function<Result<int64_t>()> now = {}) {
    BucketMaintenanceOptions o;
    o.bucket_now = std::move(now);
    return std::make_unique<BucketMaintainer>(
        MakeS3BucketOpener(
            [this](const std::string& name) -> Result<json> {
              if (name != "s3-creds") return Status::NotFound("secrets \"" + name + "\" not found");
              return secret_;
            },
            "diffkeeper-system", "", nullptr),
        o, &registry_, nullptr);
  }

  bool Exists(const std::string& key) { return direct_->Head(key).ok(); }

  std::map<std::string, std::string> env_;
  std::string prefix_;
  json policy_;
  json secret_;
  std::unique_ptr<replica::S3Bucket> direct_;
  svc::MetricsRegistry registry_;
};

TEST_F(BucketMaintenanceIntegrationTest, GcAndPurgeOfAPolicysPrefixWithItsSecret) {
  const replica::BucketLayout layout(prefix_);
  // Identities of the policy's StatefulSet (the purge does not read heads or manifests) and an
  // unreferenced chunk object.
  for (const char* id : {"demo/db/0", "demo/db/1"}) {
    ASSERT_TRUE(direct_->Put(layout.HeadKey(id), AsBytes(std::string("{}"))).ok());
    ASSERT_TRUE(direct_->Put(layout.ManifestKey(id, 3), AsBytes(std::string("m"))).ok());
  }
  const std::string chunk = layout.ObjectKey(HashBytes(AsBytes(std::string("chunk"))));
  ASSERT_TRUE(direct_->Put(chunk, AsBytes(std::string("chunk"))).ok());

  std::vector<BucketTarget> targets = BucketTargets({policy_}, json::array());
  ASSERT_EQ(targets.size(), 1u);
  EXPECT_EQ(targets[0].keep_last, 2u);

  // The policy is deleted: purge. The chunk is younger than the grace (server's clock): kept.
  auto m = Maintainer();
  auto purged = m->Purge(targets[0], "demo", "db");
  ASSERT_TRUE(purged.ok()) << purged.status();
  EXPECT_EQ(purged->identities, 2u);
  EXPECT_EQ(purged->heads_deleted, 2u);
  EXPECT_EQ(purged->manifests_deleted, 2u);
  EXPECT_FALSE(Exists(layout.HeadKey("demo/db/0")));
  EXPECT_FALSE(Exists(layout.ManifestKey("demo/db/1", 3)));
  EXPECT_TRUE(Exists(chunk));
  EXPECT_TRUE(Exists(layout.GcClockKey())) << "GC read the server's clock";

  // A day and an hour later (server clock + 25 h), the next run collects the chunk.
  auto clock = direct_->Head(layout.GcClockKey());
  ASSERT_TRUE(clock.ok()) << clock.status();
  const int64_t later = clock->last_modified_ns + int64_t{25} * 3600 * 1'000'000'000;
  auto m2 = Maintainer([later]() -> Result<int64_t> { return later; });
  std::vector<GcOutcome> r = m2->RunDue(targets, std::chrono::steady_clock::now());
  ASSERT_EQ(r.size(), 1u);
  ASSERT_TRUE(r[0].status.ok()) << r[0].status;
  EXPECT_EQ(r[0].report.objects_deleted, 1u);
  EXPECT_EQ(r[0].report.bytes_deleted, 5u);
  EXPECT_FALSE(Exists(chunk));
  const std::string metrics = registry_.Render();
  EXPECT_NE(metrics.find("diffkeeper_operator_bucket_gc_objects_deleted_total 1"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("diffkeeper_operator_bucket_purged_identities_total 2"),
            std::string::npos);
}

TEST_F(BucketMaintenanceIntegrationTest, AWrongOrMissingSecretIsAClearErrorWithoutTheKey) {
  std::vector<BucketTarget> targets = BucketTargets({policy_}, json::array());
  ASSERT_EQ(targets.size(), 1u);
  secret_ = Secret(env_["S3_ACCESS_KEY"], "wrong-secret-key-123");
  GcOutcome o = Maintainer()->Collect(targets[0]);
  ASSERT_FALSE(o.status.ok());
  EXPECT_EQ(o.status.code(), StatusCode::kPermissionDenied) << o.status;
  EXPECT_NE(o.status.message().find("bucket GC of s3://" + env_["S3_BUCKET"] + "/" + prefix_),
            std::string::npos)
      << o.status;
  EXPECT_EQ(o.status.ToString().find("wrong-secret-key-123"), std::string::npos) << "key leaked";

  policy_["spec"]["storage"]["s3"]["credentialsSecretRef"]["name"] = "gone";
  targets = BucketTargets({policy_}, json::array());
  auto purged = Maintainer()->Purge(targets[0], "demo", "db");
  ASSERT_FALSE(purged.ok());
  EXPECT_EQ(purged.status().code(), StatusCode::kNotFound);
  EXPECT_NE(purged.status().message().find(
                "Secret diffkeeper-system/gone (storage.s3.credentialsSecretRef) not found"),
            std::string::npos)
      << purged.status();
}

}  // namespace
}  // namespace dk::op
