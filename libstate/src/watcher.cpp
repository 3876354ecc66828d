#include "libstate/watcher.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <unordered_map>
#include <vector>

namespace dk {
namespace {
constexpr uint32_t kMask = IN_CREATE | IN_CLOSE_WRITE | IN_MODIFY | IN_MOVED_FROM | IN_MOVED_TO |
                           IN_DELETE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR |
                           IN_DONT_FOLLOW;
int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

struct TreeWatcher::Impl {
  std::unordered_map<int, std::string> wd_to_path;
};

TreeWatcher::TreeWatcher(std::string root, WatchOptions o, int ifd, int stop_fd)
    : root_(std::move(root)),
      opts_(o),
      ifd_(ifd),
      stop_fd_(stop_fd),
      impl_(std::make_unique<Impl>()) {}

TreeWatcher::~TreeWatcher() {
  close(ifd_);
  close(stop_fd_);
}

Result<std::unique_ptr<TreeWatcher>> TreeWatcher::Create(const std::string& root,
                                                         const WatchOptions& options) {
  struct stat st;
  if (stat(root.c_str(), &st) != 0) return Status::FromErrno(errno, "watch root " + root);
  if (!S_ISDIR(st.st_mode))
    return Status::InvalidArgument("watch root " + root + " is not a directory");
  int ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (ifd < 0) return Status::FromErrno(errno, "inotify_init1");
  int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (efd < 0) {
    close(ifd);
    return Status::FromErrno(errno, "eventfd");
  }
  std::unique_ptr<TreeWatcher> w(new TreeWatcher(root, options, ifd, efd));
  DK_RETURN_IF_ERROR(w->AddTree(""));
  return w;
}

size_t TreeWatcher::watched_dirs() const { return impl_->wd_to_path.size(); }

Status TreeWatcher::AddTree(const std::string& rel) {
  std::vector<std::string> todo{rel};
  while (!todo.empty()) {
    std::string r = std::move(todo.back());
    todo.pop_back();
    std::string full = r.empty() ? root_ : root_ + "/" + r;
    int wd = inotify_add_watch(ifd_, full.c_str(), kMask);
    if (wd < 0) {
      if (errno == ENOENT || errno == ENOTDIR) continue;  // vanished meanwhile
      if (errno == ENOSPC)
        return Status::NoSpace("inotify watch limit reached at " + full +
                               " (raise fs.inotify.max_user_watches)");
      return Status::FromErrno(errno, "watch " + full);
    }
    impl_->wd_to_path[wd] = r;
    DIR* d = opendir(full.c_str());
    if (!d) continue;
    while (dirent* e = readdir(d)) {
      if (!std::strcmp(e->d_name, ".") || !std::strcmp(e->d_name, "..")) continue;
      bool is_dir = e->d_type == DT_DIR;
      if (e->d_type == DT_UNKNOWN) {
        struct stat st;
        is_dir = fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
      }
      if (is_dir) todo.push_back(r.empty() ? e->d_name : r + "/" + e->d_name);
    }
    closedir(d);
  }
  return Status::Ok();
}

void TreeWatcher::ReaddAll() {
  for (auto& [wd, p] : impl_->wd_to_path) inotify_rm_watch(ifd_, wd);
  impl_->wd_to_path.clear();
  (void)AddTree("");
}

void TreeWatcher::Stop() {
  uint64_t one = 1;
  ssize_t n = write(stop_fd_, &one, sizeof one);
  (void)n;
}

Status TreeWatcher::Drain(WatchBatch* b) {
  alignas(inotify_event) char buf[64 * 1024];
  while (true) {
    ssize_t n = read(ifd_, buf, sizeof buf);
    if (n < 0) {
      if (errno == EAGAIN) return Status::Ok();
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "read inotify events");
    }
    for (char* p = buf; p < buf + n;) {
      auto* ev = reinterpret_cast<inotify_event*>(p);
      p += sizeof(inotify_event) + ev->len;
      ++b->events;
      if (ev->mask & IN_Q_OVERFLOW) {
        ++overflows_;
        b->rescan = true;
        ReaddAll();
        continue;
      }
      auto it = impl_->wd_to_path.find(ev->wd);
      if (ev->mask & IN_IGNORED) {
        if (it != impl_->wd_to_path.end()) impl_->wd_to_path.erase(it);
        continue;
      }
      if (it == impl_->wd_to_path.end()) continue;
      std::string rel = it->second;
      if (ev->len && ev->name[0]) rel = rel.empty() ? ev->name : rel + "/" + ev->name;
      if ((ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO))) {
        Status s = AddTree(rel);
        if (!s.ok()) return s;
        b->rescan = true;  // files may have appeared before the watch existed
      }
      if (!b->rescan) {
        b->dirty.insert(rel);
        if (b->dirty.size() > opts_.max_dirty) {
          b->rescan = true;
          b->dirty.clear();
        }
      }
    }
  }
}

Result<WatchBatch> TreeWatcher::Next() {
  WatchBatch b;
  int64_t first = -1, last = -1;
  while (true) {
    int timeout = -1;
    if (first >= 0) {
      int64_t now = NowMs();
      int64_t until = std::min(last + opts_.debounce_ms, first + opts_.max_delay_ms);
      if (now >= until) break;
      timeout = static_cast<int>(until - now);
    }
    pollfd fds[2] = {{ifd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    int rc = poll(fds, 2, timeout);
    if (rc < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "poll inotify");
    }
    if (fds[1].revents & POLLIN) {
      b.stopped = true;
      if (b.events) break;  // deliver what we have; the caller sees stopped
      return b;
    }
    if (rc == 0) break;
    uint64_t before = b.events;
    DK_RETURN_IF_ERROR(Drain(&b));
    if (b.events > before) {
      last = NowMs();
      if (first < 0) first = last;
    }
  }
  if (b.rescan) b.dirty.clear();
  return b;
}

}  // namespace dk
