// Replication in the agent: the StatePolicy's storage settings, credentials from the Secret
// (never shown), the ReplicationManager (one Replicator per identity, started by the first
// capture, in order; faults give a status and replication resumes when they clear).
#include <gtest/gtest.h>

#include <mutex>

#include "agent_policy.h"
#include "agent_test_util.h"
#include "libreplica/bucket_reader.h"
#include "libreplica/fault_bucket.h"
#include "libreplica/layout.h"
#include "libreplica/memory_bucket.h"
#include "libreplica/secret_credentials.h"
#include "replication_manager.h"
#include "store_registry.h"

namespace dk::agent {
namespace {

using nlohmann::json;
using replica::CredentialsFingerprint;
using replica::CredentialsFromSecret;
using testing::TempDir;
using testing::WaitFor;
using testing::WriteFile;

constexpr char kAccess[] = "AKIDEXAMPLE";
constexpr char kSecret[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

json SecretObject(const std::string& access, const std::string& secret) {
  // base64 of the values (computed with coreutils' base64).
  static const std::map<std::string, std::string> b64 = {
      {kAccess, "QUtJREVYQU1QTEU="},
      {kSecret, "d0phbHJYVXRuRkVNSS9LN01ERU5HK2JQeFJmaUNZRVhBTVBMRUtFWQ=="},
      {"other-key", "b3RoZXIta2V5"},
      {"tok", "dG9r"}};
  json data = json::object();
  if (!access.empty()) data["accessKeyID"] = b64.at(access);
  if (!secret.empty()) data["secretAccessKey"] = b64.at(secret);
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"metadata", {{"name", "s3-creds"}, {"namespace", "diffkeeper-system"}}},
          {"data", data}};
}

json PolicyObject(const json& storage) {
  return {{"metadata", {{"name", "db"}, {"namespace", "shop"}, {"uid", "u1"}}},
          {"spec",
           {{"targetRef", {{"name", "db"}}},
            {"paths", json::array({{{"volume", "data"}}})},
            {"storage", storage}}}};
}

// ---- spec.storage

TEST(AgentPolicyStorageTest, ParsesS3Settings) {
  auto p = ParseAgentPolicy(PolicyObject({{"type", "S3"},
                                          {"s3",
                                           {{"endpoint", "http://127.0.0.1:9000"},
                                            {"bucket", "dk-test"},
                                            {"prefix", "team-a/"},
                                            {"region", "eu-west-1"},
                                            {"credentialsSecretRef", {{"name", "s3-creds"}}}}}}));
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE(p->s3.has_value());
  EXPECT_EQ(p->storage_type, "S3");
  EXPECT_EQ(p->s3->endpoint, "http://127.0.0.1:9000");
  EXPECT_EQ(p->s3->bucket, "dk-test");
  EXPECT_EQ(p->s3->prefix, "team-a/");
  EXPECT_EQ(p->s3->region, "eu-west-1");
  EXPECT_EQ(p->s3->credentials_secret, "s3-creds");
}

TEST(AgentPolicyStorageTest, LocalHasNoBucket) {
  auto p = ParseAgentPolicy(PolicyObject({{"type", "Local"}}));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_FALSE(p->s3.has_value());
}

TEST(AgentPolicyStorageTest, RejectsIncompleteOrInconsistentStorage) {
  struct Case {
    json storage;
    const char* says;
  } cases[] = {
      {{{"type", "S3"}}, "spec.storage.s3 is required"},
      {{{"type", "S3"}, {"s3", {{"credentialsSecretRef", {{"name", "x"}}}}}}, "bucket is required"},
      {{{"type", "S3"}, {"s3", {{"bucket", "b1b"}}}}, "credentialsSecretRef.name is required"},
      {{{"type", "S3"},
        {"s3",
         {{"bucket", "b1b"}, {"endpoint", "ftp://x"}, {"credentialsSecretRef", {{"name", "x"}}}}}},
       "must be an http:// or https:// URL"},
      {{{"type", "Local"}, {"s3", {{"bucket", "b1b"}}}}, "only allowed with type S3"},
      {{{"type", "GCS"}}, "'GCS' is unknown"},
  };
  for (const auto& c : cases) {
    auto p = ParseAgentPolicy(PolicyObject(c.storage));
    ASSERT_FALSE(p.ok()) << c.storage.dump();
    EXPECT_NE(p.status().message().find(c.says), std::string::npos) << p.status();
    EXPECT_NE(p.status().message().find("StatePolicy shop/db"), std::string::npos) << p.status();
  }
}

// ---- credentials

TEST(S3CredentialsTest, ReadsTheKeysOfTheSecret) {
  json secret = SecretObject(kAccess, kSecret);
  secret["data"]["sessionToken"] = "dG9r";
  auto c = CredentialsFromSecret(secret, "Secret diffkeeper-system/s3-creds");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->access_key, kAccess);
  EXPECT_EQ(c->secret_key, kSecret);
  EXPECT_EQ(c->session_token, "tok");
}

