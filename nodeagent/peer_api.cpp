#include "peer_api.h"

#include <vector>

namespace dk::agent {
namespace {

std::vector<std::string> Split(const std::string& path) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    out.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

svc::Response FromStatus(const Status& s) {
  int code = 500;
  switch (s.code()) {
    case StatusCode::kNotFound:
      code = 404;
      break;
    case StatusCode::kInvalidArgument:
      code = 400;
      break;
    case StatusCode::kPermissionDenied:
      code = 403;
      break;
    case StatusCode::kUnavailable:
      code = 503;
      break;
    case StatusCode::kCorruption:
      code = 500;
      break;
    default:
      code = 500;
  }
  return svc::Response::Text(code, s.message() + "\n");
}

bool ParseUint(const std::string& s, uint64_t* out) {
  if (s.empty() || s.size() > 19 || s.find_first_not_of("0123456789") != std::string::npos)
    return false;
  *out = std::stoull(s);
  return true;
}

}  // namespace

PeerApi::PeerApi(PeerSource* source, PeerAuthenticator* authenticator, PeerAuthorizer authorizer,
                 AgentMetrics* metrics, Logger* logger)
    : source_(source),
      authenticator_(authenticator),
      authorizer_(std::move(authorizer)),
      metrics_(metrics),
      log_(logger ? logger : NullLogger()) {}

void PeerApi::Register(svc::HttpServer* server) {
  server->Handle("GET", "/v1/stores", [this](const svc::Request& r) { return Handle(r); });
}

svc::Response PeerApi::Handle(const svc::Request& request) {
  std::string endpoint = "invalid";
  svc::Response resp = Serve(request, &endpoint);
  if (metrics_) metrics_->RecordPeerRequest(endpoint, resp.status);
  if (resp.status >= 400 && resp.status != 404) {
    log_->Info("Refused a peer request", {{"path", request.path},
                                          {"remote", request.remote_address},
                                          {"code", resp.status},
                                          {"reason", resp.body.substr(0, 200)}});
  }
  return resp;
}

svc::Response PeerApi::Serve(const svc::Request& request, std::string* endpoint) {
  // /v1/stores/<ns>/<sts>/<ordinal>[/manifest | /objects/<id>]
  std::vector<std::string> parts = Split(request.path);
  if (parts.size() < 6 || !parts[0].empty() || parts[1] != "v1" || parts[2] != "stores")
    return svc::Response::Text(404, "unknown path\n");
  if (parts.size() == 6) {
    *endpoint = "info";
  } else if (parts.size() == 7 && parts[6] == "manifest") {
    *endpoint = "manifest";
  } else if (parts.size() == 8 && parts[6] == "objects") {
    *endpoint = "objects";
  } else {
    return svc::Response::Text(404, "unknown path\n");
  }
  auto id = ParseIdentityKey(parts[3] + "/" + parts[4] + "/" + parts[5]);
  if (!id.ok()) return FromStatus(id.status());

  // Authentication, then entitlement; nothing about the store is revealed before both.
  std::string auth = request.Header("Authorization");
  const std::string bearer = "Bearer ";
  if (auth.size() <= bearer.size() || auth.compare(0, bearer.size(), bearer) != 0) {
    svc::Response r = svc::Response::Text(401, "a bearer token is required\n");
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return r;
  }
  auto caller = authenticator_->Authenticate(auth.substr(bearer.size()));
  if (!caller.ok()) {
    if (caller.status().code() == StatusCode::kUnavailable) return FromStatus(caller.status());
    svc::Response r = svc::Response::Text(401, caller.status().message() + "\n");
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return r;
  }
  if (Status s = authorizer_(*caller, *id); !s.ok()) return FromStatus(s);
  log_->Debug(
      "Serving a peer",
      {{"path", request.path}, {"caller", caller->username}, {"caller_node", caller->node}});

  if (*endpoint == "info") {
    auto info = source_->Info(*id);
    if (!info.ok()) return FromStatus(info.status());
    return svc::Response::Json(200, StoreInfoToJson(*info).dump());
  }
  if (*endpoint == "manifest") {
    std::optional<uint64_t> set;
    std::optional<int64_t> time_ns;
    bool has_set = false, has_time = false;
    std::string sv = request.QueryParam("set", &has_set);
    std::string tv = request.QueryParam("time", &has_time);
    uint64_t n;
    if (has_set) {
      if (!ParseUint(sv, &n) || n == 0) return svc::Response::Text(400, "bad set\n");
      set = n;
    }
    if (has_time) {
      if (!ParseUint(tv, &n) || n > static_cast<uint64_t>(INT64_MAX))
        return svc::Response::Text(400, "bad time (want Unix nanoseconds)\n");
      time_ns = static_cast<int64_t>(n);
    }
    if (set && time_ns) return svc::Response::Text(400, "set and time are exclusive\n");
    auto m = source_->Manifest(*id, set, time_ns);
    if (!m.ok()) return FromStatus(m.status());
    svc::Response r(svc::Response::Text(200, std::move(*m)));
    r.content_type = "application/octet-stream";
    return r;
  }
  auto oid = ObjectId::FromHex(parts[7]);
  if (!oid) return svc::Response::Text(400, "bad object id\n");
  auto obj = source_->Object(*id, *oid);
  if (!obj.ok()) return FromStatus(obj.status());
  svc::Response r(svc::Response::Text(200, std::string(obj->begin(), obj->end())));
  r.content_type = "application/octet-stream";
  return r;
}

}  // namespace dk::agent
