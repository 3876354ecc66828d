// RestoreManifest: verified, atomic-per-file restore of a capture set from any ChunkSource.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>

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

// Writes restored files on a few threads while the calling thread fetches and verifies: the
// ChunkSource (and the store's LMDB read transaction behind it) stays on the calling thread,
// and the part that waits on the disk (temporary file, write, fsync, rename: WriteFileAtomic,
// crash-ordering unchanged) overlaps with verification and with other files' fsyncs.
// Verified chunks wait in per-file queues; their total is bounded by `max_buffered` (one
// chunk may exceed it alone), so memory stays bounded whatever the file sizes.
class FileWriterPool {
 public:
  struct Job {
    std::string path;
    uint64_t seq = 0;
    size_t order = 0;  // position among the restored entries, for the failure list
    EntryMeta meta;
    std::deque<Bytes> chunks;
    bool ended = false;      // the caller pushed everything (or gave up: end_status)
    Status end_status;       // what the producer returns once the queue is drained
    bool abandoned = false;  // the writer failed: further chunks are dropped
    bool finished = false;
    Status result;
    uint64_t written = 0;
  };

  FileWriterPool(int root_fd, size_t threads, uint64_t max_buffered)
      : root_fd_(root_fd), max_threads_(threads), max_buffered_(max_buffered) {}
  ~FileWriterPool() { Finish(); }

  // nullptr when the pool has no thread and cannot start one (`threads` was 0, or the
  // thread limit was reached): the caller writes the file itself.
  Job* Begin(const VersionInfo& v, const EntryMeta& meta, size_t order) {
    auto job = std::make_unique<Job>();
    job->path = v.path;
    job->seq = v.seq;
    job->order = order;
    job->meta = meta;
    Job* j = job.get();
    {
      std::lock_guard<std::mutex> l(mu_);
      // A thread per queued file up to the limit, started when first needed.
      if (max_threads_ == 0) return nullptr;
      if (threads_.size() < max_threads_ && jobs_.size() + 1 - next_ > idle_) {
        try {
          threads_.emplace_back([this] { Work(); });
        } catch (const std::system_error&) {
          if (threads_.empty()) return nullptr;  // the threads there are will get to it
        }
      }
      jobs_.push_back(std::move(job));
    }
    cv_.notify_all();
    return j;
  }
  // Blocks while the queued bytes are over the bound.
  void Push(Job* j, Bytes chunk) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] {
      return j->abandoned || buffered_ == 0 || buffered_ + chunk.size() <= max_buffered_;
    });
    if (j->abandoned) return;
    buffered_ += chunk.size();
    j->chunks.push_back(std::move(chunk));
    l.unlock();
    cv_.notify_all();
  }
  // `s` not ok: the caller failed (verification): the file is not written.
  void End(Job* j, Status s) {
    {
      std::lock_guard<std::mutex> l(mu_);
      j->ended = true;
      j->end_status = std::move(s);
    }
    cv_.notify_all();
  }
  // Waits for every file; returns the jobs in the order they were begun.
  std::vector<std::unique_ptr<Job>>& Finish() {
    {
      std::lock_guard<std::mutex> l(mu_);
      closing_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
    return jobs_;
  }

 private:
  void Work() {
    std::unique_lock<std::mutex> l(mu_);
    while (true) {
      ++idle_;
      cv_.wait(l, [&] { return next_ < jobs_.size() || closing_; });
      --idle_;
      if (next_ >= jobs_.size()) return;  // closing, nothing left
      Job* j = jobs_[next_++].get();
      l.unlock();
      uint64_t written = 0;
      Status s = WriteFileAtomic(
          root_fd_, j->path,
          [&](const ByteSink& sink) -> Status {
            while (true) {
              Bytes c;
              {
                std::unique_lock<std::mutex> jl(mu_);
                cv_.wait(jl, [&] { return !j->chunks.empty() || j->ended; });
                if (j->chunks.empty()) return j->end_status;
                c = std::move(j->chunks.front());
                j->chunks.pop_front();
                buffered_ -= c.size();
              }
              cv_.notify_all();
              DK_RETURN_IF_ERROR(sink(c));
              written += c.size();
            }
          },
          j->meta);
      l.lock();
      if (!s.ok()) {  // drop what is still queued for it, and what comes
        j->abandoned = true;
        for (const Bytes& c : j->chunks) buffered_ -= c.size();
        j->chunks.clear();
      }
      j->result = std::move(s);
      j->written = written;
      j->finished = true;
      cv_.notify_all();
    }
  }

  const int root_fd_;
  const size_t max_threads_;
  const uint64_t max_buffered_;
  std::mutex mu_;
  std::condition_variable cv_;  // any change of the state below
  std::vector<std::unique_ptr<Job>> jobs_;
  size_t next_ = 0;  // first job no thread has taken
  size_t idle_ = 0;  // threads waiting for a job
  uint64_t buffered_ = 0;
  bool closing_ = false;
  std::vector<std::thread> threads_;
};

