// RestoreManifest: verified, atomic-per-file restore of a capture set from any ChunkSource.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "fs_safe.h"
#include "libstate/manifest.h"
#include "libstate/merkle.h"
#include "restore_internal.h"

namespace dk {
namespace {

bool UnderPaths(const std::string& p, const std::vector<std::string>& paths) {
  if (paths.empty()) return true;
  for (const auto& q : paths) {
    if (p == q || (p.size() > q.size() && p.compare(0, q.size(), q) == 0 && p[q.size()] == '/'))
      return true;
  }
  return false;
}

}  // namespace

Status StreamVerified(const VersionInfo& v, ChunkSource& src, const ByteSink& sink,
                      uint64_t* bytes) {
  auto where = [&] { return "file " + v.path + " version " + std::to_string(v.seq); };
  if (v.chunks.size() != v.chunk_sizes.size() || MerkleRoot(v.chunks) != v.root)
    return Status::Corruption(where() + ": chunk list does not match its Merkle root");
  uint64_t listed = 0;
  for (uint32_t n : v.chunk_sizes) listed += n;
  if (listed != v.size)
    return Status::Corruption(where() + ": chunk sizes do not add up to its size");
  const bool verified = src.VerifiesIds();
  uint64_t total = 0;
  for (size_t i = 0; i < v.chunks.size(); ++i) {
    auto c = src.Fetch(v.chunks[i]);
    if (!c.ok()) return c.status().WithContext(where() + ": object " + v.chunks[i].Hex());
    if (c->size() != v.chunk_sizes[i] || (!verified && HashBytes(*c) != v.chunks[i]))
      return Status::Corruption(where() + ": object " + v.chunks[i].Hex() +
                                " does not match its id");
    DK_RETURN_IF_ERROR(sink(*c));
    total += c->size();
  }
  if (total != v.size)
    return Status::Corruption(where() + ": chunk sizes do not add up to its size");
  *bytes = total;
  return Status::Ok();
}

Result<RestoreResult> RestoreManifest(const std::string& target, const SetManifest& m,
                                      ChunkSource& src, const RestoreRequest& req, Logger* log) {
  if (!log) log = NullLogger();
  for (const auto& p : req.paths) DK_RETURN_IF_ERROR_CTX(CheckRelPath(p), "restore path");
  if (ManifestRoot(m.entries) != m.root)
    return Status::Corruption("capture set " + std::to_string(m.set) +
                              ": entries do not match the set's Merkle root");
  struct stat st;
  if (stat(target.c_str(), &st) != 0) {
    if (errno != ENOENT) return Status::FromErrno(errno, "restore target " + target);
    if (mkdir(target.c_str(), 0755) != 0) return Status::FromErrno(errno, "create " + target);
  }
  DK_ASSIGN_OR_RETURN_CTX(UniqueFd root_fd, OpenRootDir(target), "restore");
  RestoreResult res;
  res.set = m.set;
  res.root = m.root;
  const bool owner = req.restore_owner && geteuid() == 0;
  auto meta_of = [&](const VersionInfo& v) {
    EntryMeta em;
    em.mode = v.mode;
    em.uid = v.uid;
    em.gid = v.gid;
    em.mtime_ns = v.mtime_ns;
    em.set_owner = owner;
    return em;
  };
  // Absent paths first (deepest first), then directories, files and links (parents first),
  // then directory metadata last, since writing children moves a directory's mtime.
  for (auto it = m.absent.rbegin(); it != m.absent.rend(); ++it) {
    if (!UnderPaths(*it, req.paths)) continue;
    struct stat ls;
    bool existed = fstatat(root_fd.get(), it->c_str(), &ls, AT_SYMLINK_NOFOLLOW) == 0;
    Status s = RemoveBeneath(root_fd.get(), *it);
    if (!s.ok())
      res.failures.push_back({*it, 0, s.ToString()});
    else if (existed)
      ++res.deleted;
  }
  uint64_t done = 0, total = m.entries.size();
  for (const auto& v : m.entries) {
    if (!UnderPaths(v.path, req.paths)) continue;
    if (req.progress && (++done % 64 == 0)) req.progress({"restore", done, total, v.path});
    Status s;
    if (v.type == EntryType::kDir) {
      s = EnsureDir(root_fd.get(), v.path, nullptr);
      if (s.ok()) ++res.dirs;
    } else if (v.type == EntryType::kSymlink) {
      s = WriteSymlinkAtomic(root_fd.get(), v.path, v.link_target, meta_of(v));
      if (s.ok()) ++res.symlinks;
    } else {
      uint64_t written = 0;
      s = WriteFileAtomic(
          root_fd.get(), v.path,
          [&](const ByteSink& sink) { return StreamVerified(v, src, sink, &written); }, meta_of(v));
      if (s.ok()) {
        ++res.files;
        res.bytes += written;
      }
    }
    if (!s.ok()) {
      log->Error("Restore of entry failed",
                 {{"path", v.path}, {"version", v.seq}, {"error", s.ToString()}});
      res.failures.push_back({v.path, v.seq, s.ToString()});
    }
  }
  for (auto it = m.entries.rbegin(); it != m.entries.rend(); ++it) {
    if (it->type != EntryType::kDir || !UnderPaths(it->path, req.paths)) continue;
    EntryMeta em = meta_of(*it);
    Status s = EnsureDir(root_fd.get(), it->path, &em);
    if (!s.ok()) res.failures.push_back({it->path, it->seq, s.ToString()});
  }
  if (req.progress) req.progress({"restore", total, total, ""});
  log->Info("Restored set", {{"target", target},
                             {"set", res.set},
                             {"files", res.files},
                             {"bytes", res.bytes},
                             {"failures", res.failures.size()},
                             {"root", res.root.ShortHex()}});
  return res;
}

}  // namespace dk
