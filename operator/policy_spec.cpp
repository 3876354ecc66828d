#include "policy_spec.h"

#include <regex>

#include "api.h"
#include "libkube/object_meta.h"
#include "libsvc/duration.h"

namespace dk::op {
namespace {

using nlohmann::json;

const std::regex& DnsLabel() {
  static const std::regex re("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$");
  return re;
}
const std::regex& DnsSubdomain() {
  static const std::regex re("^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$");
  return re;
}

Status Invalid(const std::string& msg) { return Status::InvalidArgument(msg); }

// Reads an optional field of type T; InvalidArgument when present with another type.
template <typename T>
Status Read(const json& obj, const char* key, const std::string& path, T* out) {
  if (!obj.is_object()) return Status::Ok();
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return Status::Ok();
  if constexpr (std::is_same_v<T, std::string>) {
    if (!it->is_string()) return Invalid(path + " must be a string");
    *out = it->get<std::string>();
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!it->is_boolean()) return Invalid(path + " must be a boolean");
    *out = it->get<bool>();
  } else {
    if (!it->is_number_integer()) return Invalid(path + " must be an integer");
    *out = it->get<T>();
  }
  return Status::Ok();
}

Status ReadStrings(const json& obj, const char* key, const std::string& path,
                   std::vector<std::string>* out) {
  if (!obj.is_object()) return Status::Ok();
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return Status::Ok();
  if (!it->is_array()) return Invalid(path + " must be a list of strings");
  for (const auto& v : *it) {
    if (!v.is_string() || v.get<std::string>().empty()) {
      return Invalid(path + " must be a list of non-empty strings");
    }
    out->push_back(v.get<std::string>());
  }
  return Status::Ok();
}

bool HasDotDot(const std::string& p) {
  static const std::regex re("(^|/)[.][.](/|$)");
  return std::regex_search(p, re);
}

Result<std::chrono::nanoseconds> Duration(const std::string& text, const std::string& what,
                                          std::chrono::nanoseconds lo, std::chrono::nanoseconds hi,
                                          const std::string& range_msg) {
  auto d = svc::ParseDuration(text);
  if (!d.ok()) return Invalid(what + " must be a duration such as 500ms, 2s or 1m");
  if (*d < lo || *d > hi) return Invalid(range_msg);
  return *d;
}

}  // namespace

