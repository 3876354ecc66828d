// ResourceRef: how to address one kind of resource on the API server (group, version, plural
// resource name, scope) — enough for built-in types and CRDs alike.
//
//   core group ("")   → /api/v1/namespaces/<ns>/<resource>/<name>[/<subresource>]
//   named group       → /apis/<group>/<version>/namespaces/<ns>/<resource>/<name>[/…]
//   cluster-scoped    → the same without "namespaces/<ns>/"
//
// Names are not escaped: Kubernetes object names and namespaces are DNS labels/subdomains, and
// Client validates them before building a path. Value type, freely copied.
#pragma once

#include <string>
#include <string_view>

namespace dk::kube {

struct ResourceRef {
  std::string group;     // "" for the core group
  std::string version;   // "v1", "v1alpha1"
  std::string resource;  // plural, lower case: "configmaps", "statepolicies"
  bool namespaced = true;
  std::string kind;  // "ConfigMap"; filled in for objects libkube writes itself (may be "")

  // "v1" or "group/version", as in an object's apiVersion.
  std::string ApiVersion() const;
  // "/api/v1" or "/apis/group/version".
  std::string BasePath() const;
  // Collection path; `ns` is ignored for cluster-scoped resources and "" lists across all
  // namespaces for namespaced ones.
  std::string CollectionPath(std::string_view ns) const;
  // Object path, optionally with a subresource ("status", "scale").
  std::string ObjectPath(std::string_view ns, std::string_view name,
                         std::string_view subresource = "") const;
};

// Well-known resources.
namespace resources {
ResourceRef ConfigMaps();
ResourceRef Secrets();
ResourceRef Pods();
ResourceRef Nodes();
ResourceRef Namespaces();
ResourceRef Leases();                     // coordination.k8s.io/v1
ResourceRef Events();                     // events.k8s.io/v1
ResourceRef StatefulSets();               // apps/v1
ResourceRef DaemonSets();                 // apps/v1
ResourceRef CustomResourceDefinitions();  // apiextensions.k8s.io/v1
}  // namespace resources

}  // namespace dk::kube
