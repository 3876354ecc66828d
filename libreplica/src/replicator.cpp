#include "libreplica/replicator.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "libreplica/head.h"
#include "set_backlog.h"
#include "set_uploader.h"

namespace dk::replica {
namespace {

constexpr int64_t kNsPerMs = 1'000'000;

// The reason and a sentence for humans for a failed attempt.
std::pair<std::string, std::string> Explain(const Status& s, FailureKind kind,
                                            const std::string& where) {
  switch (kind) {
    case FailureKind::kSetGone:
      return {"SetGone", "the local store no longer has the set (dropped by retention); skipped"};
    case FailureKind::kSuperseded:
      return {"Superseded", "the bucket already holds newer state for this identity; skipped"};
    case FailureKind::kCorruptLocal:
      return {"Corruption",
              "the local store returned corrupt data; the set is skipped "
              "(run a store verify)"};
    case FailureKind::kLocal:
      return {"LocalStore", "reading the local store failed; retrying"};
    case FailureKind::kRemote:
      break;
  }
  const std::string& m = s.message();
  switch (s.code()) {
    case StatusCode::kPermissionDenied:
      return {"AccessDenied", where +
                                  " refused the credentials or denied access: check the "
                                  "access key, the secret key and the bucket's policy"};
    case StatusCode::kNotFound:
      if (m.find("NoSuchBucket") != std::string::npos) {
        return {"BucketNotFound", where + " does not exist: create the bucket or fix its name"};
      }
      return {"Error", where + " answered NotFound"};
    case StatusCode::kFailedPrecondition:
      if (m.find("clock skew") != std::string::npos) {
        return {"ClockSkew",
                "the node's clock is too far from the object store's; fix the "
                "node's time (NTP)"};
      }
      return {"Error", where + " refused the request"};
    case StatusCode::kCorruption:
      return {"Corruption", "data sent to " + where +
                                " arrived damaged or an object there is "
                                "corrupt"};
    case StatusCode::kUnavailable:
    case StatusCode::kIOError:
      return {"EndpointUnavailable", where + " is unreachable or failing; retrying"};
    default:
      return {"Error", "replication to " + where + " failed"};
  }
}

}  // namespace

Status ReplicatorOptions::Validate() const {
  DK_RETURN_IF_ERROR_CTX(ValidateIdentity(identity), "replicator identity");
  if (max_backlog < 1) return Status::InvalidArgument("replicator max_backlog must be >= 1");
  if (parallelism < 1 || parallelism > 64) {
    return Status::InvalidArgument("replicator parallelism must be within 1..64");
  }
  if (zstd_level < 1 || zstd_level > 19) {
    return Status::InvalidArgument("replicator zstd_level must be within 1..19");
  }
  if (gc_grace.count() < 4) return Status::InvalidArgument("replicator gc_grace must be >= 4s");
  if (initial_backoff.count() < 1 || max_backoff < initial_backoff) {
    return Status::InvalidArgument(
        "replicator backoff: initial_backoff must be >= 1ms and <= max_backoff");
  }
  if (known == nullptr && known_capacity < 1) {
    return Status::InvalidArgument("replicator known_capacity must be >= 1");
  }
  return Status::Ok();
}

std::string ReplicationStatus::ToJson() const {
  nlohmann::json j = {
      {"identity", identity},
      {"bucket", bucket},
      {"state", state},
      {"lastSet", last_set},
      {"lastBucketSet", last_bucket_set},
      {"lastRoot", last_set ? last_root.Hex() : std::string()},
      {"lastSetTime", last_set_time_ns ? FormatRfc3339(last_set_time_ns) : std::string()},
      {"lastReplicated", last_replicated_ns ? FormatRfc3339(last_replicated_ns) : std::string()},
      {"latestSet", latest_set},
      {"lagSets", lag_sets},
      {"lagSeconds", lag_seconds},
      {"backlog", backlog},
      {"setsReplicated", sets_replicated},
      {"setsCoalesced", sets_coalesced},
      {"setsSkipped", sets_skipped},
      {"objectsUploaded", objects_uploaded},
      {"objectsReused", objects_reused},
      {"objectsRefreshed", objects_refreshed},
      {"bytesUploaded", bytes_uploaded},
      {"failing", failing},
      {"consecutiveFailures", consecutive_failures},
      {"lastErrorReason", last_error_reason},
      {"lastError", last_error},
      {"lastErrorTime", last_error_ns ? FormatRfc3339(last_error_ns) : std::string()},
      {"nextRetry", next_retry_ns ? FormatRfc3339(next_retry_ns) : std::string()},
  };
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<std::unique_ptr<Replicator>> Replicator::Create(Store* store, Bucket* bucket,
                                                       ReplicatorOptions options) {
  if (store == nullptr || bucket == nullptr) {
    return Status::InvalidArgument("replicator needs a store and a bucket");
  }
  DK_RETURN_IF_ERROR(options.Validate());
  return std::unique_ptr<Replicator>(new Replicator(store, bucket, std::move(options)));
}

Replicator::Replicator(Store* store, Bucket* bucket, ReplicatorOptions options)
    : store_(store),
      bucket_(bucket),
      options_(std::move(options)),
      log_(options_.logger ? options_.logger : NullLogger()),
      backlog_(std::make_unique<SetBacklog>(options_.max_backlog)) {
  KnownObjects* known = options_.known;
  if (known == nullptr) {
    own_known_ = std::make_unique<KnownObjects>(options_.known_capacity);
    known = own_known_.get();
  }
  UploaderConfig cfg;
  cfg.layout = BucketLayout(options_.prefix);
  cfg.identity = options_.identity;
  cfg.writer = options_.writer;
  cfg.parallelism = options_.parallelism;
  cfg.zstd_level = options_.zstd_level;
  cfg.head_before_put = options_.head_before_put;
  cfg.head_min_size = options_.head_min_size;
  cfg.gc_grace_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(options_.gc_grace).count();
  cfg.log = log_;
  cfg.clock = options_.clock;
  uploader_ = std::make_unique<SetUploader>(store_, bucket_, known, std::move(cfg));
  status_.identity = options_.identity;
  status_.bucket = bucket_->Describe();
}

Replicator::~Replicator() { Stop(); }

int64_t Replicator::Now() const { return options_.clock ? options_.clock() : SystemClockNs(); }

void Replicator::Start() {
  std::lock_guard<std::mutex> l(mu_);
  if (worker_.joinable()) return;
  stop_ = false;
  synced_ = false;
  status_.state = "starting";
  worker_ = std::thread([this] { Run(); });
}

void Replicator::Notify(uint64_t set) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (set <= done_set_ || (in_flight_ && set <= in_flight_->set) || set <= backlog_->newest()) {
      return;
    }
    status_.latest_set = std::max(status_.latest_set, set);
    status_.sets_coalesced += backlog_->Add(set, Now());
  }
  cv_.notify_all();
}

