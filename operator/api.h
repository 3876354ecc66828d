// Names of the diffkeeper.io API and of the objects, labels and annotations the operator, the
// webhook, the agents and restore-wait agree on (docs/protocol.md), plus small helpers for
// reading and editing objects held as JSON.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libkube/resource_ref.h"

namespace dk::op {

inline constexpr char kGroup[] = "diffkeeper.io";
inline constexpr char kApiVersion[] = "diffkeeper.io/v1alpha1";
inline constexpr char kFieldManager[] = "diffkeeper-operator";
inline constexpr char kFinalizer[] = "diffkeeper.io/protection";

// Labels and annotations.
inline constexpr char kGatedLabel[] = "diffkeeper.io/gated";             // "true" on gated pods
inline constexpr char kPolicyAnnotation[] = "diffkeeper.io/policy";      // on gated pods
inline constexpr char kNodeReportLabel[] = "diffkeeper.io/node-report";  // agent ConfigMaps
inline constexpr char kRestoreForPodLabel[] = "diffkeeper.io/pod-uid";   // on StateRestores
inline constexpr char kManagedByLabel[] = "app.kubernetes.io/managed-by";

// Names of the restore gate in pods (webhook.h).
inline constexpr char kRestoreWaitContainer[] = "diffkeeper-restore-wait";
inline constexpr char kMarkerVolume[] = "diffkeeper-markers";
inline constexpr char kMarkerMountPath[] = "/var/run/diffkeeper/markers";

namespace resources {
kube::ResourceRef StatePolicies();
kube::ResourceRef StateRestores();
kube::ResourceRef MutatingWebhookConfigurations();
}  // namespace resources

// The object to put in an Event's `regarding` (list items carry no apiVersion/kind).
nlohmann::json Regarding(const nlohmann::json& obj, std::string_view api_version,
                         std::string_view kind);

// metadata.deletionTimestamp is set.
bool IsDeleting(const nlohmann::json& obj);
bool HasFinalizer(const nlohmann::json& obj, std::string_view finalizer);
int64_t GetGeneration(const nlohmann::json& obj);

// The StatefulSet that controls a pod (its controller ownerReference), or "".
std::string OwningStatefulSet(const nlohmann::json& pod);
// The ordinal of a StatefulSet pod: label apps.kubernetes.io/pod-index, else the number after
// the last '-' of the name when the name is "<sts>-<n>"; nullopt otherwise.
std::optional<int> PodOrdinal(const nlohmann::json& pod, std::string_view sts_name);

// RFC 3339 UTC time with seconds precision ("2025-11-27T12:00:00Z").
std::string FormatRfc3339(std::chrono::system_clock::time_point t);
// Parses RFC 3339 (with optional fractional seconds and Z or ±hh:mm); nullopt when invalid.
std::optional<std::chrono::system_clock::time_point> ParseRfc3339(std::string_view s);

// "12.5 MiB" style.
std::string HumanBytes(uint64_t bytes);

}  // namespace dk::op
