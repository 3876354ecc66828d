#include "pod_gate.h"

#include "api.h"

namespace dk::op {
namespace {

using nlohmann::json;

// JSON pointer escaping of one reference token (RFC 6901).
std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

void SetMapEntry(const json& pod, const char* map, const std::string& key, const std::string& value,
                 json* patch) {
  const json& meta = pod.value("metadata", json::object());
  auto it = meta.find(map);
  if (it == meta.end() || !it->is_object()) {
    patch->push_back(
        {{"op", "add"}, {"path", std::string("/metadata/") + map}, {"value", json{{key, value}}}});
    return;
  }
  auto cur = it->find(key);
  if (cur != it->end() && cur->is_string() && cur->get<std::string>() == value) return;
  patch->push_back({{"op", "add"},
                    {"path", std::string("/metadata/") + map + "/" + Escape(key)},
                    {"value", value}});
}

}  // namespace

json RestoreWaitContainer(const PolicySpec& spec, const GateOptions& options) {
  auto timeout_s = std::chrono::duration_cast<std::chrono::seconds>(spec.restore_timeout).count();
  return {
      {"name", kRestoreWaitContainer},
      {"image", options.image},
      {"imagePullPolicy", options.image_pull_policy},
      {"command", json::array({options.command})},
      {"args",
       json::array({"--marker-dir", kMarkerMountPath, "--timeout", std::to_string(timeout_s),
                    "--on-timeout", spec.on_timeout == "StartEmpty" ? "start-empty" : "fail"})},
      {"env",
       json::array({{{"name", "POD_UID"},
                     {"valueFrom",
                      {{"fieldRef", {{"apiVersion", "v1"}, {"fieldPath", "metadata.uid"}}}}}}})},
      {"volumeMounts",
       json::array(
           {{{"name", kMarkerVolume}, {"mountPath", kMarkerMountPath}, {"readOnly", true}}})},
      {"resources",
       {{"requests", {{"cpu", "10m"}, {"memory", "16Mi"}}}, {"limits", {{"memory", "32Mi"}}}}},
      {"securityContext",
       {{"runAsNonRoot", true},
        {"runAsUser", 65532},
        {"runAsGroup", 65532},
        {"allowPrivilegeEscalation", false},
        {"readOnlyRootFilesystem", true},
        {"capabilities", {{"drop", json::array({"ALL"})}}},
        {"seccompProfile", {{"type", "RuntimeDefault"}}}}},
      {"terminationMessagePolicy", "FallbackToLogsOnError"},
  };
}

json GatePatch(const json& pod, const std::string& policy_name, const PolicySpec& spec,
               const GateOptions& options) {
  json patch = json::array();
  const json& pod_spec = pod.value("spec", json::object());

  // Init container: first.
  auto inits = pod_spec.find("initContainers");
  if (inits == pod_spec.end() || !inits->is_array() || inits->empty()) {
    patch.push_back({{"op", "add"},
                     {"path", "/spec/initContainers"},
                     {"value", json::array({RestoreWaitContainer(spec, options)})}});
  } else {
    int found = -1;
    for (size_t i = 0; i < inits->size(); ++i) {
      if ((*inits)[i].value("name", "") == kRestoreWaitContainer) found = static_cast<int>(i);
    }
    if (found < 0) {
      patch.push_back({{"op", "add"},
                       {"path", "/spec/initContainers/0"},
                       {"value", RestoreWaitContainer(spec, options)}});
    } else if (found > 0) {
      patch.push_back({{"op", "move"},
                       {"from", "/spec/initContainers/" + std::to_string(found)},
                       {"path", "/spec/initContainers/0"}});
    }
  }

  // Marker volume.
  json volume = {
      {"name", kMarkerVolume},
      {"hostPath", {{"path", options.state_dir + "/markers"}, {"type", "DirectoryOrCreate"}}}};
  auto vols = pod_spec.find("volumes");
  if (vols == pod_spec.end() || !vols->is_array()) {
    patch.push_back({{"op", "add"}, {"path", "/spec/volumes"}, {"value", json::array({volume})}});
  } else {
    bool has = false;
    for (const auto& v : *vols) has = has || v.value("name", "") == kMarkerVolume;
    if (!has) patch.push_back({{"op", "add"}, {"path", "/spec/volumes/-"}, {"value", volume}});
  }

  SetMapEntry(pod, "labels", kGatedLabel, "true", &patch);
  SetMapEntry(pod, "annotations", kPolicyAnnotation, policy_name, &patch);
  return patch;
}

}  // namespace dk::op
