#include "restore_executor.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "chunk_sources.h"
#include "libreplica/bucket_reader.h"
#include "libreplica/head.h"
#include "libreplica/layout.h"
#include "libstate/manifest.h"

namespace dk::agent {
namespace {

class PeerChunkSource final : public ChunkSource {
 public:
  PeerChunkSource(PeerSource* peer, PodIdentity id) : peer_(peer), id_(std::move(id)) {}
  Result<Bytes> Fetch(const ObjectId& oid) override { return peer_->Object(id_, oid); }

 private:
  PeerSource* peer_;
  PodIdentity id_;
};

int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

void Walk(int dfd, const std::string& rel, dev_t dev, TreeAge* age, int depth) {
  if (depth > 256) return;
  DIR* d = fdopendir(dfd);
  if (!d) {
    close(dfd);
    return;
  }
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    struct stat st;
    if (fstatat(dirfd(d), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    std::string child = rel.empty() ? n : rel + "/" + n;
    if (S_ISREG(st.st_mode)) {
      ++age->files;
      if (MtimeNs(st) > age->newest_mtime_ns) {
        age->newest_mtime_ns = MtimeNs(st);
        age->newest = child;
      }
    } else if (S_ISDIR(st.st_mode) && st.st_dev == dev) {
      int cfd = openat(dirfd(d), n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (cfd >= 0) Walk(cfd, child, dev, age, depth + 1);
    }
  }
  closedir(d);
}

bool AllUnavailable(const std::vector<RestoreFailure>& failures) {
  for (const auto& f : failures)
    if (f.error.rfind("Unavailable", 0) != 0) return false;
  return !failures.empty();
}

}  // namespace

TreeAge ScanTreeAge(const PinnedDir& dir, const std::vector<std::string>& scopes) {
  TreeAge age;
  struct stat root;
  if (fstat(dir.fd(), &root) != 0) return age;
  std::vector<std::string> starts = scopes;
  if (starts.empty()) starts.push_back("");
  for (const auto& s : starts) {
    // A scope that is missing or leads through a symlink has nothing to count.
    auto sub = dir.Child(s, /*create=*/false, /*allow_mounts=*/false);
    if (!sub.ok()) continue;
    int fd = fcntl(sub->fd(), F_DUPFD_CLOEXEC, 0);
    if (fd < 0) continue;
    Walk(fd, s, root.st_dev, &age, 0);
  }
  return age;
}

RestoreExecutor::RestoreExecutor(RestoreExecutorOptions options, StoreRegistry* registry,
                                 PeerConnector connect, Logger* logger)
    : options_(std::move(options)),
      registry_(registry),
      connect_(std::move(connect)),
      log_(logger ? logger : NullLogger()) {}

RestoreOutcome RestoreExecutor::FromMarker(const RestoreMarker& m) {
  RestoreOutcome o;
  o.done = true;
  o.marker = m.result;
  o.succeeded = m.result != MarkerResult::kFailed;
  o.message = m.message;
  o.set = m.set;
  o.root = m.root;
  o.source = "marker";
  return o;
}

RestoreOutcome RestoreExecutor::Finish(const RestoreJob& job, RestoreOutcome o) {
  RestoreMarker m;
  m.result = o.marker;
  m.message = o.message;
  m.set = o.set;
  m.root = o.root;
  m.restore = job.restore;
  Status s = WriteMarker(options_.marker_dir, job.pod_uid, m);
  if (!s.ok()) {
    // Without the marker the pod cannot start: report and retry.
    log_->Error("Writing the restore marker failed",
                {{"restore", job.restore}, {"pod_uid", job.pod_uid}, {"error", s.ToString()}});
    o.done = false;
    o.message = "writing the completion marker failed: " + s.ToString();
    return o;
  }
  o.done = true;
  return o;
}

RestoreOutcome RestoreExecutor::Fail(const RestoreJob& job, const std::string& reason) {
  auto existing = ReadMarker(options_.marker_dir, job.pod_uid);
  if (existing.ok() && *existing) return FromMarker(**existing);
  RestoreOutcome o;
  o.marker = MarkerResult::kFailed;
  o.succeeded = false;
  o.message = reason;
  return Finish(job, o);
}

RestoreOutcome RestoreExecutor::Run(const RestoreJob& job) {
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  RestoreOutcome o;
  auto retry = [&](std::string msg) {
    o.done = false;
    o.message = std::move(msg);
    o.seconds = elapsed();
    return o;
  };
  auto fail = [&](std::string msg) {
    o.marker = MarkerResult::kFailed;
    o.succeeded = false;
    o.message = std::move(msg);
    o.seconds = elapsed();
    log_->Error("Restore failed", {{"restore", job.restore}, {"error", o.message}});
    return Finish(job, o);
  };

  // 1. Never twice into the same pod.
  auto existing = ReadMarker(options_.marker_dir, job.pod_uid);
  if (!existing.ok())
    return fail("the existing marker is unreadable: " + existing.status().ToString());
  if (*existing) return FromMarker(**existing);

  // 2. The source and its manifest.
  SetManifest manifest;
  std::unique_ptr<PeerSource> peer;
  Store* local_store = nullptr;
  if (registry_->Exists(job.id)) {
    auto ls = registry_->Get(job.id);
    if (ls.ok()) local_store = *ls;
  }
  bool found = false;
  bool pinned_request = job.set.has_value() || job.time_ns.has_value();
  std::vector<std::string> unavailable;
  for (const SourceCandidate& c : job.candidates) {
    std::string encoded;
    std::string layout;
    if (c.local) {
      if (!local_store) continue;
      IdentityRecord rec = registry_->Record(job.id);
      layout = rec.layout;
      auto set = ChooseSet(local_store, job.set, job.time_ns, rec.point);
      if (!set.ok()) {
        if (set.status().IsNotFound()) continue;
        return fail("local store: " + set.status().ToString());
      }
      auto m = local_store->Manifest(*set);
      if (!m.ok()) return fail("local store: " + m.status().ToString());
      manifest = std::move(*m);
      o.source = "local";
    } else {
      auto p = connect_(c);
      if (!p.ok()) {
        unavailable.push_back(c.node + ": " + p.status().message());
        if (!pinned_request) break;
        continue;
      }
      auto info = (*p)->Info(job.id);
      if (info.ok()) layout = info->layout;
      auto enc = info.ok() ? (*p)->Manifest(job.id, job.set, job.time_ns)
                           : Result<std::string>(info.status());
      if (!enc.ok()) {
        if (enc.status().IsNotFound() && pinned_request) continue;
        if (enc.status().IsNotFound())
          return fail("node " + c.node + " reported state for " + job.id.Key() +
                      " but has none: " + enc.status().message());
        unavailable.push_back(c.node + ": " + enc.status().message());
        if (!pinned_request) break;
        continue;
      }
      auto m = DecodeManifest(*enc);
      if (!m.ok()) return fail("manifest from node " + c.node + ": " + m.status().ToString());
      manifest = std::move(*m);
      if (!pinned_request && c.last_set == manifest.set && !c.last_root.empty() &&
          manifest.root.Hex() != c.last_root)
        return fail("manifest from node " + c.node + " has root " + manifest.root.ShortHex() +
                    ", not the reported " + c.last_root.substr(0, 12));
      peer = std::move(*p);
      o.source = "peer:" + c.node;
    }
    if (!layout.empty() && layout != LayoutKindName(job.layout.kind))
      return fail("the state of " + job.id.Key() + " was captured with the '" + layout +
                  "' volume layout, but the pod now has the '" +
                  std::string(LayoutKindName(job.layout.kind)) +
                  "' layout (the policy's paths or volume types changed)");
    found = true;
    break;
  }
  // The bucket: the last source.
  std::unique_ptr<replica::Bucket> bucket;
  std::string bucket_problem;
  if (!found && job.bucket) {
    const replica::BucketLayout bl(job.bucket->prefix);
    const std::string identity = job.id.Key();
    auto b = job.bucket->open ? job.bucket->open()
                              : Result<std::unique_ptr<replica::Bucket>>(
                                    Status::FailedPrecondition("no bucket client"));
    if (!b.ok()) {
      bucket_problem = job.bucket->describe + ": " + b.status().ToString();
    } else if (pinned_request) {
      auto m = replica::SelectManifest(**b, bl, identity, job.set, job.time_ns);
      if (m.ok()) {
        manifest = std::move(*m);
        found = true;
      } else if (!m.status().IsNotFound()) {
        bucket_problem = job.bucket->describe + ": " + m.status().ToString();
      }
    } else {
      replica::Head head;
      auto m = replica::ReadHeadManifest(**b, bl, identity, &head);
      if (m.ok()) {
        const SourceCandidate* first = job.candidates.empty() ? nullptr : &job.candidates.front();
        bool current = unavailable.empty() || !first || head.root.Hex() == first->last_root ||
                       head.time_ns >= first->last_capture_ns;
        if (current) {
          manifest = std::move(*m);
          found = true;
        } else {
          bucket_problem = job.bucket->describe + " holds an older state of " + identity +
                           " (set " + std::to_string(head.set) + " captured " +
                           Rfc3339(head.time_ns) + ", node " + first->node + " reported " +
                           Rfc3339(first->last_capture_ns) + "); it is not restored instead";
        }
      } else if (!m.status().IsNotFound()) {
        bucket_problem = job.bucket->describe + ": " + m.status().ToString();
      }
    }
    if (found) {
      bucket = std::move(*b);
      o.source = "bucket";
      log_->Info("Restoring from the bucket", {{"restore", job.restore},
                                               {"identity", identity},
                                               {"bucket", job.bucket->describe},
                                               {"set", manifest.set}});
    }
  }
  if (!found) {
    if (!unavailable.empty())
      return retry("cannot reach the node with the state: " + unavailable.front() +
                   (bucket_problem.empty() ? std::string() : "; " + bucket_problem));
    if (!bucket_problem.empty()) return retry("cannot read the bucket: " + bucket_problem);
    if (pinned_request)
      return fail(
          "no node has a capture set " +
          (job.set ? std::to_string(*job.set) : std::string("at or before the requested time")) +
          " for " + job.id.Key());
    o.marker = MarkerResult::kEmpty;
    o.succeeded = true;
    o.message = "no captured state; starting empty";
    o.seconds = elapsed();
    log_->Info("Nothing to restore", {{"restore", job.restore}, {"identity", job.id.Key()}});
    return Finish(job, o);
  }
  o.set = manifest.set;
  o.root = manifest.root.Hex();

  // 3. The target.
  auto target = job.layout.Pin(/*create=*/true);
  if (!target.ok()) {
    if (target.status().IsNotFound())
      return retry("the pod's volume directory is not set up yet: " + target.status().message());
    return fail("restore target: " + target.status().ToString());
  }
  auto store_paths = job.layout.StorePaths(job.volume_paths);
  if (!store_paths.ok()) return fail(store_paths.status().message());
  std::vector<std::string> paths = *store_paths;
  if (paths.empty() && job.layout.kind == LayoutKind::kVolumes) paths = job.layout.scopes;
  TreeAge age =
      ScanTreeAge(*target, job.layout.kind == LayoutKind::kVolumes ? job.layout.scopes
                                                                   : std::vector<std::string>{});
  if (age.files > 0 && age.newest_mtime_ns > manifest.time_ns) {
    o.marker = MarkerResult::kRestored;
    o.succeeded = true;
    o.source = "none";
    o.message = "the volume already holds data newer than the captured state (" + age.newest +
                " modified " + Rfc3339(age.newest_mtime_ns) + ", state of " +
                Rfc3339(manifest.time_ns) + "); left untouched";
    o.seconds = elapsed();
    log_->Warn("Restore skipped: newer data in the volume",
               {{"restore", job.restore}, {"newest", age.newest}});
    return Finish(job, o);
  }

  // 4. Restore, verified.
  RestoreRequest req;
  req.paths = paths;
  req.restore_owner = true;
  Result<RestoreResult> r = Status::Internal("not run");
  SpoolStats spool_stats;
  replica::ChunkSourceStats bucket_stats;
  if (bucket) {
    replica::BucketChunkSource upstream(bucket.get(), replica::BucketLayout(job.bucket->prefix));
    upstream.Prefetch(replica::RestoreOrder(manifest, req.paths));
    (void)MakeDirs(options_.spool_dir, 0700);
    SpoolChunkSource src(local_store, options_.spool_dir + "/" + job.pod_uid, &upstream);
    r = RestoreManifest(target->ProcPath(), manifest, src, req, log_);
    spool_stats = src.stats();
    bucket_stats = upstream.stats();
    if (r.ok() && r->failures.empty()) src.Clear();
    if (r.ok() && AllUnavailable(r->failures))
      return retry("the bucket became unavailable during the restore (" +
                   std::to_string(r->failures.size()) + " files left; fetched chunks are kept)");
  } else if (peer) {
    PeerChunkSource upstream(peer.get(), job.id);
    (void)MakeDirs(options_.spool_dir, 0700);
    SpoolChunkSource src(local_store, options_.spool_dir + "/" + job.pod_uid, &upstream);
    r = RestoreManifest(target->ProcPath(), manifest, src, req, log_);
    spool_stats = src.stats();
    bool complete = r.ok() && r->failures.empty();
    if (complete) src.Clear();
    if (r.ok() && AllUnavailable(r->failures))
      return retry("the peer went away during the restore (" + std::to_string(r->failures.size()) +
                   " files left; fetched chunks are kept)");
  } else {
    StoreChunkSource src(local_store);
    r = RestoreManifest(target->ProcPath(), manifest, src, req, log_);
  }
  if (!r.ok()) {
    if (r.status().retryable()) return retry("restore: " + r.status().ToString());
    return fail("restore: " + r.status().ToString());
  }
  o.files = r->files;
  o.bytes = r->bytes;
  if (!r->failures.empty()) {
    std::string msg =
        std::to_string(r->failures.size()) +
        " entries failed verification or could not be written (first: " + r->failures.front().path +
        ": " + r->failures.front().error + ")";
    return fail(msg);
  }
  o.marker = MarkerResult::kRestored;
  o.succeeded = true;
  o.seconds = elapsed();
  o.message = "restored capture set " + std::to_string(manifest.set) + " from " + o.source + ": " +
              std::to_string(r->files) + " files, " + std::to_string(r->bytes) + " bytes, root " +
              manifest.root.ShortHex() + " verified";
  if (bucket)
    o.message += " (" + std::to_string(spool_stats.from_upstream) + " chunks, " +
                 std::to_string(bucket_stats.bytes_downloaded) + " bytes downloaded from " +
                 job.bucket->describe + ", " +
                 std::to_string(spool_stats.from_local + spool_stats.from_spool) +
                 " already on this node)";
  if (peer)
    o.message += " (" + std::to_string(spool_stats.from_upstream) + " chunks fetched, " +
                 std::to_string(spool_stats.from_local + spool_stats.from_spool) +
                 " already on this node)";
  log_->Info("Restored", {{"restore", job.restore},
                          {"identity", job.id.Key()},
                          {"source", o.source},
                          {"set", o.set},
                          {"files", o.files},
                          {"bytes", o.bytes},
                          {"seconds", o.seconds}});
  return Finish(job, o);
}

}  // namespace dk::agent
