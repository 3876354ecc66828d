#include "installation.h"

#include <gtest/gtest.h>

#include "api.h"
#include "base64.h"
#include "test_objects.h"

namespace dk::op {
namespace {

using nlohmann::json;
using testing::Policy;

std::chrono::system_clock::time_point T(const std::string& s) { return *ParseRfc3339(s); }

json LiveWebhook(const json& client_config) {
  return {{"apiVersion", "admissionregistration.k8s.io/v1"},
          {"kind", "MutatingWebhookConfiguration"},
          {"metadata", {{"name", "diffkeeper-restore-gate"}, {"uid", "mwc-uid"}}},
          {"webhooks",
           {{{"name", "gate.diffkeeper.io"},
             {"clientConfig", client_config},
             {"rules",
              {{{"operations", {"CREATE"}},
                {"apiGroups", {""}},
                {"apiVersions", {"v1"}},
                {"resources", {"pods"}}}}},
             {"failurePolicy", "Ignore"},
             {"timeoutSeconds", 5}}}}};
}

TEST(InstallationTest, AgentDaemonSetMountsPodsAndStateWithLeastCapabilities) {
  InstallationOptions o;
  o.image = "reg/diffkeeper:1";
  json owner = {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"name", "op"}, {"uid", "u"}};
  json ds = DesiredAgentDaemonSet(o, owner);
  EXPECT_EQ(ds["metadata"]["namespace"], "diffkeeper-system");
  EXPECT_EQ(ds["metadata"]["ownerReferences"][0]["name"], "op");
  EXPECT_EQ(ds["metadata"]["labels"][kManagedByLabel], "diffkeeper-operator");
  const json& pod = ds["spec"]["template"]["spec"];
  EXPECT_EQ(pod["serviceAccountName"], "diffkeeper-agent");
  const json& c = pod["containers"][0];
  EXPECT_EQ(c["image"], "reg/diffkeeper:1");
  EXPECT_EQ(c["args"][0], "--kubelet-root=/var/lib/kubelet");
  EXPECT_EQ(c["env"][0]["valueFrom"]["fieldRef"]["fieldPath"], "spec.nodeName");
  EXPECT_EQ(c["volumeMounts"][0]["mountPath"], "/var/lib/kubelet/pods");
  EXPECT_EQ(c["volumeMounts"][0]["mountPropagation"], "HostToContainer");
  EXPECT_EQ(c["securityContext"]["allowPrivilegeEscalation"], false);
  EXPECT_EQ(c["securityContext"]["capabilities"]["drop"][0], "ALL");
  EXPECT_FALSE(c["securityContext"].contains("privileged"));
  EXPECT_EQ(pod["volumes"][1]["hostPath"]["path"], "/var/lib/diffkeeper");
  o.agent_extra_args = {"--report-interval=2s"};
  EXPECT_EQ(
      DesiredAgentDaemonSet(o, owner)["spec"]["template"]["spec"]["containers"][0]["args"].back(),
      "--report-interval=2s");
  // No copied Argo CD tracking labels or annotations.
  EXPECT_FALSE(ds["metadata"].contains("annotations"));
}

TEST(InstallationTest, AgentConfigListsPoliciesAndKeepsRecentPurgeRequests) {
  InstallationOptions o;
  json good = Policy("a", "p1", "db");
  json bad = Policy("a", "p2", "db", {{"restore", {{"timeout", "1s"}}}});
  json paused = Policy("b", "p3", "web", {{"paused", true}});
  json deleting = Policy("c", "p4", "cache", {{"retention", {{"onDelete", "Delete"}}}});
  deleting["metadata"]["deletionTimestamp"] = "2025-11-27T11:00:00Z";
  json keep = Policy("c", "p5", "kv");
  keep["metadata"]["deletionTimestamp"] = "2025-11-27T11:00:00Z";  // Retain: no purge
  json cm = DesiredAgentConfig(o, {paused, deleting, good, bad, keep}, json(), json(),
                               T("2025-11-27T12:00:00Z"));
  EXPECT_EQ(cm["metadata"]["name"], "diffkeeper-agent-config");
  json policies = json::parse(cm["data"]["policies.json"].get<std::string>());
  ASSERT_EQ(policies.size(), 2u);  // sorted; invalid and deleting ones left out
  EXPECT_EQ(policies[0]["name"], "p1");
  EXPECT_EQ(policies[1]["name"], "p3");
  EXPECT_EQ(policies[1]["paused"], true);
  json purge = json::parse(cm["data"]["purge.json"].get<std::string>());
  ASSERT_EQ(purge.size(), 1u);
  EXPECT_EQ(purge[0]["policy"], "p4");
  EXPECT_EQ(purge[0]["statefulSet"], "cache");
  EXPECT_EQ(purge[0]["requested"], "2025-11-27T12:00:00Z");

  // Once the policy is gone the request stays for a day, then leaves.
  json next = DesiredAgentConfig(o, {good}, cm, json(), T("2025-11-28T11:00:00Z"));
  EXPECT_EQ(json::parse(next["data"]["purge.json"].get<std::string>()).size(), 1u);
  json later = DesiredAgentConfig(o, {good}, cm, json(), T("2025-11-28T12:00:01Z"));
  EXPECT_EQ(json::parse(later["data"]["purge.json"].get<std::string>()).size(), 0u);
}

TEST(InstallationTest, WebhookGetsTheCaBundleAndAStrictEntryPerGatingPolicy) {
  InstallationOptions o;
  json live = LiveWebhook({{"url", "https://127.0.0.1:29443/mutate"}});
  json skip = Policy("demo", "web", "web", {{"restore", {{"onReschedule", "Skip"}}}});
  json paused = Policy("demo", "cache", "cache", {{"paused", true}});
  auto d = DesiredWebhookConfigurations(o, live, {Policy("demo", "db", "db"), skip, paused}, "PEM");
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->gate["webhooks"].size(), 1u);
  EXPECT_EQ(d->gate["webhooks"][0]["clientConfig"]["caBundle"], Base64Encode("PEM"));
  EXPECT_EQ(d->gate["webhooks"][0].size(), 2u);  // name + caBundle only: the rest is the manifests'