Result<PolicySpec> ParsePolicySpec(const json& policy) {
  PolicySpec s;
  if (!policy.is_object() || !policy.contains("spec") || !policy["spec"].is_object()) {
    return Invalid("spec is required");
  }
  const json& spec = policy["spec"];

  const json target = spec.value("targetRef", json::object());
  std::string kind = "StatefulSet";
  DK_RETURN_IF_ERROR(Read(target, "kind", "spec.targetRef.kind", &kind));
  if (kind != "StatefulSet") return Invalid("spec.targetRef.kind must be StatefulSet");
  DK_RETURN_IF_ERROR(Read(target, "name", "spec.targetRef.name", &s.target_name));
  if (s.target_name.empty()) return Invalid("spec.targetRef.name is required");
  if (s.target_name.size() > 253 || !std::regex_match(s.target_name, DnsSubdomain())) {
    return Invalid(
        "targetRef.name must be a StatefulSet name: lower-case letters, digits, '-' and '.'");
  }

  auto paths = spec.find("paths");
  if (paths == spec.end() || !paths->is_array() || paths->empty()) {
    return Invalid("spec.paths must name at least one volume to protect");
  }
  if (paths->size() > 16) return Invalid("spec.paths must have at most 16 items");
  for (size_t i = 0; i < paths->size(); ++i) {
    const json& p = (*paths)[i];
    std::string where = "spec.paths[" + std::to_string(i) + "]";
    PathSpec ps;
    DK_RETURN_IF_ERROR(Read(p, "volume", where + ".volume", &ps.volume));
    DK_RETURN_IF_ERROR(Read(p, "subPath", where + ".subPath", &ps.sub_path));
    if (ps.volume.empty() || ps.volume.size() > 63 || !std::regex_match(ps.volume, DnsLabel())) {
      return Invalid(
          "volume must be the name of a volume of the pod template (a DNS label: lower-case "
          "letters, digits and '-')");
    }
    if (!ps.sub_path.empty() && ps.sub_path[0] == '/') {
      return Invalid("subPath must be relative to the volume (no leading '/')");
    }
    if (HasDotDot(ps.sub_path)) return Invalid("subPath must not contain '..'");
    DK_RETURN_IF_ERROR(ReadStrings(p, "include", where + ".include", &ps.include));
    DK_RETURN_IF_ERROR(ReadStrings(p, "exclude", where + ".exclude", &ps.exclude));
    for (const auto& other : s.paths) {
      if (other.volume == ps.volume && other.sub_path == ps.sub_path) {
        return Invalid("each volume and subPath pair may appear only once in spec.paths");
      }
    }
    s.paths.push_back(std::move(ps));
  }

  const json capture = spec.value("capture", json::object());
  std::string debounce = "2s";
  DK_RETURN_IF_ERROR(Read(capture, "debounce", "spec.capture.debounce", &debounce));
  DK_ASSIGN_OR_RETURN(s.debounce, Duration(debounce, "capture.debounce",
                                           std::chrono::milliseconds(100), std::chrono::minutes(10),
                                           "capture.debounce must be between 100ms and 10m"));
  DK_RETURN_IF_ERROR(
      Read(capture, "snapshotEvery", "spec.capture.snapshotEvery", &s.snapshot_every));
  DK_RETURN_IF_ERROR(Read(capture, "maxChain", "spec.capture.maxChain", &s.max_chain));
  if (s.snapshot_every < 1 || s.snapshot_every > 10000) {
    return Invalid("capture.snapshotEvery must be between 1 and 10000");
  }
  if (s.max_chain < 1 || s.max_chain > 10000) {
    return Invalid("capture.maxChain must be between 1 and 10000");
  }
  DK_RETURN_IF_ERROR(Read(capture, "deltaEngine", "spec.capture.deltaEngine", &s.delta_engine));
  if (s.delta_engine != "auto" && s.delta_engine != "bsdiff" && s.delta_engine != "zstd" &&
      s.delta_engine != "none") {
    return Invalid("capture.deltaEngine must be one of auto, bsdiff, zstd, none");
  }
  const json chunking =
      capture.is_object() ? capture.value("chunking", json::object()) : json::object();
  DK_RETURN_IF_ERROR(Read(chunking, "minSize", "spec.capture.chunking.minSize", &s.chunk_min));
  DK_RETURN_IF_ERROR(Read(chunking, "avgSize", "spec.capture.chunking.avgSize", &s.chunk_avg));
  DK_RETURN_IF_ERROR(Read(chunking, "maxSize", "spec.capture.chunking.maxSize", &s.chunk_max));
  if (!(s.chunk_min >= 64 && s.chunk_min < s.chunk_avg && s.chunk_avg < s.chunk_max &&
        s.chunk_max <= (64u << 20))) {
    return Invalid("capture.chunking sizes must satisfy minSize < avgSize < maxSize");
  }
  if ((s.chunk_avg & (s.chunk_avg - 1)) != 0) {
    return Invalid("capture.chunking.avgSize must be a power of two, e.g. 65536");
  }

  const json retention = spec.value("retention", json::object());
  DK_RETURN_IF_ERROR(
      Read(retention, "keepVersions", "spec.retention.keepVersions", &s.keep_versions));
  if (s.keep_versions < 1 || s.keep_versions > 100000) {
    return Invalid("retention.keepVersions must be between 1 and 100000");
  }
  std::string keep_for;
  DK_RETURN_IF_ERROR(Read(retention, "keepFor", "spec.retention.keepFor", &keep_for));
  if (!keep_for.empty()) {
    auto d = svc::ParseDuration(keep_for);
    if (!d.ok()) return Invalid("retention.keepFor must be a duration such as 30m, 24h or 720h");
    if (*d < std::chrono::minutes(1)) return Invalid("retention.keepFor must be at least 1m");
    s.keep_for = *d;
  }
  DK_RETURN_IF_ERROR(Read(retention, "onDelete", "spec.retention.onDelete", &s.on_delete));
  if (s.on_delete != "Retain" && s.on_delete != "Delete") {
    return Invalid("retention.onDelete must be Retain or Delete");
  }

  const json restore = spec.value("restore", json::object());
  DK_RETURN_IF_ERROR(Read(restore, "onReschedule", "spec.restore.onReschedule", &s.on_reschedule));
  if (s.on_reschedule != "Restore" && s.on_reschedule != "Skip") {
    return Invalid("restore.onReschedule must be Restore or Skip");
  }
  std::string timeout = "10m";
  DK_RETURN_IF_ERROR(Read(restore, "timeout", "spec.restore.timeout", &timeout));
  auto t = svc::ParseDuration(timeout);
  if (!t.ok()) return Invalid("restore.timeout must be a duration such as 90s, 10m or 1h");
  if (*t < std::chrono::seconds(10) || *t > std::chrono::hours(24)) {
    return Invalid("restore.timeout must be between 10s and 24h");
  }
  s.restore_timeout = *t;
  DK_RETURN_IF_ERROR(Read(restore, "onTimeout", "spec.restore.onTimeout", &s.on_timeout));
  if (s.on_timeout != "Fail" && s.on_timeout != "StartEmpty") {
    return Invalid("restore.onTimeout must be Fail or StartEmpty");
  }

  const json storage = spec.value("storage", json::object());
  DK_RETURN_IF_ERROR(Read(storage, "type", "spec.storage.type", &s.storage_type));
  if (s.storage_type != "Local" && s.storage_type != "S3") {
    return Invalid("storage.type must be Local or S3");
  }
  bool has_s3 = storage.is_object() && storage.contains("s3") && !storage["s3"].is_null();
  if (s.storage_type == "S3" && !has_s3)
    return Invalid("storage.s3 is required when storage.type is S3");
  if (s.storage_type != "S3" && has_s3) {
    return Invalid("storage.s3 may only be set when storage.type is S3");
  }
  if (has_s3) {
    const json& j = storage["s3"];
    S3Spec s3;
    DK_RETURN_IF_ERROR(Read(j, "endpoint", "spec.storage.s3.endpoint", &s3.endpoint));
    DK_RETURN_IF_ERROR(Read(j, "bucket", "spec.storage.s3.bucket", &s3.bucket));
    DK_RETURN_IF_ERROR(Read(j, "prefix", "spec.storage.s3.prefix", &s3.prefix));
    DK_RETURN_IF_ERROR(Read(j, "region", "spec.storage.s3.region", &s3.region));
    const json ref =
        j.is_object() ? j.value("credentialsSecretRef", json::object()) : json::object();
    DK_RETURN_IF_ERROR(
        Read(ref, "name", "spec.storage.s3.credentialsSecretRef.name", &s3.credentials_secret));
    static const std::regex bucket_re("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$");
    if (!std::regex_match(s3.bucket, bucket_re)) {
      return Invalid(
          "s3.bucket must be a bucket name: 3 to 63 lower-case letters, digits, '.' and '-'");
    }
    static const std::regex endpoint_re("^https?://[^/?#]+(/.*)?$");
    if (!s3.endpoint.empty() && !std::regex_match(s3.endpoint, endpoint_re)) {
      return Invalid("s3.endpoint must be an http:// or https:// URL");
    }
    if (!s3.prefix.empty() && s3.prefix[0] == '/')
      return Invalid("s3.prefix must not start with '/'");
    if (s3.credentials_secret.empty()) {
      return Invalid("spec.storage.s3.credentialsSecretRef.name is required");
    }
    s.s3 = std::move(s3);
  }

  DK_RETURN_IF_ERROR(Read(spec, "paused", "spec.paused", &s.paused));
  return s;
}

