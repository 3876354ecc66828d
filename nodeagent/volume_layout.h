// VolumeLayout: where on the host the protected paths of a pod are, and how their files are
// named in the pod's store (docs/protocol.md, "Capture").
//
// A store captures one directory tree (one capture set = one Merkle root over all protected
// files), so a pod's protected paths must share one capture root:
//
//   kVolumes  every protected path is a disk-backed emptyDir volume: the root is the pod's
//             emptyDir plugin directory <kubelet-root>/pods/<uid>/volumes/kubernetes.io~empty-dir
//             and store paths are "<volume>/<subPath>/<relative path>"; files of other volumes
//             and outside the subPaths are filtered out (their directories are excluded too).
//   kSingle   exactly one protected path of another kind (hostPath, a memory-backed emptyDir,
//             which is a tmpfs mount): the root is that directory and store paths are relative
//             to it.
//
// Anything else (two paths of different kinds; PVC, configMap, secret… volumes) is refused with
// a message saying why — libstate has no multi-root capture yet. Include/exclude globs of a path
// are relative to it and are rewritten relative to the root (a glob without '/' keeps matching
// the base name at any depth below the path).
//
// Pure logic; Pin() is the only part that touches the filesystem.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent_policy.h"
#include "libstate/options.h"
#include "libstate/result.h"
#include "pinned_dir.h"

namespace dk::agent {

enum class LayoutKind { kVolumes, kSingle };
std::string_view LayoutKindName(LayoutKind k);

struct LayoutOptions {
  std::string kubelet_root;  // e.g. /var/lib/kubelet
  std::string host_root;     // prefix of hostPath paths as the agent sees them ("" = as is)
};

struct VolumeLayout {
  LayoutKind kind = LayoutKind::kVolumes;
  std::string base;        // trusted absolute base directory
  std::string volume_rel;  // beneath base: the volume (or plugin) directory; mounts allowed
  std::string sub_rel;     // beneath that: the subPath (kSingle only); no mounts, no symlinks
  std::vector<std::string> scopes;  // store-path prefixes protected ("" = the whole root)
  CaptureFilter filter;
  std::string volume;    // kSingle: the one protected volume
  std::string sub_path;  // kSingle: its subPath

  // "<base>/<volume_rel>[/<sub_rel>]"
  std::string HostPath() const;
  bool operator==(const VolumeLayout& o) const {
    return kind == o.kind && base == o.base && volume_rel == o.volume_rel && sub_rel == o.sub_rel &&
           scopes == o.scopes && filter.include == o.filter.include &&
           filter.exclude == o.filter.exclude && volume == o.volume && sub_path == o.sub_path;
  }

  // Opens the root safely (pinned_dir.h). `create` creates a missing subPath (restore targets).
  Result<PinnedDir> Pin(bool create) const;

  // Maps StateRestore spec.paths ("<volume>/<path>", relative to the volume) to store paths.
  // InvalidArgument for a path outside the protected paths.
  Result<std::vector<std::string>> StorePaths(const std::vector<std::string>& volume_paths) const;
};

// The layout of `pod` (a Pod object) for `policy`'s paths. InvalidArgument / FailedPrecondition
// with a message fit for a status (which volume, why) when the paths cannot be captured.
Result<VolumeLayout> ResolveLayout(const nlohmann::json& pod, const AgentPolicy& policy,
                                   const LayoutOptions& options);

// Rewrites a glob relative to `prefix` ("" = unchanged) as a glob relative to the root.
std::string PrefixGlob(const std::string& prefix, const std::string& glob);

}  // namespace dk::agent
