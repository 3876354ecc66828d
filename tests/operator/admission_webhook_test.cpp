#include "admission_webhook.h"

#include <gtest/gtest.h>

#include "api.h"
#include "base64.h"
#include "test_objects.h"

namespace dk::op {
namespace {

using nlohmann::json;
using testing::Policy;
using testing::StsPod;

json Review(const json& pod, const std::string& op = "CREATE") {
  return {{"apiVersion", "admission.k8s.io/v1"},
          {"kind", "AdmissionReview"},
          {"request",
           {{"uid", "req-1"},
            {"kind", {{"group", ""}, {"version", "v1"}, {"kind", "Pod"}}},
            {"operation", op},
            {"namespace", pod["metadata"]["namespace"]},
            {"object", pod}}}};
}

class WebhookTest : public ::testing::Test {
 protected:
  WebhookTest()
      : webhook_(
            [this](const std::string& ns,
                   const std::string& sts) -> Result<std::optional<ProtectingPolicy>> {
              if (!synced_) return Status::Unavailable("the StatePolicy cache has not synced yet");
              if (ns == "demo" && sts == "db") {
                return std::optional<ProtectingPolicy>(ProtectingPolicy{"db-policy", spec_});
              }
              return std::optional<ProtectingPolicy>();
            },
            GateOptions{"img:1", "IfNotPresent", "/usr/local/bin/restore-wait", "/var/lib/dk"},
            nullptr, nullptr) {
    spec_ =
        *ParsePolicySpec(Policy("demo", "db-policy", "db", {{"restore", {{"timeout", "90s"}}}}));
  }

  // Applies the patch of an answer to `pod`.
  json Patched(const json& pod, const json& answer) {
    EXPECT_EQ(answer["response"]["patchType"], "JSONPatch");
    auto raw = Base64Decode(answer["response"]["patch"].get<std::string>());
    EXPECT_TRUE(raw.has_value());
    return pod.patch(json::parse(*raw));
  }

