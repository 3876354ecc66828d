#include "libkube/object_cache.h"

#include "libkube/object_meta.h"

namespace dk::kube {

IndexFunc IndexByLabel(std::string key) {
  return [key = std::move(key)](const nlohmann::json& obj) -> std::vector<std::string> {
    auto labels = GetLabels(obj);
    auto it = labels.find(key);
    if (it == labels.end()) return {};
    return {it->second};
  };
}

IndexFunc IndexByField(std::string dotted_path) {
  return [path = std::move(dotted_path)](const nlohmann::json& obj) -> std::vector<std::string> {
    std::string v = GetStringAtPath(obj, path);
    if (v.empty()) return {};
    return {v};
  };
}

IndexFunc IndexByNamespace() {
  return [](const nlohmann::json& obj) -> std::vector<std::string> { return {GetNamespace(obj)}; };
}

Status ObjectCache::AddIndex(const std::string& name, IndexFunc fn) {
  std::lock_guard<std::mutex> g(mu_);
  if (index_funcs_.count(name) > 0) {
    return Status::InvalidArgument("index \"" + name + "\" already exists");
  }
  index_funcs_.emplace(name, fn);
  auto& index = indexes_[name];
  for (const auto& [key, obj] : objects_) {
    for (const std::string& v : fn(obj)) index[v].insert(key);
  }
  return Status::Ok();
}

void ObjectCache::IndexLocked(const std::string& key, const nlohmann::json& obj) {
  for (const auto& [name, fn] : index_funcs_) {
    auto& index = indexes_[name];
    for (const std::string& v : fn(obj)) index[v].insert(key);
  }
}

void ObjectCache::UnindexLocked(const std::string& key, const nlohmann::json& obj) {
  for (const auto& [name, fn] : index_funcs_) {
    auto& index = indexes_[name];
    for (const std::string& v : fn(obj)) {
      auto it = index.find(v);
      if (it == index.end()) continue;
      it->second.erase(key);
      if (it->second.empty()) index.erase(it);
    }
  }
}

std::optional<nlohmann::json> ObjectCache::Upsert(nlohmann::json obj) {
  const std::string key = ObjectKey(obj);
  std::lock_guard<std::mutex> g(mu_);
  std::optional<nlohmann::json> old;
  auto it = objects_.find(key);
  if (it != objects_.end()) {
    UnindexLocked(key, it->second);
    old = std::move(it->second);
    it->second = std::move(obj);
  } else {
    it = objects_.emplace(key, std::move(obj)).first;
  }
  IndexLocked(key, it->second);
  return old;
}

std::optional<nlohmann::json> ObjectCache::Remove(const std::string& key) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return std::nullopt;
  UnindexLocked(key, it->second);
  std::optional<nlohmann::json> old = std::move(it->second);
  objects_.erase(it);
  return old;
}

ObjectCache::ReplaceResult ObjectCache::Replace(std::vector<nlohmann::json> objects) {
  ReplaceResult r;
  std::map<std::string, nlohmann::json> fresh;
  for (auto& o : objects) {
    std::string key = ObjectKey(o);
    fresh[key] = std::move(o);
  }
  std::lock_guard<std::mutex> g(mu_);
  for (auto& [key, old] : objects_) {
    if (fresh.count(key) == 0) r.deleted.push_back(old);
  }
  for (auto& [key, obj] : fresh) {
    auto it = objects_.find(key);
    if (it == objects_.end()) {
      r.added.push_back(obj);
    } else if (GetResourceVersion(it->second) != GetResourceVersion(obj) ||
               GetUid(it->second) != GetUid(obj)) {
      r.updated.emplace_back(it->second, obj);
    }
  }
  objects_ = std::move(fresh);
  for (auto& [name, index] : indexes_) index.clear();
  for (const auto& [key, obj] : objects_) IndexLocked(key, obj);
  return r;
}

std::optional<nlohmann::json> ObjectCache::Get(const std::string& key) const {
  std::lock_guard<std::mutex> g(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return std::nullopt;
  return it->second;
}

std::vector<nlohmann::json> ObjectCache::List() const {
  std::lock_guard<std::mutex> g(mu_);
  std::vector<nlohmann::json> out;
  out.reserve(objects_.size());
  for (const auto& [key, obj] : objects_) out.push_back(obj);
  return out;
}

std::vector<std::string> ObjectCache::Keys() const {
  std::lock_guard<std::mutex> g(mu_);
  std::vector<std::string> out;
  out.reserve(objects_.size());
  for (const auto& [key, obj] : objects_) out.push_back(key);
  return out;
}

size_t ObjectCache::Size() const {
  std::lock_guard<std::mutex> g(mu_);
  return objects_.size();
}

Result<std::vector<nlohmann::json>> ObjectCache::ByIndex(const std::string& index,
                                                         const std::string& value) const {
  std::lock_guard<std::mutex> g(mu_);
  auto idx = indexes_.find(index);
  if (idx == indexes_.end()) return Status::NotFound("no index \"" + index + "\"");
  std::vector<nlohmann::json> out;
  auto it = idx->second.find(value);
  if (it == idx->second.end()) return out;
  for (const std::string& key : it->second) {
    auto obj = objects_.find(key);
    if (obj != objects_.end()) out.push_back(obj->second);
  }
  return out;
}

Result<std::vector<std::string>> ObjectCache::IndexValues(const std::string& index) const {
  std::lock_guard<std::mutex> g(mu_);
  auto idx = indexes_.find(index);
  if (idx == indexes_.end()) return Status::NotFound("no index \"" + index + "\"");
  std::vector<std::string> out;
  for (const auto& [value, keys] : idx->second) out.push_back(value);
  return out;
}

}  // namespace dk::kube
