#include "installation.h"

#include <algorithm>
#include <set>

#include "api.h"
#include "base64.h"
#include "bucket_maintenance.h"
#include "libkube/object_meta.h"
#include "libstate/hash.h"
#include "policy_spec.h"

namespace dk::op {

using nlohmann::json;

namespace {

json CommonLabels(const char* component) {
  return {{"app.kubernetes.io/name", "diffkeeper"},
          {"app.kubernetes.io/component", component},
          {kManagedByLabel, kFieldManager}};
}

void SetOwner(json* obj, const json& owner) {
  if (owner.is_object()) (*obj)["metadata"]["ownerReferences"] = json::array({owner});
}

}  // namespace

json DesiredAgentDaemonSet(const InstallationOptions& o, const json& owner) {
  json selector = {{"app.kubernetes.io/name", "diffkeeper"},
                   {"app.kubernetes.io/component", "agent"}};
  json env = json::array({
      {{"name", "NODE_NAME"},
       {"valueFrom", {{"fieldRef", {{"apiVersion", "v1"}, {"fieldPath", "spec.nodeName"}}}}}},
      {{"name", "POD_NAMESPACE"},
       {"valueFrom", {{"fieldRef", {{"apiVersion", "v1"}, {"fieldPath", "metadata.namespace"}}}}}},
      {{"name", "POD_NAME"},
       {"valueFrom", {{"fieldRef", {{"apiVersion", "v1"}, {"fieldPath", "metadata.name"}}}}}},
      {{"name", "POD_IP"},
       {"valueFrom", {{"fieldRef", {{"apiVersion", "v1"}, {"fieldPath", "status.podIP"}}}}}},
  });
  json container = {
      {"name", "agent"},
      {"image", o.image},
      {"imagePullPolicy", o.image_pull_policy},
      {"command", json::array({"/usr/local/bin/diffkeeper-agent"})},
      // The agent's flags (nodeagent/agent_config.cpp); NODE_NAME, POD_NAMESPACE and POD_IP
      // come from the environment.
      {"args", json::array({"--kubelet-root=" + o.kubelet_root, "--state-dir=" + o.state_dir,
                            "--metrics-addr=:9090", "--peer-port=9443",
                            "--service-account=" + o.agent_service_account,
                            "--log-level=" + o.agent_log_level})},
      {"env", env},
      {"ports", json::array({{{"name", "peer"}, {"containerPort", 9443}, {"protocol", "TCP"}},
                             {{"name", "metrics"}, {"containerPort", 9090}, {"protocol", "TCP"}}})},
      {"readinessProbe",
       {{"httpGet", {{"path", "/readyz"}, {"port", "metrics"}}}, {"periodSeconds", 10}}},
      {"livenessProbe",
       {{"httpGet", {{"path", "/healthz"}, {"port", "metrics"}}},
        {"periodSeconds", 20},
        {"failureThreshold", 6}}},
      {"resources",
       {{"requests", {{"cpu", "50m"}, {"memory", "64Mi"}}}, {"limits", {{"memory", "512Mi"}}}}},
      // Root without privilege: only the capabilities file capture and restore need (read any
      // file, restore owners and modes). See manifests/README.md.
      {"securityContext",
       {{"runAsUser", 0},
        {"runAsGroup", 0},
        {"allowPrivilegeEscalation", false},
        {"readOnlyRootFilesystem", true},
        {"capabilities",
         {{"drop", json::array({"ALL"})},
          {"add", json::array({"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID"})}}},
        {"seccompProfile", {{"type", "RuntimeDefault"}}}}},
      {"volumeMounts", json::array({{{"name", "kubelet-pods"},
                                     {"mountPath", o.kubelet_root + "/pods"},
                                     {"mountPropagation", "HostToContainer"}},
                                    {{"name", "state"}, {"mountPath", o.state_dir}}})},
  };
  for (const auto& a : o.agent_extra_args) container["args"].push_back(a);
  json ds = {
      {"apiVersion", "apps/v1"},
      {"kind", "DaemonSet"},
      {"metadata",
       {{"name", o.agent_daemonset}, {"namespace", o.ns}, {"labels", CommonLabels("agent")}}},
      {"spec",
       {{"selector", {{"matchLabels", selector}}},
        {"updateStrategy", {{"type", "RollingUpdate"}, {"rollingUpdate", {{"maxUnavailable", 1}}}}},
        {"template",
         {{"metadata", {{"labels", CommonLabels("agent")}}},
          {"spec",
           {{"serviceAccountName", o.agent_service_account},
            {"automountServiceAccountToken", true},
            {"terminationGracePeriodSeconds", 30},
            {"tolerations", json::array({{{"operator", "Exists"}}})},
            {"containers", json::array({container})},
            {"volumes",
             json::array(
                 {{{"name", "kubelet-pods"},
                   {"hostPath", {{"path", o.kubelet_root + "/pods"}, {"type", "Directory"}}}},
                  {{"name", "state"},
                   {"hostPath", {{"path", o.state_dir}, {"type", "DirectoryOrCreate"}}}}})}}}}}}}};
  SetOwner(&ds, owner);
  return ds;
}

json DesiredAgentConfig(const InstallationOptions& o, const std::vector<json>& policies,
                        const json& current, const json& owner,
                        std::chrono::system_clock::time_point now) {
  json active = json::array();
  json purge = json::array();
  std::set<std::string> purge_uids;
  // Carry over recent purge requests.
  if (current.is_object()) {
    // (Not GetStringAtPath: the key itself contains a dot.)
    const json data = current.value("data", json::object());
    std::string text = data.value("purge.json", "");
    json old = json::parse(text.empty() ? "[]" : text, nullptr, false);
    if (old.is_array()) {
      for (const auto& e : old) {
        if (!e.is_object()) continue;
        auto t = ParseRfc3339(e.value("requested", ""));
        if (!t || now - *t > o.purge_retention) continue;
        if (purge_uids.insert(e.value("uid", "")).second) purge.push_back(e);
      }
    }
  }
  std::vector<json> sorted = policies;
  std::sort(sorted.begin(), sorted.end(),
            [](const json& a, const json& b) { return kube::ObjectKey(a) < kube::ObjectKey(b); });
  for (const auto& p : sorted) {
    auto spec = ParsePolicySpec(p);
    if (!spec.ok()) continue;  // the policy's status says why; agents never see a bad spec
    if (IsDeleting(p)) {
      if (spec->on_delete == "Delete" && purge_uids.insert(kube::GetUid(p)).second) {
        json entry = {{"namespace", kube::GetNamespace(p)},
                      {"policy", kube::GetName(p)},
                      {"uid", kube::GetUid(p)},
                      {"statefulSet", spec->target_name},
                      {"requested", FormatRfc3339(now)}};
        // The bucket, so that the operator's bucket GC keeps collecting what the purge left.
        entry.update(PurgeEntryStorage(*spec));
        purge.push_back(std::move(entry));
      }
      continue;
    }
    active.push_back(PolicyToAgentJson(p, *spec));
  }
  json cm = {{"apiVersion", "v1"},
             {"kind", "ConfigMap"},
             {"metadata",
              {{"name", o.agent_config}, {"namespace", o.ns}, {"labels", CommonLabels("agent")}}},
             {"data", {{"policies.json", active.dump(1)}, {"purge.json", purge.dump(1)}}}};
  SetOwner(&cm, owner);
  return cm;
}

std::string PolicyWebhookName(const std::string& ns, const std::string& policy) {
  std::string name = policy + "." + ns + ".policy.diffkeeper.io";
  if (name.size() <= 253) return name;
  std::string key = ns + "/" + policy;
  std::string digest =
      HashBytes(ByteView(reinterpret_cast<const uint8_t*>(key.data()), key.size())).Hex();
  return digest.substr(0, 16) + ".policy.diffkeeper.io";
}

Result<DesiredWebhooks> DesiredWebhookConfigurations(const InstallationOptions& o, const json& live,
                                                     const std::vector<json>& policies,
                                                     const std::string& ca_bundle_pem) {
  const json* gate = nullptr;
  if (live.contains("webhooks") && live["webhooks"].is_array()) {
    for (const auto& w : live["webhooks"]) {
      if (w.value("name", "") == o.gate_entry) gate = &w;
    }
  }
  if (gate == nullptr) {
    return Status::FailedPrecondition("MutatingWebhookConfiguration " + o.webhook_config +
                                      " has no webhook named " + o.gate_entry +
                                      " (install manifests/ first)");
  }
  std::string ca_b64 = Base64Encode(ca_bundle_pem);
  DesiredWebhooks out;
  out.gate = {{"apiVersion", "admissionregistration.k8s.io/v1"},
              {"kind", "MutatingWebhookConfiguration"},
              {"metadata", {{"name", o.webhook_config}}},
              {"webhooks",
               json::array({{{"name", o.gate_entry}, {"clientConfig", {{"caBundle", ca_b64}}}}})}};
  json webhooks = json::array();

  json client_config = gate->value("clientConfig", json::object());
  client_config["caBundle"] = ca_b64;
  json rules = gate->value("rules", json::array());
  int timeout = gate->value("timeoutSeconds", 5);

  std::vector<json> sorted = policies;
  std::sort(sorted.begin(), sorted.end(),
            [](const json& a, const json& b) { return kube::ObjectKey(a) < kube::ObjectKey(b); });
  for (const auto& p : sorted) {
    if (IsDeleting(p)) continue;
    auto spec = ParsePolicySpec(p);
    if (!spec.ok() || !spec->Gates()) continue;
    std::string ns = kube::GetNamespace(p);
    std::string expr =
        "has(object.metadata.ownerReferences) && object.metadata.ownerReferences.exists(r, "
        "r.kind == 'StatefulSet' && r.name == '" +
        spec->target_name + "' && has(r.controller) && r.controller)";
    webhooks.push_back({
        {"name", PolicyWebhookName(ns, kube::GetName(p))},
        {"clientConfig", client_config},
        {"rules", rules},
        {"failurePolicy", "Fail"},
        {"matchPolicy", "Equivalent"},
        {"namespaceSelector", {{"matchLabels", {{"kubernetes.io/metadata.name", ns}}}}},
        {"objectSelector",
         {{"matchExpressions", json::array({{{"key", "statefulset.kubernetes.io/pod-name"},
                                             {"operator", "Exists"}}})}}},
        {"matchConditions",
         json::array({{{"name", "owned-by-protected-statefulset"}, {"expression", expr}}})},
        {"sideEffects", "None"},
        {"timeoutSeconds", timeout},
        {"admissionReviewVersions", json::array({"v1"})},
        {"reinvocationPolicy", "IfNeeded"},
    });
  }
  json owner = {{"apiVersion", "admissionregistration.k8s.io/v1"},
                {"kind", "MutatingWebhookConfiguration"},
                {"name", kube::GetName(live)},
                {"uid", kube::GetUid(live)},
                {"controller", false},
                {"blockOwnerDeletion", false}};
  out.policies = {{"apiVersion", "admissionregistration.k8s.io/v1"},
                  {"kind", "MutatingWebhookConfiguration"},
                  {"metadata",
                   {{"name", o.policy_webhook_config},
                    {"labels", CommonLabels("webhook")},
                    {"ownerReferences", json::array({owner})}}},
                  {"webhooks", webhooks}};
  return out;
}

std::vector<std::string> WebhookCertHosts(const InstallationOptions& o, const json& live,
                                          const std::string& service_name,
                                          const std::vector<std::string>& extra) {
  std::vector<std::string> hosts;
  auto add = [&hosts](const std::string& h) {
    if (!h.empty() && std::find(hosts.begin(), hosts.end(), h) == hosts.end()) hosts.push_back(h);
  };
  std::string svc_name = service_name;
  std::string svc_ns = o.ns;
  if (live.contains("webhooks") && live["webhooks"].is_array()) {
    for (const auto& w : live["webhooks"]) {
      if (w.value("name", "") != o.gate_entry) continue;
      json cc = w.value("clientConfig", json::object());
      if (cc.contains("url") && cc["url"].is_string()) {
        std::string url = cc["url"];
        size_t start = url.find("://");
        start = start == std::string::npos ? 0 : start + 3;
        size_t end = url.find_first_of("/?#", start);
        std::string hostport =
            url.substr(start, end == std::string::npos ? std::string::npos : end - start);
        if (!hostport.empty() && hostport[0] == '[') {
          add(hostport.substr(1, hostport.find(']') - 1));
        } else {
          add(hostport.substr(
              0, hostport.rfind(':') == std::string::npos ? hostport.size() : hostport.rfind(':')));
        }
      }
      if (cc.contains("service") && cc["service"].is_object()) {
        svc_name = cc["service"].value("name", svc_name);
        svc_ns = cc["service"].value("namespace", svc_ns);
      }
    }
  }
  if (!svc_name.empty()) {
    add(svc_name + "." + svc_ns + ".svc");
    add(svc_name + "." + svc_ns + ".svc.cluster.local");
    add(svc_name + "." + svc_ns);
    add(svc_name);
  }
  for (const auto& h : extra) add(h);
  return hosts;
}

}  // namespace dk::op
