// PinnedDir: a directory opened once, safely, and then named by its descriptor.
//
// Pod volume directories are under the control of the pod: between resolving a path and using
// it, a component could be swapped for a symlink to somewhere else on the host. A PinnedDir is
// opened with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV) from a trusted
// base, and libstate (capture, watch, restore) is then handed "/proc/self/fd/<n>", which the
// kernel resolves to exactly that directory, never by its path again. libstate itself resolves
// everything below the root beneath it without following symlinks.
//
// Move-only; closes the descriptor on destruction.
#pragma once

#include <string>
#include <string_view>

#include "libstate/result.h"

namespace dk::agent {

class PinnedDir {
 public:
  PinnedDir() = default;
  PinnedDir(PinnedDir&& o) noexcept;
  PinnedDir& operator=(PinnedDir&& o) noexcept;
  PinnedDir(const PinnedDir&) = delete;
  PinnedDir& operator=(const PinnedDir&) = delete;
  ~PinnedDir();

  // Opens `base` (an absolute path the agent trusts: the kubelet root, a hostPath) and then
  // `rel` beneath it, one component at a time, never following a symlink and — unless
  // `allow_mounts` (kubelet-made volume mounts: tmpfs, CSI) — never entering a mount point.
  // `create` makes missing components of `rel` (mode 0755) beneath base.
  // NotFound when a component is missing (and !create); PermissionDenied when `rel` leads
  // through a symlink, a mount point or a non-directory; InvalidArgument for "..", absolute or
  // empty components.
  static Result<PinnedDir> Open(const std::string& base, std::string_view rel, bool create,
                                bool allow_mounts = false);
  // The same, starting from this directory.
  Result<PinnedDir> Child(std::string_view rel, bool create, bool allow_mounts = false) const;

  bool valid() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  // "/proc/self/fd/<n>": what libstate is given.
  std::string ProcPath() const;
  // The path it was opened by (for messages only; never used to access it).
  const std::string& display() const { return display_; }
  // True while the directory is still linked into the filesystem (not removed).
  bool Linked() const;

 private:
  static PinnedDir Adopt(int fd, std::string display);
  int fd_ = -1;
  std::string display_;
};

// Creates `path` and its missing parents (like mkdir -p) with `mode`. OK when it exists.
Status MakeDirs(const std::string& path, unsigned mode = 0755);

// Checks that `rel` is relative, without "." / ".." / empty components and without NUL.
Status CheckCleanRelPath(std::string_view rel);

}  // namespace dk::agent
