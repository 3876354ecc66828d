#include "fs_safe.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>

namespace dk {
namespace {

constexpr std::string_view kTmpPrefix = ".dk-tmp-";

std::pair<std::string_view, std::string_view> SplitParent(std::string_view rel) {
  size_t slash = rel.rfind('/');
  if (slash == std::string_view::npos) return {"", rel};
  return {rel.substr(0, slash), rel.substr(slash + 1)};
}

Status ApplyMeta(int fd, const EntryMeta& m, std::string_view rel) {
  if (m.set_owner && fchown(fd, m.uid, m.gid) != 0)
    return Status::FromErrno(errno, "chown " + std::string(rel));
  if (fchmod(fd, m.mode & 07777) != 0) return Status::FromErrno(errno, "chmod " + std::string(rel));
  timespec ts[2];
  ts[0].tv_sec = m.mtime_ns / 1000000000;
  ts[0].tv_nsec = m.mtime_ns % 1000000000;
  ts[1] = ts[0];
  if (futimens(fd, ts) != 0) return Status::FromErrno(errno, "set mtime of " + std::string(rel));
  return Status::Ok();
}

// True when every component of `rel` is a real directory (not a file, not a symlink).
bool RealDirectoryChain(int root_fd, std::string_view rel) {
  size_t pos = 0;
  while (!rel.empty()) {
    size_t slash = rel.find('/', pos);
    auto [dir, name] = SplitParent(rel.substr(0, slash));
    auto dfd = OpenBeneath(root_fd, dir, O_RDONLY | O_DIRECTORY);
    struct stat st;
    if (!dfd.ok() ||
        fstatat(dfd->get(), std::string(name).c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISDIR(st.st_mode)) {
      return false;
    }
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
  return true;
}

std::string TmpName() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return std::string(kTmpPrefix) + buf;
}

}  // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}
UniqueFd::~UniqueFd() {
  if (fd_ >= 0) close(fd_);
}

Status CheckRelPath(std::string_view rel) {
  if (rel.empty() || rel.front() == '/' || rel.back() == '/')
    return Status::InvalidArgument("path '" + std::string(rel) + "' is not a clean relative path");
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
  if (rel.find('\0') != std::string_view::npos) return Status::InvalidArgument("path contains NUL");
  return Status::Ok();
}

Result<UniqueFd> OpenBeneath(int root_fd, std::string_view rel, int flags, mode_t mode) {
  std::string p = rel.empty() ? "." : std::string(rel);
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & O_CREAT) ? mode : 0;
  // No symlink is traversed at all, not even one that stays inside the root: a restore
  // must never write through a link into another directory of the tree.
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS;
  long fd;
  do {
    fd = syscall(SYS_openat2, root_fd, p.c_str(), &how, sizeof how);
  } while (fd < 0 && (errno == EINTR || errno == EAGAIN));
  if (fd < 0) {
    int err = errno;
    if (err == EXDEV || err == ELOOP) {
      return Status::PermissionDenied("path '" + p +
                                      "' goes through a symlink or outside the root: refused");
    }
    return Status::FromErrno(err, "open " + p);
  }
  return UniqueFd(static_cast<int>(fd));
}

Result<UniqueFd> OpenRootDir(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "open directory " + path);
  return UniqueFd(fd);
}

