#include "conditions.h"

namespace dk::op {

using nlohmann::json;

const json* FindCondition(const json& conditions, const std::string& type) {
  if (!conditions.is_array()) return nullptr;
  for (const auto& c : conditions) {
    if (c.is_object() && c.value("type", "") == type) return &c;
  }
  return nullptr;
}

bool RemoveCondition(json* conditions, const std::string& type) {
  if (!conditions->is_array()) return false;
  for (auto it = conditions->begin(); it != conditions->end(); ++it) {
    if (it->is_object() && it->value("type", "") == type) {
      conditions->erase(it);
      return true;
    }
  }
  return false;
}

std::string ConditionStatus(const json& conditions, const std::string& type) {
  const json* c = FindCondition(conditions, type);
  return c == nullptr ? "" : c->value("status", "");
}

bool SetCondition(json* conditions, const std::string& type, const std::string& status,
                  const std::string& reason, const std::string& message, int64_t generation,
                  const std::string& now) {
  if (!conditions->is_array()) *conditions = json::array();
  for (auto& c : *conditions) {
    if (!c.is_object() || c.value("type", "") != type) continue;
    bool changed = false;
    if (c.value("status", "") != status) {
      c["status"] = status;
      c["lastTransitionTime"] = now;
      changed = true;
    }
    if (!c.contains("lastTransitionTime")) {
      c["lastTransitionTime"] = now;
      changed = true;
    }
    auto set = [&](const char* key, const json& v) {
      if (!c.contains(key) || c[key] != v) {
        c[key] = v;
        changed = true;
      }
    };
    set("reason", reason);
    set("message", message);
    set("observedGeneration", generation);
    return changed;
  }
  conditions->push_back({{"type", type},
                         {"status", status},
                         {"reason", reason},
                         {"message", message},
                         {"observedGeneration", generation},
                         {"lastTransitionTime", now}});
  return true;
}

}  // namespace dk::op