TEST(S3CredentialsTest, AMissingOrBadKeyIsNamedWithoutItsValue) {
  auto missing = CredentialsFromSecret(SecretObject(kAccess, ""), "Secret ns/s3-creds");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("Secret ns/s3-creds has no key secretAccessKey"),
            std::string::npos)
      << missing.status();
  json bad = SecretObject(kAccess, kSecret);
  bad["data"]["secretAccessKey"] = "not*base64!";
  auto b = CredentialsFromSecret(bad, "Secret ns/s3-creds");
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("data.secretAccessKey is not valid base64"),
            std::string::npos)
      << b.status();
  EXPECT_EQ(b.status().message().find("not*base64"), std::string::npos) << "value leaked";
  EXPECT_NE(CredentialsFingerprint({kAccess, kSecret, ""}),
            CredentialsFingerprint({kAccess, "other-key", ""}));
}

// ---- ReplicationManager

// Records every log line (to check that secrets never appear).
class RecordingLogger final : public Logger {
 public:
  void Log(LogLevel, std::string_view msg, std::initializer_list<LogField> fields) override {
    std::lock_guard<std::mutex> l(mu_);
    text_ += std::string(msg);
    for (const auto& f : fields) text_ += " " + f.key + "=" + f.value;
    text_ += "\n";
  }
  bool Enabled(LogLevel) const override { return true; }
  std::string text() const {
    std::lock_guard<std::mutex> l(mu_);
    return text_;
  }

 private:
  mutable std::mutex mu_;
  std::string text_;
};

class ReplicationManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions defaults;
    defaults.sync = false;
    registry_ = std::make_unique<StoreRegistry>(dir_.Sub("stores"), defaults, nullptr);
    id_ = PodIdentity{"shop", "db", 0};
    StoreOptions so;
    auto store = registry_->Get(id_, &so);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *store;
    auto p = ParseAgentPolicy(PolicyObject({{"type", "S3"},
                                            {"s3",
                                             {{"endpoint", "http://127.0.0.1:1"},
                                              {"bucket", "dk-test"},
                                              {"prefix", "team/"},
                                              {"credentialsSecretRef", {{"name", "s3-creds"}}}}}}));
    ASSERT_TRUE(p.ok()) << p.status();
    policy_ = *p;
    secret_ = SecretObject(kAccess, kSecret);
    ReplicationManagerOptions o;
    o.node = "node-a";
    o.ns = "diffkeeper-system";
    o.initial_backoff = std::chrono::milliseconds(10);
    o.max_backoff = std::chrono::milliseconds(50);
    o.credentials_refresh = std::chrono::milliseconds(0);
    manager_ = std::make_unique<ReplicationManager>(
        o,
        [this](const std::string& name) -> Result<json> {
          std::lock_guard<std::mutex> l(mu_);
          ++secret_reads_;
          if (name != "s3-creds" || secret_.is_null())
            return Status::NotFound("secrets \"" + name + "\" not found");
          return secret_;
        },
        [this](const S3Storage& s,
               const s3::Credentials& c) -> Result<std::unique_ptr<replica::Bucket>> {
          std::lock_guard<std::mutex> l(mu_);
          EXPECT_EQ(s.bucket, "dk-test");
          used_keys_.push_back(c.secret_key);
          return std::unique_ptr<replica::Bucket>(new replica::FaultBucket(&faulty_));
        },
        nullptr, &logger_);
  }

  uint64_t CaptureFile(const std::string& content) {
    WriteFile(dir_.Sub("tree/file"), content);
    auto r = store_->Capture(dir_.Sub("tree"), CaptureFilter{});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->set : 0;
  }
  bool Replicated(uint64_t set) {
    auto st = manager_->StatusOf(id_);
    return st && st->last_set == set && !st->failing;
  }
  std::optional<replica::Head> BucketHead() {
    auto h = replica::ReadHead(bucket_, replica::BucketLayout("team/"), id_.Key());
    if (!h.ok()) return std::nullopt;
    return *h;
  }

  TempDir dir_;
  std::unique_ptr<StoreRegistry> registry_;
  PodIdentity id_;
  Store* store_ = nullptr;
  AgentPolicy policy_;
  std::mutex mu_;
  json secret_;
  int secret_reads_ = 0;
  std::vector<std::string> used_keys_;
  replica::MemoryBucket bucket_;
  replica::FaultBucket faulty_{&bucket_};
  RecordingLogger logger_;
  std::unique_ptr<ReplicationManager> manager_;
};

