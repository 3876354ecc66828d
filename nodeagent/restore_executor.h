// RestoreExecutor: carries out one restore into a pod's volume directories (docs/protocol.md,
// "The restore gate", steps 3-4).
//
// One attempt, Run():
//  1. A marker for the pod UID already exists → the restore happened before (perhaps the agent
//     died before writing the status): its outcome is returned, nothing is restored again.
//  2. The source: for "the latest state", the first candidate (the node whose report has the
//     latest capture; this node's own store is a candidate like any other); for a capture set or
//     a point in time, the first candidate that has it. The manifest is fetched and decoded
//     (which verifies its Merkle root) and, when the candidate reported that set, its root must
//     be the reported one. When no candidate has it and the job has a bucket (policy storage
//     S3), the bucket is the last source: for the latest state its head (the manifest checked
//     against the head's set, root and SHA-256) — but when the first candidate could not be
//     reached, only if the head holds that candidate's state (same root) or a later one; an
//     older state is never restored silently. For a set or time, SelectManifest (bucket set
//     numbers). No state anywhere → "no captured state; starting empty"; a bucket that cannot
//     be read (and no node has the state) is retried like an unreachable node.
//  3. The target: the pod's volume layout, pinned (pinned_dir.h). A volume that already holds
//     files newer than the captured state is left untouched (never overwrite newer data).
//  4. RestoreManifest: every chunk verified against its id, every file against its root and
//     hash, written to a temporary file and renamed into place, with mode, mtime and owner.
//     Chunks from a peer or the bucket go through a spool (chunk_sources.h), so a retried
//     restore fetches only what it misses; chunks this node already has are not fetched at
//     all. Bucket chunks are prefetched in restore order, each checked against its id.
//  5. The marker is written (restored | empty | failed) and the outcome returned.
// Retryable conditions (target volume not set up yet, peer unreachable) return with
// `retryable` set and no marker: the caller retries within its deadline and then calls
// Fail() to write a "failed" marker with the reason.
//
// Thread-safe: restores of different pods may run concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "libreplica/bucket.h"
#include "libstate/logger.h"
#include "peer_client.h"
#include "pod_identity.h"
#include "restore_marker.h"
#include "store_registry.h"
#include "volume_layout.h"

namespace dk::agent {

// A node that has (had) state for the identity, from the node reports.
struct SourceCandidate {
  std::string node;         // the node's name
  bool local = false;       // this node
  std::string endpoint;     // its peer API (remote only)
  std::string certificate;  // the certificate it published (PEM), pinned when no CA is set
  int64_t last_capture_ns = 0;
  uint64_t last_set = 0;
  std::string last_root;  // hex, as reported
};

// The bucket of the identity's policy (storage S3).
struct BucketSource {
  std::string prefix;    // spec.storage.s3.prefix
  std::string describe;  // for messages, e.g. "s3 bucket dk at http://…"
  // A client for this restore attempt (reads the credentials now).
  std::function<Result<std::unique_ptr<replica::Bucket>>()> open;
};

struct RestoreJob {
  std::string restore;  // "<ns>/<name>" of the StateRestore (for the marker and logs)
  PodIdentity id;
  std::string pod_uid;
  VolumeLayout layout;  // of the pod restored into
  std::optional<uint64_t> set;
  std::optional<int64_t> time_ns;
  std::vector<std::string> volume_paths;    // spec.paths ("<volume>/<path>"); empty = all
  std::vector<SourceCandidate> candidates;  // best first
  std::optional<BucketSource> bucket;       // the last source, when the policy has one
};

struct RestoreOutcome {
  bool done = false;            // finished (marker written); false = retry later
  bool succeeded = false;       // when done
  std::string source = "none";  // local | peer:<node> | bucket | none
  std::string message;
  uint64_t files = 0, bytes = 0, set = 0;
  std::string root;  // hex of the restored set's verified root
  double seconds = 0;
  MarkerResult marker = MarkerResult::kFailed;
};

struct RestoreExecutorOptions {
  std::string marker_dir;
  std::string spool_dir;
  std::string node_name;
};

class RestoreExecutor {
 public:
  RestoreExecutor(RestoreExecutorOptions options, StoreRegistry* registry, PeerConnector connect,
                  Logger* logger);

  RestoreOutcome Run(const RestoreJob& job);
  // Gives up on a job: writes a "failed" marker with `reason` (unless a marker exists).
  RestoreOutcome Fail(const RestoreJob& job, const std::string& reason);

 private:
  RestoreOutcome FromMarker(const RestoreMarker& m);
  RestoreOutcome Finish(const RestoreJob& job, RestoreOutcome o);

  const RestoreExecutorOptions options_;
  StoreRegistry* const registry_;
  const PeerConnector connect_;
  Logger* const log_;
};

// Newest mtime (ns) of the regular files below `dir` restricted to `scopes` ("" = all), and
// how many there are. Symlinks are not followed; mount points are not entered.
struct TreeAge {
  uint64_t files = 0;
  int64_t newest_mtime_ns = 0;
  std::string newest;
};
TreeAge ScanTreeAge(const PinnedDir& dir, const std::vector<std::string>& scopes);

}  // namespace dk::agent
