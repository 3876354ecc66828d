// Status conditions in the metav1.Condition shape (type, status, reason, message,
// lastTransitionTime, observedGeneration), kept in a JSON array.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace dk::op {

// Sets condition `type` in `conditions` (an array; created when null). lastTransitionTime is
// `now` when the condition is new or its status changed and is kept otherwise. Returns true when
// anything changed.
bool SetCondition(nlohmann::json* conditions, const std::string& type, const std::string& status,
                  const std::string& reason, const std::string& message, int64_t generation,
                  const std::string& now);

// Removes condition `type` from `conditions`; returns true when it was there.
bool RemoveCondition(nlohmann::json* conditions, const std::string& type);

// The condition of type `type`, or nullptr.
const nlohmann::json* FindCondition(const nlohmann::json& conditions, const std::string& type);

// Its status ("True", "False", "Unknown"), "" when absent.
std::string ConditionStatus(const nlohmann::json& conditions, const std::string& type);

}  // namespace dk::op
