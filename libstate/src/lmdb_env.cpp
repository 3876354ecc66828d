#include "lmdb_env.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace dk {
namespace {
MDB_val Val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
std::string_view View(const MDB_val& v) { return {static_cast<const char*>(v.mv_data), v.mv_size}; }
}  // namespace

Status LmdbStatus(int rc, std::string_view what) {
  if (rc == 0) return Status::Ok();
  std::string msg = std::string(what) + ": " + mdb_strerror(rc);
  switch (rc) {
    case MDB_NOTFOUND:
      return Status::NotFound(msg);
    case MDB_MAP_FULL:
      return Status::NoSpace(msg + " (the store's map size is exhausted; raise map_size)");
    case MDB_TXN_FULL:
      return Status::NoSpace(msg + " (too much data for one transaction)");
    case ENOSPC:
      return Status::NoSpace(msg);
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
      return Status::Corruption(msg);
    case MDB_VERSION_MISMATCH:
      return Status::FailedPrecondition(msg);
    case EACCES:
    case EPERM:
      return Status::PermissionDenied(msg);
    case MDB_READERS_FULL:
    case EAGAIN:
    case EBUSY:
      return Status::Unavailable(msg);
    default:
      return Status::IOError(msg);
  }
}

Result<std::unique_ptr<LmdbEnv>> LmdbEnv::Open(const std::string& dir, size_t map_size,
                                               bool read_only, bool no_sync) {
  MDB_env* env = nullptr;
  int rc = mdb_env_create(&env);
  if (rc) return LmdbStatus(rc, "create LMDB environment");
  auto fail = [&](int code, std::string_view what) {
    mdb_env_close(env);
    return LmdbStatus(code, std::string(what) + " " + dir);
  };
  if ((rc = mdb_env_set_maxdbs(env, 16))) return fail(rc, "set maxdbs");
  if ((rc = mdb_env_set_mapsize(env, map_size))) return fail(rc, "set map size");
  if ((rc = mdb_env_set_maxreaders(env, 126))) return fail(rc, "set max readers");
  unsigned flags = MDB_NOTLS;
  if (read_only) flags |= MDB_RDONLY;
  if (no_sync) flags |= MDB_NOSYNC;
  if ((rc = mdb_env_open(env, dir.c_str(), flags, 0640))) return fail(rc, "open store");
  int dead = 0;
  mdb_reader_check(env, &dead);  // clear readers left by killed processes
  return std::unique_ptr<LmdbEnv>(new LmdbEnv(env, dir));
}

LmdbEnv::~LmdbEnv() { mdb_env_close(env_); }

Result<LmdbTxn> LmdbEnv::Begin(bool write) {
  MDB_txn* t = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, write ? 0 : MDB_RDONLY, &t);
  if (rc) return LmdbStatus(rc, write ? "begin write transaction" : "begin read transaction");
  return LmdbTxn(t, write);
}

Result<LmdbTxn> LmdbEnv::BeginNested(LmdbTxn& parent) {
  MDB_txn* t = nullptr;
  int rc = mdb_txn_begin(env_, parent.raw(), 0, &t);
  if (rc) return LmdbStatus(rc, "begin nested transaction");
  return LmdbTxn(t, true);
}

Result<MDB_dbi> LmdbEnv::OpenDb(LmdbTxn& txn, const char* name, bool create) {
  MDB_dbi dbi;
  int rc = mdb_dbi_open(txn.raw(), name, create ? MDB_CREATE : 0, &dbi);
  if (rc) return LmdbStatus(rc, std::string("open database ") + name);
  return dbi;
}

Status LmdbEnv::CopyCompact(const std::string& path) {
  return LmdbStatus(mdb_env_copy2(env_, path.c_str(), MDB_CP_COMPACT), "compact copy to " + path);
}

