// Options of the Client calls (client.h), one struct per verb, and the list page type.
//
// Field names follow the Kubernetes query parameters they become.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace dk::kube {

struct GetOptions {
  // "" reads the latest (quorum read); "0" allows any cached version.
  std::string resource_version;
};

struct ListOptions {
  std::string label_selector;  // "app=db,tier!=cache"
  std::string field_selector;  // "spec.nodeName=node-1"
  int64_t limit = 0;           // page size; 0 = no paging
  std::string continue_token;  // from the previous page's ObjectList::continue_token
  std::string resource_version;
};

struct ObjectList {
  std::string resource_version;  // of the list as a whole: start a watch from here
  std::string continue_token;    // "" on the last page
  std::optional<int64_t> remaining_item_count;
  std::vector<nlohmann::json> items;
};

struct WriteOptions {
  std::string field_manager;  // recorded in managedFields; "" lets the server pick
  bool dry_run = false;
  std::string subresource;  // "" or "status" (update/patch of the status subresource)
};

enum class PatchType {
  kMerge,           // application/merge-patch+json (RFC 7386)
  kJson,            // application/json-patch+json (RFC 6902)
  kStrategicMerge,  // application/strategic-merge-patch+json (built-in types only)
  kApply,           // application/apply-patch+yaml (server-side apply; JSON is valid YAML)
};

struct PatchOptions {
  std::string field_manager;  // required for kApply
  bool force = false;         // kApply only: take ownership of conflicting fields
  bool dry_run = false;
  std::string subresource;
};

enum class PropagationPolicy { kDefault, kOrphan, kBackground, kForeground };

struct DeleteOptions {
  PropagationPolicy propagation = PropagationPolicy::kDefault;
  std::optional<int64_t> grace_period_seconds;
  // Preconditions: the delete fails with Conflict unless the object still has this UID /
  // resourceVersion.
  std::string precondition_uid;
  std::string precondition_resource_version;
  bool dry_run = false;
};

struct WatchOptions {
  std::string label_selector;
  std::string field_selector;
  // Start after this version ("" = from now, with synthetic ADDED events for existing objects).
  std::string resource_version;
  bool allow_bookmarks = true;
  // The server ends the watch after this long (0 = server default).
  std::chrono::seconds timeout{300};
};

}  // namespace dk::kube
