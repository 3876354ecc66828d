// PeerApi: the server side of the peer API (docs/protocol.md, "Peer API"):
//
//   GET /v1/stores/<ns>/<sts>/<ordinal>                      store info (JSON, peer_source.h)
//   GET /v1/stores/<ns>/<sts>/<ordinal>/manifest[?set=N|?time=<unix ns>]
//                                                            encoded SetManifest
//   GET /v1/stores/<ns>/<sts>/<ordinal>/objects/<64 hex>    chunk content
//
// Every request needs "Authorization: Bearer <token>": the PeerAuthenticator (a TokenReview,
// token_review.h) says who the caller is, and the PeerAuthorizer whether that caller may read
// that identity's store (only the agents' service account; when the token names the caller's
// node, only for identities that have a restore assigned to that node). Answers: 401 no or bad
// token, 403 not entitled, 404 no such store / set / object, 400 malformed path, 503 when the
// token cannot be checked now. Bodies of errors are short plain text and never echo tokens.
//
// Thread-safe (handlers run on the HTTP server's threads).
#pragma once

#include <functional>
#include <string>

#include "agent_metrics.h"
#include "libstate/logger.h"
#include "libsvc/http_server.h"
#include "peer_source.h"

namespace dk::agent {

struct PeerCaller {
  std::string username;  // e.g. system:serviceaccount:diffkeeper-system:diffkeeper-agent
  std::string node;      // the caller's node when its token is bound to a pod ("" otherwise)
};

class PeerAuthenticator {
 public:
  virtual ~PeerAuthenticator() = default;
  // PermissionDenied for a token that is not valid or not an agent's; Unavailable when it
  // cannot be checked now.
  virtual Result<PeerCaller> Authenticate(const std::string& token) = 0;
};

// OK when `caller` may read the store of `id`; PermissionDenied (with the reason) otherwise.
using PeerAuthorizer = std::function<Status(const PeerCaller& caller, const PodIdentity& id)>;

class PeerApi {
 public:
  // None of the pointers is owned; all outlive the API. `metrics` and `logger` may be null.
  PeerApi(PeerSource* source, PeerAuthenticator* authenticator, PeerAuthorizer authorizer,
          AgentMetrics* metrics, Logger* logger);

  // Registers the routes on `server` (before Start()).
  void Register(svc::HttpServer* server);
  svc::Response Handle(const svc::Request& request);

 private:
  svc::Response Serve(const svc::Request& request, std::string* endpoint);

  PeerSource* const source_;
  PeerAuthenticator* const authenticator_;
  const PeerAuthorizer authorizer_;
  AgentMetrics* const metrics_;
  Logger* const log_;
};

}  // namespace dk::agent
