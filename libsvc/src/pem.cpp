#include "pem.h"

#include <openssl/err.h>
#include <openssl/pem.h>

namespace dk::svc::internal {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

int NoPassphrase(char*, int, int, void*) { return 0; }  // never prompt on a terminal

}  // namespace

std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

Result<std::shared_ptr<const CertifiedKey>> ParseCertifiedKey(const std::string& cert_pem,
                                                              const std::string& key_pem,
                                                              const std::string& what) {
  auto ck = std::make_shared<CertifiedKey>();
  {
    BioPtr bio(BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())));
    if (!bio) return Status::Internal("BIO_new_mem_buf failed");
    while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr)) {
      ck->chain.emplace_back(x);
    }
    ERR_clear_error();  // the loop ends on a "no start line" error
  }
  if (ck->chain.empty()) {
    return Status::InvalidArgument(what + ": no PEM certificate could be parsed");
  }
  {
    BioPtr bio(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
    if (!bio) return Status::Internal("BIO_new_mem_buf failed");
    ck->key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  }
  if (!ck->key) {
    return Status::InvalidArgument(what + ": not a PEM private key (" + OpenSslError() + ")");
  }
  if (X509_check_private_key(ck->chain.front().get(), ck->key.get()) != 1) {
    ERR_clear_error();
    return Status::InvalidArgument(what + ": the private key does not match the certificate");
  }
  return std::shared_ptr<const CertifiedKey>(std::move(ck));
}

}  // namespace dk::svc::internal
