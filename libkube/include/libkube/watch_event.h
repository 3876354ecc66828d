// WatchEvent: one decoded event of a Kubernetes watch stream.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

namespace dk::kube {

enum class WatchEventType { kAdded, kModified, kDeleted, kBookmark, kError };

std::string_view WatchEventTypeName(WatchEventType t);

struct WatchEvent {
  WatchEventType type = WatchEventType::kAdded;
  // The object (for kError: a metav1.Status; for kBookmark: an object of the watched kind
  // holding only metadata.resourceVersion).
  nlohmann::json object;
};

}  // namespace dk::kube
