// Restore markers: the out-of-band completion signal the restore-wait init container waits for
// (docs/protocol.md, "The restore gate", step 4).
//
// One file per pod UID: <marker-dir>/<pod-uid>, JSON
//   {"result":"restored"|"empty"|"failed","message":"…","set":N,"root":"<hex>",
//    "restore":"<ns>/<StateRestore>","time":"<RFC 3339>"}
// Crash ordering: written to a temporary file in the same directory, fsync'd, renamed over the
// final name, then the directory is fsync'd — a reader sees no marker or a complete one. The
// marker is written before the StateRestore status, so a crash in between is repaired on
// restart from the marker (never by restoring again). Markers never live in user data.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "libstate/result.h"

namespace dk::agent {

enum class MarkerResult { kRestored, kEmpty, kFailed };
std::string_view MarkerResultName(MarkerResult r);

struct RestoreMarker {
  MarkerResult result = MarkerResult::kEmpty;
  std::string message;
  uint64_t set = 0;
  std::string root;     // hex Merkle root of the restored set ("" when none)
  std::string restore;  // "<ns>/<name>" of the StateRestore
  std::string time;     // RFC 3339
};

// InvalidArgument for a pod UID that is not [0-9a-fA-F-]{1,64}.
Status ValidatePodUid(const std::string& uid);

// Writes the marker of `pod_uid` (creating `marker_dir` 0755 when absent) as described above.
Status WriteMarker(const std::string& marker_dir, const std::string& pod_uid,
                   const RestoreMarker& marker);
// nullopt when there is no marker; Corruption when it cannot be parsed.
Result<std::optional<RestoreMarker>> ReadMarker(const std::string& marker_dir,
                                                const std::string& pod_uid);
// Removes markers of pods that are not in `live_uids` and older than `min_age_seconds`.
// Returns how many were removed.
size_t PruneMarkers(const std::string& marker_dir, const std::vector<std::string>& live_uids,
                    int64_t min_age_seconds);

// RFC 3339 UTC with seconds ("2026-11-27T12:00:00Z") of a wall-clock time in ns.
std::string Rfc3339(int64_t ns);

}  // namespace dk::agent