TEST_F(ReplicationManagerTest, ReplicatesRestorePointsInOrderAfterTheFirstCapture) {
  uint64_t s1 = CaptureFile("one");
  ASSERT_TRUE(manager_->Ensure(id_, policy_, store_).ok());
  // Not started before the pod's first capture: nothing goes to the bucket yet.
  auto st = manager_->StatusOf(id_);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->state, "stopped");
  EXPECT_TRUE(bucket_.Keys().empty());
  manager_->Captured(id_, 0, false);  // first capture: nothing new; catches up with the store
  ASSERT_TRUE(WaitFor([&] { return Replicated(s1); })) << manager_->ReportJson(id_).dump();
  uint64_t s2 = CaptureFile("two");
  manager_->Captured(id_, s2, true);
  ASSERT_TRUE(WaitFor([&] { return Replicated(s2); })) << manager_->ReportJson(id_).dump();
  auto head = BucketHead();
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->source_set, s2);
  EXPECT_EQ(head->writer, "node-a");
  json report = manager_->ReportJson(id_);
  EXPECT_EQ(report["lastSet"], s2);
  EXPECT_EQ(report["lagSets"], 0);
  EXPECT_EQ(report["failing"], false);
  EXPECT_GT(report["bytesUploaded"].get<uint64_t>(), 0u);
}

TEST_F(ReplicationManagerTest, ATerminatingPodsDeletionsAreNotReplicated) {
  ASSERT_TRUE(manager_->Ensure(id_, policy_, store_).ok());
  uint64_t s1 = CaptureFile("live state");
  manager_->Captured(id_, s1, true);
  ASSERT_TRUE(WaitFor([&] { return Replicated(s1); }));
  std::filesystem::remove(dir_.Sub("tree/file"));
  auto teardown = store_->Capture(dir_.Sub("tree"), CaptureFilter{});
  ASSERT_TRUE(teardown.ok() && teardown->set > s1);
  manager_->Captured(id_, teardown->set, /*replicate=*/false);
  manager_->Stop(std::chrono::seconds(5));
  auto head = BucketHead();
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->source_set, s1) << "the volume teardown became the bucket's state";
}

TEST_F(ReplicationManagerTest, AMissingSecretIsAClearStatusAndReplicationStartsOnceItExists) {
  {
    std::lock_guard<std::mutex> l(mu_);
    secret_ = nullptr;
  }
  Status s = manager_->Ensure(id_, policy_, store_);
  ASSERT_FALSE(s.ok());
  auto st = manager_->StatusOf(id_);
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(st->failing);
  EXPECT_EQ(st->last_error_reason, "Credentials");
  EXPECT_NE(st->last_error.find("Secret diffkeeper-system/s3-creds"), std::string::npos)
      << st->last_error;
  EXPECT_NE(st->last_error.find("not found"), std::string::npos) << st->last_error;
  uint64_t s1 = CaptureFile("kept locally");
  manager_->Captured(id_, s1, true);
  EXPECT_EQ(store_->Sets()->back().set, s1) << "the local store keeps every capture";

  {
    std::lock_guard<std::mutex> l(mu_);
    secret_ = SecretObject(kAccess, kSecret);
  }
  ASSERT_TRUE(manager_->Ensure(id_, policy_, store_).ok());
  ASSERT_TRUE(WaitFor([&] { return Replicated(s1); })) << manager_->ReportJson(id_).dump();
}

