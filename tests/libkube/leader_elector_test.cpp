#include "libkube/leader_elector.h"

#include <gtest/gtest.h>

#include <future>

#include "fake_api.h"
#include "libkube/fake_clock.h"

namespace dk::kube {
namespace {

using std::chrono::seconds;
using testing::FakeApi;
using testing::FakeApiProxy;

const char kLeases[] = "/apis/coordination.k8s.io/v1/namespaces/sys/leases";

class LeaderElectorTest : public ::testing::Test {
 protected:
  std::unique_ptr<Client> NewClient() {
    RestConfig config;
    config.server = "https://fake";
    return std::make_unique<Client>(std::make_unique<FakeApiProxy>(&api_), config,
                                    ClientOptions{nullptr, &clock_});
  }
  LeaderElectionConfig Config(const std::string& identity) {
    LeaderElectionConfig c;
    c.lease_namespace = "sys";
    c.lease_name = "op";
    c.identity = identity;
    c.lease_duration = seconds(15);
    c.renew_deadline = seconds(10);
    c.retry_period = seconds(2);
    c.seed = 99;
    return c;
  }
  std::unique_ptr<LeaderElector> Candidate(Client* client, const std::string& identity) {
    auto r = LeaderElector::Create(client, Config(identity));
    EXPECT_TRUE(r.ok()) << r.status();
    return std::move(r).value();
  }
  nlohmann::json Spec() { return (*api_.Object(kLeases, "op"))["spec"]; }

