#include "libreplica/bucket_reader.h"

#include <algorithm>

#include "chunk_object.h"

namespace dk::replica {
namespace {

bool UnderPaths(const std::string& p, const std::vector<std::string>& paths) {
  if (paths.empty()) return true;
  for (const auto& q : paths) {
    if (p == q || (p.size() > q.size() && p.compare(0, q.size(), q) == 0 && p[q.size()] == '/'))
      return true;
  }
  return false;
}

}  // namespace

Result<Head> ReadHead(Bucket& bucket, const BucketLayout& layout, std::string_view identity) {
  DK_RETURN_IF_ERROR(ValidateIdentity(identity));
  const std::string key = layout.HeadKey(identity);
  auto data = bucket.Get(key);
  if (!data.ok()) {
    if (data.status().IsNotFound() &&
        data.status().message().find("NoSuchBucket") == std::string::npos) {
      return Status::NotFound("no head for " + std::string(identity) + " in " + bucket.Describe() +
                              " (key " + key + ")");
    }
    return data.status().WithContext("head " + key);
  }
  auto head = DecodeHead(AsChars(*data));
  if (!head.ok()) return head.status().WithContext("object " + key);
  return head;
}

namespace {

// The manifest of `set`; when `digest` is set, the object's bytes must hash to it.
Result<SetManifest> ReadManifestChecked(Bucket& bucket, const BucketLayout& layout,
                                        std::string_view identity, uint64_t set,
                                        const ObjectId* digest) {
  DK_RETURN_IF_ERROR(ValidateIdentity(identity));
  const std::string key = layout.ManifestKey(identity, set);
  auto data = bucket.Get(key);
  if (!data.ok()) {
    if (data.status().IsNotFound() &&
        data.status().message().find("NoSuchBucket") == std::string::npos) {
      return Status::NotFound("manifest " + key + " is not in " + bucket.Describe());
    }
    return data.status().WithContext("manifest " + key);
  }
  if (digest && HashBytes(*data) != *digest) {
    return Status::Corruption("object " + key +
                              ": does not match the SHA-256 its head records (damaged)");
  }
  auto m = DecodeManifest(AsChars(*data));
  if (!m.ok()) return m.status().WithContext("object " + key);
  if (m->set != set) {
    return Status::Corruption("object " + key + ": holds set " + std::to_string(m->set) + ", not " +
                              std::to_string(set));
  }
  return m;
}

}  // namespace

Result<SetManifest> ReadManifest(Bucket& bucket, const BucketLayout& layout,
                                 std::string_view identity, uint64_t set) {
  return ReadManifestChecked(bucket, layout, identity, set, nullptr);
}

Result<SetManifest> ReadHeadManifest(Bucket& bucket, const BucketLayout& layout,
                                     std::string_view identity, Head* head_out) {
  DK_ASSIGN_OR_RETURN(Head head, ReadHead(bucket, layout, identity));
  const std::string expected = BucketLayout::ManifestRelKey(identity, head.set);
  if (head.manifest != expected) {
    return Status::Corruption("object " + layout.HeadKey(identity) + ": names manifest \"" +
                              head.manifest + "\", expected \"" + expected + "\"");
  }
  DK_ASSIGN_OR_RETURN(
      SetManifest m,
      ReadManifestChecked(bucket, layout, identity, head.set,
                          head.manifest_sha256.IsZero() ? nullptr : &head.manifest_sha256));
  if (m.root != head.root) {
    return Status::Corruption("object " + layout.ManifestKey(identity, head.set) + ": root " +
                              m.root.ShortHex() + " differs from the head's " +
                              head.root.ShortHex());
  }
  if (head_out) *head_out = head;
  return m;
}

Result<std::vector<uint64_t>> ListSets(Bucket& bucket, const BucketLayout& layout,
                                       std::string_view identity) {
  DK_RETURN_IF_ERROR(ValidateIdentity(identity));
  std::vector<uint64_t> sets;
  DK_RETURN_IF_ERROR(bucket.List(layout.ManifestsPrefix(identity), [&](const BucketObject& o) {
    auto name = layout.ParseManifestKey(o.key);
    if (name && name->identity == identity) sets.push_back(name->set);
    return Status::Ok();
  }));
  std::sort(sets.begin(), sets.end());
  return sets;
}

Result<std::vector<std::string>> ListIdentities(Bucket& bucket, const BucketLayout& layout) {
  std::vector<std::string> ids;
  DK_RETURN_IF_ERROR(bucket.List(layout.HeadsPrefix(), [&](const BucketObject& o) {
    if (auto id = layout.ParseHeadKey(o.key)) ids.push_back(std::move(*id));
    return Status::Ok();
  }));
  return ids;
}

Result<SetManifest> SelectManifest(Bucket& bucket, const BucketLayout& layout,
                                   std::string_view identity, std::optional<uint64_t> set,
                                   std::optional<int64_t> time_ns) {
  if (set) return ReadManifest(bucket, layout, identity, *set);
  if (!time_ns) return ReadHeadManifest(bucket, layout, identity);
  DK_ASSIGN_OR_RETURN(std::vector<uint64_t> sets, ListSets(bucket, layout, identity));
  // Last index whose capture time is <= *time_ns.
  size_t lo = 0, hi = sets.size();
  std::optional<SetManifest> best;
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    DK_ASSIGN_OR_RETURN(SetManifest m, ReadManifest(bucket, layout, identity, sets[mid]));
    if (m.time_ns <= *time_ns) {
      best = std::move(m);
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (!best) {
    return Status::NotFound("no set of " + std::string(identity) + " in " + bucket.Describe() +
                            " was captured at or before " + FormatRfc3339(*time_ns));
  }
  return std::move(*best);
}

std::vector<ObjectId> RestoreOrder(const SetManifest& m, const std::vector<std::string>& paths) {
  std::vector<ObjectId> order;
  for (const auto& v : m.entries) {
    if (v.type != EntryType::kFile || !UnderPaths(v.path, paths)) continue;
    order.insert(order.end(), v.chunks.begin(), v.chunks.end());
  }
  return order;
}

BucketChunkSource::BucketChunkSource(Bucket* bucket, BucketLayout layout,
                                     ChunkSourceOptions options)
    : bucket_(bucket), layout_(std::move(layout)), options_(options) {}

BucketChunkSource::~BucketChunkSource() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

Result<Bytes> BucketChunkSource::FetchDirect(const ObjectId& id) {
  const std::string key = layout_.ObjectKey(id);
  auto data = bucket_->Get(key);
  if (!data.ok()) {
    if (data.status().IsNotFound()) {
      return Status::NotFound("object " + key + " is missing from " + bucket_->Describe());
    }
    return data.status().WithContext("object " + key);
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    stats_.bytes_downloaded += data->size();
  }
  return DecodeChunkObject(key, id, *data);
}

void BucketChunkSource::Prefetch(std::vector<ObjectId> order) {
  std::lock_guard<std::mutex> l(mu_);
  if (!workers_.empty() || order.empty()) return;
  order_ = std::move(order);
  const int n = std::clamp(options_.parallelism, 1, 64);
  for (int i = 0; i < n; ++i) workers_.emplace_back([this] { PrefetchWorker(); });
}

void BucketChunkSource::PrefetchWorker() {
  const size_t window = std::max<size_t>(options_.readahead, 1);
  std::unique_lock<std::mutex> l(mu_);
  while (true) {
    cv_.wait(l, [&] {
      return stop_ || next_claim_ >= order_.size() || next_claim_ < consumed_ + window;
    });
    if (stop_ || next_claim_ >= order_.size()) return;
    const size_t pos = next_claim_++;
    const ObjectId id = order_[pos];
    l.unlock();
    Result<Bytes> r = FetchDirect(id);
    Fetched f;
    if (r.ok()) {
      f.data = std::move(r).value();
    } else {
      f.status = r.status();
    }
    l.lock();
    if (pos >= consumed_) ready_.emplace(pos, std::move(f));
    cv_.notify_all();
  }
}

Result<Bytes> BucketChunkSource::Fetch(const ObjectId& id) {
  {
    std::unique_lock<std::mutex> l(mu_);
    if (!workers_.empty() && consumed_ < order_.size()) {
      size_t pos = consumed_;
      while (pos < order_.size() && order_[pos] != id) ++pos;
      if (pos < order_.size()) {
        if (pos > consumed_) {
          // The restore skipped ahead (a file failed part way): drop what it will not ask for.
          ready_.erase(ready_.begin(), ready_.lower_bound(pos));
          consumed_ = pos;
          next_claim_ = std::max(next_claim_, pos);
          cv_.notify_all();
        }
        cv_.wait(l, [&] { return stop_ || ready_.count(pos) > 0; });
        auto it = ready_.find(pos);
        if (it != ready_.end()) {
          Fetched f = std::move(it->second);
          ready_.erase(it);
          consumed_ = pos + 1;
          ++stats_.chunks;
          ++stats_.prefetched;
          cv_.notify_all();
          if (!f.status.ok()) return f.status;
          return std::move(f.data);
        }
      }
    }
  }
  Result<Bytes> r = FetchDirect(id);
  std::lock_guard<std::mutex> l(mu_);
  ++stats_.chunks;
  return r;
}

ChunkSourceStats BucketChunkSource::stats() const {
  std::lock_guard<std::mutex> l(mu_);
  return stats_;
}

Result<BucketRestoreResult> RestoreFromBucket(Bucket& bucket, const BucketLayout& layout,
                                              std::string_view identity, const std::string& target,
                                              const RestoreRequest& req,
                                              const BucketRestoreOptions& options) {
  DK_ASSIGN_OR_RETURN(SetManifest m,
                      SelectManifest(bucket, layout, identity, req.set, req.time_ns));
  BucketChunkSource src(&bucket, layout, options.chunks);
  src.Prefetch(RestoreOrder(m, req.paths));
  DK_ASSIGN_OR_RETURN(RestoreResult r, RestoreManifest(target, m, src, req, options.logger));
  BucketRestoreResult out;
  out.restore = std::move(r);
  out.set = m.set;
  out.chunks = src.stats();
  return out;
}

}  // namespace dk::replica
