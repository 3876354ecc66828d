#include "set_uploader.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include "chunk_object.h"
#include "libreplica/bucket_reader.h"

namespace dk::replica {
namespace {

bool IsMissingBucket(const Status& s) {
  return s.IsNotFound() && s.message().find("NoSuchBucket") != std::string::npos;
}

}  // namespace

SetUploader::SetUploader(Store* store, Bucket* bucket, KnownObjects* known, UploaderConfig config)
    : store_(store), bucket_(bucket), known_(known), config_(std::move(config)) {}

int64_t SetUploader::Now() const { return config_.clock ? config_.clock() : SystemClockNs(); }

Status SetUploader::LoadHead() {
  Logger* log = config_.log;
  const std::string key = config_.layout.HeadKey(config_.identity);
  auto data = bucket_->Get(key);
  if (!data.ok() && data.status().IsNotFound() && !IsMissingBucket(data.status())) {
    head_.reset();
    head_chunks_.clear();
    return Status::Ok();
  }
  if (!data.ok()) return data.status();
  auto head = DecodeHead(AsChars(*data));
  if (!head.ok()) {
    // A damaged head is replaced by the next set; keep the numbering above every manifest.
    log->Warn("Bucket head is unreadable; the next set replaces it",
              {{"key", key}, {"error", head.status().ToString()}});
    DK_ASSIGN_OR_RETURN(std::vector<uint64_t> sets,
                        ListSets(*bucket_, config_.layout, config_.identity));
    head_.reset();
    head_chunks_.clear();
    if (!sets.empty()) {
      Head h;
      h.set = sets.back();
      head_ = h;  // numbering only: no root, no chunks protected
    }
    return Status::Ok();
  }
  head_ = *head;
  head_chunks_.clear();
  auto m = ReadManifest(*bucket_, config_.layout, config_.identity, head->set);
  if (!m.ok() || m->root != head->root) {
    log->Warn(
        "Manifest of the bucket head is unreadable; its chunks are checked again",
        {{"key", key},
         {"error", m.ok() ? std::string("root differs from the head's") : m.status().ToString()}});
    return Status::Ok();
  }
  head_chunks_ = m->Chunks();
  std::sort(head_chunks_.begin(), head_chunks_.end());
  return Status::Ok();
}

Result<UploadOutcome> SetUploader::Upload(std::optional<uint64_t> set, FailureKind* kind,
                                          UploadStats* stats) {
  auto m = store_->Manifest(set);
  if (!m.ok()) {
    *kind = m.status().IsNotFound() ? FailureKind::kSetGone : FailureKind::kLocal;
    return m.status().WithContext("local store: manifest of set " +
                                  (set ? std::to_string(*set) : std::string("latest")));
  }
  return UploadManifest(std::move(m).value(), kind, stats);
}

Result<UploadOutcome> SetUploader::UploadManifest(SetManifest m, FailureKind* kind,
                                                  UploadStats* stats) {
  Logger* log = config_.log;
  UploadOutcome out;
  if (head_ && head_->source_set == m.set && head_->root == m.root &&
      head_->writer == config_.writer) {
    out.head = *head_;
    out.already_there = true;
    return out;
  }
  if (head_ && head_->time_ns > m.time_ns &&
      !(head_->writer == config_.writer && head_->source_set < m.set)) {
    *kind = FailureKind::kSuperseded;
    return Status::FailedPrecondition("the bucket's head of " + config_.identity +
                                      " is newer: set " + std::to_string(head_->set) +
                                      " captured at " + FormatRfc3339(head_->time_ns) +
                                      (head_->writer.empty() ? "" : " by " + head_->writer) +
                                      "; local set " + std::to_string(m.set) + " captured at " +
                                      FormatRfc3339(m.time_ns) + " is not replicated over it");
  }
  const uint64_t bucket_set = (!head_ || m.set > head_->set) ? m.set : head_->set + 1;

  std::vector<ObjectId> ids = m.Chunks();
  const int64_t window = config_.gc_grace_ns / 4;
  int attempt = 0;
  for (;; ++attempt) {
    const int64_t start = Now();
    DK_RETURN_IF_ERROR(EnsureChunks(ids, stats, kind));
    if (Now() - start <= window) break;
    if (attempt == 2) {
      *kind = FailureKind::kRemote;
      return Status::Unavailable(
          "uploading the chunks of set " + std::to_string(m.set) +
          " took longer than a quarter of the GC grace period three times; bucket GC could "
          "delete chunks it reuses (raise the grace period)");
    }
    log->Warn("Set upload outlasted a quarter of the GC grace period; checking its chunks again",
              {{"identity", config_.identity}, {"set", m.set}});
  }

  *kind = FailureKind::kRemote;
  const uint64_t source_set = m.set;
  m.set = bucket_set;
  const std::string manifest = EncodeManifest(m);
  const std::string manifest_key = config_.layout.ManifestKey(config_.identity, bucket_set);
  DK_RETURN_IF_ERROR(bucket_->Put(manifest_key, AsBytes(manifest)));
  stats->bytes_uploaded += manifest.size();

  Head h;
  h.set = bucket_set;
  h.root = m.root;
  h.time_ns = m.time_ns;
  h.manifest = BucketLayout::ManifestRelKey(config_.identity, bucket_set);
  h.manifest_sha256 = HashBytes(AsBytes(manifest));
  h.source_set = source_set;
  h.writer = config_.writer;
  h.replicated_ns = Now();
  const std::string head = EncodeHead(h);
  DK_RETURN_IF_ERROR(bucket_->Put(config_.layout.HeadKey(config_.identity), AsBytes(head)));
  stats->bytes_uploaded += head.size();

  head_ = h;
  std::sort(ids.begin(), ids.end());
  head_chunks_ = std::move(ids);
  out.head = h;
  return out;
}

Status SetUploader::EnsureChunks(const std::vector<ObjectId>& ids, UploadStats* stats,
                                 FailureKind* kind) {
  std::vector<const ObjectId*> work;
  for (const auto& id : ids) {
    if (!std::binary_search(head_chunks_.begin(), head_chunks_.end(), id)) work.push_back(&id);
  }
  if (work.empty()) return Status::Ok();

  const int64_t half_grace = config_.gc_grace_ns / 2;
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::atomic<uint64_t> uploaded{0}, reused{0}, refreshed{0}, bytes{0};
  std::mutex err_mu;
  Status first_error;
  FailureKind first_kind = FailureKind::kRemote;

  auto fail = [&](Status s, FailureKind k) {
    std::lock_guard<std::mutex> l(err_mu);
    if (first_error.ok()) {
      first_error = std::move(s);
      first_kind = k;
    }
    failed = true;
  };

  auto ensure_one = [&](const ObjectId& id) {
    const std::string key = config_.layout.ObjectKey(id);
    const int64_t fresh_after = Now() - half_grace;
    const std::optional<int64_t> known = known_->Lookup(id);
    if (known && *known >= fresh_after) {
      ++reused;
      return;
    }
    bool refresh = known.has_value();
    auto raw = store_->ReadObject(id);
    if (!raw.ok()) {
      return fail(raw.status().WithContext("local store: object " + id.Hex()),
                  raw.status().IsCorruption() ? FailureKind::kCorruptLocal : FailureKind::kLocal);
    }
    auto enc = EncodeChunkObject(*raw, config_.zstd_level);
    if (!enc.ok()) return fail(enc.status(), FailureKind::kLocal);
    if (config_.head_before_put && !known && enc->size() >= config_.head_min_size) {
      auto h = bucket_->Head(key);
      if (h.ok()) {
        if (h->last_modified_ns >= fresh_after) {
          known_->Insert(id, h->last_modified_ns);
          ++reused;
          return;
        }
        refresh = true;
      } else if (!h.status().IsNotFound() || IsMissingBucket(h.status())) {
        return fail(h.status(), FailureKind::kRemote);
      }
    }
    Status s = bucket_->Put(key, *enc);
    if (!s.ok()) return fail(s, FailureKind::kRemote);
    known_->Insert(id, Now());
    ++uploaded;
    if (refresh) ++refreshed;
    bytes += enc->size();
  };

  auto worker = [&] {
    size_t i;
    while (!failed && (i = next++) < work.size()) ensure_one(*work[i]);
  };
  const size_t threads =
      std::min<size_t>(static_cast<size_t>(std::max(config_.parallelism, 1)), work.size());
  if (threads <= 1) {
    worker();
  } else {
    std::vector<std::thread> pool;
    pool.reserve(threads);
    for (size_t t = 0; t < threads; ++t) pool.emplace_back(worker);
    for (auto& t : pool) t.join();
  }
  stats->objects_uploaded += uploaded;
  stats->objects_reused += reused;
  stats->objects_refreshed += refreshed;
  stats->bytes_uploaded += bytes;
  if (!first_error.ok()) {
    *kind = first_kind;
    return first_error;
  }
  return Status::Ok();
}

}  // namespace dk::replica
