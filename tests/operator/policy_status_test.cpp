#include "policy_status.h"

#include <gtest/gtest.h>

#include "conditions.h"
#include "test_objects.h"

namespace dk::op {
namespace {

using nlohmann::json;
using testing::Policy;
using testing::StatefulSet;

struct Fixture {
  json policy = Policy("demo", "db", "db");
  json sts = StatefulSet("demo", "db");
  PolicyStatusSummary summary;

  PolicyStatusDecision Decide(bool with_sts = true, bool credentials = true,
                              const std::string& now = "2025-11-27T12:00:00Z") {
    Result<PolicySpec> spec = ParsePolicySpec(policy);
    PolicyObservation o;
    o.policy = &policy;
    o.spec = &spec;
    o.stateful_set = with_sts ? &sts : nullptr;
    o.credentials_found = credentials;
    o.summary = &summary;
    o.now = now;
    PolicyStatusDecision d = DecidePolicyStatus(o);
    policy["status"] = d.status;  // as if written
    return d;
  }
  std::string Cond(const std::string& type, const char* field = "status") {
    const json* c = FindCondition(policy["status"]["conditions"], type);
    return c == nullptr ? "" : (*c)[field].get<std::string>();
  }
};

TEST(PolicyStatusTest, ReadyWhenTheTargetExistsWithEveryVolume) {
  Fixture f;
  auto d = f.Decide();
  EXPECT_TRUE(d.changed);
  EXPECT_EQ(f.Cond("Ready"), "True");
  EXPECT_EQ(f.Cond("Ready", "reason"), "Protecting");
  EXPECT_EQ(f.Cond("Degraded"), "False");
  EXPECT_EQ(d.status["observedGeneration"], 1);
  EXPECT_EQ(d.status["storedSize"], "0 B");
  ASSERT_EQ(d.events.size(), 1u);
  EXPECT_EQ(d.events[0].reason, "ProtectionReady");
  EXPECT_FALSE(d.events[0].warning);
  // Nothing changed: no write, no event, transition time kept.
  auto again = f.Decide(true, true, "2025-11-27T13:00:00Z");
  EXPECT_FALSE(again.changed);
  EXPECT_TRUE(again.events.empty());
  EXPECT_EQ(f.Cond("Ready", "lastTransitionTime"), "2025-11-27T12:00:00Z");
}

TEST(PolicyStatusTest, MissingTargetOrVolumeIsNotReadyAndDegraded) {
  Fixture f;
  auto d = f.Decide(/*with_sts=*/false);
  EXPECT_EQ(f.Cond("Ready"), "False");
  EXPECT_EQ(f.Cond("Ready", "reason"), "TargetNotFound");
  EXPECT_EQ(f.Cond("Ready", "message"), "StatefulSet db not found in namespace demo");
  EXPECT_EQ(f.Cond("Degraded"), "True");
  ASSERT_EQ(d.events.size(), 1u);  // one Warning, not two for the same cause
  EXPECT_TRUE(d.events[0].warning);
  EXPECT_EQ(d.events[0].reason, "TargetNotFound");

  f.sts["spec"]["template"]["spec"]["volumes"] = json::array({{{"name", "other"}}});
  f.Decide();
  EXPECT_EQ(f.Cond("Ready", "reason"), "VolumeNotFound");
  EXPECT_EQ(f.Cond("Ready", "message"), "volume(s) data not in the pod template of StatefulSet db");
  // A volumeClaimTemplate counts as a volume.
  f.sts["spec"]["volumeClaimTemplates"] = json::array({{{"metadata", {{"name", "data"}}}}});
  auto d2 = f.Decide();
  EXPECT_EQ(f.Cond("Ready"), "True");
  EXPECT_EQ(f.Cond("Degraded"), "False");
  bool recovered = false;
  for (const auto& e : d2.events) recovered = recovered || e.reason == "Recovered";
  EXPECT_TRUE(recovered);
}

TEST(PolicyStatusTest, ObservedGenerationAndPauseFollowTheSpec) {
  Fixture f;
  f.Decide();
  f.policy["spec"]["paused"] = true;
  f.policy["metadata"]["generation"] = 2;
  auto d = f.Decide();
  EXPECT_EQ(d.status["observedGeneration"], 2);
  EXPECT_EQ(f.Cond("Ready"), "False");
  EXPECT_EQ(f.Cond("Ready", "reason"), "Paused");
  EXPECT_EQ(
      FindCondition(f.policy["status"]["conditions"], "Ready")->value("observedGeneration", 0), 2);
  ASSERT_EQ(d.events.size(), 1u);
  EXPECT_EQ(d.events[0].reason, "ProtectionPaused");
  f.policy["spec"]["paused"] = false;
  f.policy["metadata"]["generation"] = 3;
  d = f.Decide();
  ASSERT_EQ(d.events.size(), 1u);
  EXPECT_EQ(d.events[0].reason, "ProtectionResumed");
}

TEST(PolicyStatusTest, InvalidSpecMissingCredentialsAndAgentErrorsDegrade) {
  Fixture f;
  f.policy["spec"]["restore"] = {{"timeout", "1s"}};
  f.Decide();
  EXPECT_EQ(f.Cond("Ready", "reason"), "InvalidSpec");
  EXPECT_EQ(f.Cond("Degraded", "message"), "restore.timeout must be between 10s and 24h");

  Fixture g;
  g.policy["spec"]["storage"] = {
      {"type", "S3"}, {"s3", {{"bucket", "bkt"}, {"credentialsSecretRef", {{"name", "creds"}}}}}};
  g.Decide(true, /*credentials=*/false);
  EXPECT_EQ(g.Cond("Ready"), "True");  // local protection still works
  EXPECT_EQ(g.Cond("Degraded", "reason"), "CredentialsNotFound");

  Fixture h;
  h.summary.errors = {"node-1: db-0: ENOSPC", "node-2: db-1: EIO"};
  h.summary.protected_pods = 2;
  h.summary.stored_bytes = 3 * 1024 * 1024;
  auto d = h.Decide();
  EXPECT_EQ(h.Cond("Degraded", "reason"), "AgentErrors");
  EXPECT_EQ(h.Cond("Degraded", "message"), "node-1: db-0: ENOSPC (and 1 more)");
  EXPECT_EQ(d.status["protectedPods"], 2);
  EXPECT_EQ(d.status["storedSize"], "3.0 MiB");
}

// A policy storing to S3 with `pods` pods, each reported with `rep` (a ReportedReplication).
struct S3Fixture : Fixture {
  S3Fixture() {
    policy["spec"]["storage"] = {
        {"type", "S3"},
        {"s3", {{"bucket", "bkt"}, {"prefix", "dk"}, {"credentialsSecretRef", {{"name", "c"}}}}}};
  }
  void Pods(const std::vector<ReportedReplication>& reps) {
    summary = PolicyStatusSummary();
    for (size_t i = 0; i < reps.size(); ++i) {
      std::string pod = "db-" + std::to_string(i);
      json e = {{"pod", pod}, {"ordinal", i}};
      if (reps[i].present) {
        e["replication"] = ReplicationStatusJson(reps[i], "node-1");
        summary.replication.push_back({pod, "node-1", reps[i]});
      }
      summary.pods.push_back(e);
      summary.protected_pods++;
    }
  }
};

ReportedReplication Rep(int64_t last_set, int64_t lag_sets, bool failing = false) {
  ReportedReplication r;
  r.present = true;
  r.state = failing ? "backoff" : "idle";
  r.last_set = last_set;
  r.last_bucket_set = last_set;
  r.lag_sets = lag_sets;
  r.lag_seconds = lag_sets * 10;
  r.failing = failing;
  if (failing) {
    r.last_error_reason = "EndpointUnavailable";
    r.last_error = "connection refused";
  }
  return r;
}

TEST(PolicyStatusTest, ReplicatedFollowsThePodsReplication) {
  S3Fixture f;
  f.Decide();
  EXPECT_EQ(f.Cond("Replicated"), "Unknown");
  EXPECT_EQ(f.Cond("Replicated", "reason"), "NoCapturedState");

  f.Pods({Rep(0, 1), ReportedReplication()});  // nothing in the bucket yet; one not reported
  auto d = f.Decide();
  EXPECT_EQ(f.Cond("Replicated"), "False");
  EXPECT_EQ(f.Cond("Replicated", "reason"), "Pending");
  EXPECT_EQ(f.Cond("Replicated", "message"),
            "2 of 2 pod(s) not replicated to s3://bkt/dk/ yet: db-0 (and 1 more)");

  f.Pods({Rep(4, 0), Rep(7, 2)});
  d = f.Decide();
  EXPECT_EQ(f.Cond("Replicated"), "True");
  EXPECT_EQ(f.Cond("Replicated", "reason"), "Replicating");
  EXPECT_EQ(d.status["replication"]["maxLagSets"], 2);
  EXPECT_EQ(d.status["replication"]["maxLagSeconds"], 20);
  EXPECT_EQ(d.status["replication"]["upToDate"], 1);
  EXPECT_EQ(d.status["replication"]["bucket"], "s3://bkt/dk/");
  EXPECT_EQ(d.status["pods"][1]["replication"]["lagSets"], 2);

  f.Pods({Rep(4, 0), Rep(9, 0)});
  d = f.Decide();
  EXPECT_EQ(f.Cond("Replicated", "reason"), "UpToDate");
  EXPECT_EQ(f.Cond("Replicated", "message"), "the latest state of 2 pod(s) is in s3://bkt/dk/");
  EXPECT_EQ(f.Cond("Degraded"), "False");
  EXPECT_TRUE(d.events.empty() || d.events[0].reason != "ReplicationFailing");

  // Storage back to Local: the condition and the summary go.
  f.policy["spec"]["storage"] = {{"type", "Local"}};
  d = f.Decide();
  EXPECT_EQ(f.Cond("Replicated"), "");
  EXPECT_FALSE(d.status.contains("replication"));
}

TEST(PolicyStatusTest, ReplicationFailingLongEnoughDegradesAndRecovers) {
  S3Fixture f;
  f.Pods({Rep(4, 0), Rep(3, 0)});
  f.Decide(true, true, "2025-11-27T11:59:00Z");  // Ready (its event) and UpToDate
  f.Pods({Rep(4, 0), Rep(3, 5, /*failing=*/true)});
  auto d = f.Decide(true, true, "2025-11-27T12:00:00Z");
  EXPECT_EQ(f.Cond("Replicated"), "False");
  EXPECT_EQ(f.Cond("Replicated", "reason"), "ReplicationFailing");
  EXPECT_EQ(f.Cond("Replicated", "message"),
            "replication to s3://bkt/dk/ fails (the agents retry): db-1 (node-1): "
            "EndpointUnavailable: connection refused");
  EXPECT_EQ(d.status["replication"]["failingSince"], "2025-11-27T12:00:00Z");
  EXPECT_EQ(d.status["replication"]["failingPods"], 1);
  EXPECT_EQ(f.Cond("Degraded"), "False");  // not for long enough yet
  ASSERT_TRUE(d.requeue_after.has_value());
  EXPECT_EQ(d.requeue_after->count(), 300);
  ASSERT_EQ(d.events.size(), 1u);
  EXPECT_EQ(d.events[0].reason, "ReplicationFailing");
  EXPECT_TRUE(d.events[0].warning);

  d = f.Decide(true, true, "2025-11-27T12:04:00Z");
  EXPECT_EQ(f.Cond("Degraded"), "False");
  EXPECT_EQ(d.requeue_after->count(), 60);
  EXPECT_TRUE(d.events.empty());
  EXPECT_EQ(d.status["replication"]["failingSince"], "2025-11-27T12:00:00Z");  // kept

  d = f.Decide(true, true, "2025-11-27T12:05:00Z");
  EXPECT_EQ(f.Cond("Degraded"), "True");
  EXPECT_EQ(f.Cond("Degraded", "reason"), "ReplicationFailing");
  EXPECT_EQ(f.Cond("Degraded", "message"),
            "replication to s3://bkt/dk/ has failed since 2025-11-27T12:00:00Z: db-1 (node-1): "
            "EndpointUnavailable: connection refused");
  EXPECT_EQ(f.Cond("Ready"), "True");  // local protection still works
  EXPECT_FALSE(d.requeue_after.has_value());
  ASSERT_EQ(d.events.size(), 1u);
  EXPECT_EQ(d.events[0].reason, "ReplicationFailing");

  // The same status again changes nothing (no write, no event).
  d = f.Decide(true, true, "2025-11-27T12:06:00Z");
  EXPECT_FALSE(d.changed);
  EXPECT_TRUE(d.events.empty());

  f.Pods({Rep(4, 0), Rep(8, 0)});
  d = f.Decide(true, true, "2025-11-27T12:07:00Z");
  EXPECT_EQ(f.Cond("Degraded"), "False");
  EXPECT_EQ(f.Cond("Replicated", "reason"), "UpToDate");
  EXPECT_FALSE(d.status["replication"].contains("failingSince"));
  std::vector<std::string> reasons;
  for (const auto& e : d.events) reasons.push_back(e.reason);
  EXPECT_EQ(reasons, (std::vector<std::string>{"ReplicationRecovered", "Recovered"}));

  // A new failure starts a new period.
  f.Pods({Rep(4, 0), Rep(8, 1, true)});
  d = f.Decide(true, true, "2025-11-27T13:00:00Z");
  EXPECT_EQ(d.status["replication"]["failingSince"], "2025-11-27T13:00:00Z");
  EXPECT_EQ(f.Cond("Degraded"), "False");
}

TEST(PolicyStatusTest, OtherDegradedReasonsComeBeforeReplication) {
  S3Fixture f;
  f.Pods({Rep(3, 5, /*failing=*/true)});
  f.summary.errors = {"node-1: db-0: ENOSPC"};
  f.Decide(true, true, "2025-11-27T12:00:00Z");
  f.Decide(true, true, "2025-11-27T13:00:00Z");
  EXPECT_EQ(f.Cond("Degraded", "reason"), "AgentErrors");
  EXPECT_EQ(f.Cond("Replicated", "reason"), "ReplicationFailing");
}

TEST(ConditionsTest, TransitionTimeChangesOnlyWithStatus) {
  json c;
  EXPECT_TRUE(SetCondition(&c, "Ready", "True", "A", "m", 1, "t1"));
  EXPECT_FALSE(SetCondition(&c, "Ready", "True", "A", "m", 1, "t2"));
  EXPECT_TRUE(SetCondition(&c, "Ready", "True", "B", "m2", 2, "t3"));
  EXPECT_EQ((*FindCondition(c, "Ready"))["lastTransitionTime"], "t1");
  EXPECT_TRUE(SetCondition(&c, "Ready", "False", "C", "m3", 2, "t4"));
  EXPECT_EQ((*FindCondition(c, "Ready"))["lastTransitionTime"], "t4");
  EXPECT_EQ(ConditionStatus(c, "Ready"), "False");
  EXPECT_EQ(ConditionStatus(c, "Other"), "");
}

}  // namespace
}  // namespace dk::op