void Replicator::RetryNow() {
  {
    std::lock_guard<std::mutex> l(mu_);
    retry_now_ = true;
  }
  cv_.notify_all();
}

void Replicator::Stop() {
  std::thread worker;
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
    worker = std::move(worker_);
  }
  cv_.notify_all();
  if (worker.joinable()) worker.join();
  std::lock_guard<std::mutex> l(mu_);
  status_.state = "stopped";
  cv_.notify_all();
}

bool Replicator::IdleLocked() const { return synced_ && backlog_->empty() && !in_flight_; }

ReplicationStatus Replicator::status() const {
  std::lock_guard<std::mutex> l(mu_);
  ReplicationStatus s = status_;
  s.backlog = backlog_->size();
  s.lag_sets = s.latest_set > done_set_ ? s.latest_set - done_set_ : 0;
  int64_t since = 0;
  if (in_flight_) since = in_flight_->since_ns;
  if (!backlog_->empty()) {
    const int64_t front = backlog_->entries().front().since_ns;
    since = since == 0 ? front : std::min(since, front);
  }
  s.lag_seconds = since == 0 ? 0.0 : std::max<double>(0.0, (Now() - since) / 1e9);
  return s;
}

Status Replicator::WaitIdle(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> l(mu_);
  const bool idle = cv_.wait_for(l, timeout, [&] { return IdleLocked() || !worker_.joinable(); });
  if (idle && IdleLocked()) return Status::Ok();
  std::string why = status_.last_error.empty() ? std::string("still working") : status_.last_error;
  return Status::Unavailable("replication of " + options_.identity + " is not caught up after " +
                             std::to_string(timeout.count()) + " ms: " + why);
}

std::chrono::milliseconds Replicator::NextBackoff() const {
  auto d = options_.initial_backoff;
  for (uint64_t i = 1; i < status_.consecutive_failures && d < options_.max_backoff; ++i) d *= 2;
  return std::min(d, options_.max_backoff);
}

void Replicator::RecordError(const Status& s, std::string_view reason, std::string_view message) {
  status_.failing = true;
  ++status_.consecutive_failures;
  status_.last_error_reason = std::string(reason);
  status_.last_error = std::string(message) + " (" + s.ToString() + ")";
  status_.last_error_ns = Now();
}

