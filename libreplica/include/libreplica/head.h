// Head: the pointer from an identity to its newest replicated capture set, stored as
// <prefix>heads/<identity>.json — the only object in the bucket that is ever overwritten.
// It is written last, after the set's objects and manifest (libreplica/FORMAT.md), so a head
// never names a manifest or a chunk that is not in the bucket.
//
//   {"format":1,"set":42,"root":"<64 hex>","time":"2024-05-01T12:00:00.5Z",
//    "manifest":"manifests/<identity>/00000000000000000042.dkm",
//    "manifestSha256":"<64 hex>","sourceSet":42,"writer":"node-a",
//    "replicated":"2024-05-01T12:00:03Z"}
//
// `set`, `root`, `time` (the capture time) and `manifest` (the manifest's key relative to the
// prefix) are required; readers ignore fields they do not know. `manifestSha256` is the SHA-256
// of the manifest object's bytes: the manifest's Merkle root covers each entry's path, type,
// mode, size and content root but not its mtime or owner, so a reader that comes through the
// head checks the whole object.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "libstate/hash.h"
#include "libstate/result.h"

namespace dk::replica {

inline constexpr size_t kMaxHeadSize = 64 * 1024;

struct Head {
  uint64_t set = 0;           // the set's number in the bucket
  ObjectId root;              // Merkle root of the set (as in its manifest)
  int64_t time_ns = 0;        // capture time of the set
  std::string manifest;       // key of the manifest, relative to the prefix
  ObjectId manifest_sha256;   // SHA-256 of the manifest object (zero = not recorded)
  uint64_t source_set = 0;    // the set's number in the writer's local store (0 = unknown)
  std::string writer;         // who wrote it (e.g. the node name); may be empty
  int64_t replicated_ns = 0;  // when the head was written (writer's clock; 0 = unknown)

  bool operator==(const Head&) const = default;
};

// The JSON text of `h` (one line, no trailing newline).
std::string EncodeHead(const Head& h);
// Parses a head. Corruption (naming the field) when the text is not JSON, larger than
// kMaxHeadSize, or a required field is missing or of the wrong type or form.
Result<Head> DecodeHead(std::string_view json);

// RFC 3339 in UTC: "2024-05-01T12:00:00Z", with a fraction of up to 9 digits (trailing zeros
// dropped) when `ns` is not a whole second.
std::string FormatRfc3339(int64_t ns);
// Parses RFC 3339 / ISO 8601 ("2024-05-01T12:00:00Z", "…T12:00:00.123Z", "…T14:00:00+02:00")
// to nanoseconds since the epoch; InvalidArgument otherwise.
Result<int64_t> ParseRfc3339(std::string_view s);
// Parses an HTTP date (RFC 1123, "Wed, 01 May 2024 12:00:00 GMT"); InvalidArgument otherwise.
Result<int64_t> ParseHttpDate(std::string_view s);

}  // namespace dk::replica
