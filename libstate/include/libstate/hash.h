// SHA-256 content ids (OpenSSL EVP). An ObjectId names an object by the hash of its
// uncompressed bytes; it is the only key of the object store.
// Thread-safe: all functions are pure; Sha256 objects are single-threaded.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "libstate/bytes.h"

namespace dk {

struct ObjectId {
  std::array<uint8_t, 32> bytes{};

  std::string Hex() const;
  std::string ShortHex() const { return Hex().substr(0, 12); }
  // Parses 64 lowercase/uppercase hex digits; nullopt otherwise.
  static std::optional<ObjectId> FromHex(std::string_view hex);
  // Raw 32-byte key view (for LMDB keys).
  ByteView View() const { return {bytes.data(), bytes.size()}; }
  bool IsZero() const;
  auto operator<=>(const ObjectId&) const = default;
};

// Incremental SHA-256.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(ByteView data);
  ObjectId Finish();

 private:
  void* ctx_;  // EVP_MD_CTX*, kept out of this header
};

ObjectId HashBytes(ByteView data);

struct ObjectIdHash {
  size_t operator()(const ObjectId& id) const {
    size_t h;
    static_assert(sizeof(h) <= sizeof(id.bytes));
    __builtin_memcpy(&h, id.bytes.data(), sizeof(h));
    return h;
  }
};

}  // namespace dk
