// Loading the in-cluster configuration of a pod's service account.
//
// Reads KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT, the CA at <dir>/ca.crt and the
// namespace at <dir>/namespace; the token at <dir>/token is NOT read into the config but named
// as RestConfig::bearer_token_file, so the client re-reads it when the kubelet rotates it.
// Errors name the variable or file: Unavailable when not running in a cluster (variables
// unset), NotFound / InvalidArgument for missing or bad files.
#pragma once

#include <string>

#include "libkube/rest_config.h"
#include "libstate/result.h"

namespace dk::kube {

inline constexpr char kServiceAccountDir[] = "/var/run/secrets/kubernetes.io/serviceaccount";

struct InClusterOptions {
  std::string service_account_dir = kServiceAccountDir;
  // Overrides for the environment variables (tests); empty reads the process environment.
  std::string host;
  std::string port;
};

Result<RestConfig> LoadInClusterConfig(const InClusterOptions& options = {});

}  // namespace dk::kube
