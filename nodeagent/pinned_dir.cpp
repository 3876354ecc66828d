#include "pinned_dir.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace dk::agent {
namespace {

int OpenAt2(int dirfd, const std::string& path, uint64_t flags, uint64_t resolve) {
  open_how how{};
  how.flags = flags | O_CLOEXEC;
  how.resolve = resolve;
  long fd;
  do {
    fd = syscall(SYS_openat2, dirfd, path.c_str(), &how, sizeof how);
  } while (fd < 0 && (errno == EINTR || errno == EAGAIN));
  return static_cast<int>(fd);
}

}  // namespace

Status MakeDirs(const std::string& path, unsigned mode) {
  for (size_t pos = 1;; ++pos) {
    pos = path.find('/', pos);
    std::string p = path.substr(0, pos);
    if (!p.empty() && mkdir(p.c_str(), static_cast<mode_t>(mode)) != 0 && errno != EEXIST)
      return Status::FromErrno(errno, "create directory " + p);
    if (pos == std::string::npos) return Status::Ok();
  }
}

Status CheckCleanRelPath(std::string_view rel) {
  if (rel.empty()) return Status::Ok();
  if (rel.front() == '/')
    return Status::InvalidArgument("path '" + std::string(rel) + "' must be relative");
  if (rel.find('\0') != std::string_view::npos) return Status::InvalidArgument("path contains NUL");
  size_t start = 0;
  while (start <= rel.size()) {
    size_t end = rel.find('/', start);
    if (end == std::string_view::npos) end = rel.size();
    std::string_view comp = rel.substr(start, end - start);
    if (comp.empty() || comp == "." || comp == "..")
      return Status::InvalidArgument("path '" + std::string(rel) +
                                     "' has an empty, '.' or '..' component");
    start = end + 1;
  }
  return Status::Ok();
}

PinnedDir::PinnedDir(PinnedDir&& o) noexcept : fd_(o.fd_), display_(std::move(o.display_)) {
  o.fd_ = -1;
}

PinnedDir& PinnedDir::operator=(PinnedDir&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) close(fd_);
    fd_ = o.fd_;
    display_ = std::move(o.display_);
    o.fd_ = -1;
  }
  return *this;
}

PinnedDir::~PinnedDir() {
  if (fd_ >= 0) close(fd_);
}

std::string PinnedDir::ProcPath() const { return "/proc/self/fd/" + std::to_string(fd_); }

bool PinnedDir::Linked() const {
  struct stat st;
  return fd_ >= 0 && fstat(fd_, &st) == 0 && S_ISDIR(st.st_mode) && st.st_nlink > 0;
}

namespace {

Result<PinnedDir> Walk(int start_fd, std::string display, std::string_view rel, bool create,
                       bool allow_mounts, PinnedDir (*make)(int, std::string)) {
  int cur = start_fd;
  size_t start = 0;
  while (start < rel.size()) {
    size_t end = rel.find('/', start);
    if (end == std::string_view::npos) end = rel.size();
    std::string comp(rel.substr(start, end - start));
    uint64_t resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    if (!allow_mounts) resolve |= RESOLVE_NO_XDEV;
    int next = OpenAt2(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, resolve);
    if (next < 0 && errno == ENOENT && create) {
      if (mkdirat(cur, comp.c_str(), 0755) != 0 && errno != EEXIST) {
        int err = errno;
        close(cur);
        return Status::FromErrno(err, "create " + display + "/" + comp);
      }
      next = OpenAt2(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, resolve);
    }
    int err = errno;
    close(cur);
    std::string where = display + "/" + comp;
    if (next < 0) {
      if (err == ELOOP || err == EXDEV || err == ENOTDIR)
        return Status::PermissionDenied(where +
                                        " is a symlink, a mount point or not a directory: refused");
      return Status::FromErrno(err, "open " + where);
    }
    cur = next;
    display = where;
    start = end + 1;
  }
  return make(cur, display);
}

}  // namespace

PinnedDir PinnedDir::Adopt(int fd, std::string display) {
  PinnedDir d;
  d.fd_ = fd;
  d.display_ = std::move(display);
  return d;
}

Result<PinnedDir> PinnedDir::Open(const std::string& base, std::string_view rel, bool create,
                                  bool allow_mounts) {
  DK_RETURN_IF_ERROR(CheckCleanRelPath(rel));
  int fd = open(base.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "open " + base);
  return Walk(fd, base, rel, create, allow_mounts, &PinnedDir::Adopt);
}

Result<PinnedDir> PinnedDir::Child(std::string_view rel, bool create, bool allow_mounts) const {
  DK_RETURN_IF_ERROR(CheckCleanRelPath(rel));
  if (fd_ < 0) return Status::FailedPrecondition("child of an unopened directory");
  int fd = fcntl(fd_, F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return Status::FromErrno(errno, "dup " + display_);
  return Walk(fd, display_, rel, create, allow_mounts, &PinnedDir::Adopt);
}

}  // namespace dk::agent
