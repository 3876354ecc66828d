#include "replication_manager.h"

#include "libkube/api_error.h"
#include "libreplica/s3_bucket.h"
#include "libreplica/secret_credentials.h"
#include "libstate/options.h"

namespace dk::agent {

using nlohmann::json;

struct ReplicationManager::BucketEntry {
  S3Storage settings;       // of the first policy that used it (prefix not part of the key)
  std::string fingerprint;  // of the credentials the client was made with
  std::unique_ptr<replica::Bucket> bucket;
  std::map<std::string, std::unique_ptr<replica::KnownObjects>> known;  // by prefix
  std::chrono::steady_clock::time_point checked;
};

struct ReplicationManager::IdentityEntry {
  PodIdentity id;
  S3Storage settings;
  Store* store = nullptr;
  std::string bucket_key;
  std::unique_ptr<replica::Replicator> rep;  // null while its setup fails
  bool started = false;                      // Captured() was called: run when (re)created
  std::optional<replica::ReplicationStatus> setup_error;
  replica::ReplicationStatus seen;  // as of the last Poll()
};

namespace {

std::string Describe(const S3Storage& s) {
  return "s3 bucket " + s.bucket + " at " +
         (s.endpoint.empty() ? "https://s3." + s.region + ".amazonaws.com" : s.endpoint);
}

}  // namespace

ReplicationManager::ReplicationManager(ReplicationManagerOptions options, SecretFetcher secrets,
                                       BucketFactory factory, AgentMetrics* metrics, Logger* logger)
    : options_(std::move(options)),
      secrets_(std::move(secrets)),
      factory_(std::move(factory)),
      metrics_(metrics),
      log_(logger ? logger : NullLogger()) {}

ReplicationManager::~ReplicationManager() { Stop(std::chrono::milliseconds(0)); }

void ReplicationManager::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (poll_thread_.joinable() || stopping_) return;
  poll_thread_ = std::thread([this] { Run(); });
}

void ReplicationManager::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, options_.poll_interval);
    if (stopping_) break;
    lock.unlock();
    Poll();
    lock.lock();
  }
}

void ReplicationManager::Stop(std::chrono::milliseconds flush) {
  std::lock_guard<std::mutex> setup(setup_mu_);
  std::map<std::string, std::unique_ptr<IdentityEntry>> identities;
  std::map<std::string, std::unique_ptr<BucketEntry>> buckets;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    identities.swap(identities_);
    buckets.swap(buckets_);
  }
  cv_.notify_all();
  if (poll_thread_.joinable()) poll_thread_.join();
  const auto deadline = std::chrono::steady_clock::now() + flush;
  for (auto& [key, e] : identities) {
    if (!e->rep || !e->started) continue;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    Status s = e->rep->WaitIdle(left);
    if (!s.ok())
      log_->Warn("Replication did not catch up before the agent stopped; the next start resumes",
                 {{"identity", key}, {"error", s.ToString()}});
  }
  for (auto& [key, e] : identities)
    if (e->rep) e->rep->Stop();
  identities.clear();  // replicators before the buckets they use
  buckets.clear();
}

std::string ReplicationManager::BucketKey(const S3Storage& s) {
  return s.endpoint + "\n" + s.region + "\n" + s.bucket + "\n" + s.credentials_secret;
}

Result<s3::Credentials> ReplicationManager::ReadCredentials(const S3Storage& s) const {
  const std::string where =
      "Secret " + options_.ns + "/" + s.credentials_secret + " (storage.s3.credentialsSecretRef)";
  if (!secrets_) return Status::FailedPrecondition(where + ": no API access to read it");
  auto secret = secrets_(s.credentials_secret);
  if (!secret.ok()) {
    if (secret.status().IsNotFound()) return Status::NotFound(where + " not found");
    return secret.status().WithContext("reading " + where);
  }
  return replica::CredentialsFromSecret(*secret, where);
}

Result<std::unique_ptr<replica::Bucket>> ReplicationManager::MakeBucket(
    const S3Storage& s, const s3::Credentials& c) const {
  if (factory_) return factory_(s, c);
  s3::S3Options o;
  o.endpoint = s.endpoint;
  while (!o.endpoint.empty() && o.endpoint.back() == '/') o.endpoint.pop_back();
  if (o.endpoint.empty()) {
    o.endpoint = "https://s3." + s.region + ".amazonaws.com";
    o.addressing = s3::AddressingStyle::kVirtualHosted;
  }
  o.region = s.region;
  o.bucket = s.bucket;
  o.credentials = c;
  o.ca_file = options_.ca_file;
  o.logger = log_;
  auto b = replica::S3Bucket::Create(std::move(o));
  if (!b.ok()) return b.status().WithContext("spec.storage.s3");
  return std::unique_ptr<replica::Bucket>(std::move(*b));
}

