// Schema migration (private). Runs inside the opening write transaction, so a crash during
// migration leaves the old store untouched.
#pragma once

#include "lmdb_env.h"

namespace dk {

class StoreImpl;

class Migrator {
 public:
  explicit Migrator(StoreImpl* store) : s_(store) {}
  // v1 (full snapshots) → current: every snapshot becomes a chunked version; each distinct
  // v1 time becomes a capture set; the v1 database is dropped.
  Status MigrateV1(LmdbTxn& txn);

 private:
  StoreImpl* s_;
};

}  // namespace dk
