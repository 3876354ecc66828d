// TokenReviewAuthenticator: checks a peer's bearer token with a TokenReview
// (authentication.k8s.io/v1) against the API server, and accepts it only when it authenticates
// the agents' service account (system:serviceaccount:<namespace>:<name>).
//
// A token bound to a pod (projected service-account tokens) also names the caller's node
// (user.extra["authentication.kubernetes.io/node-name"]); it is returned for entitlement checks.
// Results are cached by the SHA-256 of the token: accepted tokens for `cache_ttl`, refused
// ones for a few seconds (so a misbehaving caller cannot make us flood the API server). The
// token itself is never logged or kept.
//
// Needs RBAC: create tokenreviews (cluster-scoped). Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "libkube/client.h"
#include "peer_api.h"

namespace dk::agent {

class TokenReviewAuthenticator final : public PeerAuthenticator {
 public:
  TokenReviewAuthenticator(kube::Client* client, std::string expected_username,
                           std::chrono::milliseconds cache_ttl);
  Result<PeerCaller> Authenticate(const std::string& token) override;

  // The username an agent's token carries.
  static std::string ServiceAccountUser(const std::string& ns, const std::string& name);

 private:
  struct Cached {
    Status status;
    PeerCaller caller;
    std::chrono::steady_clock::time_point expires;
  };

  kube::Client* const client_;
  const std::string expected_;
  const std::chrono::milliseconds ttl_;
  std::mutex mu_;
  std::map<std::string, Cached> cache_;  // by token hash
};

}  // namespace dk::agent
