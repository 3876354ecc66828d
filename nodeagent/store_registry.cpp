#include "store_registry.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "pinned_dir.h"

namespace dk::agent {
namespace {

using nlohmann::json;

std::vector<std::string> Subdirs(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == ".." || n[0] == '.') continue;
    struct stat st;
    if (fstatat(dirfd(d), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
      out.push_back(n);
  }
  closedir(d);
  return out;
}

Status WriteFileAtomic(const std::string& path, const std::string& data) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string tmp = path + ".tmp-" + std::to_string(rng());
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0) return Status::FromErrno(errno, "create " + tmp);
  size_t off = 0;
  Status s;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      s = Status::FromErrno(errno, "write " + tmp);
      break;
    }
    off += static_cast<size_t>(n);
  }
  if (s.ok() && fsync(fd) != 0) s = Status::FromErrno(errno, "fsync " + tmp);
  close(fd);
  if (s.ok() && rename(tmp.c_str(), path.c_str()) != 0)
    s = Status::FromErrno(errno, "rename " + tmp);
  if (!s.ok()) unlink(tmp.c_str());
  return s;
}

}  // namespace

std::string EncodeIdentityRecord(const IdentityRecord& r) {
  json j = {{"namespace", r.id.ns},
            {"statefulSet", r.id.stateful_set},
            {"ordinal", r.id.ordinal},
            {"policy", r.policy},
            {"pod", r.pod},
            {"podUID", r.pod_uid},
            {"layout", r.layout},
            {"restorePoint",
             {{"set", r.point.set},
              {"root", r.point.set ? r.point.root.Hex() : std::string()},
              {"time", r.point.time_ns}}}};
  return j.dump() + "\n";
}

Result<IdentityRecord> DecodeIdentityRecord(const std::string& text) {
  auto j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return Status::Corruption("agent.json is not a JSON object");
  IdentityRecord r;
  auto str = [&](const json& o, const char* k) {
    return o.contains(k) && o[k].is_string() ? o[k].get<std::string>() : std::string();
  };
  r.id.ns = str(j, "namespace");
  r.id.stateful_set = str(j, "statefulSet");
  if (j.contains("ordinal") && j["ordinal"].is_number_integer())
    r.id.ordinal = j["ordinal"].get<int64_t>();
  r.policy = str(j, "policy");
  r.pod = str(j, "pod");
  r.pod_uid = str(j, "podUID");
  r.layout = str(j, "layout");
  if (j.contains("restorePoint") && j["restorePoint"].is_object()) {
    const json& p = j["restorePoint"];
    if (p.contains("set") && p["set"].is_number_unsigned()) r.point.set = p["set"].get<uint64_t>();
    if (p.contains("time") && p["time"].is_number_integer())
      r.point.time_ns = p["time"].get<int64_t>();
    if (r.point.set) {
      auto id = ObjectId::FromHex(str(p, "root"));
      if (!id) return Status::Corruption("agent.json: restorePoint.root is not a hex id");
      r.point.root = *id;
    }
  }
  return r;
}

StoreRegistry::StoreRegistry(std::string stores_dir, StoreOptions defaults, Logger* logger)
    : stores_dir_(std::move(stores_dir)),
      defaults_(std::move(defaults)),
      log_(logger ? logger : NullLogger()) {}

StoreRegistry::~StoreRegistry() = default;

StoreRegistry::Entry& StoreRegistry::EntryLocked(const PodIdentity& id) {
  return entries_[id.Key()];
}

bool StoreRegistry::Exists(const PodIdentity& id) const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(id.Key());
    if (it != entries_.end() && it->second.store) return true;
  }
  struct stat st;
  return stat((id.StoreDir(stores_dir_) + "/data.mdb").c_str(), &st) == 0;
}

Result<Store*> StoreRegistry::Get(const PodIdentity& id, const StoreOptions* create_with) {
  DK_RETURN_IF_ERROR(ValidateIdentity(id));
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(id.Key());
    if (it != entries_.end() && it->second.store) return it->second.store.get();
  }
  std::lock_guard<std::mutex> open_lock(open_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(id.Key());
    if (it != entries_.end() && it->second.store) return it->second.store.get();
  }
  const std::string dir = id.StoreDir(stores_dir_);
  if (!Exists(id) && !create_with)
    return Status::NotFound("no store for " + id.Key() + " on this node");
  StoreOptions o = defaults_;
  if (create_with) {
    o = *create_with;
  } else if (options_for_) {
    if (auto p = options_for_(id)) o = *p;
  }
  o.logger = defaults_.logger;
  o.sync = defaults_.sync;
  o.clock = defaults_.clock;
  o.map_size = defaults_.map_size;
  if (create_with) {
    DK_RETURN_IF_ERROR(MakeDirs(stores_dir_ + "/" + id.ns + "/" + id.stateful_set, 0750));
  }
  auto s = Store::Open(dir, o, create_with ? OpenMode::kCreate : OpenMode::kReadWrite);
  if (!s.ok()) return s.status().WithContext("store of " + id.Key());
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = EntryLocked(id);
  e.store = std::move(*s);
  e.stats_valid = false;
  return e.store.get();
}

