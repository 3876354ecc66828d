// SetManifest: the portable description of one capture set — every entry live at that set
// with its version record, plus the paths the store knows that were absent then. It is what
// travels between nodes and to object storage; chunks travel separately, by id.
//
// Encoding (EncodeManifest): "DKM1", then records in the store's version encoding; DecodeManifest
// checks the Merkle root over the entries against the recorded root, so a manifest cannot be
// altered without detection. RestoreManifest checks each file's chunk list against its Merkle
// root and every chunk against its id as it streams the file into a temporary file, which is
// renamed into place only when all of it verified.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "libstate/result.h"
#include "libstate/store.h"

namespace dk {

struct SetManifest {
  uint64_t set = 0;
  int64_t time_ns = 0;
  ObjectId root;
  std::vector<VersionInfo> entries;  // live at `set`, sorted by path
  std::vector<std::string> absent;   // known to the store, not live at `set`
  // Distinct chunk ids the entries need, in first-use order.
  std::vector<ObjectId> Chunks() const;
  uint64_t LogicalBytes() const;
};

std::string EncodeManifest(const SetManifest& m);
// Corruption when garbled or when the entries do not hash to the recorded root.
Result<SetManifest> DecodeManifest(std::string_view data);
// Merkle root over the manifest's entries (the capture set root).
ObjectId ManifestRoot(const std::vector<VersionInfo>& entries);

// Where restore gets chunk content. Implementations: the local store, a peer agent, an
// object-store bucket. Fetch returns the chunk's bytes; the caller verifies them against
// the id, unless the source says it already has (VerifiesIds).
class ChunkSource {
 public:
  virtual ~ChunkSource() = default;
  virtual Result<Bytes> Fetch(const ObjectId& id) = 0;
  // True only when every successful Fetch has already checked SHA-256 of the returned bytes
  // against `id` (and fails with Corruption otherwise), so the caller need not hash them again.
  virtual bool VerifiesIds() const { return false; }
};

// Writes the state described by `m` into `target` (created if absent) using chunks from
// `src`. Honours req.paths (subset) and req.restore_owner; req.set/time_ns are ignored.
// Files that fail verification are reported in failures and left untouched; the rest are
// restored. Each file is written to a temporary file and renamed into place.
Result<RestoreResult> RestoreManifest(const std::string& target, const SetManifest& m,
                                      ChunkSource& src, const RestoreRequest& req,
                                      Logger* log = nullptr);

}  // namespace dk
