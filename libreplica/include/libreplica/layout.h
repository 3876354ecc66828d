// BucketLayout: the names of DiffKeeper's objects in a bucket (libreplica/FORMAT.md).
//
//   <prefix>objects/<2 hex>/<64 hex id>                 chunk content, zstd (shared by all)
//   <prefix>manifests/<identity>/<20-digit set>.dkm     EncodeManifest(...), immutable
//   <prefix>heads/<identity>.json                       the one mutable object per identity
//   <prefix>gc/clock                                    written by bucket GC to read the time
//
// An identity is `<namespace>/<statefulset>/<ordinal>` or any other string that passes
// ValidateIdentity. The prefix is "" or ends in '/' (a missing '/' is added).
//
// Thread safety: immutable after construction; all methods are const and pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "libstate/hash.h"
#include "libstate/status.h"

namespace dk::replica {

inline constexpr size_t kMaxIdentityLength = 512;
inline constexpr int kSetDigits = 20;  // enough for any uint64_t

// OK when `identity` can name objects: 1..512 bytes, '/'-separated segments that are neither
// empty, "." nor "..", no control characters (bytes < 0x20 or 0x7f) and no backslash.
// InvalidArgument naming the problem otherwise.
Status ValidateIdentity(std::string_view identity);

// A manifest key, parsed.
struct ManifestName {
  std::string identity;
  uint64_t set = 0;
};

class BucketLayout {
 public:
  // `prefix` "" puts everything at the bucket's top level; "team-a/dk" becomes "team-a/dk/".
  explicit BucketLayout(std::string_view prefix = "");

  const std::string& prefix() const { return prefix_; }

  // <prefix>objects/ab/abcdef… for the object with id `id`.
  std::string ObjectKey(const ObjectId& id) const;
  // <prefix>objects/ (everything chunk content lives under).
  std::string ObjectsPrefix() const;
  // <prefix>manifests/<identity>/00000000000000000042.dkm
  std::string ManifestKey(std::string_view identity, uint64_t set) const;
  // The same key without the prefix (what a head records).
  static std::string ManifestRelKey(std::string_view identity, uint64_t set);
  // <prefix>manifests/<identity>/ (the manifests of one identity), or <prefix>manifests/ (all).
  std::string ManifestsPrefix(std::string_view identity) const;
  std::string ManifestsPrefix() const;
  // <prefix>heads/<identity>.json
  std::string HeadKey(std::string_view identity) const;
  std::string HeadsPrefix() const;
  // <prefix>gc/clock
  std::string GcClockKey() const;

  // The id named by an object key (with the prefix), or nullopt when `key` is not exactly
  // ObjectKey(id) for some id (wrong fan-out directory, uppercase hex, extra characters).
  std::optional<ObjectId> ParseObjectKey(std::string_view key) const;
  // The identity and set of a manifest key (with the prefix), or nullopt when `key` is not
  // ManifestKey(identity, set) for a valid identity.
  std::optional<ManifestName> ParseManifestKey(std::string_view key) const;
  // The identity of a head key (with the prefix), or nullopt.
  std::optional<std::string> ParseHeadKey(std::string_view key) const;

 private:
  std::string prefix_;
};

}  // namespace dk::replica