Status Replicator::Sync() {
  // The local side first (no network): the status shows the lag even while the bucket is
  // unreachable.
  auto sets = store_->Sets();
  if (!sets.ok()) return sets.status().WithContext("local store: sets");
  std::optional<SetInfo> latest;
  if (!sets->empty()) latest = sets->back();
  if (latest) {
    std::lock_guard<std::mutex> l(mu_);
    status_.latest_set = std::max(status_.latest_set, latest->set);
    if (latest->set > done_set_ && latest->set > backlog_->newest() &&
        !(in_flight_ && latest->set <= in_flight_->set)) {
      status_.sets_coalesced += backlog_->Add(latest->set, latest->time_ns);
    }
  }
  DK_RETURN_IF_ERROR(uploader_->LoadHead());
  const std::optional<Head>& head = uploader_->head();
  if (latest && head && head->root == latest->root &&
      (head->source_set == 0 || head->source_set == latest->set)) {
    // The bucket already has the store's latest state.
    std::lock_guard<std::mutex> l(mu_);
    backlog_->DropThrough(latest->set);
    done_set_ = std::max(done_set_, latest->set);
    status_.last_set = latest->set;
    status_.last_bucket_set = head->set;
    status_.last_root = head->root;
    status_.last_set_time_ns = head->time_ns;
    status_.last_replicated_ns = head->replicated_ns;
  }
  return Status::Ok();
}

void Replicator::Run() {
  const std::string where = bucket_->Describe();
  std::unique_lock<std::mutex> l(mu_);
  auto backoff_wait = [&] {
    const auto d = NextBackoff();
    status_.state = "backoff";
    status_.next_retry_ns = Now() + d.count() * kNsPerMs;
    cv_.notify_all();
    cv_.wait_for(l, d, [&] { return stop_ || retry_now_; });
    retry_now_ = false;
    status_.next_retry_ns = 0;
  };
  while (!stop_) {
    if (!synced_) {
      status_.state = "starting";
      l.unlock();
      Status s = Sync();
      l.lock();
      if (!s.ok()) {
        const bool local = s.message().rfind("local store:", 0) == 0;
        auto [reason, msg] = Explain(s, local ? FailureKind::kLocal : FailureKind::kRemote, where);
        RecordError(s, reason, "reading the head of " + options_.identity + ": " + msg);
        log_->Warn("Replication could not read the bucket head",
                   {{"identity", options_.identity}, {"reason", reason}, {"error", s.ToString()}});
        backoff_wait();
        continue;
      }
      synced_ = true;
      status_.failing = false;
      status_.consecutive_failures = 0;
      cv_.notify_all();
      continue;
    }
    std::optional<BacklogEntry> next = backlog_->PopFront();
    if (!next) {
      status_.state = "idle";
      cv_.notify_all();
      cv_.wait(l, [&] { return stop_ || !backlog_->empty(); });
      continue;
    }
    in_flight_ = std::make_unique<BacklogEntry>(*next);
    status_.state = "replicating";
    l.unlock();
    FailureKind kind = FailureKind::kRemote;
    UploadStats stats;
    const int64_t t0 = Now();
    Result<UploadOutcome> r = uploader_->Upload(next->set, &kind, &stats);
    const int64_t t1 = Now();
    l.lock();
    in_flight_.reset();
    status_.objects_uploaded += stats.objects_uploaded;
    status_.objects_reused += stats.objects_reused;
    status_.objects_refreshed += stats.objects_refreshed;
    status_.bytes_uploaded += stats.bytes_uploaded;
    if (r.ok()) {
      done_set_ = std::max(done_set_, next->set);
      status_.last_set = next->set;
      status_.last_bucket_set = r->head.set;
      status_.last_root = r->head.root;
      status_.last_set_time_ns = r->head.time_ns;
      status_.last_replicated_ns = r->head.replicated_ns;
      if (!r->already_there) ++status_.sets_replicated;
      status_.failing = false;
      status_.consecutive_failures = 0;
      log_->Info("Replicated set", {{"identity", options_.identity},
                                    {"set", next->set},
                                    {"bucketSet", r->head.set},
                                    {"root", r->head.root.ShortHex()},
                                    {"objectsUploaded", stats.objects_uploaded},
                                    {"objectsReused", stats.objects_reused},
                                    {"bytes", stats.bytes_uploaded},
                                    {"ms", (t1 - t0) / kNsPerMs}});
      cv_.notify_all();
      continue;
    }
    auto [reason, msg] = Explain(r.status(), kind, where);
    RecordError(
        r.status(), reason,
        "replicating set " + std::to_string(next->set) + " of " + options_.identity + ": " + msg);
    log_->Warn("Replication of a set failed", {{"identity", options_.identity},
                                               {"set", next->set},
                                               {"reason", reason},
                                               {"error", r.status().ToString()}});
    if (kind == FailureKind::kSetGone || kind == FailureKind::kSuperseded ||
        kind == FailureKind::kCorruptLocal) {
      // Retrying cannot help: move on to newer sets.
      done_set_ = std::max(done_set_, next->set);
      ++status_.sets_skipped;
      status_.consecutive_failures = 0;
      status_.failing = false;
      cv_.notify_all();
      continue;
    }
    status_.sets_coalesced += backlog_->PushFront(*next);
    backoff_wait();
  }
  status_.state = "stopped";
  cv_.notify_all();
}

}  // namespace dk::replica
