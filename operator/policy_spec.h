// PolicySpec: a StatePolicy's spec, parsed, defaulted and checked.
//
// The API server already defaults and validates StatePolicies (crds/); the operator parses
// again because objects can come from older CRD versions, from tests and from clients that
// skipped validation, and a reconcile must never act on a spec it does not understand. Defaults
// and bounds here mirror the CRD's; error messages match its validation messages.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "libstate/result.h"

namespace dk::op {

struct PathSpec {
  std::string volume;
  std::string sub_path;
  std::vector<std::string> include;
  std::vector<std::string> exclude;
};

struct S3Spec {
  std::string endpoint;
  std::string bucket;
  std::string prefix;
  std::string region;
  std::string credentials_secret;
};

struct PolicySpec {
  std::string target_name;
  std::vector<PathSpec> paths;

  std::chrono::nanoseconds debounce = std::chrono::seconds(2);
  int snapshot_every = 20;
  int max_chain = 50;
  std::string delta_engine = "auto";  // auto | bsdiff | zstd | none
  uint32_t chunk_min = 65536;         // libstate's ChunkerParams defaults
  uint32_t chunk_avg = 262144;
  uint32_t chunk_max = 1048576;

  int keep_versions = 100;
  std::optional<std::chrono::nanoseconds> keep_for;
  std::string on_delete = "Retain";  // Retain | Delete

  std::string on_reschedule = "Restore";  // Restore | Skip
  std::chrono::nanoseconds restore_timeout = std::chrono::minutes(10);
  std::string on_timeout = "Fail";  // Fail | StartEmpty

  std::string storage_type = "Local";  // Local | S3
  std::optional<S3Spec> s3;

  bool paused = false;

  // The pods of the target are gated by the webhook (protection active and restores wanted).
  bool Gates() const { return !paused && on_reschedule == "Restore"; }
};

// Parses `policy` (a whole StatePolicy object). InvalidArgument with the CRD's message for
// anything the CRD would have rejected.
Result<PolicySpec> ParsePolicySpec(const nlohmann::json& policy);

// The policy as agents read it from the agent configuration (docs/protocol.md): namespace, name,
// uid, generation, statefulSet, paused, paths, capture, retention, restore, storage.
nlohmann::json PolicyToAgentJson(const nlohmann::json& policy, const PolicySpec& spec);

}  // namespace dk::op
