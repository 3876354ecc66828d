#include "pack_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace dk {
namespace {
constexpr char kMagic[PackStore::kHeaderBytes + 1] = "DKPACK1\n";

Status SyncDir(const std::string& dir) {
  UniqueFd d(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!d) return Status::FromErrno(errno, "open directory " + dir);
  if (fsync(d.get()) != 0) return Status::FromErrno(errno, "fsync directory " + dir);
  return Status::Ok();
}

Status WriteAll(int fd, const uint8_t* p, size_t n, uint64_t off, const std::string& path) {
  while (n > 0) {
    ssize_t w = pwrite(fd, p, n, static_cast<off_t>(off));
    if (w < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "write " + path);
    }
    p += w;
    n -= static_cast<size_t>(w);
    off += static_cast<uint64_t>(w);
  }
  return Status::Ok();
}

// "00000012.pack" -> 12; false for anything else.
bool ParsePackName(const char* name, uint32_t* n) {
  unsigned v = 0;
  int used = 0;
  if (std::strlen(name) != 13 || std::sscanf(name, "%8u.pack%n", &v, &used) != 1 || used != 13)
    return false;
  *n = v;
  return true;
}
}  // namespace

std::string PackStore::PackPath(uint32_t n) const {
  char name[32];
  std::snprintf(name, sizeof name, "/%08u.pack", n);
  return dir_ + name;
}

Result<std::map<uint32_t, uint64_t>> PackStore::List() {
  std::map<uint32_t, uint64_t> out;
  DIR* d = opendir(dir_.c_str());
  if (!d) {
    if (errno == ENOENT) return out;
    return Status::FromErrno(errno, "list " + dir_);
  }
  while (dirent* e = readdir(d)) {
    uint32_t n;
    if (!ParsePackName(e->d_name, &n)) continue;
    struct stat st;
    if (stat((dir_ + "/" + e->d_name).c_str(), &st) == 0)
      out[n] = static_cast<uint64_t>(st.st_size);
  }
  closedir(d);
  return out;
}

Status PackStore::OpenCurrent() {
  if (mkdir(dir_.c_str(), 0750) == 0) {
    DK_RETURN_IF_ERROR(SyncDir(dir_.substr(0, dir_.rfind('/'))));
  } else if (errno != EEXIST) {
    return Status::FromErrno(errno, "create " + dir_);
  }
  DK_ASSIGN_OR_RETURN(auto packs, List());
  uint32_t n = packs.empty() ? 1 : packs.rbegin()->first;
  // Continue the newest pack unless it is full or was sealed; bytes a crashed writer left
  // after the last committed payload stay there as garbage. A sealed pack's successor also
  // skips numbers this process has used and GC removed since (a reader whose snapshot is
  // older than that GC then finds the pack missing rather than other bytes under its name;
  // either way it fails verification, never returns wrong content).
  if (!packs.empty() && (sealed_ || packs.rbegin()->second >= kPackTargetBytes)) ++n;
  if (sealed_) n = std::max(n, highest_used_ + 1);
  sealed_ = false;
  std::string path = PackPath(n);
  UniqueFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640));
  if (!fd) return Status::FromErrno(errno, "open pack " + path);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return Status::FromErrno(errno, "stat " + path);
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < kHeaderBytes) {
    // New (or torn before its header was written): start it.
    DK_RETURN_IF_ERROR(
        WriteAll(fd.get(), reinterpret_cast<const uint8_t*>(kMagic), kHeaderBytes, 0, path));
    size = kHeaderBytes;
    dir_dirty_ = true;
    dirty_ = true;
  }
  cur_ = std::move(fd);
  cur_pack_ = n;
  highest_used_ = std::max(highest_used_, n);
  cur_size_ = size;
  return Status::Ok();
}

Result<PackLocation> PackStore::Append(ByteView payload) {
  if (cur_ && (sealed_ || cur_size_ >= kPackTargetBytes)) {
    DK_RETURN_IF_ERROR(Sync());  // the finished pack's tail, before it is closed
    cur_ = UniqueFd();
  }
  if (!cur_) DK_RETURN_IF_ERROR(OpenCurrent());
  PackLocation loc{cur_pack_, cur_size_, payload.size()};
  DK_RETURN_IF_ERROR(
      WriteAll(cur_.get(), payload.data(), payload.size(), cur_size_, PackPath(cur_pack_)));
  cur_size_ += payload.size();
  dirty_ = true;
  return loc;
}

Status PackStore::Sync() {
  if (dirty_ && cur_ && sync_ && fdatasync(cur_.get()) != 0)
    return Status::FromErrno(errno, "fdatasync " + PackPath(cur_pack_));
  dirty_ = false;
  if (dir_dirty_ && sync_) DK_RETURN_IF_ERROR(SyncDir(dir_));
  dir_dirty_ = false;
  return Status::Ok();
}

void PackStore::Seal() { sealed_ = true; }

Result<std::shared_ptr<const UniqueFd>> PackStore::ReadFd(uint32_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = readers_.find(n);
  if (it != readers_.end()) return it->second;
  std::string path = PackPath(n);
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    int err = errno;
    if (err == ENOENT)
      return Status::Corruption("pack " + path +
                                " is missing (removed by a GC that ran after this reader "
                                "started, or lost)");
    return Status::FromErrno(err, "open pack " + path);
  }
  auto shared = std::make_shared<const UniqueFd>(std::move(fd));
  readers_.emplace(n, shared);
  return shared;
}

Result<Bytes> PackStore::Read(const PackLocation& loc, const ObjectId& id) {
  DK_ASSIGN_OR_RETURN(std::shared_ptr<const UniqueFd> file, ReadFd(loc.pack));
  const int fd = file->get();
  auto where = [&] {
    return "object " + id.Hex() + ": pack " + PackPath(loc.pack) + " offset " +
           std::to_string(loc.offset) + " length " + std::to_string(loc.length);
  };
  if (loc.offset < kHeaderBytes) return Status::Corruption(where() + ": offset inside the header");
  Bytes out(loc.length);
  size_t got = 0;
  while (got < out.size()) {
    ssize_t r = pread(fd, out.data() + got, out.size() - got, static_cast<off_t>(loc.offset + got));
    if (r < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "read " + where());
    }
    if (r == 0) return Status::Corruption(where() + ": beyond the end of the pack");
    got += static_cast<size_t>(r);
  }
  return out;
}

Status PackStore::Remove(uint32_t n) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    readers_.erase(n);
  }
  if (cur_ && n == cur_pack_) cur_ = UniqueFd();
  std::string path = PackPath(n);
  if (unlink(path.c_str()) != 0 && errno != ENOENT)
    return Status::FromErrno(errno, "remove pack " + path);
  dir_dirty_ = true;
  return Status::Ok();
}

}  // namespace dk