Result<std::unique_ptr<replica::Bucket>> ReplicationManager::OpenBucket(const S3Storage& s) {
  DK_ASSIGN_OR_RETURN(s3::Credentials c, ReadCredentials(s));
  return MakeBucket(s, c);
}

void ReplicationManager::SetupError(const PodIdentity& id, const S3Storage& s,
                                    const std::string& reason, const Status& error) {
  std::unique_ptr<replica::Replicator> old;
  bool changed = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto& e = identities_[id.Key()];
    if (!e) {
      e = std::make_unique<IdentityEntry>();
      e->id = id;
    }
    e->settings = s;
    old = std::move(e->rep);
    replica::ReplicationStatus st;
    st.identity = id.Key();
    st.bucket = Describe(s);
    st.state = "stopped";
    st.failing = true;
    st.last_error_reason = reason;
    st.last_error = "replication to " + st.bucket + " is not set up: " + error.ToString();
    st.last_error_ns = SystemClockNs();
    st.consecutive_failures = e->setup_error ? e->setup_error->consecutive_failures + 1 : 1;
    changed = !e->setup_error || e->setup_error->last_error != st.last_error;
    e->setup_error = st;
  }
  if (old) old->Stop();
  if (metrics_) metrics_->RecordReplicationError(reason);
  if (changed) {
    log_->Warn("Replication is not set up",
               {{"identity", id.Key()}, {"reason", reason}, {"error", error.ToString()}});
    if (on_change_) on_change_(true);
  }
}

Status ReplicationManager::Ensure(const PodIdentity& id, const AgentPolicy& policy, Store* store) {
  std::lock_guard<std::mutex> setup(setup_mu_);
  std::vector<std::unique_ptr<replica::Replicator>> retired;
  std::unique_ptr<BucketEntry> old_bucket;
  // Replicators stop before the bucket they use goes away, whatever path we leave by.
  struct RetireAtExit {
    std::vector<std::unique_ptr<replica::Replicator>>* reps;
    std::unique_ptr<BucketEntry>* bucket;
    ~RetireAtExit() {
      for (auto& r : *reps) r->Stop();
      reps->clear();
      bucket->reset();
    }
  } retire{&retired, &old_bucket};

  if (!policy.s3) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = identities_.find(id.Key());
    if (it != identities_.end()) {
      if (it->second->rep) retired.push_back(std::move(it->second->rep));
      identities_.erase(it);
      log_->Info("Replication stopped: the policy keeps versions on the nodes only",
                 {{"identity", id.Key()}, {"policy", policy.name}});
    }
    return Status::Ok();
  }
  const S3Storage& s = *policy.s3;
  const std::string key = BucketKey(s);
  const auto now = std::chrono::steady_clock::now();
  bool check = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = buckets_.find(key);
    check = it == buckets_.end() || now - it->second->checked >= options_.credentials_refresh;
  }
  if (check) {
    auto creds = ReadCredentials(s);
    std::unique_lock<std::mutex> lock(mu_);
    auto it = buckets_.find(key);
    if (!creds.ok()) {
      if (it == buckets_.end()) {
        lock.unlock();
        SetupError(id, s, "Credentials", creds.status());
        return creds.status();
      }
      // Keep the client made with the last readable credentials.
      it->second->checked = now;
      log_->Warn("Re-reading the S3 credentials failed; the current ones stay in use",
                 {{"bucket", Describe(s)}, {"error", creds.status().ToString()}});
    } else {
      std::string fp = replica::CredentialsFingerprint(*creds);
      if (it == buckets_.end() || it->second->fingerprint != fp) {
        auto made = MakeBucket(s, *creds);
        if (!made.ok()) {
          lock.unlock();
          SetupError(id, s, "Config", made.status());
          return made.status();
        }
        auto b = std::make_unique<BucketEntry>();
        b->settings = s;
        b->fingerprint = fp;
        b->bucket = std::move(*made);
        b->checked = now;
        if (it != buckets_.end()) {
          // Rotated credentials: the replicators of the old client are re-created below.
          for (auto& [k, e] : identities_)
            if (e->bucket_key == key && e->rep) retired.push_back(std::move(e->rep));
          old_bucket = std::move(it->second);
          it->second = std::move(b);
          log_->Info("S3 credentials changed; re-created the bucket client",
                     {{"bucket", Describe(s)}, {"replicators", retired.size()}});
        } else {
          buckets_[key] = std::move(b);
          log_->Info("Created the bucket client", {{"bucket", Describe(s)}});
        }
      } else {
        it->second->checked = now;
      }
    }
  }

  std::unique_lock<std::mutex> lock(mu_);
  BucketEntry* b = buckets_.at(key).get();
  auto& e = identities_[id.Key()];
  if (!e) {
    e = std::make_unique<IdentityEntry>();
    e->id = id;
  }
  if (e->rep && e->settings == s && e->store == store) return Status::Ok();
  if (e->rep) retired.push_back(std::move(e->rep));
  e->settings = s;
  e->store = store;
  e->bucket_key = key;
  auto& known = b->known[s.prefix];
  if (!known) known = std::make_unique<replica::KnownObjects>();
  replica::ReplicatorOptions ro;
  ro.identity = id.Key();
  ro.prefix = s.prefix;
  ro.writer = options_.node;
  ro.max_backlog = options_.max_backlog;
  ro.parallelism = options_.parallelism;
  ro.initial_backoff = options_.initial_backoff;
  ro.max_backoff = options_.max_backoff;
  ro.known = known.get();
  ro.logger = log_;
  auto rep = replica::Replicator::Create(store, b->bucket.get(), ro);
  if (!rep.ok()) {
    Status err = rep.status();
    lock.unlock();
    SetupError(id, s, "Config", err);
    return err;
  }
  e->rep = std::move(*rep);
  e->setup_error.reset();
  if (e->started) e->rep->Start();
  log_->Info("Replicating identity", {{"identity", id.Key()},
                                      {"bucket", Describe(s)},
                                      {"prefix", s.prefix},
                                      {"started", e->started}});
  if (on_change_) on_change_(true);
  return Status::Ok();
}