// Writer threads and queued bytes for a restore (files are mostly waiting on fsync; more
// threads let the filesystem commit several files' data in one journal transaction). The
// bound is what a restore may hold in memory beyond one chunk: 16 MiB keeps 4 writers busy
// with files of up to 4 MiB each without a wait.
constexpr size_t kRestoreWriters = 4;
constexpr uint64_t kRestoreBuffered = 16ull << 20;

// Checks fetched chunks against their ids on a helper thread, and on the calling thread
// whenever it would otherwise wait, while the calling thread goes on fetching (the source
// stays on it) and hands verified chunks to the sink in order. SHA-256 is most of a
// restore's CPU; this puts it on two cores. At most kWindow chunks are in flight.
class ParallelVerifier {
 public:
  static constexpr size_t kWindow = 8;

  ParallelVerifier() : helper_([this] { Work(); }) {}  // may throw std::system_error
  ~ParallelVerifier() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    helper_.join();  // it finishes the slot it hashes first: slots outlive it
  }

  // Queues chunk `data` that must hash to `want`. When kWindow chunks are queued, first
  // hands the oldest to `ready` (false: it did not match its id; `ready` decides what then).
  Status Add(Bytes data, const ObjectId& want, const std::function<Status(bool, Bytes)>& ready) {
    {
      std::lock_guard<std::mutex> l(mu_);
      auto slot = std::make_unique<Slot>();
      slot->data = std::move(data);
      slot->want = want;
      window_.push_back(std::move(slot));
    }
    cv_.notify_all();
    while (Size() >= kWindow) DK_RETURN_IF_ERROR(PopFront(ready));
    return Status::Ok();
  }
  // Hands every queued chunk to `ready`, in order.
  Status Drain(const std::function<Status(bool, Bytes)>& ready) {
    while (Size() > 0) DK_RETURN_IF_ERROR(PopFront(ready));
    return Status::Ok();
  }

 private:
  struct Slot {
    Bytes data;
    ObjectId want;
    bool claimed = false;
    bool hashed = false;
    bool match = false;
  };

  size_t Size() {
    std::lock_guard<std::mutex> l(mu_);
    return window_.size();
  }
  // The oldest slot nobody hashes yet, claimed; nullptr if none. Caller holds mu_.
  Slot* Claim() {
    for (auto& s : window_) {
      if (!s->claimed) {
        s->claimed = true;
        return s.get();
      }
    }
    return nullptr;
  }
  void Hash(Slot* s, std::unique_lock<std::mutex>& l) {
    l.unlock();
    bool match = HashBytes(s->data) == s->want;
    l.lock();
    s->match = match;
    s->hashed = true;
    cv_.notify_all();
  }
  Status PopFront(const std::function<Status(bool, Bytes)>& ready) {
    std::unique_lock<std::mutex> l(mu_);
    while (!window_.front()->hashed) {
      if (Slot* s = Claim())
        Hash(s, l);  // help rather than wait
      else
        cv_.wait(l, [&] { return window_.front()->hashed; });
    }
    std::unique_ptr<Slot> front = std::move(window_.front());
    window_.pop_front();
    l.unlock();
    return ready(front->match, std::move(front->data));
  }
  void Work() {
    std::unique_lock<std::mutex> l(mu_);
    while (true) {
      Slot* s = nullptr;
      cv_.wait(l, [&] { return stop_ || (s = Claim()) != nullptr; });
      if (!s) return;  // stopping
      Hash(s, l);
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;  // a slot was queued or hashed, or stop_
  std::deque<std::unique_ptr<Slot>> window_;
  bool stop_ = false;
  std::thread helper_;  // last: starts once the members above exist
};

// Below this many chunks a file is hashed on the calling thread (starting the helper costs
// about as much as hashing a chunk).
constexpr size_t kParallelVerifyMinChunks = 4;

}  // namespace

