#include "chunk_sources.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace dk::agent {
namespace {

Result<Bytes> ReadWhole(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return Status::FromErrno(errno, "open " + path);
  Bytes out;
  uint8_t buf[1 << 16];
  while (true) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      return Status::FromErrno(err, "read " + path);
    }
    if (n == 0) break;
    out.insert(out.end(), buf, buf + n);
  }
  close(fd);
  return out;
}

void WriteSpool(const std::string& dir, const std::string& name, const Bytes& data) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return;
  std::string tmp = dir + "/.tmp-" + name;
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  size_t off = 0;
  bool ok = true;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ok = false;
      break;
    }
    off += static_cast<size_t>(n);
  }
  close(fd);
  // No fsync: a spooled chunk lost in a crash is fetched again; a torn one fails its hash.
  if (ok) ok = rename(tmp.c_str(), (dir + "/" + name).c_str()) == 0;
  if (!ok) unlink(tmp.c_str());
}

}  // namespace

SpoolChunkSource::SpoolChunkSource(Store* local, std::string spool_dir, ChunkSource* upstream)
    : local_(local), spool_dir_(std::move(spool_dir)), upstream_(upstream) {}

Result<Bytes> SpoolChunkSource::Fetch(const ObjectId& id) {
  if (local_) {
    auto r = local_->ReadObject(id);
    if (r.ok()) {
      ++stats_.from_local;
      return r;
    }
  }
  const std::string name = id.Hex();
  auto spooled = ReadWhole(spool_dir_ + "/" + name);
  if (spooled.ok() && HashBytes(*spooled) == id) {
    ++stats_.from_spool;
    return spooled;
  }
  DK_ASSIGN_OR_RETURN(Bytes b, upstream_->Fetch(id));
  if (HashBytes(b) != id)
    return Status::Corruption("chunk " + name + " from the upstream source does not match its id");
  ++stats_.from_upstream;
  stats_.upstream_bytes += b.size();
  WriteSpool(spool_dir_, name, b);
  return b;
}

void SpoolChunkSource::Clear() {
  DIR* d = opendir(spool_dir_.c_str());
  if (!d) return;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    unlinkat(dirfd(d), n.c_str(), 0);
  }
  closedir(d);
  rmdir(spool_dir_.c_str());
}

}  // namespace dk::agent
