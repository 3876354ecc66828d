#include "migrate.h"

#include <sys/stat.h>
#include <zstd.h>

#include <algorithm>
#include <map>

#include "coding.h"
#include "libstate/legacy_v1.h"
#include "libstate/merkle.h"
#include "store_impl.h"

namespace dk {
namespace {
constexpr char kV1Db[] = "snapshots";
constexpr uint64_t kMaxV1File = 1ull << 32;

struct V1Rec {
  std::string path;
  uint64_t seq;
  int64_t time_ns;
  uint32_t mode;
  std::string key;
};
}  // namespace

Status WriteV1Store(const std::string& dir, const std::vector<V1Snapshot>& snapshots) {
  if (mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST)
    return Status::FromErrno(errno, "create v1 store " + dir);
  DK_ASSIGN_OR_RETURN(auto env, LmdbEnv::Open(dir, 1ull << 32, false, false));
  DK_ASSIGN_OR_RETURN(LmdbTxn txn, env->Begin(true));
  DK_ASSIGN_OR_RETURN(MDB_dbi meta, env->OpenDb(txn, "meta", true));
  if (txn.Get(meta, "schema").ok())
    return Status::FailedPrecondition(dir + " already holds a store");
  DK_ASSIGN_OR_RETURN(MDB_dbi snaps, env->OpenDb(txn, kV1Db, true));
  DK_RETURN_IF_ERROR(txn.Put(meta, "schema", "1"));
  std::map<std::string, uint64_t> seqs;
  for (const auto& s : snapshots) {
    Encoder e;
    e.PutU8(1);
    e.PutSigned(s.time_ns);
    e.PutVarint(s.mode);
    e.PutVarint(s.content.size());
    std::string z(ZSTD_compressBound(s.content.size()), '\0');
    size_t n = ZSTD_compress(z.data(), z.size(), s.content.data(), s.content.size(), 3);
    if (ZSTD_isError(n)) return Status::Internal("zstd compress failed");
    z.resize(n);
    e.PutRaw(z);
    DK_RETURN_IF_ERROR(txn.Put(snaps, VersionKey(s.path, ++seqs[s.path]), e.str()));
  }
  return txn.Commit();
}

Status Migrator::MigrateV1(LmdbTxn& txn) {
  LmdbEnv& env = *s_->env_;
  DK_ASSIGN_OR_RETURN(MDB_dbi snaps, env.OpenDb(txn, kV1Db, false));
  std::vector<V1Rec> recs;
  {
    DK_ASSIGN_OR_RETURN(LmdbCursor c, LmdbCursor::Open(txn, snaps));
    for (bool ok = c.Seek(""); ok; ok = c.Next()) {
      std::string_view k = c.key();
      size_t nul = k.find('\0');
      if (nul == std::string_view::npos || k.size() != nul + 9)
        return Status::Corruption("v1 snapshot key is malformed");
      Decoder d(c.value());
      uint8_t fmt;
      V1Rec r;
      if (!d.GetU8(&fmt) || fmt != 1 || !d.GetSigned(&r.time_ns) || !d.GetVarintAs(&r.mode))
        return Status::Corruption("v1 snapshot of " + std::string(k.substr(0, nul)) +
                                  " is garbled");
      r.path = std::string(k.substr(0, nul));
      r.seq = ReadBE64(k.substr(nul + 1));
      r.key = std::string(k);
      recs.push_back(std::move(r));
    }
  }
  std::stable_sort(recs.begin(), recs.end(), [](const V1Rec& a, const V1Rec& b) {
    return a.time_ns != b.time_ns ? a.time_ns < b.time_ns : a.path < b.path;
  });
  uint64_t set = 0;
  int64_t set_time = 0;
  uint64_t migrated = 0;
  uint64_t changed_in_set = 0;
  auto finish_set = [&]() -> Status {
    if (!set) return Status::Ok();
    SetInfo si;
    si.set = set;
    si.time_ns = set_time;
    si.changed = changed_in_set;
    DK_ASSIGN_OR_RETURN(si.root, s_->ComputeSetRoot(txn, &si.live_entries, &si.logical_bytes));
    return txn.Put(s_->dbs_.sets, BE64(set), EncodeSet(si));
  };
  for (const auto& r : recs) {
    if (!set || r.time_ns != set_time) {
      DK_RETURN_IF_ERROR(finish_set());
      ++set;
      set_time = r.time_ns;
      changed_in_set = 0;
    }
    DK_ASSIGN_OR_RETURN(std::string_view val, txn.Get(snaps, r.key));
    Decoder d(val);
    uint8_t fmt;
    int64_t t;
    uint32_t mode;
    uint64_t size;
    if (!d.GetU8(&fmt) || !d.GetSigned(&t) || !d.GetVarintAs(&mode) || !d.GetVarint(&size) ||
        size > kMaxV1File) {
      return Status::Corruption("v1 snapshot " + std::to_string(r.seq) + " of " + r.path +
                                " is garbled");
    }
    std::string_view z = d.rest();
    Bytes content(size);
    size_t n = ZSTD_decompress(content.data(), content.size(), z.data(), z.size());
    if (ZSTD_isError(n) || n != size)
      return Status::Corruption("v1 snapshot " + std::to_string(r.seq) + " of " + r.path +
                                " does not decompress");
    DK_ASSIGN_OR_RETURN(std::optional<FileHead> head, s_->GetHead(txn, r.path));
    std::optional<VersionInfo> prev;
    if (head) {
      DK_ASSIGN_OR_RETURN(VersionInfo pv, s_->GetVersion(txn, r.path, head->latest_seq));
      prev = std::move(pv);
    }
    VersionInfo v;
    v.path = r.path;
    v.seq = head ? head->latest_seq + 1 : 1;
    v.set = set;
    v.time_ns = r.time_ns;
    v.type = EntryType::kFile;
    v.mode = mode & 07777;
    v.mtime_ns = r.time_ns;
    uint64_t read = 0;
    DK_RETURN_IF_ERROR(
        s_->StoreContent(txn, -1, content, prev ? &*prev : nullptr, v.seq, &v, &read));
    if (head && head->root == v.root && head->mode == v.mode) continue;
    FileHead h;
    h.latest_seq = v.seq;
    h.latest_set = set;
    h.type = EntryType::kFile;
    h.size = v.size;
    h.mode = v.mode;
    h.mtime_ns = v.mtime_ns;
    h.content_hash = v.content_hash;
    h.root = v.root;
    DK_RETURN_IF_ERROR(s_->PutVersion(txn, v, h));
    ++migrated;
    ++changed_in_set;
  }
  DK_RETURN_IF_ERROR(finish_set());
  int rc = mdb_drop(txn.raw(), snaps, 1);
  if (rc) return LmdbStatus(rc, "drop v1 snapshots");
  DK_RETURN_IF_ERROR(txn.Put(s_->dbs_.meta, "next_set", std::to_string(set + 1)));
  s_->log_->Info("Migrated v1 snapshots", {{"versions", migrated}, {"sets", set}});
  return Status::Ok();
}

}  // namespace dk
