// PeerClient: the peer API of another node's agent, over HTTPS (docs/protocol.md, "Peer API").
//
// The server certificate is verified against the peers' CA and the fixed name the agents'
// certificates are issued for (--peer-server-name), not the IP; every request carries this
// agent's service-account token as a bearer token (re-read when rotated). Responses are checked
// by the caller: manifests by DecodeManifest (Merkle root), chunks against their ids.
// HTTP errors map to Status as in libkube/api_error.h (404 NotFound, 401/403 PermissionDenied,
// 5xx and connection failures Unavailable and retryable).
//
// Thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "libkube/client.h"
#include "peer_source.h"

namespace dk::agent {

struct PeerClientOptions {
  std::string ca_pem;       // trusted CA bundle
  std::string server_name;  // checked against the certificate
  std::string token_file;   // bearer token file (service account token)
  std::string token;        // literal token (tests); the file wins when both are set
  std::chrono::milliseconds timeout{30000};
};

class PeerClient final : public PeerSource {
 public:
  // `endpoint` is "https://host:port" from the peer's node report.
  static Result<std::unique_ptr<PeerClient>> Create(const std::string& endpoint,
                                                    const PeerClientOptions& options,
                                                    Logger* logger);
  Result<StoreInfo> Info(const PodIdentity& id) override;
  Result<std::string> Manifest(const PodIdentity& id, std::optional<uint64_t> set,
                               std::optional<int64_t> time_ns) override;
  Result<Bytes> Object(const PodIdentity& id, const ObjectId& object) override;

 private:
  explicit PeerClient(std::unique_ptr<kube::Client> client, std::string endpoint)
      : client_(std::move(client)), endpoint_(std::move(endpoint)) {}
  Result<std::string> Get(const std::string& path);

  std::unique_ptr<kube::Client> client_;
  std::string endpoint_;
};

struct SourceCandidate;  // restore_executor.h

// Makes a PeerSource for a peer (PeerClient in production, fakes in tests).
using PeerConnector =
    std::function<Result<std::unique_ptr<PeerSource>>(const SourceCandidate& peer)>;

// The URL path of an identity's store on the peer API: "/v1/stores/<ns>/<sts>/<ordinal>".
std::string PeerStorePath(const PodIdentity& id);

}  // namespace dk::agent
