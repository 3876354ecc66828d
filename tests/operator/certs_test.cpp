#include <gtest/gtest.h>

#include <algorithm>

#include "api.h"
#include "cert_issuer.h"
#include "webhook_certs.h"

namespace dk::op {
namespace {

using std::chrono::hours;

SystemTime T0() { return *ParseRfc3339("2025-11-27T12:00:00Z"); }

bool Has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(CertIssuerTest, IssuesACaAndAServingCertificateForDnsNamesAndIps) {
  auto ca = NewCertificateAuthority("test-ca", hours(24 * 365), T0());
  ASSERT_TRUE(ca.ok()) << ca.status();
  auto ca_info = InspectCertificate(ca->cert_pem);
  ASSERT_TRUE(ca_info.ok());
  EXPECT_TRUE(ca_info->is_ca);
  EXPECT_TRUE(KeyMatches(ca->cert_pem, ca->key_pem));

  auto serving = IssueServingCertificate(*ca, {"svc.ns.svc", "127.0.0.1"}, hours(24), T0());
  ASSERT_TRUE(serving.ok()) << serving.status();
  auto info = InspectCertificate(serving->cert_pem);
  ASSERT_TRUE(info.ok());
  EXPECT_FALSE(info->is_ca);
  EXPECT_EQ(info->common_name, "svc.ns.svc");
  EXPECT_TRUE(Has(info->dns_names, "svc.ns.svc"));
  EXPECT_TRUE(Has(info->ip_addresses, "127.0.0.1"));
  EXPECT_EQ(info->not_after, T0() + hours(24));
  EXPECT_TRUE(VerifiesWith(serving->cert_pem, ca->cert_pem, T0()));
  EXPECT_FALSE(VerifiesWith(serving->cert_pem, ca->cert_pem, T0() + hours(25)));  // expired
  auto other = NewCertificateAuthority("other", hours(24), T0());
  EXPECT_FALSE(VerifiesWith(serving->cert_pem, other->cert_pem, T0()));
  EXPECT_FALSE(KeyMatches(serving->cert_pem, ca->key_pem));
  // Never valid beyond its CA.
  auto short_ca = NewCertificateAuthority("short", hours(2), T0());
  auto capped = IssueServingCertificate(*short_ca, {"x"}, hours(100), T0());
  EXPECT_EQ(InspectCertificate(capped->cert_pem)->not_after, T0() + hours(2));
  EXPECT_EQ(IssueServingCertificate(*ca, {}, hours(1), T0()).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(WebhookCertsTest, CreatesThenKeepsThenRenewsBeforeExpiry) {
  CertLifetimes lt;
  lt.ca_validity = hours(24 * 3650);
  lt.serving_validity = hours(24 * 90);
  lt.renew_before = hours(24 * 30);
  std::vector<std::string> hosts = {"diffkeeper-webhook.diffkeeper-system.svc", "127.0.0.1"};
  auto first = PlanWebhookCertificates({}, hosts, lt, T0());
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ((*first)->reason, "created");
  SecretData data = (*first)->data;
  for (const char* k : {"ca.crt", "ca.key", "tls.crt", "tls.key"})
    EXPECT_FALSE(data[k].empty()) << k;
  EXPECT_TRUE(VerifiesWith(data["tls.crt"], data["ca.crt"], T0()));

  // Fine a month later: nothing to do.
  auto later = PlanWebhookCertificates(data, hosts, lt, T0() + hours(24 * 30));
  ASSERT_TRUE(later.ok());
  EXPECT_FALSE(later->has_value());
  auto next = NextRenewal(data, lt);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(*next, T0() + hours(24 * 60));  // 90-day certificate, renewed 30 days early

  // Inside the renewal window: a new serving certificate from the same CA.
  auto renew = PlanWebhookCertificates(data, hosts, lt, T0() + hours(24 * 61));
  ASSERT_TRUE(renew.ok());
  ASSERT_TRUE(renew->has_value());
  EXPECT_NE((*renew)->reason.find("the serving certificate expires at"), std::string::npos)
      << (*renew)->reason;
  EXPECT_EQ((*renew)->data["ca.crt"], data["ca.crt"]);  // the API server's trust is unchanged
  EXPECT_NE((*renew)->data["tls.crt"], data["tls.crt"]);

  // A new host name (the webhook URL changed): reissued.
  auto more = PlanWebhookCertificates(data, {"other.example"}, lt, T0());
  ASSERT_TRUE(more->has_value());
  EXPECT_EQ((*more)->reason, "the serving certificate does not cover other.example");
}

TEST(WebhookCertsTest, RotatingTheCaKeepsTrustingTheOldOneUntilItExpires) {
  CertLifetimes lt;
  lt.ca_validity = hours(24 * 100);
  lt.serving_validity = hours(24 * 10);
  lt.renew_before = hours(24 * 5);
  std::vector<std::string> hosts = {"h.svc"};
  SecretData data = (*PlanWebhookCertificates({}, hosts, lt, T0()))->data;
  // 85 days in: the CA has 15 days left (< 4 x 5 days): new CA, old one still in the bundle.
  auto plan = PlanWebhookCertificates(data, hosts, lt, T0() + hours(24 * 85));
  ASSERT_TRUE(plan.ok());
  ASSERT_TRUE(plan->has_value());
  EXPECT_NE((*plan)->reason.find("the CA expires at"), std::string::npos) << (*plan)->reason;
  const std::string& bundle = (*plan)->data["ca.crt"];
  EXPECT_NE(bundle.find(data["ca.crt"]), std::string::npos);  // old CA kept
  EXPECT_GT(bundle.size(), data["ca.crt"].size());
  EXPECT_NE((*plan)->data["ca.key"], data["ca.key"]);
  // Garbage in the Secret is replaced.
  SecretData garbage = {{"ca.crt", "x"}, {"tls.crt", "y"}};
  auto fixed = PlanWebhookCertificates(garbage, hosts, lt, T0());
  ASSERT_TRUE(fixed->has_value());
  EXPECT_EQ((*fixed)->reason, "the CA was missing or invalid");
}

}  // namespace
}  // namespace dk::op
