// Settings of a store. Parsed and validated once (Validate) and then passed by value.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "libstate/chunker.h"
#include "libstate/logger.h"
#include "libstate/status.h"

namespace dk {

// Which delta engine encodes a changed chunk against its predecessor: auto tries zstd
// patch-from and, for a chunk of its predecessor's size, the sparse XOR, and keeps the smaller
// (storage_policy.h); the others use that one engine or none.
enum class DeltaChoice { kAuto, kBsdiff, kZstd, kNone };

// Source of wall-clock time (nanoseconds since the epoch); a seam for tests.
using ClockFn = std::function<int64_t()>;
int64_t SystemClockNs();

struct StoreOptions {
  ChunkerParams chunker;         // fixed when the store is created
  uint32_t snapshot_every = 10;  // every Nth version of a file is stored without deltas; 0=never
  uint32_t max_chain = 16;       // a delta chain (patches to apply on restore) never exceeds it
  DeltaChoice delta = DeltaChoice::kAuto;
  uint32_t delta_min_size = 128;    // chunks smaller than this are stored whole
  double delta_max_ratio = 0.6;     // keep a delta only if <= ratio * whole compressed size
  int zstd_level = 3;               // whole objects
  int delta_zstd_level = 9;         // patch-from and sparse XOR deltas
  uint64_t map_size = 64ull << 30;  // LMDB map size: the store's maximum size
  // A file changed within this time before a capture is read again by the next capture even
  // if its size and times look unchanged: a rewrite in the same timestamp tick leaves them
  // equal, and ticks are as coarse as a jiffy (or 1-2 s on some filesystems). 0 trusts stat.
  int64_t racy_window_ns = 2'000'000'000;
  bool sync = true;          // fsync on every commit (crash-durable acknowledgements)
  Logger* logger = nullptr;  // not owned; nullptr = NullLogger()
  ClockFn clock;             // empty = SystemClockNs

  Status Validate() const;
};

// What a capture looks at: globs are matched against paths relative to the root
// ("a/b.txt"); `*` does not cross '/', `**` does. Empty include = everything.
struct CaptureFilter {
  std::vector<std::string> include;
  std::vector<std::string> exclude;

  // True when `path` is left out: it matches an exclude glob, or includes are given and a
  // file matches none of them (directories are always walked so included files below
  // them are found).
  bool Excludes(std::string_view path, bool is_dir) const;
};

// Matches `path` against a glob as described above.
bool GlobMatch(std::string_view glob, std::string_view path);

// Retention: a version is kept if it is one of the newest `keep_last` of its file or newer
// than `keep_within_ns` (the version in effect at that cut-off is kept too, so any point in
// the window restores). Zero disables a rule; both zero keeps everything.
struct RetentionPolicy {
  uint32_t keep_last = 0;
  int64_t keep_within_ns = 0;
  bool compact = true;  // rewrite the data file so the store shrinks on disk
  // When > 0, whole objects stored at a lower zstd level are recompressed at this level
  // (captures stay fast at StoreOptions::zstd_level; data at rest gets smaller).
  int recompress_level = 0;
};

struct Progress {
  std::string phase;  // "capture", "restore", "verify", "gc"
  uint64_t done = 0;
  uint64_t total = 0;  // 0 when unknown
  std::string item;
};
using ProgressFn = std::function<void(const Progress&)>;

}  // namespace dk
