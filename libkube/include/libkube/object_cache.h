// ObjectCache: the local copy of a set of objects kept by an Informer, keyed by
// "namespace/name" (ObjectKey), with optional secondary indexes.
//
// An index maps each object to zero or more string values (IndexFunc); ByIndex(index, value)
// returns the objects that produced `value`. Typical indexes: by node (IndexByField
// ("spec.nodeName")), by label value (IndexByLabel("app")), by namespace.
//
// Readers get copies: an object handed out never changes under them. Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "libstate/result.h"

namespace dk::kube {

using IndexFunc = std::function<std::vector<std::string>(const nlohmann::json& obj)>;

// Indexes by the value of label `key` (objects without it are not indexed).
IndexFunc IndexByLabel(std::string key);
// Indexes by the string at a dotted path, e.g. "spec.nodeName" (absent or empty: not indexed).
IndexFunc IndexByField(std::string dotted_path);
// Indexes by metadata.namespace.
IndexFunc IndexByNamespace();

class ObjectCache {
 public:
  // What Replace() changed, for the informer to turn into notifications.
  struct ReplaceResult {
    std::vector<nlohmann::json> added;
    std::vector<std::pair<nlohmann::json, nlohmann::json>> updated;  // (old, new)
    std::vector<nlohmann::json> deleted;                             // last known state
  };

  // Adds an index; existing objects are indexed at once. InvalidArgument if `name` exists.
  Status AddIndex(const std::string& name, IndexFunc fn);

  // Inserts or replaces the object under ObjectKey(obj); returns the previous version.
  std::optional<nlohmann::json> Upsert(nlohmann::json obj);
  // Removes `key`; returns the removed object (nullopt if absent).
  std::optional<nlohmann::json> Remove(const std::string& key);
  // Makes the cache hold exactly `objects` (a fresh list). Objects whose resourceVersion did not
  // change are neither added nor updated.
  ReplaceResult Replace(std::vector<nlohmann::json> objects);

  std::optional<nlohmann::json> Get(const std::string& key) const;
  std::vector<nlohmann::json> List() const;
  std::vector<std::string> Keys() const;
  size_t Size() const;
  // Objects whose index `index` produced `value`, in key order. NotFound for an unknown index.
  Result<std::vector<nlohmann::json>> ByIndex(const std::string& index,
                                              const std::string& value) const;
  // The values of index `index` that have at least one object.
  Result<std::vector<std::string>> IndexValues(const std::string& index) const;

 private:
  void IndexLocked(const std::string& key, const nlohmann::json& obj);
  void UnindexLocked(const std::string& key, const nlohmann::json& obj);

  mutable std::mutex mu_;
  std::map<std::string, nlohmann::json> objects_;
  std::map<std::string, IndexFunc> index_funcs_;
  // index name → value → keys
  std::map<std::string, std::map<std::string, std::set<std::string>>> indexes_;
};

}  // namespace dk::kube
