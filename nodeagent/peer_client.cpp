#include "peer_client.h"

#include "libkube/cpprest_transport.h"

namespace dk::agent {

std::string PeerStorePath(const PodIdentity& id) {
  return "/v1/stores/" + id.ns + "/" + id.stateful_set + "/" + std::to_string(id.ordinal);
}

Result<std::unique_ptr<PeerClient>> PeerClient::Create(const std::string& endpoint,
                                                       const PeerClientOptions& o, Logger* logger) {
  if (endpoint.rfind("https://", 0) != 0)
    return Status::InvalidArgument("peer endpoint '" + endpoint + "' is not an https:// URL");
  kube::RestConfig rc;
  rc.server = endpoint;
  while (!rc.server.empty() && rc.server.back() == '/') rc.server.pop_back();
  rc.ca_pem = o.ca_pem;
  rc.tls_server_name = o.server_name;
  rc.bearer_token = o.token;
  rc.bearer_token_file = o.token_file;
  rc.request_timeout = o.timeout;
  rc.source = "peer " + endpoint;
  DK_ASSIGN_OR_RETURN(auto transport, kube::NewCppRestTransport(rc, logger));
  kube::ClientOptions co;
  co.logger = logger;
  co.user_agent = "diffkeeper-agent/0.1";
  auto client = std::make_unique<kube::Client>(std::move(transport), rc, co);
  return std::unique_ptr<PeerClient>(new PeerClient(std::move(client), endpoint));
}

Result<std::string> PeerClient::Get(const std::string& path) {
  kube::HttpRequest req;
  req.method = "GET";
  req.path = path;
  auto resp = client_->Do(std::move(req), "peer " + endpoint_ + " GET " + path);
  if (!resp.ok()) return resp.status();
  return std::move(resp->body);
}

Result<StoreInfo> PeerClient::Info(const PodIdentity& id) {
  DK_ASSIGN_OR_RETURN(std::string body, Get(PeerStorePath(id)));
  auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::Corruption("peer " + endpoint_ + ": store info is not JSON");
  return StoreInfoFromJson(j);
}

Result<std::string> PeerClient::Manifest(const PodIdentity& id, std::optional<uint64_t> set,
                                         std::optional<int64_t> time_ns) {
  std::string path = PeerStorePath(id) + "/manifest";
  if (set) {
    path += "?set=" + std::to_string(*set);
  } else if (time_ns) {
    path += "?time=" + std::to_string(*time_ns);
  }
  return Get(path);
}

Result<Bytes> PeerClient::Object(const PodIdentity& id, const ObjectId& object) {
  DK_ASSIGN_OR_RETURN(std::string body, Get(PeerStorePath(id) + "/objects/" + object.Hex()));
  return Bytes(body.begin(), body.end());
}

}  // namespace dk::agent