TEST_F(ReplicationManagerTest, ABucketOutageIsReportedAndReplicationResumes) {
  ASSERT_TRUE(manager_->Ensure(id_, policy_, store_).ok());
  uint64_t s1 = CaptureFile("before the outage");
  manager_->Captured(id_, s1, true);
  ASSERT_TRUE(WaitFor([&] { return Replicated(s1); }));
  faulty_.SetRule([](std::string_view op, std::string_view) {
    if (op == "PUT") return Status::Unavailable("connection refused (endpoint down)");
    return Status::Ok();
  });
  uint64_t s2 = CaptureFile("during the outage");
  manager_->Captured(id_, s2, true);
  ASSERT_TRUE(WaitFor([&] {
    auto st = manager_->StatusOf(id_);
    return st && st->failing;
  }));
  auto st = manager_->StatusOf(id_);
  EXPECT_EQ(st->last_error_reason, "EndpointUnavailable") << st->last_error;
  EXPECT_EQ(st->lag_sets, 1u);
  EXPECT_EQ(BucketHead()->source_set, s1);
  uint64_t s3 = CaptureFile("still during the outage");
  manager_->Captured(id_, s3, true);
  faulty_.ClearRule();
  ASSERT_TRUE(WaitFor([&] { return Replicated(s3); })) << manager_->ReportJson(id_).dump();
  EXPECT_EQ(BucketHead()->source_set, s3);
  EXPECT_EQ(manager_->StatusOf(id_)->last_error_reason, "EndpointUnavailable")
      << "the last error stays visible after recovery";
}

TEST_F(ReplicationManagerTest, RotatedCredentialsReCreateTheClient) {
  ASSERT_TRUE(manager_->Ensure(id_, policy_, store_).ok());
  uint64_t s1 = CaptureFile("one");
  manager_->Captured(id_, s1, true);
  ASSERT_TRUE(WaitFor([&] { return Replicated(s1); }));
  {
    std::lock_guard<std::mutex> l(mu_);
    secret_ = SecretObject(kAccess, "other-key");
  }
  ASSERT_TRUE(manager_->Ensure(id_, policy_, store_).ok());
  uint64_t s2 = CaptureFile("two");
  manager_->Captured(id_, s2, true);
  ASSERT_TRUE(WaitFor([&] { return Replicated(s2); })) << manager_->ReportJson(id_).dump();
  std::lock_guard<std::mutex> l(mu_);
  EXPECT_EQ(used_keys_, (std::vector<std::string>{kSecret, "other-key"}));
}

TEST_F(ReplicationManagerTest, SecretsNeverAppearInStatusOrLogs) {
  ASSERT_TRUE(manager_->Ensure(id_, policy_, store_).ok());
  faulty_.SetRule([](std::string_view, std::string_view) {
    return Status::PermissionDenied("AccessDenied: Access Denied.");
  });
  uint64_t s1 = CaptureFile("x");
  manager_->Captured(id_, s1, true);
  ASSERT_TRUE(WaitFor([&] {
    auto st = manager_->StatusOf(id_);
    return st && st->failing;
  }));
  EXPECT_EQ(manager_->StatusOf(id_)->last_error_reason, "AccessDenied");
  manager_->Stop(std::chrono::milliseconds(0));
  for (const std::string& text : {manager_->ReportJson(id_).dump(), logger_.text()}) {
    EXPECT_EQ(text.find(kSecret), std::string::npos) << text;
  }
}

TEST_F(ReplicationManagerTest, APolicyBackToLocalStopsReplication) {
  ASSERT_TRUE(manager_->Ensure(id_, policy_, store_).ok());
  ASSERT_TRUE(manager_->StatusOf(id_).has_value());
  AgentPolicy local = policy_;
  local.storage_type = "Local";
  local.s3.reset();
  ASSERT_TRUE(manager_->Ensure(id_, local, store_).ok());
  EXPECT_FALSE(manager_->StatusOf(id_).has_value());
  EXPECT_EQ(manager_->ReportJson(id_), json::object());
}

}  // namespace
}  // namespace dk::agent
