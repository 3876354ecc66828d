// Private: parsing and checking PEM certificate chains and keys with OpenSSL.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <vector>

#include "libstate/result.h"

namespace dk::svc::internal {

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// A parsed certificate chain (leaf first) and its private key, known to match.
struct CertifiedKey {
  std::vector<X509Ptr> chain;
  PkeyPtr key;
};

// InvalidArgument naming `what` when the PEM holds no certificate, no key, or a key that does
// not belong to the first certificate.
Result<std::shared_ptr<const CertifiedKey>> ParseCertifiedKey(const std::string& cert_pem,
                                                              const std::string& key_pem,
                                                              const std::string& what);

// The text of the last OpenSSL error (and clears the queue).
std::string OpenSslError();

}  // namespace dk::svc::internal
