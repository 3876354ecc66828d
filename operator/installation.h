// The installation-wide objects the operator owns, computed from the StatePolicies (pure
// functions; the reconciler in operator.cpp applies them with server-side apply):
//
//  - the agent DaemonSet (one per installation, in the operator's namespace);
//  - the agent configuration ConfigMap: every StatePolicy as agents read it, plus the purge
//    list of deleted policies whose stored versions must go (docs/protocol.md, "Agent
//    configuration");
//  - the webhook configurations: the caBundle of the static entry the manifests install, and
//    a second MutatingWebhookConfiguration, owned by the first, with one strict entry per
//    gating policy (operator/README.md, "The restore gate"). Keeping the per-policy entries out
//    of the manifests' object keeps `kubectl apply` and Argo CD free of drift.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "libstate/result.h"

namespace dk::op {

struct InstallationOptions {
  std::string ns = "diffkeeper-system";
  std::string agent_daemonset = "diffkeeper-agent";
  std::string agent_service_account = "diffkeeper-agent";
  std::string agent_config = "diffkeeper-agent-config";
  std::string image = "ghcr.io/diffkeeper/diffkeeper:latest";
  std::string image_pull_policy = "IfNotPresent";
  std::string kubelet_root = "/var/lib/kubelet";
  std::string state_dir = "/var/lib/diffkeeper";
  std::string agent_log_level = "info";
  // Appended to the agent's arguments (a later flag overrides an earlier one), e.g.
  // "--report-interval=30s".
  std::vector<std::string> agent_extra_args;
  std::string webhook_config = "diffkeeper-restore-gate";
  std::string policy_webhook_config = "diffkeeper-restore-gate-policies";
  std::string gate_entry = "gate.diffkeeper.io";
  std::chrono::hours purge_retention{24};  // how long a purge request stays in the config
};

// `owner`: an ownerReference object to put on what the operator creates (null for none).
nlohmann::json DesiredAgentDaemonSet(const InstallationOptions& o, const nlohmann::json& owner);

// `policies`: all StatePolicy objects. `current`: the ConfigMap as it is (null when absent),
// whose purge list is carried over. Policies being deleted with retention.onDelete=Delete join
// the purge list; entries older than purge_retention leave it.
nlohmann::json DesiredAgentConfig(const InstallationOptions& o,
                                  const std::vector<nlohmann::json>& policies,
                                  const nlohmann::json& current, const nlohmann::json& owner,
                                  std::chrono::system_clock::time_point now);

struct DesiredWebhooks {
  nlohmann::json gate;      // apply configuration of `live`: the gate entry's caBundle only
  nlohmann::json policies;  // the per-policy configuration, owned by `live`
};

// The server-side apply configurations derived from the manifests' webhook configuration
// `live`: caBundle on its gate entry, and the per-policy configuration with a strict entry
// (failurePolicy Fail) for each gating policy (not paused, onReschedule Restore, not being
// deleted), using the gate entry's clientConfig, rules and timeout. FailedPrecondition when
// `live` has no gate entry.
Result<DesiredWebhooks> DesiredWebhookConfigurations(const InstallationOptions& o,
                                                     const nlohmann::json& live,
                                                     const std::vector<nlohmann::json>& policies,
                                                     const std::string& ca_bundle_pem);

// The name of a policy's strict webhook entry.
std::string PolicyWebhookName(const std::string& ns, const std::string& policy);

// Host names the webhook certificate must cover: the Service's DNS names (when the gate entry
// uses a service) or the URL's host, plus `extra`.
std::vector<std::string> WebhookCertHosts(const InstallationOptions& o, const nlohmann::json& live,
                                          const std::string& service_name,
                                          const std::vector<std::string>& extra);

}  // namespace dk::op
