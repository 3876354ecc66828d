#include "libkube/object_meta.h"

namespace dk::kube {
namespace {

const nlohmann::json* Metadata(const nlohmann::json& obj) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find("metadata");
  if (it == obj.end() || !it->is_object()) return nullptr;
  return &*it;
}

std::string MetaString(const nlohmann::json& obj, const char* key) {
  const nlohmann::json* m = Metadata(obj);
  if (m == nullptr) return "";
  auto it = m->find(key);
  if (it == m->end() || !it->is_string()) return "";
  return it->get<std::string>();
}

}  // namespace

std::string GetName(const nlohmann::json& obj) { return MetaString(obj, "name"); }
std::string GetNamespace(const nlohmann::json& obj) { return MetaString(obj, "namespace"); }
std::string GetResourceVersion(const nlohmann::json& obj) {
  return MetaString(obj, "resourceVersion");
}
std::string GetUid(const nlohmann::json& obj) { return MetaString(obj, "uid"); }

std::map<std::string, std::string> GetLabels(const nlohmann::json& obj) {
  std::map<std::string, std::string> out;
  const nlohmann::json* m = Metadata(obj);
  if (m == nullptr) return out;
  auto it = m->find("labels");
  if (it == m->end() || !it->is_object()) return out;
  for (auto& [k, v] : it->items()) {
    if (v.is_string()) out.emplace(k, v.get<std::string>());
  }
  return out;
}

std::string GetStringAtPath(const nlohmann::json& obj, const std::string& dotted_path) {
  const nlohmann::json* cur = &obj;
  size_t start = 0;
  while (start <= dotted_path.size()) {
    size_t dot = dotted_path.find('.', start);
    std::string part =
        dotted_path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!cur->is_object()) return "";
    auto it = cur->find(part);
    if (it == cur->end()) return "";
    cur = &*it;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return cur->is_string() ? cur->get<std::string>() : "";
}

std::string ObjectKey(const nlohmann::json& obj) {
  std::string ns = GetNamespace(obj);
  std::string name = GetName(obj);
  return ns.empty() ? name : ns + "/" + name;
}

}  // namespace dk::kube
