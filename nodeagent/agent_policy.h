// AgentPolicy: the parts of a StatePolicy (crds/diffkeeper.io_statepolicies.yaml) the agent
// acts on, parsed without throwing from the object the informer holds.
//
// The API server has already defaulted and validated the spec; this parse is defensive (an
// object from an older CRD, or written by a client that skipped validation, must never make
// the agent act on something it does not understand): anything malformed is InvalidArgument
// naming the field, and the policy is then treated as not protecting anything.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "libstate/options.h"
#include "libstate/result.h"

namespace dk::agent {

struct ProtectedPath {
  std::string volume;
  std::string sub_path;  // "" = the whole volume
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  bool operator==(const ProtectedPath&) const = default;
};

// spec.storage.s3: the bucket a policy with storage type S3 replicates to.
struct S3Storage {
  std::string endpoint;  // "" = AWS (https://s3.<region>.amazonaws.com)
  std::string bucket;
  std::string prefix;  // key prefix inside the bucket ("" = top level)
  std::string region = "us-east-1";
  std::string credentials_secret;  // Secret in the agent's (= the operator's) namespace
  bool operator==(const S3Storage&) const = default;
};

struct AgentPolicy {
  std::string ns;
  std::string name;
  std::string uid;
  int64_t generation = 0;
  std::string stateful_set;
  bool paused = false;
  std::vector<ProtectedPath> paths;

  std::optional<int64_t> debounce_ms;  // spec.capture.debounce
  uint32_t snapshot_every = 20;
  uint32_t max_chain = 50;
  DeltaChoice delta = DeltaChoice::kAuto;
  ChunkerParams chunker;  // spec.capture.chunking (fixed at store creation)

  uint32_t keep_versions = 100;        // spec.retention.keepVersions
  int64_t keep_for_ns = 0;             // spec.retention.keepFor; 0 = no time rule
  bool restore_on_reschedule = true;   // spec.restore.onReschedule == Restore
  std::string storage_type = "Local";  // Local | S3
  std::optional<S3Storage> s3;         // set exactly when storage_type is S3

  // Store settings for this policy's stores (logger and sync come from the agent).
  StoreOptions ToStoreOptions() const;
  RetentionPolicy ToRetention() const;
  // Same capture behaviour (paths and capture settings): a running worker can stay as is.
  bool SameCapture(const AgentPolicy& o) const;
};

Result<AgentPolicy> ParseAgentPolicy(const nlohmann::json& policy);

}  // namespace dk::agent