  FakeApi api_;
  FakeClock clock_;
};

TEST_F(LeaderElectorTest, CreateRejectsInconsistentSettings) {
  auto client = NewClient();
  auto bad = Config("a");
  bad.renew_deadline = seconds(20);
  EXPECT_EQ(LeaderElector::Create(client.get(), bad).status().code(), StatusCode::kInvalidArgument);
  bad = Config("a");
  bad.retry_period = seconds(9);
  EXPECT_EQ(LeaderElector::Create(client.get(), bad).status().code(), StatusCode::kInvalidArgument);
  bad = Config("");
  EXPECT_EQ(LeaderElector::Create(client.get(), bad).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(LeaderElectorTest, AcquiresAMissingLeaseByCreatingIt) {
  auto client = NewClient();
  auto a = Candidate(client.get(), "a");
  EXPECT_TRUE(a->TryAcquireOrRenew());
  EXPECT_TRUE(a->IsLeader());
  EXPECT_EQ(a->GetLeader(), "a");
  nlohmann::json spec = Spec();
  EXPECT_EQ(spec["holderIdentity"], "a");
  EXPECT_EQ(spec["leaseDurationSeconds"], 15);
  EXPECT_EQ(spec["leaseTransitions"], 0);
  EXPECT_EQ(spec["renewTime"], "2024-01-01T00:00:00.000000Z");
  EXPECT_EQ(spec["acquireTime"], "2024-01-01T00:00:00.000000Z");
}

TEST_F(LeaderElectorTest, TakesOverOnlyAfterLeaseDurationWithoutRenewal) {
  auto ca = NewClient();
  auto cb = NewClient();
  auto a = Candidate(ca.get(), "a");
  auto b = Candidate(cb.get(), "b");
  ASSERT_TRUE(a->TryAcquireOrRenew());
  EXPECT_FALSE(b->TryAcquireOrRenew());
  EXPECT_EQ(b->GetLeader(), "a");
  EXPECT_FALSE(b->IsLeader());
  // "a" dies. "b" measures expiry from when IT saw the record, on its own clock.
  clock_.Advance(seconds(14));
  EXPECT_FALSE(b->TryAcquireOrRenew());
  clock_.Advance(seconds(1));
  EXPECT_TRUE(b->TryAcquireOrRenew());
  nlohmann::json spec = Spec();
  EXPECT_EQ(spec["holderIdentity"], "b");
  EXPECT_EQ(spec["leaseTransitions"], 1);
  EXPECT_EQ(spec["acquireTime"], "2024-01-01T00:00:15.000000Z");
  // "a" comes back: it must not steal the lease back.
  EXPECT_FALSE(a->TryAcquireOrRenew());
  EXPECT_FALSE(a->IsLeader());
  EXPECT_EQ(a->GetLeader(), "b");
}

TEST_F(LeaderElectorTest, RegularRenewalsKeepOthersOut) {
  auto ca = NewClient();
  auto cb = NewClient();
  auto a = Candidate(ca.get(), "a");
  auto b = Candidate(cb.get(), "b");
  ASSERT_TRUE(a->TryAcquireOrRenew());
  for (int i = 0; i < 30; ++i) {
    clock_.Advance(seconds(2));
    ASSERT_TRUE(a->TryAcquireOrRenew()) << i;
    ASSERT_FALSE(b->TryAcquireOrRenew()) << i;
  }
  EXPECT_EQ(Spec()["leaseTransitions"], 0);
  EXPECT_EQ(Spec()["acquireTime"], "2024-01-01T00:00:00.000000Z") << "renewals keep acquireTime";
  EXPECT_EQ(Spec()["renewTime"], "2024-01-01T00:01:00.000000Z");
}

TEST_F(LeaderElectorTest, ReleaseLetsAnotherCandidateAcquireAtOnce) {
  auto ca = NewClient();
  auto cb = NewClient();
  auto a = Candidate(ca.get(), "a");
  auto b = Candidate(cb.get(), "b");
  ASSERT_TRUE(a->TryAcquireOrRenew());
  EXPECT_FALSE(b->TryAcquireOrRenew());
  ASSERT_TRUE(a->Release().ok());
  EXPECT_FALSE(a->IsLeader());
  EXPECT_EQ(Spec()["holderIdentity"], "");
  EXPECT_EQ(Spec()["leaseDurationSeconds"], 1);
  EXPECT_TRUE(b->TryAcquireOrRenew()) << "no need to wait for the old lease duration";
  EXPECT_TRUE(a->Release().ok()) << "not leader: nothing to do";
  EXPECT_EQ(Spec()["holderIdentity"], "b");
}

TEST_F(LeaderElectorTest, LosingTheWriteRaceMeansNotLeader) {
  auto ca = NewClient();
  auto cb = NewClient();
  auto a = Candidate(ca.get(), "a");
  auto b = Candidate(cb.get(), "b");
  ASSERT_TRUE(a->TryAcquireOrRenew());
  EXPECT_FALSE(b->TryAcquireOrRenew());
  clock_.Advance(seconds(15));
  api_.FailNext("PUT", std::string(kLeases) + "/op", 409, "Conflict");  // somebody wrote first
  EXPECT_FALSE(b->TryAcquireOrRenew());
  EXPECT_FALSE(b->IsLeader());
}

TEST_F(LeaderElectorTest, RunLeadsThenStepsDownWhenRenewalsFailPastTheDeadline) {
  auto client = NewClient();
  std::promise<void> started, leading_ended;
  std::atomic<int> stopped_calls{0};
  auto config = Config("a");
  config.on_started_leading = [&](Cancellation* leading) {
    started.set_value();
    while (leading->SleepFor(RealClock(), seconds(1))) {
    }
    leading_ended.set_value();
  };
  config.on_stopped_leading = [&] { stopped_calls.fetch_add(1); };
  auto a = LeaderElector::Create(client.get(), config);
  ASSERT_TRUE(a.ok());
  Cancellation stop;
  auto run = std::async(std::launch::async, [&] { return (*a)->Run(&stop); });
  ASSERT_EQ(started.get_future().wait_for(seconds(10)), std::future_status::ready);
  EXPECT_TRUE((*a)->IsLeader());

  // A few healthy renewals.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(clock_.BlockUntilWaiters(1));
    clock_.Advance(seconds(2));
  }
  const auto outage_start = clock_.Now();
  api_.SetDown(true);
  while (run.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready) {
    if (clock_.BlockUntilWaiters(1, std::chrono::milliseconds(100))) clock_.Advance(seconds(1));
  }
  Status s = run.get();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s;
  EXPECT_GE(clock_.Now() - outage_start, seconds(8)) << "kept trying until the renew deadline";
  EXPECT_LE(clock_.Now() - outage_start, seconds(14)) << "gave up before the lease expired";
  EXPECT_EQ(leading_ended.get_future().wait_for(seconds(0)), std::future_status::ready);
  EXPECT_EQ(stopped_calls.load(), 1);
  EXPECT_FALSE((*a)->IsLeader());
}

TEST_F(LeaderElectorTest, RunReleasesTheLeaseWhenStopped) {
  auto client = NewClient();
  std::promise<void> started;
  std::atomic<int> stopped_calls{0};
  std::vector<std::string> leaders;
  auto config = Config("a");
  config.on_started_leading = [&](Cancellation* leading) {
    started.set_value();
    while (leading->SleepFor(RealClock(), seconds(1))) {
    }
  };
  config.on_stopped_leading = [&] { stopped_calls.fetch_add(1); };
  config.on_new_leader = [&](const std::string& id) { leaders.push_back(id); };
  auto a = LeaderElector::Create(client.get(), config);
  ASSERT_TRUE(a.ok());
  Cancellation stop;
  auto run = std::async(std::launch::async, [&] { return (*a)->Run(&stop); });
  ASSERT_EQ(started.get_future().wait_for(seconds(10)), std::future_status::ready);
  stop.Cancel();
  EXPECT_TRUE(run.get().ok());
  EXPECT_EQ(Spec()["holderIdentity"], "");
  EXPECT_EQ(stopped_calls.load(), 1);
  EXPECT_EQ(leaders, (std::vector<std::string>{"a"}));
}

TEST_F(LeaderElectorTest, RunWaitsForTheHolderToExpireThenLeads) {
  auto ca = NewClient();
  auto cb = NewClient();
  auto holder = Candidate(ca.get(), "a");
  ASSERT_TRUE(holder->TryAcquireOrRenew());  // then "a" dies (never renews)
  std::promise<void> started;
  auto config = Config("b");
  config.on_started_leading = [&](Cancellation* leading) {
    started.set_value();
    while (leading->SleepFor(RealClock(), seconds(1))) {
    }
  };
  auto b = LeaderElector::Create(cb.get(), config);
  ASSERT_TRUE(b.ok());
  Cancellation stop;
  auto run = std::async(std::launch::async, [&] { return (*b)->Run(&stop); });
  auto started_future = started.get_future();
  while (started_future.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready) {
    if (clock_.BlockUntilWaiters(1, std::chrono::milliseconds(100))) clock_.Advance(seconds(1));
  }
  // Lease written at 00:00:00; "b" may take over once 15 s passed on its clock, and retries
  // every 2 s jittered by up to 1.2x, so within 15 + 4.4 s.
  nlohmann::json spec = Spec();
  EXPECT_EQ(spec["holderIdentity"], "b");
  const std::string acquired = spec["acquireTime"];
  EXPECT_GE(acquired, "2024-01-01T00:00:15.000000Z");
  EXPECT_LE(acquired, "2024-01-01T00:00:19.400000Z");
  stop.Cancel();
  EXPECT_TRUE(run.get().ok());
}

}  // namespace
}  // namespace dk::kube