Status StoreRegistry::Remove(const PodIdentity& id) {
  DK_RETURN_IF_ERROR(ValidateIdentity(id));
  std::lock_guard<std::mutex> open_lock(open_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(id.Key());
    if (it != entries_.end()) {
      if (it->second.store) retired_.push_back(std::move(it->second.store));
      entries_.erase(it);
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(id.StoreDir(stores_dir_), ec);
  if (ec) return Status::IOError("remove store of " + id.Key() + ": " + ec.message());
  return Status::Ok();
}

std::vector<PodIdentity> StoreRegistry::List() const {
  std::vector<PodIdentity> out;
  for (const auto& ns : Subdirs(stores_dir_)) {
    for (const auto& sts : Subdirs(stores_dir_ + "/" + ns)) {
      for (const auto& ord : Subdirs(stores_dir_ + "/" + ns + "/" + sts)) {
        auto id = ParseIdentityKey(ns + "/" + sts + "/" + ord);
        if (!id.ok()) continue;
        struct stat st;
        if (stat((id->StoreDir(stores_dir_) + "/data.mdb").c_str(), &st) != 0) continue;
        out.push_back(*id);
      }
    }
  }
  return out;
}

void StoreRegistry::LoadRecordLocked(const PodIdentity& id, Entry* e) {
  if (e->record_loaded) return;
  e->record_loaded = true;
  e->record = IdentityRecord();
  e->record.id = id;
  std::string path = id.StoreDir(stores_dir_) + "/agent.json";
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return;
  std::string data;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0 && data.size() < (1 << 20)) data.append(buf, n);
  close(fd);
  auto r = DecodeIdentityRecord(data);
  if (!r.ok()) {
    log_->Warn("Ignoring an unreadable identity record",
               {{"path", path}, {"error", r.status().ToString()}});
    return;
  }
  e->record = *r;
  e->record.id = id;
}

Status StoreRegistry::SaveRecordLocked(const Entry& e) {
  const std::string dir = e.record.id.StoreDir(stores_dir_);
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) return Status::Ok();  // no store yet: nothing to describe
  return WriteFileAtomic(dir + "/agent.json", EncodeIdentityRecord(e.record));
}

IdentityRecord StoreRegistry::Record(const PodIdentity& id) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = EntryLocked(id);
  LoadRecordLocked(id, &e);
  return e.record;
}

Status StoreRegistry::NotePod(const PodIdentity& id, const std::string& policy,
                              const std::string& pod, const std::string& pod_uid,
                              const std::string& layout) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = EntryLocked(id);
  LoadRecordLocked(id, &e);
  if (e.record.policy == policy && e.record.pod == pod && e.record.pod_uid == pod_uid &&
      e.record.layout == layout)
    return Status::Ok();
  e.record.policy = policy;
  e.record.pod = pod;
  e.record.pod_uid = pod_uid;
  e.record.layout = layout;
  return SaveRecordLocked(e);
}

Status StoreRegistry::SetRestorePoint(const PodIdentity& id, const RestorePoint& point) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = EntryLocked(id);
  LoadRecordLocked(id, &e);
  if (point.set <= e.record.point.set) return Status::Ok();
  e.record.point = point;
  e.stats_valid = false;
  return SaveRecordLocked(e);
}

void StoreRegistry::NoteError(const PodIdentity& id, const std::string& error) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = EntryLocked(id);
  ++e.errors;
  e.last_error = error;
}

void StoreRegistry::ClearError(const PodIdentity& id) {
  std::lock_guard<std::mutex> lock(mu_);
  EntryLocked(id).last_error.clear();
}

void StoreRegistry::MarkChanged(const PodIdentity& id) {
  std::lock_guard<std::mutex> lock(mu_);
  EntryLocked(id).stats_valid = false;
}

std::vector<IdentitySummary> StoreRegistry::Summaries() {
  std::vector<IdentitySummary> out;
  for (const PodIdentity& id : List()) {
    auto store = Get(id);
    IdentitySummary s;
    bool need_stats;
    {
      std::lock_guard<std::mutex> lock(mu_);
      Entry& e = EntryLocked(id);
      LoadRecordLocked(id, &e);
      s.record = e.record;
      s.errors = e.errors;
      s.last_error = e.last_error;
      need_stats = !e.stats_valid;
    }
    if (!store.ok()) {
      s.last_error = store.status().ToString();
      out.push_back(std::move(s));
      continue;
    }
    StoreStats st;
    if (need_stats) {
      auto r = (*store)->Stats();  // scans the store: outside the lock
      if (!r.ok()) {
        s.last_error = r.status().ToString();
        out.push_back(std::move(s));
        continue;
      }
      st = *r;
      std::lock_guard<std::mutex> lock(mu_);
      Entry& e = EntryLocked(id);
      e.stats = st;
      e.stats_valid = true;
    } else {
      std::lock_guard<std::mutex> lock(mu_);
      st = EntryLocked(id).stats;
    }
    if (s.record.point.set == 0) {
      // No record yet (a store from before agent.json, or copied in): its latest set.
      auto sets = (*store)->Sets();
      if (sets.ok() && !sets->empty()) {
        s.record.point.set = sets->back().set;
        s.record.point.root = sets->back().root;
        s.record.point.time_ns = sets->back().time_ns;
      }
    }
    s.versions = st.versions;
    s.sets = st.sets;
    s.logical_bytes = st.logical_bytes;
    s.stored_bytes = st.stored_bytes;
    s.disk_bytes = st.file_bytes + st.pack_bytes;
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace dk::agent
