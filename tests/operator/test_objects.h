// Test helpers: Kubernetes objects as JSON for operator tests.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace dk::op::testing {

// A StatePolicy in `ns` named `name` targeting `sts`, with one path (volume "data") and the
// given extra spec fields merged in.
inline nlohmann::json Policy(const std::string& ns, const std::string& name, const std::string& sts,
                             const nlohmann::json& extra_spec = nlohmann::json::object()) {
  nlohmann::json p = {
      {"apiVersion", "diffkeeper.io/v1alpha1"},
      {"kind", "StatePolicy"},
      {"metadata",
       {{"name", name},
        {"namespace", ns},
        {"uid", "uid-" + name},
        {"generation", 1},
        {"resourceVersion", "10"}}},
      {"spec", {{"targetRef", {{"name", sts}}}, {"paths", {{{"volume", "data"}}}}}}};
  p["spec"].merge_patch(extra_spec);
  return p;
}

// A pod of StatefulSet `sts` with ordinal `ordinal`.
inline nlohmann::json StsPod(const std::string& ns, const std::string& sts, int ordinal,
                             const std::string& uid = "0123456789abcdef") {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata",
           {{"name", sts + "-" + std::to_string(ordinal)},
            {"namespace", ns},
            {"uid", uid},
            {"labels",
             {{"app", sts},
              {"statefulset.kubernetes.io/pod-name", sts + "-" + std::to_string(ordinal)},
              {"apps.kubernetes.io/pod-index", std::to_string(ordinal)}}},
            {"ownerReferences",
             {{{"apiVersion", "apps/v1"},
               {"kind", "StatefulSet"},
               {"name", sts},
               {"uid", "sts-uid"},
               {"controller", true},
               {"blockOwnerDeletion", true}}}}}},
          {"spec",
           {{"containers", {{{"name", "app"}, {"image", "busybox"}}}},
            {"volumes", {{{"name", "data"}, {"emptyDir", nlohmann::json::object()}}}}}}};
}

inline nlohmann::json StatefulSet(const std::string& ns, const std::string& name) {
  return {{"apiVersion", "apps/v1"},
          {"kind", "StatefulSet"},
          {"metadata", {{"name", name}, {"namespace", ns}}},
          {"spec",
           {{"template",
             {{"spec",
               {{"volumes", {{{"name", "data"}, {"emptyDir", nlohmann::json::object()}}}}}}}}}}};
}

}  // namespace dk::op::testing
