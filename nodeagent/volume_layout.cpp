#include "volume_layout.h"

#include "libkube/object_meta.h"

namespace dk::agent {
namespace {

using nlohmann::json;

constexpr char kEmptyDirPlugin[] = "kubernetes.io~empty-dir";

bool ValidUid(const std::string& uid) {
  if (uid.empty() || uid.size() > 64) return false;
  for (char c : uid)
    if (!((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') || c == '-'))
      return false;
  return true;
}

std::string Join(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return a + "/" + b;
}

// The kind of a volume of the pod spec, e.g. "emptyDir", "hostPath", "configMap".
std::string VolumeKind(const json& vol) {
  for (auto it = vol.begin(); it != vol.end(); ++it)
    if (it.key() != "name") return it.key();
  return "";
}

}  // namespace

std::string_view LayoutKindName(LayoutKind k) {
  return k == LayoutKind::kVolumes ? "volumes" : "single";
}

std::string PrefixGlob(const std::string& prefix, const std::string& glob) {
  std::string g = glob;
  while (g.rfind("./", 0) == 0) g = g.substr(2);
  if (prefix.empty()) return g;
  if (g.find('/') == std::string::npos) return prefix + "/**/" + g;  // keep the base-name rule
  if (g.front() == '/') g = g.substr(1);
  return prefix + "/" + g;
}

std::string VolumeLayout::HostPath() const {
  std::string p = base;
  if (!volume_rel.empty()) p += "/" + volume_rel;
  if (!sub_rel.empty()) p += "/" + sub_rel;
  return p;
}

Result<PinnedDir> VolumeLayout::Pin(bool create) const {
  DK_ASSIGN_OR_RETURN(PinnedDir vol, PinnedDir::Open(base, volume_rel, /*create=*/false,
                                                     /*allow_mounts=*/true));
  if (sub_rel.empty()) return vol;
  return vol.Child(sub_rel, create, /*allow_mounts=*/false);
}

Result<std::vector<std::string>> VolumeLayout::StorePaths(
    const std::vector<std::string>& volume_paths) const {
  std::vector<std::string> out;
  for (const auto& vp : volume_paths) {
    DK_RETURN_IF_ERROR_CTX(CheckCleanRelPath(vp), "restore path");
    std::string p = vp;
    if (kind == LayoutKind::kSingle) {
      const std::string prefix = Join(volume, sub_path);
      if (p == prefix) {
        p = "";
      } else if (p.rfind(prefix + "/", 0) == 0) {
        p = p.substr(prefix.size() + 1);
      } else {
        return Status::InvalidArgument("restore path '" + vp +
                                       "' is not under the protected path " + prefix);
      }
      if (p.empty()) continue;  // the whole path: no restriction
      out.push_back(p);
      continue;
    }
    bool inside = false;
    for (const auto& s : scopes) inside = inside || p == s || p.rfind(s + "/", 0) == 0;
    if (!inside)
      return Status::InvalidArgument("restore path '" + vp + "' is not under a protected path");
    out.push_back(p);
  }
  return out;
}

Result<VolumeLayout> ResolveLayout(const json& pod, const AgentPolicy& policy,
                                   const LayoutOptions& options) {
  const std::string uid = kube::GetUid(pod);
  const std::string who = "pod " + kube::GetNamespace(pod) + "/" + kube::GetName(pod);
  if (!ValidUid(uid)) return Status::InvalidArgument(who + ": bad or missing metadata.uid");
  const json* volumes = nullptr;
  if (pod.contains("spec") && pod["spec"].is_object() && pod["spec"].contains("volumes") &&
      pod["spec"]["volumes"].is_array())
    volumes = &pod["spec"]["volumes"];
  auto find_volume = [&](const std::string& name) -> const json* {
    if (!volumes) return nullptr;
    for (const auto& v : *volumes)
      if (v.is_object() && v.contains("name") && v["name"] == name) return &v;
    return nullptr;
  };
  const std::string pod_volumes = "pods/" + uid + "/volumes";

  // Which paths can share the emptyDir plugin directory (disk-backed emptyDirs only: a
  // memory-backed one is a tmpfs mount, which a capture does not enter).
  bool all_disk_empty_dir = true;
  for (const auto& p : policy.paths) {
    const json* v = find_volume(p.volume);
    if (!v)
      return Status::FailedPrecondition(who + " has no volume named '" + p.volume +
                                        "' (named in StatePolicy " + policy.name + ")");
    std::string kind = VolumeKind(*v);
    if (kind == "emptyDir") {
      const json& ed = (*v)["emptyDir"];
      bool memory = ed.is_object() && ed.contains("medium") && ed["medium"] == "Memory";
      if (memory) all_disk_empty_dir = false;
    } else if (kind == "hostPath") {
      all_disk_empty_dir = false;
    } else if (kind == "configMap" || kind == "secret" || kind == "projected" ||
               kind == "downwardAPI") {
      return Status::FailedPrecondition(
          who + ": volume '" + p.volume + "' is a " + kind +
          " volume, a read-only projection of API data; there is nothing to capture");
    } else {
      return Status::FailedPrecondition(
          who + ": volume '" + p.volume + "' is of type " + (kind.empty() ? "unknown" : kind) +
          ", which the agent cannot reach yet (supported: emptyDir, hostPath)");
    }
  }

  VolumeLayout l;
  if (all_disk_empty_dir) {
    l.kind = LayoutKind::kVolumes;
    l.base = options.kubelet_root;
    l.volume_rel = pod_volumes + "/" + kEmptyDirPlugin;
    for (const auto& p : policy.paths) {
      std::string scope = Join(p.volume, p.sub_path);
      l.scopes.push_back(scope);
      // Every file must be under a protected path: a path without globs includes all below it.
      if (p.include.empty()) {
        l.filter.include.push_back(scope + "/**");
      } else {
        for (const auto& g : p.include) l.filter.include.push_back(PrefixGlob(scope, g));
      }
      for (const auto& g : p.exclude) l.filter.exclude.push_back(PrefixGlob(scope, g));
    }
    // Other emptyDir volumes of the pod are not walked at all.
    if (volumes) {
      for (const auto& v : *volumes) {
        if (!v.is_object() || VolumeKind(v) != "emptyDir" || !v.contains("name") ||
            !v["name"].is_string())
          continue;
        std::string name = v["name"].get<std::string>();
        bool protected_volume = false;
        for (const auto& p : policy.paths) protected_volume = protected_volume || p.volume == name;
        if (!protected_volume) l.filter.exclude.push_back(name + "/**");
      }
    }
    return l;
  }
  if (policy.paths.size() != 1) {
    return Status::FailedPrecondition(
        who + ": StatePolicy " + policy.name +
        " protects several paths that are not all disk-backed emptyDir volumes; one capture set "
        "can only span volumes that share a directory on the node (protect one path, or use "
        "emptyDir volumes)");
  }
  const ProtectedPath& p = policy.paths[0];
  const json& v = *find_volume(p.volume);
  l.kind = LayoutKind::kSingle;
  l.volume = p.volume;
  l.sub_path = p.sub_path;
  l.sub_rel = p.sub_path;
  l.scopes.push_back("");
  l.filter.include = p.include;
  l.filter.exclude = p.exclude;
  if (VolumeKind(v) == "emptyDir") {
    l.base = options.kubelet_root;
    l.volume_rel = pod_volumes + "/" + kEmptyDirPlugin + "/" + p.volume;
  } else {
    const json& hp = v["hostPath"];
    if (!hp.is_object() || !hp.contains("path") || !hp["path"].is_string())
      return Status::InvalidArgument(who + ": hostPath volume '" + p.volume + "' has no path");
    std::string path = hp["path"].get<std::string>();
    if (path.empty() || path.front() != '/')
      return Status::InvalidArgument(who + ": hostPath '" + path + "' is not absolute");
    if (path.find("/../") != std::string::npos ||
        (path.size() >= 3 && path.compare(path.size() - 3, 3, "/..") == 0))
      return Status::InvalidArgument(who + ": hostPath '" + path + "' contains '..'");
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    l.base = options.host_root + path;
    if (l.base.empty()) l.base = "/";
  }
  return l;
}

}  // namespace dk::agent
