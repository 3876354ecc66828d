#include "webhook_certs.h"

#include <algorithm>
#include <set>

#include "api.h"

namespace dk::op {
namespace {

// Splits a PEM bundle into its certificates.
std::vector<std::string> SplitPem(const std::string& bundle) {
  std::vector<std::string> out;
  const std::string begin = "-----BEGIN CERTIFICATE-----";
  const std::string end = "-----END CERTIFICATE-----";
  size_t pos = 0;
  while ((pos = bundle.find(begin, pos)) != std::string::npos) {
    size_t e = bundle.find(end, pos);
    if (e == std::string::npos) break;
    out.push_back(bundle.substr(pos, e + end.size() - pos) + "\n");
    pos = e + end.size();
  }
  return out;
}

std::string Get(const SecretData& d, const char* key) {
  auto it = d.find(key);
  return it == d.end() ? "" : it->second;
}

}  // namespace

Result<std::optional<CertPlan>> PlanWebhookCertificates(const SecretData& current,
                                                        const std::vector<std::string>& hosts,
                                                        const CertLifetimes& lt, SystemTime now) {
  if (hosts.empty()) return Status::InvalidArgument("no host names for the webhook certificate");
  std::vector<std::string> bundle = SplitPem(Get(current, "ca.crt"));
  KeyPair ca{bundle.empty() ? "" : bundle.front(), Get(current, "ca.key")};
  std::string reason;

  // 1. The CA: present, matching its key, not close to expiry.
  bool ca_ok = !ca.cert_pem.empty() && KeyMatches(ca.cert_pem, ca.key_pem);
  std::optional<CertInfo> ca_info;
  if (ca_ok) {
    auto info = InspectCertificate(ca.cert_pem);
    ca_ok = info.ok() && info->is_ca;
    if (ca_ok) ca_info = *info;
  }
  bool new_ca = false;
  if (!ca_ok) {
    reason = current.empty() ? "created" : "the CA was missing or invalid";
    new_ca = true;
  } else if (ca_info->not_after - now < 4 * lt.renew_before) {
    reason = "the CA expires at " + FormatRfc3339(ca_info->not_after);
    new_ca = true;
  }
  std::vector<std::string> new_bundle;
  if (new_ca) {
    DK_ASSIGN_OR_RETURN(ca, NewCertificateAuthority("diffkeeper-webhook-ca", lt.ca_validity, now));
    new_bundle.push_back(ca.cert_pem);
    // Keep trusting the previous CA while it is valid: replicas may still serve its certs.
    if (ca_ok && ca_info->not_after > now) new_bundle.push_back(bundle.front());
  } else {
    // Drop CAs that expired from the bundle.
    for (const auto& c : bundle) {
      auto info = InspectCertificate(c);
      if (info.ok() && info->not_after > now) new_bundle.push_back(c);
    }
  }

  // 2. The serving certificate: signed by the CA, matching its key, covering the hosts.
  std::string tls_crt = Get(current, "tls.crt");
  std::string tls_key = Get(current, "tls.key");
  bool serving_ok = !new_ca && !tls_crt.empty() && KeyMatches(tls_crt, tls_key) &&
                    VerifiesWith(tls_crt, ca.cert_pem, now);
  if (serving_ok) {
    auto info = InspectCertificate(tls_crt);
    serving_ok = info.ok();
    if (serving_ok) {
      std::set<std::string> have(info->dns_names.begin(), info->dns_names.end());
      have.insert(info->ip_addresses.begin(), info->ip_addresses.end());
      for (const auto& h : hosts) {
        if (have.count(h) == 0) {
          serving_ok = false;
          reason = "the serving certificate does not cover " + h;
          break;
        }
      }
      if (serving_ok && info->not_after - now < lt.renew_before) {
        serving_ok = false;
        reason = "the serving certificate expires at " + FormatRfc3339(info->not_after);
      }
    } else {
      reason = "the serving certificate does not parse";
    }
  } else if (reason.empty()) {
    reason = "the serving certificate was missing or not signed by the CA";
  }

  std::string joined_bundle;
  for (const auto& c : new_bundle) joined_bundle += c;
  if (serving_ok && !new_ca) {
    if (joined_bundle == Get(current, "ca.crt")) return std::optional<CertPlan>();
    CertPlan plan{current, "an expired CA was dropped from the bundle"};
    plan.data["ca.crt"] = joined_bundle;
    return std::optional<CertPlan>(std::move(plan));
  }
  DK_ASSIGN_OR_RETURN(KeyPair serving,
                      IssueServingCertificate(ca, hosts, lt.serving_validity, now));
  CertPlan plan;
  plan.reason = reason;
  plan.data["ca.crt"] = joined_bundle;
  plan.data["ca.key"] = ca.key_pem;
  plan.data["tls.crt"] = serving.cert_pem;
  plan.data["tls.key"] = serving.key_pem;
  return std::optional<CertPlan>(std::move(plan));
}

std::optional<SystemTime> NextRenewal(const SecretData& current, const CertLifetimes& lt) {
  auto serving = InspectCertificate(Get(current, "tls.crt"));
  std::vector<std::string> bundle = SplitPem(Get(current, "ca.crt"));
  if (!serving.ok() || bundle.empty()) return std::nullopt;
  auto ca = InspectCertificate(bundle.front());
  if (!ca.ok()) return std::nullopt;
  return std::min(serving->not_after - lt.renew_before, ca->not_after - 4 * lt.renew_before);
}

}  // namespace dk::op
