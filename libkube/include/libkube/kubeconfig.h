// Loading a kubeconfig file into a RestConfig.
//
// Supported: the current context (or an explicitly chosen one) and its cluster and user;
// cluster `server`, `certificate-authority` (file) / `certificate-authority-data` (base64 PEM),
// `insecure-skip-tls-verify`, `tls-server-name`; user `client-certificate[-data]`,
// `client-key[-data]`, `token`, `tokenFile`; context `namespace`. Relative file paths are
// resolved against the kubeconfig's directory, as kubectl does.
//
// Refused with InvalidArgument: `insecure-skip-tls-verify: true` unless
// KubeconfigOptions::allow_insecure; `exec` and `auth-provider` plugins and basic auth
// (unsupported); a user with no credentials at all is accepted (anonymous).
//
// Every error names the file and the field, e.g.
//   kubeconfig /home/a/.kube/config: users[name=admin].user.client-key-data: invalid base64
// Error codes: NotFound when the kubeconfig file itself is missing, InvalidArgument for any
// content problem (including a referenced certificate file that cannot be read).
#pragma once

#include <string>
#include <string_view>

#include "libkube/rest_config.h"
#include "libstate/result.h"

namespace dk::kube {

struct KubeconfigOptions {
  // Context to use instead of `current-context`.
  std::string context;
  // Accept `insecure-skip-tls-verify: true` (never in production).
  bool allow_insecure = false;
};

// Reads and parses the file at `path`.
Result<RestConfig> LoadKubeconfig(const std::string& path, const KubeconfigOptions& options = {});

// Parses kubeconfig YAML text. `path` names the file in messages and anchors relative paths.
Result<RestConfig> ParseKubeconfig(std::string_view yaml_text, const std::string& path,
                                   const KubeconfigOptions& options = {});

}  // namespace dk::kube
