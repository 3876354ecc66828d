// PeerSource: the stores of one node's agent as another agent sees them — the data behind the
// peer API (docs/protocol.md, "Peer API").
//
//   Info      what the node has for an identity: its layout and restore point.
//   Manifest  the encoded SetManifest of a capture set: the restore point by default, capture
//             set `set`, or the latest set at or before `time_ns`.
//   Object    one chunk's content, by id.
//
// LocalPeerSource answers from this node's StoreRegistry (the peer API server wraps it);
// PeerClient (peer_client.h) asks another node over HTTPS. Implementations are thread-safe.
// Errors: NotFound (no store, set or object), PermissionDenied (not allowed), Unavailable
// (retryable: the peer cannot be reached).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "libstate/bytes.h"
#include "libstate/result.h"
#include "pod_identity.h"
#include "store_registry.h"

namespace dk::agent {

struct StoreInfo {
  std::string layout;
  RestorePoint point;  // set 0: the store has no capture set
  uint64_t sets = 0;
  int64_t first_time_ns = 0;  // oldest capture set still stored
};

nlohmann::json StoreInfoToJson(const StoreInfo& info);
Result<StoreInfo> StoreInfoFromJson(const nlohmann::json& j);

class PeerSource {
 public:
  virtual ~PeerSource() = default;
  virtual Result<StoreInfo> Info(const PodIdentity& id) = 0;
  virtual Result<std::string> Manifest(const PodIdentity& id, std::optional<uint64_t> set,
                                       std::optional<int64_t> time_ns) = 0;
  virtual Result<Bytes> Object(const PodIdentity& id, const ObjectId& object) = 0;
};

class LocalPeerSource final : public PeerSource {
 public:
  explicit LocalPeerSource(StoreRegistry* registry) : registry_(registry) {}
  Result<StoreInfo> Info(const PodIdentity& id) override;
  Result<std::string> Manifest(const PodIdentity& id, std::optional<uint64_t> set,
                               std::optional<int64_t> time_ns) override;
  Result<Bytes> Object(const PodIdentity& id, const ObjectId& object) override;

 private:
  StoreRegistry* registry_;
};

// The capture set a restore of `store` uses: `set` when given, else the latest set at or before
// `time_ns` when given, else `restore_point` (when non-zero and still stored), else the latest
// set. NotFound when there is none.
Result<uint64_t> ChooseSet(Store* store, std::optional<uint64_t> set,
                           std::optional<int64_t> time_ns, const RestorePoint& restore_point);

}  // namespace dk::agent
