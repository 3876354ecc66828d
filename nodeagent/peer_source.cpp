#include "peer_source.h"

#include "libstate/manifest.h"

namespace dk::agent {

using nlohmann::json;

json StoreInfoToJson(const StoreInfo& info) {
  return {{"layout", info.layout},
          {"restorePoint",
           {{"set", info.point.set},
            {"root", info.point.set ? info.point.root.Hex() : std::string()},
            {"time", info.point.time_ns}}},
          {"sets", info.sets},
          {"firstTime", info.first_time_ns}};
}

Result<StoreInfo> StoreInfoFromJson(const json& j) {
  if (!j.is_object()) return Status::Corruption("store info is not a JSON object");
  StoreInfo s;
  if (j.contains("layout") && j["layout"].is_string()) s.layout = j["layout"].get<std::string>();
  if (j.contains("sets") && j["sets"].is_number_unsigned()) s.sets = j["sets"].get<uint64_t>();
  if (j.contains("firstTime") && j["firstTime"].is_number_integer())
    s.first_time_ns = j["firstTime"].get<int64_t>();
  if (j.contains("restorePoint") && j["restorePoint"].is_object()) {
    const json& p = j["restorePoint"];
    if (p.contains("set") && p["set"].is_number_unsigned()) s.point.set = p["set"].get<uint64_t>();
    if (p.contains("time") && p["time"].is_number_integer())
      s.point.time_ns = p["time"].get<int64_t>();
    if (s.point.set) {
      std::string hex =
          p.contains("root") && p["root"].is_string() ? p["root"].get<std::string>() : "";
      auto id = ObjectId::FromHex(hex);
      if (!id) return Status::Corruption("store info: restorePoint.root is not a hex id");
      s.point.root = *id;
    }
  }
  return s;
}

Result<uint64_t> ChooseSet(Store* store, std::optional<uint64_t> set,
                           std::optional<int64_t> time_ns, const RestorePoint& point) {
  DK_ASSIGN_OR_RETURN(std::vector<SetInfo> sets, store->Sets());
  if (sets.empty()) return Status::NotFound("the store has no capture set");
  if (set) {
    for (const auto& s : sets)
      if (s.set == *set) return *set;
    return Status::NotFound("capture set " + std::to_string(*set) + " is not in the store");
  }
  if (time_ns) {
    uint64_t best = 0;
    for (const auto& s : sets)
      if (s.time_ns <= *time_ns) best = s.set;
    if (!best) return Status::NotFound("no capture set at or before the requested time");
    return best;
  }
  if (point.set) {
    for (const auto& s : sets)
      if (s.set == point.set) return point.set;
  }
  return sets.back().set;
}

Result<StoreInfo> LocalPeerSource::Info(const PodIdentity& id) {
  DK_ASSIGN_OR_RETURN(Store * store, registry_->Get(id));
  IdentityRecord rec = registry_->Record(id);
  DK_ASSIGN_OR_RETURN(std::vector<SetInfo> sets, store->Sets());
  StoreInfo info;
  info.layout = rec.layout;
  info.sets = sets.size();
  if (!sets.empty()) info.first_time_ns = sets.front().time_ns;
  auto chosen = ChooseSet(store, std::nullopt, std::nullopt, rec.point);
  if (chosen.ok()) {
    for (const auto& s : sets) {
      if (s.set != *chosen) continue;
      info.point.set = s.set;
      info.point.root = s.root;
      info.point.time_ns = s.time_ns;
    }
  }
  return info;
}

Result<std::string> LocalPeerSource::Manifest(const PodIdentity& id, std::optional<uint64_t> set,
                                              std::optional<int64_t> time_ns) {
  DK_ASSIGN_OR_RETURN(Store * store, registry_->Get(id));
  IdentityRecord rec = registry_->Record(id);
  DK_ASSIGN_OR_RETURN(uint64_t s, ChooseSet(store, set, time_ns, rec.point));
  DK_ASSIGN_OR_RETURN(SetManifest m, store->Manifest(s));
  return EncodeManifest(m);
}

Result<Bytes> LocalPeerSource::Object(const PodIdentity& id, const ObjectId& object) {
  DK_ASSIGN_OR_RETURN(Store * store, registry_->Get(id));
  return store->ReadObject(object);
}

}  // namespace dk::agent
