// Store: every version of a set of files, content-addressed in one LMDB environment.
//
// A store lives in a directory. Capture() records the state of a directory tree as one
// capture set (one LMDB write transaction: a crash leaves the previous state or the new
// one, never half). Restore() writes a verified state back. The on-disk format is described
// in libstate/FORMAT.md.
//
// Thread safety: a Store may be used from several threads; writes are serialised internally.
// Processes: one writer at a time per store (enforced with a lock file; a second writer gets
// Unavailable); any number of read-only openers.
// Crash ordering: objects, versions, heads and the set record of one capture are written in a
// single transaction; GC deletes only objects no version references, in the transaction that
// drops the last reference; compaction writes a copy and renames it over the old file.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "libstate/hash.h"
#include "libstate/options.h"
#include "libstate/result.h"

namespace dk {

enum class EntryType : uint8_t { kFile = 1, kDir = 2, kSymlink = 3 };
enum class VersionKind : uint8_t { kSnapshot = 1, kDelta = 2, kChunked = 3, kDeleted = 4 };
std::string_view VersionKindName(VersionKind k);
std::string_view EntryTypeName(EntryType t);

struct VersionInfo {
  std::string path;
  uint64_t seq = 0;     // per file, from 1
  uint64_t set = 0;     // capture set that recorded it
  int64_t time_ns = 0;  // capture time
  EntryType type = EntryType::kFile;
  VersionKind kind = VersionKind::kSnapshot;
  uint64_t size = 0;
  uint32_t mode = 0;  // permission bits (07777)
  uint32_t uid = 0, gid = 0;
  int64_t mtime_ns = 0;
  // Symlinks: SHA-256 of the link target. Files: zero since schema 3 (the root identifies
  // the content); versions written under schema 1-2 keep the SHA-256 of the whole content.
  ObjectId content_hash;
  ObjectId root;  // Merkle root over the content's chunk ids
  std::vector<ObjectId> chunks;
  std::vector<uint32_t> chunk_sizes;
  std::string link_target;        // symlinks
  uint64_t new_stored_bytes = 0;  // bytes this version added to the store
};

struct SetInfo {
  uint64_t set = 0;
  int64_t time_ns = 0;
  ObjectId root;         // Merkle root over every live entry after this capture
  uint64_t changed = 0;  // versions recorded
  uint64_t live_entries = 0;
  uint64_t logical_bytes = 0;  // sum of live file sizes
};

struct CaptureResult {
  uint64_t set = 0;  // 0 when nothing changed (no set recorded)
  ObjectId root;
  uint64_t scanned = 0, changed = 0, deleted = 0, unchanged = 0;
  uint64_t bytes_read = 0, bytes_stored = 0;
  // Stored objects decoded to serve as delta bases (cache hits excluded): about one per
  // changed chunk per level of its delta chain; far more means the decode cache is too small.
  uint64_t objects_decoded = 0;
  std::vector<std::string> deferred;  // files that kept changing while read; capture again
  std::vector<std::string> skipped;   // unreadable entries, with the reason
};

// Which state to restore: the latest, a capture set, or a point in time (latest set at or
// before it). `paths` limits the restore to these paths and everything under them.
struct RestoreRequest {
  std::optional<uint64_t> set;
  std::optional<int64_t> time_ns;
  std::vector<std::string> paths;
  bool restore_owner = true;  // only effective when running as root
  ProgressFn progress;
};

struct RestoreFailure {
  std::string path;
  uint64_t seq = 0;
  std::string error;
};

struct RestoreResult {
  uint64_t set = 0;
  ObjectId root;  // the set's recorded root (verified entry by entry)
  uint64_t files = 0, dirs = 0, symlinks = 0, deleted = 0, bytes = 0;
  std::vector<RestoreFailure> failures;  // files that failed verification; others restored
};

struct VerifyReport {
  uint64_t objects = 0, versions = 0, sets = 0, bytes_checked = 0;
  std::vector<std::string> problems;  // empty = the store verified clean
};

struct GcReport {
  uint64_t versions_dropped = 0, objects_freed = 0, objects_rebased = 0, sets_dropped = 0;
  uint64_t recompress_saved = 0;  // bytes saved by recompression
  // Pack files that were at least a quarter garbage: live payloads copied to a new pack, then
  // removed (with packs nothing references).
  uint64_t packs_removed = 0, objects_repacked = 0;
  uint64_t bytes_before = 0, bytes_after = 0;  // data file and packs on disk
};

struct StoreStats {
  uint32_t schema_version = 0;
  std::string chunker;
  uint64_t files = 0, live_files = 0, versions = 0, sets = 0, objects = 0;
  uint64_t logical_bytes = 0;  // sum of the sizes of every recorded version
  uint64_t live_bytes = 0;     // sum of the sizes of the latest live versions
  uint64_t stored_bytes = 0;   // sum of stored (compressed/delta) object sizes
  uint64_t delta_objects = 0, full_objects = 0;
  uint64_t file_bytes = 0;  // data file on disk
  // Pack files (payloads too big for an LMDB page): how many, their size on disk, and the
  // payload bytes in them that objects still use (the rest is garbage GC reclaims).
  uint64_t packs = 0, pack_bytes = 0, packed_live_bytes = 0;
  // Where the data file's pages go: each database's B-tree (overflow pages hold values too
  // big for a leaf page), and free pages that later captures reuse. page_size bytes each.
  struct Database {
    std::string name;
    uint64_t entries = 0, pages = 0, overflow_pages = 0;
  };
  std::vector<Database> databases;
  uint64_t page_size = 0, pages = 0, free_pages = 0;
};

struct SetManifest;  // libstate/manifest.h

enum class OpenMode { kReadOnly, kReadWrite, kCreate };

constexpr uint32_t kSchemaVersion = 5;

class Store {
 public:
  virtual ~Store() = default;

