// Filesystem access confined to a root directory (private).
//
// Every path below a root is resolved with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS),
// so neither ".." nor a symlink (planted before or during the operation) can make us read or
// write outside the root, or through a link into another directory inside it. Paths given
// here are relative ("a/b.txt"), without "." or ".." components; others are rejected with
// InvalidArgument.
#pragma once

#include <sys/stat.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "libstate/options.h"
#include "libstate/result.h"
#include "libstate/store.h"

namespace dk {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  ~UniqueFd();
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int Release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }

 private:
  int fd_ = -1;
};

// Checks that `rel` is a clean relative path.
Status CheckRelPath(std::string_view rel);

// Opens `rel` beneath `root_fd` (O_CLOEXEC added). A symlink in any component, or a path
// leaving the root, gives PermissionDenied "goes through a symlink or outside the root".
Result<UniqueFd> OpenBeneath(int root_fd, std::string_view rel, int flags, mode_t mode = 0);
Result<UniqueFd> OpenRootDir(const std::string& path);

struct ScannedEntry {
  std::string path;  // relative
  EntryType type;
  struct stat st;
  std::string link_target;
};

// Walks the tree under root_fd without following symlinks or crossing mount points;
// sockets, fifos and devices are reported in *skipped. Entries sorted by path.
Status ScanTree(int root_fd, const CaptureFilter& filter, std::vector<ScannedEntry>* out,
                std::vector<std::string>* skipped);

// Writes `content` to `rel` atomically: a temporary file beside it, fsync, rename over.
// Parent directories are created (0755 unless recorded otherwise later).
struct EntryMeta {
  uint32_t mode = 0644;
  uint32_t uid = 0, gid = 0;
  int64_t mtime_ns = 0;
  bool set_owner = false;
};
// `produce` is called once with a sink that appends bytes to the temporary file; if it (or
// the sink) fails, the temporary file is removed and the target is left untouched.
using ByteSink = std::function<Status(ByteView)>;
using ContentProducer = std::function<Status(const ByteSink&)>;
Status WriteFileAtomic(int root_fd, std::string_view rel, const ContentProducer& produce,
                       const EntryMeta& m);
Status WriteSymlinkAtomic(int root_fd, std::string_view rel, const std::string& target,
                          const EntryMeta& m);
// Makes `rel` and its parents directories; a file or symlink standing where one goes is
// replaced (removed, never followed). Applies `m` to `rel` when given.
Status EnsureDir(int root_fd, std::string_view rel, const EntryMeta* m);
// Removes `rel` (a file, symlink, or a directory tree). OK when absent, including when a
// parent is a file or a symlink (nothing by that path lies beneath the root).
Status RemoveBeneath(int root_fd, std::string_view rel);

}  // namespace dk
