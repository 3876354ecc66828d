#include "cert_issuer.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

namespace dk::op {
namespace {

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;

int NoPassphrase(char*, int, int, void*) { return 0; }

std::string SslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

X509Ptr ReadCert(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr x(PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr));
  ERR_clear_error();
  return x;
}

PkeyPtr ReadKey(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr k(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  ERR_clear_error();
  return k;
}

std::string CertPem(X509* x) {
  BioPtr b(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(b.get(), x);
  char* data = nullptr;
  long n = BIO_get_mem_data(b.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

std::string KeyPem(EVP_PKEY* k) {
  BioPtr b(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(b.get(), k, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(b.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

bool AddExt(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return false;
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return true;
}

bool IsIp(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

time_t ToTimeT(SystemTime t) { return std::chrono::system_clock::to_time_t(t); }

SystemTime FromAsn1(const ASN1_TIME* t) {
  std::tm tm{};
  ASN1_TIME_to_tm(t, &tm);
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

Result<X509Ptr> NewCert(EVP_PKEY* key, const std::string& cn, SystemTime not_before,
                        SystemTime not_after) {
  X509Ptr x(X509_new());
  if (!x) return Status::Internal("X509_new: " + SslError());
  X509_set_version(x.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof(serial));
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof(serial), nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x.get()));
  BN_free(bn);
  ASN1_TIME_set(X509_getm_notBefore(x.get()), ToTimeT(not_before));
  ASN1_TIME_set(X509_getm_notAfter(x.get()), ToTimeT(not_after));
  X509_set_pubkey(x.get(), key);
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("diffkeeper"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  return x;
}

}  // namespace

Result<KeyPair> NewCertificateAuthority(const std::string& common_name,
                                        std::chrono::seconds validity, SystemTime now) {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return Status::Internal("EC key generation failed: " + SslError());
  DK_ASSIGN_OR_RETURN(X509Ptr x,
                      NewCert(key.get(), common_name, now - std::chrono::hours(1), now + validity));
  X509_set_issuer_name(x.get(), X509_get_subject_name(x.get()));
  if (!AddExt(x.get(), x.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
      !AddExt(x.get(), x.get(), NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature") ||
      !AddExt(x.get(), x.get(), NID_subject_key_identifier, "hash")) {
    return Status::Internal("CA extensions: " + SslError());
  }
  if (X509_sign(x.get(), key.get(), EVP_sha256()) == 0) {
    return Status::Internal("signing the CA: " + SslError());
  }
  return KeyPair{CertPem(x.get()), KeyPem(key.get())};
}

Result<KeyPair> IssueServingCertificate(const KeyPair& ca, const std::vector<std::string>& hosts,
                                        std::chrono::seconds validity, SystemTime now) {
  if (hosts.empty()) return Status::InvalidArgument("a serving certificate needs a host name");
  X509Ptr ca_cert = ReadCert(ca.cert_pem);
  PkeyPtr ca_key = ReadKey(ca.key_pem);
  if (!ca_cert || !ca_key)
    return Status::InvalidArgument("the CA certificate or key does not parse");
  if (X509_check_private_key(ca_cert.get(), ca_key.get()) != 1) {
    ERR_clear_error();
    return Status::InvalidArgument("the CA key does not match the CA certificate");
  }
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return Status::Internal("EC key generation failed: " + SslError());
  SystemTime not_after = now + validity;
  SystemTime ca_expiry = FromAsn1(X509_get0_notAfter(ca_cert.get()));
  if (not_after > ca_expiry) not_after = ca_expiry;
  DK_ASSIGN_OR_RETURN(X509Ptr x,
                      NewCert(key.get(), hosts.front(), now - std::chrono::hours(1), not_after));
  X509_set_issuer_name(x.get(), X509_get_subject_name(ca_cert.get()));
  std::string san;
  for (const auto& h : hosts) {
    if (!san.empty()) san += ",";
    san += (IsIp(h) ? "IP:" : "DNS:") + h;
  }
  if (!AddExt(x.get(), ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE") ||
      !AddExt(x.get(), ca_cert.get(), NID_key_usage, "critical,digitalSignature") ||
      !AddExt(x.get(), ca_cert.get(), NID_ext_key_usage, "serverAuth") ||
      !AddExt(x.get(), ca_cert.get(), NID_authority_key_identifier, "keyid:always") ||
      !AddExt(x.get(), ca_cert.get(), NID_subject_alt_name, san)) {
    return Status::InvalidArgument("serving certificate extensions (hosts " + san +
                                   "): " + SslError());
  }
  if (X509_sign(x.get(), ca_key.get(), EVP_sha256()) == 0) {
    return Status::Internal("signing the serving certificate: " + SslError());
  }
  return KeyPair{CertPem(x.get()), KeyPem(key.get())};
}

Result<CertInfo> InspectCertificate(const std::string& pem) {
  X509Ptr x = ReadCert(pem);
  if (!x) return Status::InvalidArgument("no PEM certificate could be parsed");
  CertInfo info;
  char cn[256] = {0};
  X509_NAME_get_text_by_NID(X509_get_subject_name(x.get()), NID_commonName, cn, sizeof(cn));
  info.common_name = cn;
  info.not_before = FromAsn1(X509_get0_notBefore(x.get()));
  info.not_after = FromAsn1(X509_get0_notAfter(x.get()));
  info.is_ca = X509_check_ca(x.get()) != 0;
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(x.get(), NID_subject_alt_name, nullptr, nullptr));
  if (names != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
      if (n->type == GEN_DNS) {
        const unsigned char* d = ASN1_STRING_get0_data(n->d.dNSName);
        info.dns_names.emplace_back(reinterpret_cast<const char*>(d),
                                    static_cast<size_t>(ASN1_STRING_length(n->d.dNSName)));
      } else if (n->type == GEN_IPADD) {
        int len = ASN1_STRING_length(n->d.iPAddress);
        const unsigned char* d = ASN1_STRING_get0_data(n->d.iPAddress);
        char buf[64] = {0};
        inet_ntop(len == 4 ? AF_INET : AF_INET6, d, buf, sizeof(buf));
        info.ip_addresses.emplace_back(buf);
      }
    }
    GENERAL_NAMES_free(names);
  }
  ERR_clear_error();
  return info;
}

bool VerifiesWith(const std::string& cert_pem, const std::string& signer_pem, SystemTime now) {
  X509Ptr cert = ReadCert(cert_pem);
  X509Ptr signer = ReadCert(signer_pem);
  if (!cert || !signer) return false;
  EVP_PKEY* pub = X509_get0_pubkey(signer.get());
  bool ok = pub != nullptr && X509_verify(cert.get(), pub) == 1;
  time_t t = ToTimeT(now);
  ok = ok && X509_cmp_time(X509_get0_notBefore(cert.get()), &t) < 0 &&
       X509_cmp_time(X509_get0_notAfter(cert.get()), &t) > 0;
  ERR_clear_error();
  return ok;
}

bool KeyMatches(const std::string& cert_pem, const std::string& key_pem) {
  X509Ptr cert = ReadCert(cert_pem);
  PkeyPtr key = ReadKey(key_pem);
  bool ok = cert && key && X509_check_private_key(cert.get(), key.get()) == 1;
  ERR_clear_error();
  return ok;
}

}  // namespace dk::op
