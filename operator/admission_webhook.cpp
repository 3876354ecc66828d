#include "admission_webhook.h"

#include "api.h"
#include "base64.h"
#include "libkube/object_meta.h"

namespace dk::op {

using nlohmann::json;

AdmissionWebhook::AdmissionWebhook(PolicyLookup lookup, GateOptions options, Logger* logger,
                                   svc::Counter* requests)
    : lookup_(std::move(lookup)),
      options_(std::move(options)),
      logger_(logger != nullptr ? logger : NullLogger()),
      requests_(requests) {}

Result<json> AdmissionWebhook::Review(const json& review) {
  if (!review.is_object() || review.value("kind", "") != "AdmissionReview" ||
      !review.contains("request") || !review["request"].is_object()) {
    return Status::InvalidArgument("not an AdmissionReview request");
  }
  const json& req = review["request"];
  std::string uid = req.value("uid", "");
  if (uid.empty()) return Status::InvalidArgument("AdmissionReview request without uid");
  json response = {{"uid", uid}, {"allowed", true}};
  json out = {{"apiVersion", review.value("apiVersion", "admission.k8s.io/v1")},
              {"kind", "AdmissionReview"},
              {"response", response}};
  auto count = [this](const char* result) {
    if (requests_ != nullptr) requests_->Inc({result});
  };

  const json kind = req.value("kind", json::object());
  const json& pod = req.contains("object") ? req["object"] : json();
  if (kind.value("kind", "") != "Pod" || req.value("operation", "") != "CREATE" ||
      !pod.is_object()) {
    count("unchanged");
    return out;
  }
  std::string ns = req.value("namespace", "");
  if (ns.empty()) ns = kube::GetNamespace(pod);
  std::string sts = OwningStatefulSet(pod);
  if (sts.empty()) {
    count("unchanged");
    return out;
  }
  Result<std::optional<ProtectingPolicy>> found = lookup_(ns, sts);
  if (!found.ok()) return found.status();
  const std::optional<ProtectingPolicy>& policy = *found;
  if (!policy || !policy->spec.Gates()) {
    count("unchanged");
    return out;
  }
  json patch = GatePatch(pod, policy->name, policy->spec, options_);
  if (patch.empty()) {
    count("unchanged");
    return out;
  }
  std::string pod_name = kube::GetName(pod);
  if (pod_name.empty()) pod_name = kube::GetStringAtPath(pod, "metadata.generateName") + "*";
  logger_->Info(
      "Gated pod behind restore-wait",
      {{"namespace", ns}, {"pod", pod_name}, {"statefulSet", sts}, {"policy", policy->name}});
  out["response"]["patchType"] = "JSONPatch";
  out["response"]["patch"] = Base64Encode(patch.dump());
  count("gated");
  return out;
}

svc::Response AdmissionWebhook::Handle(const svc::Request& request) {
  json review = json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  if (review.is_discarded()) {
    if (requests_ != nullptr) requests_->Inc({"invalid"});
    return svc::Response::Text(400, "request body is not JSON\n");
  }
  auto answer = Review(review);
  if (!answer.ok() && answer.status().code() == StatusCode::kUnavailable) {
    if (requests_ != nullptr) requests_->Inc({"unavailable"});
    logger_->Warn("Cannot answer an admission request yet", {{"error", answer.status().message()}});
    return svc::Response::Text(503, answer.status().message() + "\n");
  }
  if (!answer.ok()) {
    if (requests_ != nullptr) requests_->Inc({"invalid"});
    logger_->Warn("Rejected a malformed admission request", {{"error", answer.status().message()}});
    return svc::Response::Text(400, answer.status().message() + "\n");
  }
  return svc::Response::Json(200, answer->dump());
}

}  // namespace dk::op