  PolicySpec spec_;
  bool synced_ = true;
  AdmissionWebhook webhook_;
};

TEST_F(WebhookTest, GatesAPodOfAProtectedStatefulSet) {
  json pod = StsPod("demo", "db", 0);
  auto answer = webhook_.Review(Review(pod));
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ((*answer)["response"]["uid"], "req-1");
  EXPECT_EQ((*answer)["response"]["allowed"], true);
  json out = Patched(pod, *answer);
  const json& c = out["spec"]["initContainers"][0];
  EXPECT_EQ(c["name"], kRestoreWaitContainer);
  EXPECT_EQ(c["image"], "img:1");
  EXPECT_EQ(c["command"], json::array({"/usr/local/bin/restore-wait"}));
  EXPECT_EQ(c["args"], json::array({"--marker-dir", "/var/run/diffkeeper/markers", "--timeout",
                                    "90", "--on-timeout", "fail"}));
  EXPECT_EQ(c["env"][0]["name"], "POD_UID");
  EXPECT_EQ(c["env"][0]["valueFrom"]["fieldRef"]["fieldPath"], "metadata.uid");
  EXPECT_EQ(c["volumeMounts"][0]["readOnly"], true);
  EXPECT_EQ(c["securityContext"]["runAsNonRoot"], true);
  const json& v = out["spec"]["volumes"].back();
  EXPECT_EQ(v["name"], kMarkerVolume);
  EXPECT_EQ(v["hostPath"]["path"], "/var/lib/dk/markers");
  EXPECT_EQ(v["hostPath"]["type"], "DirectoryOrCreate");
  EXPECT_EQ(out["metadata"]["labels"][kGatedLabel], "true");
  EXPECT_EQ(out["metadata"]["annotations"][kPolicyAnnotation], "db-policy");
  // Idempotent: the gated pod needs no further patch.
  EXPECT_TRUE(
      GatePatch(out, "db-policy", spec_,
                GateOptions{"img:1", "IfNotPresent", "/usr/local/bin/restore-wait", "/var/lib/dk"})
          .empty());
}

TEST_F(WebhookTest, GoesFirstAmongExistingInitContainersAndStaysFirstOnReinvocation) {
  json pod = StsPod("demo", "db", 1);
  pod["spec"]["initContainers"] = json::array({{{"name", "mesh-init"}, {"image", "mesh"}}});
  json out = Patched(pod, *webhook_.Review(Review(pod)));
  ASSERT_EQ(out["spec"]["initContainers"].size(), 2u);
  EXPECT_EQ(out["spec"]["initContainers"][0]["name"], kRestoreWaitContainer);
  EXPECT_EQ(out["spec"]["initContainers"][1]["name"], "mesh-init");
  // Another injector ran after us and put its container first: reinvocation moves ours back.
  json reordered = out;
  auto inits = reordered["spec"]["initContainers"];
  reordered["spec"]["initContainers"] =
      json::array({{{"name", "late-injector"}}, inits[0], inits[1]});
  json again = Patched(reordered, *webhook_.Review(Review(reordered)));
  EXPECT_EQ(again["spec"]["initContainers"][0]["name"], kRestoreWaitContainer);
  EXPECT_EQ(again["spec"]["initContainers"].size(), 3u);
}

TEST_F(WebhookTest, LeavesOtherPodsAlone) {
  auto unchanged = [this](const json& review) {
    auto a = webhook_.Review(review);
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_EQ((*a)["response"]["allowed"], true);
    EXPECT_FALSE((*a)["response"].contains("patch")) << (*a).dump();
  };
  unchanged(Review(StsPod("demo", "other", 0)));    // unprotected StatefulSet
  unchanged(Review(StsPod("elsewhere", "db", 0)));  // same name, other namespace
  json plain = StsPod("demo", "db", 0);
  plain["metadata"].erase("ownerReferences");  // not owned by a StatefulSet
  unchanged(Review(plain));
  unchanged(Review(StsPod("demo", "db", 0), "UPDATE"));  // only CREATE is gated
  spec_.paused = true;
  unchanged(Review(StsPod("demo", "db", 0)));  // paused policy
  spec_.paused = false;
  spec_.on_reschedule = "Skip";
  unchanged(Review(StsPod("demo", "db", 0)));  // restores not wanted
}

TEST_F(WebhookTest, StartEmptyPolicyPassesItsTimeoutAction) {
  spec_.on_timeout = "StartEmpty";
  json out = Patched(StsPod("demo", "db", 0), *webhook_.Review(Review(StsPod("demo", "db", 0))));
  EXPECT_EQ(out["spec"]["initContainers"][0]["args"][5], "start-empty");
}

// A replica whose StatePolicy cache has not synced yet (the webhook server starts as soon as
// the certificate is known) cannot tell whether a pod is protected. Answering "allowed" would
// start a protected pod unrestored; an error lets the API server apply the failurePolicy:
// the policy's strict entry (Fail) holds the pod back until a synced replica answers, the
// catch-all entry (Ignore) lets every other pod through.
TEST_F(WebhookTest, BeforeThePolicyCacheHasSyncedAStatefulSetPodGets503NotAnUngatedAdmission) {
  synced_ = false;
  svc::Request r;
  r.method = "POST";
  r.path = "/mutate";
  r.body = Review(StsPod("demo", "db", 0)).dump();
  svc::Response held = webhook_.Handle(r);
  EXPECT_EQ(held.status, 503);
  EXPECT_NE(held.body.find("has not synced"), std::string::npos) << held.body;
  json plain = StsPod("demo", "db", 0);
  plain["metadata"].erase("ownerReferences");  // no StatefulSet, no policy needed
  r.body = Review(plain).dump();
  EXPECT_EQ(webhook_.Handle(r).status, 200);
  synced_ = true;
  r.body = Review(StsPod("demo", "db", 0)).dump();
  svc::Response ok = webhook_.Handle(r);
  ASSERT_EQ(ok.status, 200);
  EXPECT_TRUE(json::parse(ok.body)["response"].contains("patch"));
}

TEST_F(WebhookTest, MalformedRequestsGet400) {
  svc::Request r;
  r.method = "POST";
  r.path = "/mutate";
  r.body = "not json";
  EXPECT_EQ(webhook_.Handle(r).status, 400);
  r.body = R"({"kind":"AdmissionReview","request":{}})";
  EXPECT_EQ(webhook_.Handle(r).status, 400);
  r.body = Review(StsPod("demo", "db", 0)).dump();
  svc::Response ok = webhook_.Handle(r);
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.content_type, "application/json");
}

TEST(Base64Test, RoundTripsAndRejectsNonCanonicalInput) {
  for (const std::string& s :
       std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
    auto d = Base64Decode(Base64Encode(s));
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(*d, s);
  }
  EXPECT_EQ(Base64Encode("hello"), "aGVsbG8=");
  EXPECT_FALSE(Base64Decode("aGVsbG8").has_value());
  EXPECT_FALSE(Base64Decode("aGV sbG8=").has_value());
  EXPECT_FALSE(Base64Decode("a=GV").has_value());
}

}  // namespace
}  // namespace dk::op
