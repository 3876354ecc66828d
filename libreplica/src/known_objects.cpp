#include "libreplica/known_objects.h"

#include <algorithm>

namespace dk::replica {

KnownObjects::KnownObjects(size_t capacity) : capacity_(std::max<size_t>(capacity, 1)) {}

void KnownObjects::Insert(const ObjectId& id, int64_t last_modified_ns) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = index_.find(id);
  if (it != index_.end()) {
    it->second->second = std::max(it->second->second, last_modified_ns);
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  lru_.emplace_front(id, last_modified_ns);
  index_.emplace(id, lru_.begin());
  while (lru_.size() > capacity_) {
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
}

std::optional<int64_t> KnownObjects::Lookup(const ObjectId& id) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = index_.find(id);
  if (it == index_.end()) return std::nullopt;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->second;
}

void KnownObjects::Erase(const ObjectId& id) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = index_.find(id);
  if (it == index_.end()) return;
  lru_.erase(it->second);
  index_.erase(it);
}

void KnownObjects::Clear() {
  std::lock_guard<std::mutex> l(mu_);
  lru_.clear();
  index_.clear();
}

size_t KnownObjects::size() const {
  std::lock_guard<std::mutex> l(mu_);
  return lru_.size();
}

}  // namespace dk::replica
