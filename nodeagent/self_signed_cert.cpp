#include "self_signed_cert.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <memory>
#include <sstream>

#include "pinned_dir.h"

namespace dk::agent {
namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
template <typename T>
using Ptr = std::unique_ptr<T, Free>;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// True when `pem` parses and stays valid for at least 30 more days.
bool StillGood(const std::string& pem) {
  Ptr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return false;
  Ptr<X509> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return false;
  time_t soon = time(nullptr) + 30 * 24 * 3600;
  return X509_cmp_time(X509_get0_notAfter(cert.get()), &soon) > 0;
}

Status AddExt(X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  Ptr<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1)
    return Status::Internal("certificate extension " + value);
  return Status::Ok();
}

Status WriteFile(const std::string& path, const std::string& data, mode_t mode) {
  std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) return Status::FromErrno(errno, "create " + tmp);
  chmod(tmp.c_str(), mode);
  bool ok = std::fwrite(data.data(), 1, data.size(), f) == data.size();
  ok = std::fflush(f) == 0 && ok;
  ok = fsync(fileno(f)) == 0 && ok;
  std::fclose(f);
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    unlink(tmp.c_str());
    return Status::IOError("write " + path);
  }
  return Status::Ok();
}

}  // namespace

Result<CertFiles> EnsureSelfSignedCert(const std::string& dir, const std::string& ip) {
  CertFiles out;
  out.cert_file = dir + "/agent.crt";
  out.key_file = dir + "/agent.key";
  DK_RETURN_IF_ERROR(MakeDirs(dir, 0700));
  std::string existing = ReadAll(out.cert_file);
  struct stat st;
  if (!existing.empty() && stat(out.key_file.c_str(), &st) == 0 && StillGood(existing)) {
    out.cert_pem = existing;
    return out;
  }
  Ptr<EVP_PKEY> key(EVP_EC_gen("P-256"));
  if (!key) return Status::Internal("generating an EC key failed");
  Ptr<X509> cert(X509_new());
  if (!cert) return Status::Internal("X509_new failed");
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 365L * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("diffkeeper-agent"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  std::string san = "DNS:diffkeeper-agent";
  if (!ip.empty()) san += ",IP:" + ip;
  DK_RETURN_IF_ERROR(AddExt(cert.get(), NID_subject_alt_name, san));
  DK_RETURN_IF_ERROR(AddExt(cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0"));
  DK_RETURN_IF_ERROR(AddExt(cert.get(), NID_key_usage, "critical,digitalSignature,keyCertSign"));
  DK_RETURN_IF_ERROR(AddExt(cert.get(), NID_ext_key_usage, "serverAuth"));
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0)
    return Status::Internal("signing the certificate failed");
  Ptr<BIO> kb(BIO_new(BIO_s_mem()));
  Ptr<BIO> cb(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_PrivateKey(kb.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) ||
      !PEM_write_bio_X509(cb.get(), cert.get()))
    return Status::Internal("encoding the certificate failed");
  char* p = nullptr;
  long n = BIO_get_mem_data(kb.get(), &p);
  std::string key_pem(p, static_cast<size_t>(n));
  n = BIO_get_mem_data(cb.get(), &p);
  out.cert_pem.assign(p, static_cast<size_t>(n));
  DK_RETURN_IF_ERROR(WriteFile(out.key_file, key_pem, 0600));
  DK_RETURN_IF_ERROR(WriteFile(out.cert_file, out.cert_pem, 0644));
  return out;
}

}  // namespace dk::agent
