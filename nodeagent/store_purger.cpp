#include "store_purger.h"

#include "node_reporter.h"

namespace dk::agent {

size_t ApplyPurges(const nlohmann::json& config, StoreRegistry* registry,
                   const std::function<bool(const PodIdentity&)>& capturing, Logger* log,
                   const std::function<void(const PodIdentity&)>& before_remove) {
  if (!log) log = NullLogger();
  if (!config.is_object() || !config.contains("data") || !config["data"].is_object()) return 0;
  const auto& data = config["data"];
  if (!data.contains("purge.json") || !data["purge.json"].is_string()) return 0;
  auto list = nlohmann::json::parse(data["purge.json"].get<std::string>(), nullptr, false);
  if (!list.is_array()) {
    log->Warn("Ignoring a purge list that is not a JSON array");
    return 0;
  }
  size_t removed = 0;
  const std::vector<PodIdentity> stores = registry->List();
  for (const auto& e : list) {
    if (!e.is_object()) continue;
    auto str = [&](const char* k) {
      return e.contains(k) && e[k].is_string() ? e[k].get<std::string>() : std::string();
    };
    const std::string ns = str("namespace"), sts = str("statefulSet"), policy = str("policy");
    int64_t requested = 0;
    if (ns.empty() || sts.empty() || !ParseRfc3339(str("requested"), &requested)) continue;
    for (const PodIdentity& id : stores) {
      if (id.ns != ns || id.stateful_set != sts) continue;
      if (capturing(id)) continue;
      IdentityRecord rec = registry->Record(id);
      if (rec.point.time_ns > requested) continue;  // captured for a newer policy since
      if (before_remove) before_remove(id);
      Status s = registry->Remove(id);
      if (!s.ok()) {
        log->Error("Purging a store failed", {{"identity", id.Key()}, {"error", s.ToString()}});
        continue;
      }
      ++removed;
      log->Info("Purged the store of a deleted policy",
                {{"identity", id.Key()}, {"policy", policy}});
    }
  }
  return removed;
}

}  // namespace dk::agent
