#include "libreplica/layout.h"

#include <cstdio>

namespace dk::replica {
namespace {

constexpr std::string_view kObjects = "objects/";
constexpr std::string_view kManifests = "manifests/";
constexpr std::string_view kHeads = "heads/";
constexpr std::string_view kManifestExt = ".dkm";
constexpr std::string_view kHeadExt = ".json";

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

std::string SetDigits(uint64_t set) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%020llu", static_cast<unsigned long long>(set));
  return buf;
}

// Well-formed UTF-8 (no overlongs, surrogates or code points above U+10FFFF): S3 keys are UTF-8.
bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    int n;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) {
      n = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;
    for (int k = 1; k <= n; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    static constexpr uint32_t kMin[4] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

bool StripPrefix(std::string_view* s, std::string_view p) {
  if (s->substr(0, p.size()) != p) return false;
  s->remove_prefix(p.size());
  return true;
}

bool StripSuffix(std::string_view* s, std::string_view p) {
  if (s->size() < p.size() || s->substr(s->size() - p.size()) != p) return false;
  s->remove_suffix(p.size());
  return true;
}

}  // namespace

Status ValidateIdentity(std::string_view identity) {
  if (identity.empty()) return Status::InvalidArgument("identity is empty");
  if (identity.size() > kMaxIdentityLength) {
    return Status::InvalidArgument("identity is longer than " + std::to_string(kMaxIdentityLength) +
                                   " bytes");
  }
  for (unsigned char c : identity) {
    if (c < 0x20 || c == 0x7f || c == '\\') {
      return Status::InvalidArgument("identity \"" + std::string(identity) +
                                     "\" holds a control character or backslash");
    }
  }
  if (!IsValidUtf8(identity)) {
    return Status::InvalidArgument("identity is not valid UTF-8");
  }
  size_t start = 0;
  while (start <= identity.size()) {
    size_t end = identity.find('/', start);
    if (end == std::string_view::npos) end = identity.size();
    std::string_view seg = identity.substr(start, end - start);
    if (seg.empty() || seg == "." || seg == "..") {
      return Status::InvalidArgument("identity \"" + std::string(identity) +
                                     "\" has an empty, \".\" or \"..\" segment");
    }
    start = end + 1;
  }
  return Status::Ok();
}

BucketLayout::BucketLayout(std::string_view prefix) : prefix_(prefix) {
  if (!prefix_.empty() && prefix_.back() != '/') prefix_ += '/';
}

std::string BucketLayout::ObjectKey(const ObjectId& id) const {
  const std::string hex = id.Hex();
  return prefix_ + std::string(kObjects) + hex.substr(0, 2) + "/" + hex;
}

std::string BucketLayout::ObjectsPrefix() const { return prefix_ + std::string(kObjects); }

std::string BucketLayout::ManifestKey(std::string_view identity, uint64_t set) const {
  return prefix_ + ManifestRelKey(identity, set);
}

std::string BucketLayout::ManifestRelKey(std::string_view identity, uint64_t set) {
  return std::string(kManifests) + std::string(identity) + "/" + SetDigits(set) +
         std::string(kManifestExt);
}

std::string BucketLayout::ManifestsPrefix(std::string_view identity) const {
  return prefix_ + std::string(kManifests) + std::string(identity) + "/";
}

std::string BucketLayout::ManifestsPrefix() const { return prefix_ + std::string(kManifests); }

std::string BucketLayout::HeadKey(std::string_view identity) const {
  return prefix_ + std::string(kHeads) + std::string(identity) + std::string(kHeadExt);
}

std::string BucketLayout::HeadsPrefix() const { return prefix_ + std::string(kHeads); }

std::string BucketLayout::GcClockKey() const { return prefix_ + "gc/clock"; }

std::optional<ObjectId> BucketLayout::ParseObjectKey(std::string_view key) const {
  if (!StripPrefix(&key, prefix_) || !StripPrefix(&key, kObjects)) return std::nullopt;
  if (key.size() != 2 + 1 + 64 || key[2] != '/') return std::nullopt;
  std::string_view hex = key.substr(3);
  for (char c : hex) {
    if (!IsLowerHex(c)) return std::nullopt;
  }
  if (hex.substr(0, 2) != key.substr(0, 2)) return std::nullopt;
  return ObjectId::FromHex(hex);
}

std::optional<ManifestName> BucketLayout::ParseManifestKey(std::string_view key) const {
  if (!StripPrefix(&key, prefix_) || !StripPrefix(&key, kManifests)) return std::nullopt;
  if (!StripSuffix(&key, kManifestExt)) return std::nullopt;
  const size_t slash = key.rfind('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::string_view digits = key.substr(slash + 1);
  if (digits.size() != kSetDigits) return std::nullopt;
  uint64_t set = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (set > (UINT64_MAX - d) / 10) return std::nullopt;
    set = set * 10 + d;
  }
  std::string_view identity = key.substr(0, slash);
  if (!ValidateIdentity(identity).ok()) return std::nullopt;
  return ManifestName{std::string(identity), set};
}

std::optional<std::string> BucketLayout::ParseHeadKey(std::string_view key) const {
  if (!StripPrefix(&key, prefix_) || !StripPrefix(&key, kHeads)) return std::nullopt;
  if (!StripSuffix(&key, kHeadExt)) return std::nullopt;
  if (!ValidateIdentity(key).ok()) return std::nullopt;
  return std::string(key);
}

}  // namespace dk::replica
