// The webhook's certificate material and when to renew it.
//
// It lives in one Secret (so every operator replica serves the same certificate) with keys:
//   ca.crt   PEM bundle the API server trusts (the webhook configurations' caBundle): the
//            current CA first, then a previous CA while certificates it signed may still be
//            served
//   ca.key   the current CA's key
//   tls.crt  serving certificate (signed by the current CA), tls.key its key
// PlanWebhookCertificates() decides, from the current contents, the host names the certificate
// must cover and the time, whether to (re)issue anything — pure logic, so rotation is tested
// with a fake time.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cert_issuer.h"
#include "libstate/result.h"

namespace dk::op {

using SecretData = std::map<std::string, std::string>;  // key → decoded bytes

struct CertLifetimes {
  std::chrono::seconds ca_validity = std::chrono::hours(24 * 365 * 10);
  std::chrono::seconds serving_validity = std::chrono::hours(24 * 365);
  // Renew the serving certificate when less than this is left; the CA when less than
  // 4 x this is left (so the new CA is trusted long before it signs).
  std::chrono::seconds renew_before = std::chrono::hours(24 * 30);
};

struct CertPlan {
  SecretData data;     // the complete new Secret data
  std::string reason;  // for the Event / log: "created", "expires …", "hosts changed …"
};

// nullopt when `current` is valid for `hosts` at `now` and nowhere near expiry.
Result<std::optional<CertPlan>> PlanWebhookCertificates(const SecretData& current,
                                                        const std::vector<std::string>& hosts,
                                                        const CertLifetimes& lifetimes,
                                                        SystemTime now);

// The time at which PlanWebhookCertificates() will want to renew `current` (for requeueing).
std::optional<SystemTime> NextRenewal(const SecretData& current, const CertLifetimes& lifetimes);

}  // namespace dk::op