  EXPECT_EQ(d->policies["metadata"]["name"], "diffkeeper-restore-gate-policies");
  EXPECT_EQ(d->policies["metadata"]["ownerReferences"][0]["uid"], "mwc-uid");
  ASSERT_EQ(d->policies["webhooks"].size(), 1u);
  const json& w = d->policies["webhooks"][0];
  EXPECT_EQ(w["name"], "db.demo.policy.diffkeeper.io");
  EXPECT_EQ(w["failurePolicy"], "Fail");
  EXPECT_EQ(w["clientConfig"]["url"], "https://127.0.0.1:29443/mutate");
  EXPECT_EQ(w["clientConfig"]["caBundle"], Base64Encode("PEM"));
  EXPECT_EQ(w["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"], "demo");
  EXPECT_EQ(w["timeoutSeconds"], 5);
  EXPECT_NE(w["matchConditions"][0]["expression"].get<std::string>().find("r.name == 'db'"),
            std::string::npos);
  EXPECT_EQ(w["rules"], live["webhooks"][0]["rules"]);

  json no_gate = live;
  no_gate["webhooks"][0]["name"] = "other.example.com";
  EXPECT_EQ(DesiredWebhookConfigurations(o, no_gate, {}, "PEM").status().code(),
            StatusCode::kFailedPrecondition);
}

TEST(InstallationTest, LongPolicyNamesGetAHashedEntryName) {
  std::string name(250, 'a');
  std::string w = PolicyWebhookName("ns", name);
  EXPECT_LE(w.size(), 253u);
  EXPECT_EQ(w.size(), 16 + std::string(".policy.diffkeeper.io").size());
  EXPECT_EQ(PolicyWebhookName("ns", "db"), "db.ns.policy.diffkeeper.io");
}

TEST(InstallationTest, CertificateHostsFollowTheClientConfig) {
  InstallationOptions o;
  auto url_hosts = WebhookCertHosts(o, LiveWebhook({{"url", "https://127.0.0.1:29443/mutate"}}),
                                    "diffkeeper-webhook", {"extra.example"});
  EXPECT_EQ(url_hosts.front(), "127.0.0.1");
  EXPECT_EQ(url_hosts.back(), "extra.example");
  auto svc_hosts = WebhookCertHosts(
      o, LiveWebhook({{"service", {{"namespace", "dk"}, {"name", "hook"}, {"port", 443}}}}),
      "diffkeeper-webhook", {});
  EXPECT_EQ(svc_hosts, (std::vector<std::string>{"hook.dk.svc", "hook.dk.svc.cluster.local",
                                                 "hook.dk", "hook"}));
  auto v6 = WebhookCertHosts(o, LiveWebhook({{"url", "https://[::1]:9443/mutate"}}), "", {});
  EXPECT_EQ(v6.front(), "::1");
}

TEST(ApiTest, TimesOrdinalsAndSizes) {
  auto t = ParseRfc3339("2025-11-27T12:00:00.5+01:00");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(FormatRfc3339(*t), "2025-11-27T11:00:00Z");
  EXPECT_FALSE(ParseRfc3339("2025-11-27 12:00:00").has_value());
  EXPECT_FALSE(ParseRfc3339("2025-13-27T12:00:00Z").has_value());
  json pod = testing::StsPod("ns", "db", 7);
  EXPECT_EQ(*PodOrdinal(pod, "db"), 7);
  pod["metadata"]["labels"].erase("apps.kubernetes.io/pod-index");
  EXPECT_EQ(*PodOrdinal(pod, "db"), 7);  // from the name
  EXPECT_FALSE(PodOrdinal(pod, "web").has_value());
  EXPECT_EQ(OwningStatefulSet(pod), "db");
  EXPECT_EQ(HumanBytes(0), "0 B");
  EXPECT_EQ(HumanBytes(1536), "1.5 KiB");
  EXPECT_EQ(HumanBytes(5ull << 30), "5.0 GiB");
}

}  // namespace
}  // namespace dk::op