Status ScanTree(int root_fd, const CaptureFilter& filter, std::vector<ScannedEntry>* out,
                std::vector<std::string>* skipped) {
  struct stat root_st;
  if (fstat(root_fd, &root_st) != 0) return Status::FromErrno(errno, "stat capture root");
  std::vector<std::string> dirs{""};
  while (!dirs.empty()) {
    std::string dir = std::move(dirs.back());
    dirs.pop_back();
    auto dfd = OpenBeneath(root_fd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (!dfd.ok()) {
      if (dfd.status().IsNotFound()) continue;  // removed while we walked
      skipped->push_back(dir + ": " + dfd.status().message());
      continue;
    }
    DIR* d = fdopendir(dfd->get());
    if (!d) return Status::FromErrno(errno, "read directory " + dir);
    dfd->Release();  // the DIR owns the descriptor now; closedir closes it
    std::vector<std::string> names;
    while (dirent* e = readdir(d)) {
      std::string_view n = e->d_name;
      if (n == "." || n == ".." || n.substr(0, kTmpPrefix.size()) == kTmpPrefix) continue;
      names.emplace_back(n);
    }
    for (const auto& n : names) {
      std::string rel = dir.empty() ? n : dir + "/" + n;
      ScannedEntry ent;
      if (fstatat(dirfd(d), n.c_str(), &ent.st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno != ENOENT) skipped->push_back(rel + ": " + std::strerror(errno));
        continue;
      }
      ent.path = rel;
      if (S_ISDIR(ent.st.st_mode)) {
        if (ent.st.st_dev != root_st.st_dev) {
          skipped->push_back(rel + ": another filesystem (mount point), not entered");
          continue;
        }
        if (filter.Excludes(rel, true)) continue;
        ent.type = EntryType::kDir;
        dirs.push_back(rel);
      } else if (S_ISREG(ent.st.st_mode)) {
        if (filter.Excludes(rel, false)) continue;
        ent.type = EntryType::kFile;
      } else if (S_ISLNK(ent.st.st_mode)) {
        if (filter.Excludes(rel, false)) continue;
        ent.type = EntryType::kSymlink;
        char buf[4096];
        ssize_t len = readlinkat(dirfd(d), n.c_str(), buf, sizeof buf);
        if (len < 0) {
          skipped->push_back(rel + ": readlink: " + std::strerror(errno));
          continue;
        }
        ent.link_target.assign(buf, static_cast<size_t>(len));
      } else {
        skipped->push_back(rel + ": not a file, directory or symlink");
        continue;
      }
      out->push_back(std::move(ent));
    }
    closedir(d);
  }
  std::sort(out->begin(), out->end(),
            [](const ScannedEntry& a, const ScannedEntry& b) { return a.path < b.path; });
  return Status::Ok();
}

Status EnsureDir(int root_fd, std::string_view rel, const EntryMeta* m) {
  if (rel.empty()) return Status::Ok();
  DK_RETURN_IF_ERROR(CheckRelPath(rel));
  // Create each component beneath the root.
  size_t pos = 0;
  while (true) {
    size_t slash = rel.find('/', pos);
    std::string_view prefix = rel.substr(0, slash);
    auto [parent, name] = SplitParent(prefix);
    auto pfd = OpenBeneath(root_fd, parent, O_RDONLY | O_DIRECTORY);
    if (!pfd.ok()) return pfd.status();
    std::string nm(name);
    // A file or symlink where a directory goes is replaced (the recorded state wins; the
    // link is removed, never followed).
    struct stat st;
    if (fstatat(pfd->get(), nm.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode) &&
        unlinkat(pfd->get(), nm.c_str(), 0) != 0 && errno != ENOENT) {
      return Status::FromErrno(errno, "replace " + std::string(prefix) + " with a directory");
    }
    if (mkdirat(pfd->get(), nm.c_str(), 0755) != 0 && errno != EEXIST)
      return Status::FromErrno(errno, "mkdir " + std::string(prefix));
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
  auto fd = OpenBeneath(root_fd, rel, O_RDONLY | O_DIRECTORY);
  if (!fd.ok()) return fd.status();
  if (m) return ApplyMeta(fd->get(), *m, rel);
  return Status::Ok();
}

Status WriteFileAtomic(int root_fd, std::string_view rel, const ContentProducer& produce,
                       const EntryMeta& m) {
  DK_RETURN_IF_ERROR(CheckRelPath(rel));
  auto [parent, name] = SplitParent(rel);
  DK_RETURN_IF_ERROR(EnsureDir(root_fd, parent, nullptr));
  DK_ASSIGN_OR_RETURN(UniqueFd pfd, OpenBeneath(root_fd, parent, O_RDONLY | O_DIRECTORY));
  std::string tmp = TmpName();
  int fd =
      openat(pfd.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return Status::FromErrno(errno, "create temporary file for " + std::string(rel));
  UniqueFd f(fd);
  auto fail = [&](Status s) {
    unlinkat(pfd.get(), tmp.c_str(), 0);
    return s;
  };
  const int out_fd = f.get();
  // Starts writeback of every kWritebackStep bytes as they are written, so the disk works
  // while the producer verifies the next chunks and the final fsync has little left to do.
  constexpr uint64_t kWritebackStep = 8ull << 20;
  uint64_t written = 0, started = 0;
  Status s = produce([&](ByteView content) -> Status {
    size_t off = 0;
    while (off < content.size()) {
      ssize_t n = write(out_fd, content.data() + off, content.size() - off);
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno(errno, "write " + std::string(rel));
      }
      off += static_cast<size_t>(n);
    }
    written += content.size();
    if (written - started >= kWritebackStep) {
      // Only a hint: errors surface at the fsync below.
      sync_file_range(out_fd, static_cast<off_t>(started), static_cast<off_t>(written - started),
                      SYNC_FILE_RANGE_WRITE);
      started = written;
    }
    return Status::Ok();
  });
  if (!s.ok()) return fail(s);
  s = ApplyMeta(f.get(), m, rel);
  if (!s.ok()) return fail(s);
  if (fsync(f.get()) != 0) return fail(Status::FromErrno(errno, "fsync " + std::string(rel)));
  std::string nm(name);
  // If a directory stands where the file goes, it is replaced (the recorded state wins).
  struct stat st;
  if (fstatat(pfd.get(), nm.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
    Status r = RemoveBeneath(root_fd, rel);
    if (!r.ok()) return fail(r);
  }
  if (renameat(pfd.get(), tmp.c_str(), pfd.get(), nm.c_str()) != 0)
    return fail(Status::FromErrno(errno, "rename into place " + std::string(rel)));
  return Status::Ok();
}

Status WriteSymlinkAtomic(int root_fd, std::string_view rel, const std::string& target,
                          const EntryMeta& m) {
  DK_RETURN_IF_ERROR(CheckRelPath(rel));
  auto [parent, name] = SplitParent(rel);
  DK_RETURN_IF_ERROR(EnsureDir(root_fd, parent, nullptr));
  DK_ASSIGN_OR_RETURN(UniqueFd pfd, OpenBeneath(root_fd, parent, O_RDONLY | O_DIRECTORY));
  std::string tmp = TmpName();
  if (symlinkat(target.c_str(), pfd.get(), tmp.c_str()) != 0)
    return Status::FromErrno(errno, "create symlink " + std::string(rel));
  if (m.set_owner) fchownat(pfd.get(), tmp.c_str(), m.uid, m.gid, AT_SYMLINK_NOFOLLOW);
  timespec ts[2];
  ts[0].tv_sec = m.mtime_ns / 1000000000;
  ts[0].tv_nsec = m.mtime_ns % 1000000000;
  ts[1] = ts[0];
  utimensat(pfd.get(), tmp.c_str(), ts, AT_SYMLINK_NOFOLLOW);
  std::string nm(name);
  struct stat st;
  if (fstatat(pfd.get(), nm.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
    DK_RETURN_IF_ERROR(RemoveBeneath(root_fd, rel));
  }
  if (renameat(pfd.get(), tmp.c_str(), pfd.get(), nm.c_str()) != 0) {
    int err = errno;
    unlinkat(pfd.get(), tmp.c_str(), 0);
    return Status::FromErrno(err, "rename symlink into place " + std::string(rel));
  }
  return Status::Ok();
}

Status RemoveBeneath(int root_fd, std::string_view rel) {
  DK_RETURN_IF_ERROR(CheckRelPath(rel));
  auto [parent, name] = SplitParent(rel);
  auto pfd = OpenBeneath(root_fd, parent, O_RDONLY | O_DIRECTORY);
  if (!pfd.ok()) {
    // Absent, or below a file or a symlink: nothing by that path lies beneath the root.
    if (pfd.status().IsNotFound() || !RealDirectoryChain(root_fd, parent)) return Status::Ok();
    return pfd.status();
  }
  std::string nm(name);
  struct stat st;
  if (fstatat(pfd->get(), nm.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    return errno == ENOENT ? Status::Ok() : Status::FromErrno(errno, "stat " + std::string(rel));
  if (!S_ISDIR(st.st_mode)) {
    if (unlinkat(pfd->get(), nm.c_str(), 0) != 0 && errno != ENOENT)
      return Status::FromErrno(errno, "remove " + std::string(rel));
    return Status::Ok();
  }
  // Directory: remove children first (never following symlinks: they are unlinked).
  {
    DK_ASSIGN_OR_RETURN(UniqueFd dfd,
                        OpenBeneath(root_fd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW));
    int dup_fd = dup(dfd.get());
    DIR* d = fdopendir(dup_fd);
    if (!d) return Status::FromErrno(errno, "read directory " + std::string(rel));
    std::vector<std::string> names;
    while (dirent* e = readdir(d)) {
      std::string_view n = e->d_name;
      if (n != "." && n != "..") names.emplace_back(n);
    }
    closedir(d);
    for (const auto& n : names)
      DK_RETURN_IF_ERROR(RemoveBeneath(root_fd, std::string(rel) + "/" + n));
  }
  if (unlinkat(pfd->get(), nm.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
    return Status::FromErrno(errno, "remove directory " + std::string(rel));
  return Status::Ok();
}

}  // namespace dk
