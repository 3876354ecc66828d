#include "libkube/resource_ref.h"

namespace dk::kube {

std::string ResourceRef::ApiVersion() const {
  return group.empty() ? version : group + "/" + version;
}

std::string ResourceRef::BasePath() const {
  return group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
}

std::string ResourceRef::CollectionPath(std::string_view ns) const {
  std::string p = BasePath();
  if (namespaced && !ns.empty()) {
    p += "/namespaces/";
    p += ns;
  }
  p += "/";
  p += resource;
  return p;
}

std::string ResourceRef::ObjectPath(std::string_view ns, std::string_view name,
                                    std::string_view subresource) const {
  std::string p = CollectionPath(ns);
  p += "/";
  p += name;
  if (!subresource.empty()) {
    p += "/";
    p += subresource;
  }
  return p;
}

namespace resources {
ResourceRef ConfigMaps() { return {"", "v1", "configmaps", true, "ConfigMap"}; }
ResourceRef Secrets() { return {"", "v1", "secrets", true, "Secret"}; }
ResourceRef Pods() { return {"", "v1", "pods", true, "Pod"}; }
ResourceRef Nodes() { return {"", "v1", "nodes", false, "Node"}; }
ResourceRef Namespaces() { return {"", "v1", "namespaces", false, "Namespace"}; }
ResourceRef Leases() { return {"coordination.k8s.io", "v1", "leases", true, "Lease"}; }
ResourceRef Events() { return {"events.k8s.io", "v1", "events", true, "Event"}; }
ResourceRef StatefulSets() { return {"apps", "v1", "statefulsets", true, "StatefulSet"}; }
ResourceRef DaemonSets() { return {"apps", "v1", "daemonsets", true, "DaemonSet"}; }
ResourceRef CustomResourceDefinitions() {
  return {"apiextensions.k8s.io", "v1", "customresourcedefinitions", false,
          "CustomResourceDefinition"};
}
}  // namespace resources

}  // namespace dk::kube
