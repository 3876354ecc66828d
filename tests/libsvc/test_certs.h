// Test helpers: self-signed certificates generated with OpenSSL, as PEM.
#pragma once

#include <string>

namespace dk::svc::testing {

struct Pem {
  std::string cert;
  std::string key;
};

// A self-signed EC P-256 certificate for `cn`, valid for an hour, with subjectAltName
// IP:127.0.0.1 and DNS:localhost; usable as its own trust anchor.
Pem SelfSigned(const std::string& cn);

}  // namespace dk::svc::testing