json PolicyToAgentJson(const json& policy, const PolicySpec& s) {
  json paths = json::array();
  for (const auto& p : s.paths) {
    paths.push_back({{"volume", p.volume},
                     {"subPath", p.sub_path},
                     {"include", p.include},
                     {"exclude", p.exclude}});
  }
  json j = {
      {"namespace", kube::GetNamespace(policy)},
      {"name", kube::GetName(policy)},
      {"uid", kube::GetUid(policy)},
      {"generation", GetGeneration(policy)},
      {"statefulSet", s.target_name},
      {"paused", s.paused},
      {"paths", paths},
      {"capture",
       {{"debounce", svc::FormatDuration(s.debounce)},
        {"snapshotEvery", s.snapshot_every},
        {"maxChain", s.max_chain},
        {"deltaEngine", s.delta_engine},
        {"chunking",
         {{"minSize", s.chunk_min}, {"avgSize", s.chunk_avg}, {"maxSize", s.chunk_max}}}}},
      {"retention", {{"keepVersions", s.keep_versions}, {"onDelete", s.on_delete}}},
      {"restore",
       {{"onReschedule", s.on_reschedule},
        {"timeout", svc::FormatDuration(s.restore_timeout)},
        {"onTimeout", s.on_timeout}}},
      {"storage", {{"type", s.storage_type}}},
  };
  if (s.keep_for) j["retention"]["keepFor"] = svc::FormatDuration(*s.keep_for);
  if (s.s3) {
    j["storage"]["s3"] = {{"endpoint", s.s3->endpoint},
                          {"bucket", s.s3->bucket},
                          {"prefix", s.s3->prefix},
                          {"region", s.s3->region},
                          {"credentialsSecretRef", {{"name", s.s3->credentials_secret}}}};
  }
  return j;
}

}  // namespace dk::op