uint64_t LmdbEnv::FileBytes() const {
  struct stat st;
  if (stat((dir_ + "/data.mdb").c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

Result<LmdbEnv::Space> LmdbEnv::SpaceOf(LmdbTxn& txn) {
  MDB_envinfo info;
  if (int rc = mdb_env_info(env_, &info)) return LmdbStatus(rc, "env info");
  MDB_stat st;
  if (int rc = mdb_env_stat(env_, &st)) return LmdbStatus(rc, "env stat");
  Space sp;
  sp.page_size = st.ms_psize;
  sp.pages = static_cast<uint64_t>(info.me_last_pgno) + 1;
  // The freelist (database 0) maps a transaction id to the pages it freed: a count, then the
  // page numbers (an MDB_IDL of size_t).
  MDB_cursor* c = nullptr;
  if (int rc = mdb_cursor_open(txn.raw(), 0, &c)) return LmdbStatus(rc, "open freelist cursor");
  MDB_val k, v;
  int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
  for (; rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
    if (v.mv_size >= sizeof(size_t)) {
      size_t n;
      std::memcpy(&n, v.mv_data, sizeof n);
      sp.free_pages += n;
    }
  }
  mdb_cursor_close(c);
  if (rc != MDB_NOTFOUND) return LmdbStatus(rc, "read freelist");
  return sp;
}

Result<LmdbEnv::LastCommit> LmdbEnv::PagesFreedByLastCommit() {
  // (LMDB opens no cursor on the freelist in a write transaction.)
  DK_ASSIGN_OR_RETURN(LmdbTxn txn, Begin(false));
  const size_t last = mdb_txn_id(txn.raw());
  MDB_envinfo info;
  if (int rc = mdb_env_info(env_, &info)) return LmdbStatus(rc, "env info");
  LastCommit lc;
  lc.file_pages = static_cast<uint64_t>(info.me_last_pgno) + 1;
  MDB_cursor* c = nullptr;
  if (int rc = mdb_cursor_open(txn.raw(), 0, &c)) {
    return LmdbStatus(rc, "open freelist cursor");
  }
  MDB_val k, v;
  int rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
  if (rc == 0 && k.mv_size == sizeof(size_t) && v.mv_size >= sizeof(size_t)) {
    size_t id, n;
    std::memcpy(&id, k.mv_data, sizeof id);
    std::memcpy(&n, v.mv_data, sizeof n);
    if (id == last) lc.freed_pages = n;
  }
  mdb_cursor_close(c);
  if (rc != 0 && rc != MDB_NOTFOUND) return LmdbStatus(rc, "read freelist");
  return lc;
}

Result<LmdbDbStat> DbStat(LmdbTxn& txn, MDB_dbi db) {
  MDB_stat st;
  if (int rc = mdb_stat(txn.raw(), db, &st)) return LmdbStatus(rc, "database stat");
  return LmdbDbStat{st.ms_entries, st.ms_branch_pages, st.ms_leaf_pages, st.ms_overflow_pages};
}

Result<std::string_view> LmdbTxn::Get(MDB_dbi db, std::string_view key) {
  MDB_val k = Val(key), v;
  int rc = mdb_get(txn_, db, &k, &v);
  if (rc) return LmdbStatus(rc, "get");
  return View(v);
}

Status LmdbTxn::Put(MDB_dbi db, std::string_view key, std::string_view value) {
  MDB_val k = Val(key), v = Val(value);
  return LmdbStatus(mdb_put(txn_, db, &k, &v, 0), "put");
}

Status LmdbTxn::Del(MDB_dbi db, std::string_view key) {
  MDB_val k = Val(key);
  return LmdbStatus(mdb_del(txn_, db, &k, nullptr), "delete");
}

Status LmdbTxn::Commit() {
  int rc = mdb_txn_commit(txn_);
  txn_ = nullptr;
  return LmdbStatus(rc, "commit");
}

void LmdbTxn::Abort() {
  if (txn_) mdb_txn_abort(txn_);
  txn_ = nullptr;
}

Result<LmdbCursor> LmdbCursor::Open(LmdbTxn& txn, MDB_dbi db) {
  MDB_cursor* c = nullptr;
  int rc = mdb_cursor_open(txn.raw(), db, &c);
  if (rc) return LmdbStatus(rc, "open cursor");
  return LmdbCursor(c);
}

bool LmdbCursor::Seek(std::string_view key) {
  MDB_val k = Val(key), v;
  int rc = key.empty() ? mdb_cursor_get(cur_, &k, &v, MDB_FIRST)
                       : mdb_cursor_get(cur_, &k, &v, MDB_SET_RANGE);
  if (rc) return false;
  key_ = View(k);
  value_ = View(v);
  return true;
}

#define DK_CURSOR_STEP(op)                            \
  MDB_val k, v;                                       \
  if (mdb_cursor_get(cur_, &k, &v, op)) return false; \
  key_ = View(k);                                     \
  value_ = View(v);                                   \
  return true

bool LmdbCursor::Next() { DK_CURSOR_STEP(MDB_NEXT); }
bool LmdbCursor::Prev() { DK_CURSOR_STEP(MDB_PREV); }
bool LmdbCursor::Last() { DK_CURSOR_STEP(MDB_LAST); }
#undef DK_CURSOR_STEP

}  // namespace dk
