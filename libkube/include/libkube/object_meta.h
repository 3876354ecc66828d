// Read access to the metadata of an object held as JSON. Missing or mistyped fields read as
// empty; none of these throw.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace dk::kube {

std::string GetName(const nlohmann::json& obj);
std::string GetNamespace(const nlohmann::json& obj);
std::string GetResourceVersion(const nlohmann::json& obj);
std::string GetUid(const nlohmann::json& obj);
std::map<std::string, std::string> GetLabels(const nlohmann::json& obj);
// Value at a dotted path of strings ("spec.nodeName", "metadata.labels.app"); "" if absent or
// not a string.
std::string GetStringAtPath(const nlohmann::json& obj, const std::string& dotted_path);
// The cache key of an object: "namespace/name", or "name" when it has no namespace.
std::string ObjectKey(const nlohmann::json& obj);

}  // namespace dk::kube
