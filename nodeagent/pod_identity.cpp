#include "pod_identity.h"

#include "libkube/object_meta.h"

namespace dk::agent {
namespace {

bool ParseOrdinal(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string_view::npos)
    return false;
  if (s.size() > 1 && s[0] == '0') return false;
  *out = std::stoll(std::string(s));
  return true;
}

}  // namespace

std::string PodIdentity::Key() const {
  return ns + "/" + stateful_set + "/" + std::to_string(ordinal);
}

std::string PodIdentity::StoreDir(const std::string& stores_dir) const {
  return stores_dir + "/" + ns + "/" + stateful_set + "/" + std::to_string(ordinal);
}

bool IsDnsSubdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (alnum) continue;
    if (c != '-' && c != '.') return false;
    if (i == 0 || i + 1 == s.size()) return false;
    if (c == '.' && (s[i - 1] == '.' || s[i - 1] == '-' || s[i + 1] == '-')) return false;
  }
  return true;
}

Status ValidateIdentity(const PodIdentity& id) {
  if (!IsDnsSubdomain(id.ns))
    return Status::InvalidArgument("namespace '" + id.ns + "' is not a valid name");
  if (!IsDnsSubdomain(id.stateful_set))
    return Status::InvalidArgument("StatefulSet name '" + id.stateful_set + "' is not valid");
  if (id.ordinal < 0 || id.ordinal > 1000000)
    return Status::InvalidArgument("ordinal " + std::to_string(id.ordinal) + " is out of range");
  return Status::Ok();
}

Result<PodIdentity> ParseIdentityKey(std::string_view key) {
  size_t a = key.find('/');
  size_t b = a == std::string_view::npos ? a : key.find('/', a + 1);
  if (b == std::string_view::npos || key.find('/', b + 1) != std::string_view::npos)
    return Status::InvalidArgument("identity '" + std::string(key) + "' is not ns/sts/ordinal");
  PodIdentity id;
  id.ns = std::string(key.substr(0, a));
  id.stateful_set = std::string(key.substr(a + 1, b - a - 1));
  if (!ParseOrdinal(key.substr(b + 1), &id.ordinal))
    return Status::InvalidArgument("identity '" + std::string(key) + "': bad ordinal");
  DK_RETURN_IF_ERROR(ValidateIdentity(id));
  return id;
}

std::string OwnerStatefulSet(const nlohmann::json& pod) {
  const auto* meta = pod.is_object() && pod.contains("metadata") ? &pod["metadata"] : nullptr;
  if (!meta || !meta->is_object() || !meta->contains("ownerReferences")) return "";
  const auto& refs = (*meta)["ownerReferences"];
  if (!refs.is_array()) return "";
  for (const auto& r : refs) {
    if (!r.is_object()) continue;
    auto str = [&](const char* k) {
      return r.contains(k) && r[k].is_string() ? r[k].get<std::string>() : std::string();
    };
    bool controller =
        r.contains("controller") && r["controller"].is_boolean() && r["controller"].get<bool>();
    if (controller && str("kind") == "StatefulSet" && str("apiVersion").rfind("apps/", 0) == 0)
      return str("name");
  }
  return "";
}

Result<PodIdentity> IdentityOfPod(const nlohmann::json& pod) {
  PodIdentity id;
  id.ns = kube::GetNamespace(pod);
  id.stateful_set = OwnerStatefulSet(pod);
  const std::string name = kube::GetName(pod);
  if (id.stateful_set.empty())
    return Status::NotFound("pod " + id.ns + "/" + name + " is not owned by a StatefulSet");
  auto labels = kube::GetLabels(pod);
  auto it = labels.find("apps.kubernetes.io/pod-index");
  bool ok = it != labels.end() && ParseOrdinal(it->second, &id.ordinal);
  if (!ok) {
    const std::string prefix = id.stateful_set + "-";
    if (name.rfind(prefix, 0) == 0)
      ok = ParseOrdinal(std::string_view(name).substr(prefix.size()), &id.ordinal);
  }
  if (!ok)
    return Status::InvalidArgument("pod " + id.ns + "/" + name +
                                   ": cannot tell its ordinal in StatefulSet " + id.stateful_set);
  DK_RETURN_IF_ERROR(ValidateIdentity(id));
  return id;
}

}  // namespace dk::agent
