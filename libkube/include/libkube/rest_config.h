// RestConfig: where the API server is and how to authenticate to it — the validated result of
// reading a kubeconfig (kubeconfig.h) or the in-cluster service account (in_cluster_config.h).
//
// All key material is held in memory as PEM text (files named in a kubeconfig are read once,
// when it is loaded), except the bearer token file, which is re-read so rotated service
// account tokens are picked up (bearer_token_source.h). Never log this struct: it holds secrets.
#pragma once

#include <chrono>
#include <string>

namespace dk::kube {

struct RestConfig {
  // "https://host:port" with an optional path prefix; never ends in '/'.
  std::string server;

  // PEM bundle trusted for the server certificate; empty trusts the system roots.
  std::string ca_pem;
  // Verification of the server certificate is skipped. Only set when the kubeconfig asked for
  // it AND the caller allowed it (KubeconfigOptions::allow_insecure).
  bool insecure_skip_tls_verify = false;
  // Name checked against the server certificate instead of the host of `server`.
  std::string tls_server_name;

  // Client certificate authentication (both or neither).
  std::string client_cert_pem;
  std::string client_key_pem;

  // Bearer token authentication: a literal token, or a file re-read on rotation (wins when both).
  std::string bearer_token;
  std::string bearer_token_file;

  // Namespace of the current context ("default" when unset); in-cluster: the pod's namespace.
  std::string default_namespace = "default";

  // Where this configuration came from, for messages ("kubeconfig /x/config context admin").
  std::string source;

  // Timeout of ordinary requests; watches use their own (timeoutSeconds + margin).
  std::chrono::milliseconds request_timeout = std::chrono::seconds(30);
};

}  // namespace dk::kube
