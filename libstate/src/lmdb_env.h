// Thin RAII layer over LMDB (private to libstate; no other part of the project sees LMDB).
//
// LmdbEnv owns one MDB_env (one per store directory per process, never shared over fork).
// LmdbTxn is a read or write transaction; a write transaction that is destroyed without
// Commit() is aborted, so an early return on error never leaves half a capture behind.
// Keep read transactions short: open readers stop LMDB from reusing freed pages.
#pragma once

#include <lmdb.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "libstate/result.h"
#include "libstate/status.h"

namespace dk {

Status LmdbStatus(int rc, std::string_view what);

class LmdbTxn;

class LmdbEnv {
 public:
  // Opens (creating if `create`) the environment in directory `dir` with the given map size.
  static Result<std::unique_ptr<LmdbEnv>> Open(const std::string& dir, size_t map_size,
                                               bool read_only, bool no_sync);
  ~LmdbEnv();
  LmdbEnv(const LmdbEnv&) = delete;
  LmdbEnv& operator=(const LmdbEnv&) = delete;

  Result<LmdbTxn> Begin(bool write);
  // A write transaction nested in `parent`: its changes become part of the parent on Commit
  // and vanish on abort. The parent must not be used while the child is open.
  Result<LmdbTxn> BeginNested(LmdbTxn& parent);
  // Handle of named database `name` (created in a write txn when absent and `create`).
  Result<MDB_dbi> OpenDb(LmdbTxn& txn, const char* name, bool create);
  MDB_env* raw() { return env_; }
  const std::string& dir() const { return dir_; }
  // Writes a compacted copy of the environment to `path` (a file).
  Status CopyCompact(const std::string& path);
  // Bytes the data file occupies on disk.
  uint64_t FileBytes() const;
  // Page accounting as of `txn`: the page size, the pages the file holds up to the highest one
  // in use, and how many of those are free (recorded in LMDB's freelist for reuse).
  struct Space {
    uint64_t page_size = 0, pages = 0, free_pages = 0;
  };
  Result<Space> SpaceOf(LmdbTxn& txn);
  // How many pages the last committed write transaction freed (its record in LMDB's
  // freelist; 0 when it freed none), and the pages the file holds up to the highest in use.
  // Opens a read transaction of its own.
  struct LastCommit {
    uint64_t freed_pages = 0, file_pages = 0;
  };
  Result<LastCommit> PagesFreedByLastCommit();

 private:
  LmdbEnv(MDB_env* env, std::string dir) : env_(env), dir_(std::move(dir)) {}
  MDB_env* env_;
  std::string dir_;
};

// Pages and entries of one database (branch + leaf + overflow = its pages).
struct LmdbDbStat {
  uint64_t entries = 0, branch_pages = 0, leaf_pages = 0, overflow_pages = 0;
};
Result<LmdbDbStat> DbStat(LmdbTxn& txn, MDB_dbi db);

class LmdbCursor;

class LmdbTxn {
 public:
  LmdbTxn(LmdbTxn&& o) noexcept : txn_(o.txn_), write_(o.write_) { o.txn_ = nullptr; }
  LmdbTxn& operator=(LmdbTxn&&) = delete;
  ~LmdbTxn() {
    if (txn_) mdb_txn_abort(txn_);
  }
  // Returns NotFound when absent. The view is valid until the txn ends or the key is written.
  Result<std::string_view> Get(MDB_dbi db, std::string_view key);
  Status Put(MDB_dbi db, std::string_view key, std::string_view value);
  // OK when deleted; NotFound when absent.
  Status Del(MDB_dbi db, std::string_view key);
  Status Commit();
  void Abort();
  bool write() const { return write_; }
  MDB_txn* raw() { return txn_; }

 private:
  friend class LmdbEnv;
  LmdbTxn(MDB_txn* t, bool write) : txn_(t), write_(write) {}
  MDB_txn* txn_;
  bool write_;
};

// Forward iteration over a database, optionally from a key prefix.
class LmdbCursor {
 public:
  static Result<LmdbCursor> Open(LmdbTxn& txn, MDB_dbi db);
  LmdbCursor(LmdbCursor&& o) noexcept : cur_(o.cur_) { o.cur_ = nullptr; }
  ~LmdbCursor() {
    if (cur_) mdb_cursor_close(cur_);
  }
  // Positions at the first key >= `key` ("" = first). Returns false at the end.
  bool Seek(std::string_view key);
  bool Next();
  bool Last();
  bool Prev();
  std::string_view key() const { return key_; }
  std::string_view value() const { return value_; }

 private:
  explicit LmdbCursor(MDB_cursor* c) : cur_(c) {}
  MDB_cursor* cur_;
  std::string_view key_, value_;
};

}  // namespace dk
