// Certificates for the admission webhook's TLS, made with OpenSSL: a self-signed CA and serving
// certificates it signs (EC P-256, SHA-256).
//
// Time is passed in, so tests are deterministic. Thread-compatible (no shared state).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "libstate/result.h"

namespace dk::op {

using SystemTime = std::chrono::system_clock::time_point;

struct KeyPair {
  std::string cert_pem;
  std::string key_pem;
};

struct CertInfo {
  std::string common_name;
  SystemTime not_before;
  SystemTime not_after;
  bool is_ca = false;
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
};

// A self-signed CA valid from `now` - 1 h (clock skew) for `validity`.
Result<KeyPair> NewCertificateAuthority(const std::string& common_name,
                                        std::chrono::seconds validity, SystemTime now);

// A serving certificate signed by `ca` for `hosts` (DNS names and IP literals; the first is the
// CN), valid from `now` - 1 h for `validity` but never beyond the CA's own expiry.
// InvalidArgument for an empty host list or unusable CA material.
Result<KeyPair> IssueServingCertificate(const KeyPair& ca, const std::vector<std::string>& hosts,
                                        std::chrono::seconds validity, SystemTime now);

// The facts of the first certificate in `pem`. InvalidArgument when none parses.
Result<CertInfo> InspectCertificate(const std::string& pem);

// True when `signer_pem` (one CA certificate) verifies `cert_pem`'s signature and the cert is
// valid at `now`.
bool VerifiesWith(const std::string& cert_pem, const std::string& signer_pem, SystemTime now);

// True when the private key matches the certificate.
bool KeyMatches(const std::string& cert_pem, const std::string& key_pem);

}  // namespace dk::op