Status StreamVerified(const VersionInfo& v, ChunkSource& src, const ChunkSink& sink,
                      uint64_t* bytes) {
  auto where = [&] { return "file " + v.path + " version " + std::to_string(v.seq); };
  if (v.chunks.size() != v.chunk_sizes.size() || MerkleRoot(v.chunks) != v.root)
    return Status::Corruption(where() + ": chunk list does not match its Merkle root");
  uint64_t listed = 0;
  for (uint32_t n : v.chunk_sizes) listed += n;
  if (listed != v.size)
    return Status::Corruption(where() + ": chunk sizes do not add up to its size");
  const bool verified = src.VerifiesIds();
  auto mismatch = [&](size_t i) {
    return Status::Corruption(where() + ": object " + v.chunks[i].Hex() + " does not match its id");
  };
  std::unique_ptr<ParallelVerifier> pv;
  if (!verified && v.chunks.size() >= kParallelVerifyMinChunks) {
    try {
      pv = std::make_unique<ParallelVerifier>();
    } catch (const std::system_error&) {
      // no thread to be had: hash here
    }
  }
  uint64_t total = 0;
  size_t sunk = 0;  // chunks handed to the sink (the parallel path's position)
  auto ready = [&](bool match, Bytes c) -> Status {
    if (!match) return mismatch(sunk);
    ++sunk;
    return sink(std::move(c));
  };
  for (size_t i = 0; i < v.chunks.size(); ++i) {
    auto c = src.Fetch(v.chunks[i]);
    if (!c.ok()) return c.status().WithContext(where() + ": object " + v.chunks[i].Hex());
    if (c->size() != v.chunk_sizes[i]) return mismatch(i);
    total += c->size();
    if (pv) {
      DK_RETURN_IF_ERROR(pv->Add(std::move(*c), v.chunks[i], ready));
      continue;
    }
    if (!verified && HashBytes(*c) != v.chunks[i]) return mismatch(i);
    DK_RETURN_IF_ERROR(sink(std::move(*c)));
  }
  if (pv) DK_RETURN_IF_ERROR(pv->Drain(ready));
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
  std::vector<std::pair<size_t, RestoreFailure>> failures;  // by position, merged at the end
  // One file: written by this thread (a writer thread would only add its start-up; the
  // overlap of verification with the write did not measurably shorten one file's restore).
  size_t files_to_write = 0;
  for (const auto& v : m.entries)
    if (v.type == EntryType::kFile && UnderPaths(v.path, req.paths)) ++files_to_write;
  FileWriterPool writers(root_fd.get(), files_to_write > 1 ? kRestoreWriters : 0, kRestoreBuffered);
  for (size_t order = 0; order < m.entries.size(); ++order) {
    const VersionInfo& v = m.entries[order];
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
      FileWriterPool::Job* job = writers.Begin(v, meta_of(v), order);  // nullptr: write here
      if (!job) {
        uint64_t written = 0;
        s = WriteFileAtomic(
            root_fd.get(), v.path,
            [&](const ByteSink& sink) {
              return StreamVerified(
                  v, src, [&](Bytes c) { return sink(c); }, &written);
            },
            meta_of(v));
        if (s.ok()) {
          ++res.files;
          res.bytes += written;
        } else {
          failures.push_back({order, {v.path, v.seq, s.ToString()}});
        }
        continue;
      }
      uint64_t fetched = 0;
      Status vs = StreamVerified(
          v, src,
          [&](Bytes c) {
            writers.Push(job, std::move(c));
            return Status::Ok();
          },
          &fetched);
      writers.End(job, std::move(vs));
      continue;  // counted when the writers are done
    }
    if (!s.ok()) failures.push_back({order, {v.path, v.seq, s.ToString()}});
  }
  for (const auto& job : writers.Finish()) {
    if (job->result.ok()) {
      ++res.files;
      res.bytes += job->written;
    } else {
      failures.push_back({job->order, {job->path, job->seq, job->result.ToString()}});
    }
  }
  std::stable_sort(failures.begin(), failures.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [order, f] : failures) {
    log->Error("Restore of entry failed",
               {{"path", f.path}, {"version", f.seq}, {"error", f.error}});
    res.failures.push_back(std::move(f));
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
