#include "libkube/in_cluster_config.h"

#include <cstdlib>

#include "file_util.h"

namespace dk::kube {
namespace {

std::string Trim(std::string s) {
  const char* ws = " \t\r\n";
  s.erase(0, s.find_first_not_of(ws));
  size_t end = s.find_last_not_of(ws);
  s.erase(end == std::string::npos ? 0 : end + 1);
  return s;
}

std::string EnvOr(const std::string& override_value, const char* name) {
  if (!override_value.empty()) return override_value;
  const char* v = std::getenv(name);
  return v ? v : "";
}

}  // namespace

Result<RestConfig> LoadInClusterConfig(const InClusterOptions& options) {
  const std::string host = EnvOr(options.host, "KUBERNETES_SERVICE_HOST");
  const std::string port = EnvOr(options.port, "KUBERNETES_SERVICE_PORT");
  if (host.empty() || port.empty()) {
    return Status::Unavailable(
        "in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set "
        "(not running in a pod?)");
  }
  for (char c : port) {
    if (c < '0' || c > '9') {
      return Status::InvalidArgument("in-cluster config: KUBERNETES_SERVICE_PORT \"" + port +
                                     "\" is not a port number");
    }
  }
  RestConfig config;
  // IPv6 service addresses need brackets in a URL.
  const bool v6 = host.find(':') != std::string::npos && host.front() != '[';
  config.server = "https://" + (v6 ? "[" + host + "]" : host) + ":" + port;
  config.source = "in-cluster service account " + options.service_account_dir;

  const std::string dir = options.service_account_dir;
  DK_ASSIGN_OR_RETURN_CTX(config.ca_pem, ReadSmallFile(dir + "/ca.crt"), "in-cluster config");
  if (config.ca_pem.find("-----BEGIN ") == std::string::npos) {
    return Status::InvalidArgument("in-cluster config: " + dir + "/ca.crt: not PEM");
  }
  config.bearer_token_file = dir + "/token";
  DK_ASSIGN_OR_RETURN_CTX(std::string token, ReadSmallFile(config.bearer_token_file),
                          "in-cluster config");
  if (Trim(token).empty()) {
    return Status::InvalidArgument("in-cluster config: " + config.bearer_token_file + ": empty");
  }
  Result<std::string> ns = ReadSmallFile(dir + "/namespace");
  if (ns.ok() && !Trim(*ns).empty()) config.default_namespace = Trim(*ns);
  return config;
}

}  // namespace dk::kube
