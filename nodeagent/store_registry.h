// StoreRegistry: the node's stores, one per pod identity, and what the agent knows about each.
//
// Stores live at <stores-dir>/<namespace>/<statefulset>/<ordinal>/ (docs/protocol.md). LMDB
// allows one environment per store per process, so every user in the agent — capture workers,
// restores, the peer API, the node report — gets the same open Store from here; stores stay
// open until the registry is destroyed (their number is bounded by the identities on the node).
//
// Beside the LMDB files each store directory holds agent.json, the identity record:
//   {"namespace","statefulSet","ordinal","policy","pod","podUID","layout",
//    "restorePoint":{"set":N,"root":"<hex>","time":<unix ns>}}
// The restore point is the capture set a restore of "the latest state" uses. It follows every
// capture, except captures of a terminating pod that record deletions: the kubelet removing the
// pod's volume looks exactly like the application deleting its files, and must never become
// the state a re-created pod gets back. Crash ordering: agent.json is written to a temporary
// file, fsync'd and renamed after the capture committed; after a crash it may lag behind the
// store by the last capture (restore then uses an older set, never a half one).
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "libstate/logger.h"
#include "libstate/store.h"
#include "pod_identity.h"

namespace dk::agent {

struct RestorePoint {
  uint64_t set = 0;  // 0 = none yet
  ObjectId root;
  int64_t time_ns = 0;
};

struct IdentityRecord {
  PodIdentity id;
  std::string policy;
  std::string pod;
  std::string pod_uid;
  std::string layout;  // LayoutKindName of the pod's layout ("" unknown)
  RestorePoint point;
};

// What the node report says about an identity (docs/protocol.md "Node report").
struct IdentitySummary {
  IdentityRecord record;
  uint64_t versions = 0, sets = 0, logical_bytes = 0, stored_bytes = 0;
  uint64_t disk_bytes = 0;  // data file and pack files (garbage and free pages included)
  uint64_t errors = 0;
  std::string last_error;
};

class StoreRegistry {
 public:
  // `defaults` are the store options for stores created without a policy's (logger, sync).
  StoreRegistry(std::string stores_dir, StoreOptions defaults, Logger* logger);
  ~StoreRegistry();
  StoreRegistry(const StoreRegistry&) = delete;
  StoreRegistry& operator=(const StoreRegistry&) = delete;

  // Where the options of an existing store come from when it is opened without `create_with`
  // (its policy's: delta engine, snapshot interval…); unset or nullopt = the defaults.
  void SetOptionsSource(std::function<std::optional<StoreOptions>(const PodIdentity&)> fn) {
    options_for_ = std::move(fn);
  }

  // The open store of `id`. With `create_with`, a missing store is created with those options
  // (the chunker is fixed at creation); without, NotFound when it does not exist. A store stays
  // open with the options it was first opened with.
  Result<Store*> Get(const PodIdentity& id, const StoreOptions* create_with = nullptr);
  bool Exists(const PodIdentity& id) const;
  // Deletes the store of `id` from disk (a purge). A Store already handed out stays usable (it
  // is kept, closed only when the registry is destroyed, so its disk space returns then).
  Status Remove(const PodIdentity& id);
  // Identities that have a store on disk.
  std::vector<PodIdentity> List() const;

  // The record of `id` (a default one — no restore point — when none was saved).
  IdentityRecord Record(const PodIdentity& id);
  // Updates the pod fields of the record (persisted when they changed).
  Status NotePod(const PodIdentity& id, const std::string& policy, const std::string& pod,
                 const std::string& pod_uid, const std::string& layout);
  // Moves the restore point to `point` (persisted). A set older than the current point is
  // ignored.
  Status SetRestorePoint(const PodIdentity& id, const RestorePoint& point);
  // Counts an error of the identity for the node report.
  void NoteError(const PodIdentity& id, const std::string& error);
  void ClearError(const PodIdentity& id);

  // Summaries of every identity with a store; store statistics are recomputed only for
  // identities whose store changed since the last call (MarkChanged) — they scan the store.
  std::vector<IdentitySummary> Summaries();
  void MarkChanged(const PodIdentity& id);

  const std::string& stores_dir() const { return stores_dir_; }

 private:
  struct Entry {
    std::unique_ptr<Store> store;
    bool record_loaded = false;
    IdentityRecord record;
    bool stats_valid = false;
    StoreStats stats;
    uint64_t errors = 0;
    std::string last_error;
  };
  Entry& EntryLocked(const PodIdentity& id);
  void LoadRecordLocked(const PodIdentity& id, Entry* e);
  Status SaveRecordLocked(const Entry& e);

  const std::string stores_dir_;
  const StoreOptions defaults_;
  std::function<std::optional<StoreOptions>(const PodIdentity&)> options_for_;
  Logger* const log_;
  mutable std::mutex mu_;
  std::mutex open_mu_;                           // serialises Store::Open (slow; not under mu_)
  std::map<std::string, Entry> entries_;         // by identity key
  std::vector<std::unique_ptr<Store>> retired_;  // removed while possibly in use
};

// Encoding of agent.json (exposed for tests).
std::string EncodeIdentityRecord(const IdentityRecord& r);
Result<IdentityRecord> DecodeIdentityRecord(const std::string& json);

}  // namespace dk::agent
