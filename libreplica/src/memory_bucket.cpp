#include "libreplica/memory_bucket.h"

namespace dk::replica {

MemoryBucket::MemoryBucket(ClockFn clock) : clock_(std::move(clock)) {}

int64_t MemoryBucket::Now() const { return clock_ ? clock_() : SystemClockNs(); }

Status MemoryBucket::Put(std::string_view key, ByteView data) {
  std::lock_guard<std::mutex> l(mu_);
  ++counts_.put;
  counts_.put_bytes += data.size();
  Entry& e = objects_[std::string(key)];
  e.data.assign(data.begin(), data.end());
  e.last_modified_ns = Now();
  write_log_.push_back("PUT " + std::string(key));
  return Status::Ok();
}

Result<Bytes> MemoryBucket::Get(std::string_view key) {
  std::lock_guard<std::mutex> l(mu_);
  ++counts_.get;
  auto it = objects_.find(key);
  if (it == objects_.end()) return Status::NotFound("NoSuchKey: " + std::string(key));
  return it->second.data;
}

Result<BucketObject> MemoryBucket::Head(std::string_view key) {
  std::lock_guard<std::mutex> l(mu_);
  ++counts_.head;
  auto it = objects_.find(key);
  if (it == objects_.end()) return Status::NotFound("NoSuchKey: " + std::string(key));
  return BucketObject{it->first, it->second.data.size(), it->second.last_modified_ns};
}

Status MemoryBucket::Delete(std::string_view key) {
  std::lock_guard<std::mutex> l(mu_);
  ++counts_.del;
  auto it = objects_.find(key);
  if (it != objects_.end()) objects_.erase(it);
  write_log_.push_back("DELETE " + std::string(key));
  return Status::Ok();
}

Status MemoryBucket::List(std::string_view prefix, const ListFn& fn) {
  // Pages of up to 1000 keys, like S3, without holding the lock while `fn` runs.
  std::string after;
  bool first = true;
  while (true) {
    std::vector<BucketObject> page;
    {
      std::lock_guard<std::mutex> l(mu_);
      ++counts_.list;
      auto it = first ? objects_.lower_bound(prefix) : objects_.upper_bound(after);
      for (; it != objects_.end() && page.size() < 1000; ++it) {
        if (it->first.compare(0, prefix.size(), prefix) != 0) break;
        page.push_back({it->first, it->second.data.size(), it->second.last_modified_ns});
      }
    }
    first = false;
    for (const auto& o : page) DK_RETURN_IF_ERROR(fn(o));
    if (page.size() < 1000) return Status::Ok();
    after = page.back().key;
  }
}

std::optional<Bytes> MemoryBucket::Peek(std::string_view key) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return std::nullopt;
  return it->second.data;
}

void MemoryBucket::PokeForTest(std::string_view key, Bytes data) {
  std::lock_guard<std::mutex> l(mu_);
  Entry& e = objects_[std::string(key)];
  e.data = std::move(data);
  e.last_modified_ns = Now();
}

void MemoryBucket::SetLastModifiedForTest(std::string_view key, int64_t ns) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = objects_.find(key);
  if (it != objects_.end()) it->second.last_modified_ns = ns;
}

std::vector<std::string> MemoryBucket::Keys(std::string_view prefix) const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::string> out;
  for (auto it = objects_.lower_bound(prefix); it != objects_.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    out.push_back(it->first);
  }
  return out;
}

BucketCallCounts MemoryBucket::counts() const {
  std::lock_guard<std::mutex> l(mu_);
  return counts_;
}

void MemoryBucket::ResetCounts() {
  std::lock_guard<std::mutex> l(mu_);
  counts_ = {};
}

std::vector<std::string> MemoryBucket::WriteLog() const {
  std::lock_guard<std::mutex> l(mu_);
  return write_log_;
}

}  // namespace dk::replica
