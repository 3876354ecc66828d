// Purging the stores of deleted policies (docs/protocol.md, "Agent configuration"): the
// operator lists policies deleted with retention.onDelete: Delete in data["purge.json"] of
// ConfigMap diffkeeper-agent-config as {namespace, policy, uid, statefulSet, requested}; the
// agent deletes its stores of <namespace>/<statefulSet>/* and so stops reporting them.
//
// Entries stay in the list for a day, and a new policy may protect the same StatefulSet in the
// meantime, so a store is only deleted when nothing captures it now and its restore point
// (last capture) is not newer than the request.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "libstate/logger.h"
#include "store_registry.h"

namespace dk::agent {

// Applies the purge list of the agent configuration ConfigMap `config`. `capturing` says whether
// a worker captures an identity now. `before_remove` (may be empty) is called for each identity
// just before its store is deleted: the agent stops its replication there, so that nothing
// writes the identity to the bucket after the operator purged the bucket's copies
// (docs/protocol.md, "Purge"). Returns how many stores were deleted.
size_t ApplyPurges(const nlohmann::json& config, StoreRegistry* registry,
                   const std::function<bool(const PodIdentity&)>& capturing, Logger* logger,
                   const std::function<void(const PodIdentity&)>& before_remove = {});

}  // namespace dk::agent
