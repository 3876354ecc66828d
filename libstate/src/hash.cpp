#include "libstate/hash.h"

#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>

namespace dk {
namespace {
int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
EVP_MD_CTX* Ctx(void* p) { return static_cast<EVP_MD_CTX*>(p); }
// SHA-256 fetched once: EVP_sha256() is an implicit fetch (a provider lookup under a lock)
// on every EVP_Digest call, a few percent of hashing a small file. Never freed (process
// lifetime, still reachable).
const EVP_MD* Sha256Md() {
  static const EVP_MD* const md = [] {
    const EVP_MD* m = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return m ? m : EVP_sha256();
  }();
  return md;
}
}  // namespace

std::string ObjectId::Hex() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(64, '0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 15];
  }
  return out;
}

std::optional<ObjectId> ObjectId::FromHex(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  ObjectId id;
  for (size_t i = 0; i < 32; ++i) {
    int hi = HexVal(hex[2 * i]), lo = HexVal(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    id.bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return id;
}

bool ObjectId::IsZero() const {
  for (uint8_t b : bytes)
    if (b) return false;
  return true;
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(Ctx(ctx_), Sha256Md(), nullptr) != 1) {
    std::fprintf(stderr, "OpenSSL EVP SHA-256 initialisation failed\n");
    std::abort();
  }
}
Sha256::~Sha256() { EVP_MD_CTX_free(Ctx(ctx_)); }

void Sha256::Update(ByteView data) {
  if (!data.empty()) EVP_DigestUpdate(Ctx(ctx_), data.data(), data.size());
}

ObjectId Sha256::Finish() {
  ObjectId id;
  unsigned int len = 0;
  EVP_DigestFinal_ex(Ctx(ctx_), id.bytes.data(), &len);
  EVP_DigestInit_ex(Ctx(ctx_), Sha256Md(), nullptr);  // reusable
  return id;
}

ObjectId HashBytes(ByteView data) {
  ObjectId id;
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), id.bytes.data(), &len, Sha256Md(), nullptr);
  return id;
}

}  // namespace dk
