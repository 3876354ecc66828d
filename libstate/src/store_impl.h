// StoreImpl: the LMDB-backed Store (private). See store.h for the contract and
// libstate/FORMAT.md for the layout.
#pragma once

#include <array>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "fs_safe.h"
#include "libstate/chunker.h"
#include "libstate/manifest.h"
#include "libstate/store.h"
#include "lmdb_env.h"
#include "object_store.h"
#include "records.h"

namespace dk {

struct StoreDbs {
  MDB_dbi meta, objects, refs, deps, files, versions, sets;
};
// Every database of a store by name, "meta" first (it is opened first: it says whether the
// others are to be created).
inline constexpr std::array<std::pair<const char*, MDB_dbi StoreDbs::*>, 7> kStoreDbs = {{
    {"meta", &StoreDbs::meta},
    {"objects", &StoreDbs::objects},
    {"refs", &StoreDbs::refs},
    {"deps", &StoreDbs::deps},
    {"files", &StoreDbs::files},
    {"versions", &StoreDbs::versions},
    {"sets", &StoreDbs::sets},
}};

class StoreImpl final : public Store {
 public:
  StoreImpl(std::string path, StoreOptions opts, OpenMode mode);
  ~StoreImpl() override;
  Status Init();

  Result<CaptureResult> Capture(const std::string& root, const CaptureFilter& filter,
                                const ProgressFn& progress) override;
  Result<RestoreResult> Restore(const std::string& target, const RestoreRequest& req) override;
  Result<std::vector<VersionInfo>> Log(const std::string& path) override;
  Result<std::vector<SetInfo>> Sets() override;
  Result<Bytes> ReadVersion(const std::string& path, uint64_t seq) override;
  Result<VerifyReport> Verify(const ProgressFn& progress) override;
  Result<GcReport> Gc(const RetentionPolicy& policy) override;
  Result<StoreStats> Stats() override;
  Result<SetManifest> Manifest(std::optional<uint64_t> set) override;
  Result<Bytes> ReadObject(const ObjectId& id) override;
  uint64_t ObjectsDecoded() const override { return objects_->decoded(); }

 private:
  friend class Migrator;
  struct NewContent;  // chunks being written for one file version

  Status OpenEnv();
  // Commits a write transaction, first making the pack bytes it refers to durable; then
  // ReleaseFreedPages.
  Status CommitWrite(LmdbTxn& txn);
  // LMDB reuses the pages a commit freed (the old copies of every page it rewrote) only two
  // write transactions later: the snapshot before it must survive a crash during the next
  // commit. So back-to-back captures that each rewrite most of the B-tree pages leave the
  // data file holding two captures' worth of free pages. After a commit that freed at least
  // kReleaseFreedPages pages and an eighth of the file, this commits one small write (the
  // next-set counter, unchanged), which makes them reusable by the next capture: one
  // capture's worth instead of two. (Benchmark, 10 captures: 2,000 small files, data file
  // 4.5 -> 3.2 MiB; a 32 MiB page file, 756 -> 564 KiB.) A one-file capture into a store of
  // any size frees fewer and pays no extra commit. Best effort: a failure is logged, the
  // commit before it stands.
  void ReleaseFreedPages();
  static constexpr uint64_t kReleaseFreedPages = 16;
  // GC: rewrites packs that are at least a quarter garbage and removes unreferenced ones.
  Status RepackLocked(GcReport* rep);
  // Data file plus pack files, on disk.
  uint64_t DiskBytes();
  Status OpenDbs(bool create);
  Status MigrateIfNeeded(uint32_t schema);
  int64_t Now() const { return opts_.clock ? opts_.clock() : SystemClockNs(); }

  // Records a new version of `path` in `txn` (heads, refcounts, version record).
  Status PutVersion(LmdbTxn& txn, VersionInfo v, FileHead head);
  // Stores file content read from `fd` (or `data` when fd < 0) as chunks for version
  // `seq` of `path`, deltas against `prev` when useful. Fills chunks/sizes/hash/root/stored.
  Status StoreContent(LmdbTxn& txn, int fd, ByteView data, const VersionInfo* prev, uint64_t seq,
                      VersionInfo* v, uint64_t* bytes_read);
  Result<std::optional<FileHead>> GetHead(LmdbTxn& txn, std::string_view path);
  Result<VersionInfo> GetVersion(LmdbTxn& txn, std::string_view path, uint64_t seq);
  // Latest version of `path` recorded in a set <= `set`; nullopt if none.
  Result<std::optional<VersionInfo>> VersionAtSet(LmdbTxn& txn, std::string_view path,
                                                  uint64_t set);
  // Streams a file version's content into `sink`, verified (see StreamVerified).
  Status StreamVersion(LmdbTxn& txn, const VersionInfo& v, const ByteSink& sink);
  // Reconstructs and verifies a file version's content, in memory.
  Result<Bytes> Reconstruct(LmdbTxn& txn, const VersionInfo& v);
  Result<ObjectId> ComputeSetRoot(LmdbTxn& txn, uint64_t* live, uint64_t* bytes);
  Result<uint64_t> NextSet(LmdbTxn& txn);
  Result<uint64_t> ResolveSet(LmdbTxn& txn, const RestoreRequest& req);
  Result<SetManifest> BuildManifest(LmdbTxn& txn, uint64_t set);

  std::string path_;
  StoreOptions opts_;
  OpenMode mode_;
  Logger* log_;
  std::unique_ptr<Chunker> chunker_;
  UniqueFd lock_fd_;
  std::unique_ptr<LmdbEnv> env_;
  StoreDbs dbs_{};
  std::unique_ptr<PackStore> packs_;
  std::unique_ptr<ObjectStore> objects_;
  std::mutex mu_;  // serialises writers and use of objects_' cache
};

}  // namespace dk