void ReplicationManager::Captured(const PodIdentity& id, uint64_t set, bool replicate) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = identities_.find(id.Key());
  if (it == identities_.end()) return;
  IdentityEntry& e = *it->second;
  if (!e.started) {
    e.started = true;
    if (e.rep) e.rep->Start();
  }
  if (e.rep && replicate && set) e.rep->Notify(set);
}

void ReplicationManager::Forget(const PodIdentity& id) {
  std::lock_guard<std::mutex> setup(setup_mu_);
  std::unique_ptr<IdentityEntry> e;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = identities_.find(id.Key());
    if (it == identities_.end()) return;
    e = std::move(it->second);
    identities_.erase(it);
  }
  if (e->rep) e->rep->Stop();
  if (metrics_) metrics_->RemoveReplication(id.Key());
}

std::optional<replica::ReplicationStatus> ReplicationManager::StatusOf(
    const PodIdentity& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = identities_.find(id.Key());
  if (it == identities_.end()) return std::nullopt;
  if (it->second->rep) return it->second->rep->status();
  return it->second->setup_error;
}

json ReplicationManager::ReportJson(const PodIdentity& id) const {
  auto st = StatusOf(id);
  if (!st) return json::object();
  json j = json::parse(st->ToJson(), nullptr, /*allow_exceptions=*/false);
  return j.is_object() ? j : json::object();
}

void ReplicationManager::Poll() {
  bool changed = false, important = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [key, e] : identities_) {
      replica::ReplicationStatus now;
      if (e->rep)
        now = e->rep->status();
      else if (e->setup_error)
        now = *e->setup_error;
      else
        continue;
      const replica::ReplicationStatus& before = e->seen;
      if (metrics_ && e->rep) metrics_->RecordReplication(key, before, now);
      if (now.last_set != before.last_set || now.failing != before.failing ||
          now.last_error != before.last_error || now.state != before.state)
        changed = true;
      if (now.failing != before.failing || now.last_error != before.last_error) important = true;
      e->seen = now;
    }
  }
  if (changed && on_change_) on_change_(important);
}

}  // namespace dk::agent
