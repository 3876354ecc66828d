// PodIdentity: the stable identity of a StatefulSet pod — namespace/statefulset/ordinal — under
// which its history is kept, so a re-created pod with the same name continues it.
//
// Every component is validated before it becomes part of a path (stores, peer API URLs):
// namespaces and StatefulSet names are DNS subdomains, the ordinal a non-negative integer.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "libstate/result.h"

namespace dk::agent {

struct PodIdentity {
  std::string ns;
  std::string stateful_set;
  int64_t ordinal = -1;

  // "ns/sts/ordinal"
  std::string Key() const;
  // "<sts>-<ordinal>": the pod's name.
  std::string PodName() const { return stateful_set + "-" + std::to_string(ordinal); }
  // <stores_dir>/<ns>/<sts>/<ordinal>
  std::string StoreDir(const std::string& stores_dir) const;
  bool operator==(const PodIdentity& o) const = default;
  bool operator<(const PodIdentity& o) const { return Key() < o.Key(); }
};

// Lower-case RFC 1123 subdomain ("a-b.c"), 1..253 characters.
bool IsDnsSubdomain(std::string_view s);
// Checks all three components; InvalidArgument naming the bad one.
Status ValidateIdentity(const PodIdentity& id);
// Parses "ns/sts/ordinal" (validated).
Result<PodIdentity> ParseIdentityKey(std::string_view key);

// The name of the StatefulSet that controls `pod` (its controller ownerReference), "" if none.
std::string OwnerStatefulSet(const nlohmann::json& pod);
// The identity of a StatefulSet pod: owner StatefulSet, ordinal from the
// apps.kubernetes.io/pod-index label or the name's "-<n>" suffix. NotFound for pods not owned
// by a StatefulSet; InvalidArgument when the ordinal cannot be determined.
Result<PodIdentity> IdentityOfPod(const nlohmann::json& pod);

}  // namespace dk::agent