  // Opens the store in directory `path`. kCreate creates it when absent. A store of an older
  // schema is migrated forward in place (one transaction) when opened for writing; read-only
  // opening gives FailedPrecondition for schema 1 and reads schema 2 as it is.
  static Result<std::unique_ptr<Store>> Open(const std::string& path, const StoreOptions& options,
                                             OpenMode mode);

  virtual Result<CaptureResult> Capture(const std::string& root, const CaptureFilter& filter,
                                        const ProgressFn& progress = {}) = 0;
  virtual Result<RestoreResult> Restore(const std::string& target, const RestoreRequest& req) = 0;
  // Every version of `path`, oldest first; NotFound if the store never saw it.
  virtual Result<std::vector<VersionInfo>> Log(const std::string& path) = 0;
  virtual Result<std::vector<SetInfo>> Sets() = 0;
  // The content of version `seq` of `path`, reconstructed and verified against its root.
  virtual Result<Bytes> ReadVersion(const std::string& path, uint64_t seq) = 0;
  virtual Result<VerifyReport> Verify(const ProgressFn& progress = {}) = 0;
  virtual Result<GcReport> Gc(const RetentionPolicy& policy) = 0;
  virtual Result<StoreStats> Stats() = 0;
  // The manifest of capture set `set` (latest when nullopt): what replication and peer
  // restore transfer. NotFound when the store has no such set.
  virtual Result<SetManifest> Manifest(std::optional<uint64_t> set) = 0;
  // One object's content, decoded and verified against its id; NotFound when absent.
  virtual Result<Bytes> ReadObject(const ObjectId& id) = 0;
  // Objects decoded from their stored form since the store was opened: every object read,
  // and every delta base decoded on the way (reads served from the decode cache are not
  // counted). Divided by the chunks read, it is the decode amplification of delta chains.
  virtual uint64_t ObjectsDecoded() const = 0;
};

}  // namespace dk
