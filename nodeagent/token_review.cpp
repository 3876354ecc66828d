#include "token_review.h"

#include "libstate/hash.h"

namespace dk::agent {
namespace {

constexpr size_t kMaxCache = 1024;
constexpr std::chrono::seconds kNegativeTtl{5};

kube::ResourceRef TokenReviews() {
  kube::ResourceRef r;
  r.group = "authentication.k8s.io";
  r.version = "v1";
  r.resource = "tokenreviews";
  r.namespaced = false;
  r.kind = "TokenReview";
  return r;
}

}  // namespace

std::string TokenReviewAuthenticator::ServiceAccountUser(const std::string& ns,
                                                         const std::string& name) {
  return "system:serviceaccount:" + ns + ":" + name;
}

TokenReviewAuthenticator::TokenReviewAuthenticator(kube::Client* client,
                                                   std::string expected_username,
                                                   std::chrono::milliseconds cache_ttl)
    : client_(client), expected_(std::move(expected_username)), ttl_(cache_ttl) {}

Result<PeerCaller> TokenReviewAuthenticator::Authenticate(const std::string& token) {
  if (token.empty() || token.size() > 16384)
    return Status::PermissionDenied("the bearer token is empty or too long");
  const std::string key = HashBytes(AsBytes(token)).Hex();
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end() && it->second.expires > now) {
      if (!it->second.status.ok()) return it->second.status;
      return it->second.caller;
    }
  }
  nlohmann::json review = {{"apiVersion", "authentication.k8s.io/v1"},
                           {"kind", "TokenReview"},
                           {"metadata", nlohmann::json::object()},
                           {"spec", {{"token", token}}}};
  auto r = client_->Create(TokenReviews(), "", review);
  if (!r.ok()) {
    // The API server could not answer: the caller may retry; nothing is cached.
    return Status::Unavailable("cannot review the peer's token now: " + r.status().message());
  }
  Cached c;
  const nlohmann::json& st = (*r)["status"];
  bool authenticated = st.is_object() && st.contains("authenticated") &&
                       st["authenticated"].is_boolean() && st["authenticated"].get<bool>();
  std::string user;
  if (authenticated && st.contains("user") && st["user"].is_object()) {
    const auto& u = st["user"];
    if (u.contains("username") && u["username"].is_string())
      user = u["username"].get<std::string>();
    if (u.contains("extra") && u["extra"].is_object()) {
      const auto& ex = u["extra"];
      auto it = ex.find("authentication.kubernetes.io/node-name");
      if (it != ex.end() && it->is_array() && !it->empty() && (*it)[0].is_string())
        c.caller.node = (*it)[0].get<std::string>();
    }
  }
  c.caller.username = user;
  if (!authenticated) {
    c.status = Status::PermissionDenied("the bearer token is not valid");
  } else if (user != expected_) {
    c.status = Status::PermissionDenied("the token authenticates '" + user +
                                        "', not the agents' service account");
  }
  c.expires =
      now + (c.status.ok()
                 ? std::chrono::duration_cast<std::chrono::steady_clock::duration>(ttl_)
                 : std::chrono::duration_cast<std::chrono::steady_clock::duration>(kNegativeTtl));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (cache_.size() >= kMaxCache) {
      for (auto it = cache_.begin(); it != cache_.end();)
        it = it->second.expires <= now ? cache_.erase(it) : std::next(it);
      if (cache_.size() >= kMaxCache) cache_.clear();
    }
    cache_[key] = c;
  }
  if (!c.status.ok()) return c.status;
  return c.caller;
}

}  // namespace dk::agent
