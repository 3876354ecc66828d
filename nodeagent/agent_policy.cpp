#include "agent_policy.h"

#include "libkube/object_meta.h"
#include "libsvc/duration.h"

namespace dk::agent {
namespace {

using nlohmann::json;

const json* Field(const json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

Status GetString(const json& obj, const char* key, const std::string& where, std::string* out) {
  const json* f = Field(obj, key);
  if (!f) return Status::Ok();
  if (!f->is_string()) return Status::InvalidArgument(where + " must be a string");
  *out = f->get<std::string>();
  return Status::Ok();
}

Status GetUint(const json& obj, const char* key, const std::string& where, uint64_t lo, uint64_t hi,
               uint32_t* out) {
  const json* f = Field(obj, key);
  if (!f) return Status::Ok();
  if (!f->is_number_integer()) return Status::InvalidArgument(where + " must be an integer");
  int64_t v = f->get<int64_t>();
  if (v < static_cast<int64_t>(lo) || v > static_cast<int64_t>(hi))
    return Status::InvalidArgument(where + " must be in [" + std::to_string(lo) + ", " +
                                   std::to_string(hi) + "]");
  *out = static_cast<uint32_t>(v);
  return Status::Ok();
}

Status GetStringList(const json& obj, const char* key, const std::string& where,
                     std::vector<std::string>* out) {
  const json* f = Field(obj, key);
  if (!f) return Status::Ok();
  if (!f->is_array()) return Status::InvalidArgument(where + " must be a list of strings");
  for (const auto& e : *f) {
    if (!e.is_string() || e.get<std::string>().empty())
      return Status::InvalidArgument(where + " must be a list of non-empty strings");
    out->push_back(e.get<std::string>());
  }
  return Status::Ok();
}

bool IsDnsLabel(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && i > 0 && i + 1 < s.size());
    if (!ok) return false;
  }
  return true;
}

Status CheckSubPath(const std::string& p) {
  if (p.empty()) return Status::Ok();
  if (p.front() == '/' || p.back() == '/')
    return Status::InvalidArgument("subPath '" + p + "' must be relative, without a trailing '/'");
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find('/', start);
    if (end == std::string::npos) end = p.size();
    std::string comp = p.substr(start, end - start);
    if (comp.empty() || comp == "." || comp == "..")
      return Status::InvalidArgument("subPath '" + p + "' must not contain '..', '.' or '//'");
    start = end + 1;
  }
  return Status::Ok();
}

}  // namespace

StoreOptions AgentPolicy::ToStoreOptions() const {
  StoreOptions o;
  o.chunker = chunker;
  o.snapshot_every = snapshot_every;
  o.max_chain = max_chain;
  o.delta = delta;
  return o;
}

RetentionPolicy AgentPolicy::ToRetention() const {
  RetentionPolicy r;
  r.keep_last = keep_versions;
  r.keep_within_ns = keep_for_ns;
  r.compact = false;  // compaction rewrites the whole file: only on demand (dkctl gc)
  return r;
}

bool AgentPolicy::SameCapture(const AgentPolicy& o) const {
  return paths == o.paths && debounce_ms == o.debounce_ms && stateful_set == o.stateful_set;
}

Result<AgentPolicy> ParseAgentPolicy(const json& obj) {
  AgentPolicy p;
  p.ns = kube::GetNamespace(obj);
  p.name = kube::GetName(obj);
  p.uid = kube::GetUid(obj);
  const std::string where = "StatePolicy " + p.ns + "/" + p.name;
  if (const json* meta = Field(obj, "metadata");
      meta && Field(*meta, "generation") && (*meta)["generation"].is_number_integer())
    p.generation = (*meta)["generation"].get<int64_t>();
  const json* spec = Field(obj, "spec");
  if (!spec || !spec->is_object()) return Status::InvalidArgument(where + ": no spec");
  const json* target = Field(*spec, "targetRef");
  if (!target) return Status::InvalidArgument(where + ": spec.targetRef is required");
  DK_RETURN_IF_ERROR(GetString(*target, "name", where + ": spec.targetRef.name", &p.stateful_set));
  if (p.stateful_set.empty())
    return Status::InvalidArgument(where + ": spec.targetRef.name is required");
  std::string kind = "StatefulSet";
  DK_RETURN_IF_ERROR(GetString(*target, "kind", where + ": spec.targetRef.kind", &kind));
  if (kind != "StatefulSet")
    return Status::InvalidArgument(where + ": spec.targetRef.kind must be StatefulSet");
  if (const json* paused = Field(*spec, "paused")) {
    if (!paused->is_boolean())
      return Status::InvalidArgument(where + ": spec.paused must be a boolean");
    p.paused = paused->get<bool>();
  }
  const json* paths = Field(*spec, "paths");
  if (!paths || !paths->is_array() || paths->empty())
    return Status::InvalidArgument(where + ": spec.paths must name at least one volume");
  for (size_t i = 0; i < paths->size(); ++i) {
    const json& e = (*paths)[i];
    std::string w = where + ": spec.paths[" + std::to_string(i) + "]";
    if (!e.is_object()) return Status::InvalidArgument(w + " must be an object");
    ProtectedPath pp;
    DK_RETURN_IF_ERROR(GetString(e, "volume", w + ".volume", &pp.volume));
    if (!IsDnsLabel(pp.volume))
      return Status::InvalidArgument(w + ".volume must be the name of a volume of the pod");
    DK_RETURN_IF_ERROR(GetString(e, "subPath", w + ".subPath", &pp.sub_path));
    DK_RETURN_IF_ERROR_CTX(CheckSubPath(pp.sub_path), w);
    DK_RETURN_IF_ERROR(GetStringList(e, "include", w + ".include", &pp.include));
    DK_RETURN_IF_ERROR(GetStringList(e, "exclude", w + ".exclude", &pp.exclude));
    for (const auto& q : p.paths)
      if (q.volume == pp.volume && q.sub_path == pp.sub_path)
        return Status::InvalidArgument(w + " repeats volume " + pp.volume);
    p.paths.push_back(std::move(pp));
  }
  if (const json* cap = Field(*spec, "capture")) {
    std::string debounce;
    DK_RETURN_IF_ERROR(GetString(*cap, "debounce", where + ": spec.capture.debounce", &debounce));
    if (!debounce.empty()) {
      auto d = svc::ParseDuration(debounce);
      if (!d.ok()) return d.status().WithContext(where + ": spec.capture.debounce");
      p.debounce_ms = std::chrono::duration_cast<std::chrono::milliseconds>(*d).count();
    }
    DK_RETURN_IF_ERROR(GetUint(*cap, "snapshotEvery", where + ": spec.capture.snapshotEvery", 1,
                               10000, &p.snapshot_every));
    DK_RETURN_IF_ERROR(
        GetUint(*cap, "maxChain", where + ": spec.capture.maxChain", 1, 10000, &p.max_chain));
    std::string engine = "auto";
    DK_RETURN_IF_ERROR(
        GetString(*cap, "deltaEngine", where + ": spec.capture.deltaEngine", &engine));
    if (engine == "auto")
      p.delta = DeltaChoice::kAuto;
    else if (engine == "bsdiff")
      p.delta = DeltaChoice::kBsdiff;
    else if (engine == "zstd")
      p.delta = DeltaChoice::kZstd;
    else if (engine == "none")
      p.delta = DeltaChoice::kNone;
    else
      return Status::InvalidArgument(where + ": spec.capture.deltaEngine '" + engine +
                                     "' is unknown");
    if (const json* ch = Field(*cap, "chunking")) {
      DK_RETURN_IF_ERROR(GetUint(*ch, "minSize", where + ": spec.capture.chunking.minSize", 64,
                                 64u << 20, &p.chunker.min_size));
      DK_RETURN_IF_ERROR(GetUint(*ch, "avgSize", where + ": spec.capture.chunking.avgSize", 128,
                                 64u << 20, &p.chunker.avg_size));
      DK_RETURN_IF_ERROR(GetUint(*ch, "maxSize", where + ": spec.capture.chunking.maxSize", 256,
                                 64u << 20, &p.chunker.max_size));
      DK_RETURN_IF_ERROR_CTX(p.chunker.Validate(), where + ": spec.capture.chunking");
    }
  }
  if (const json* ret = Field(*spec, "retention")) {
    DK_RETURN_IF_ERROR(GetUint(*ret, "keepVersions", where + ": spec.retention.keepVersions", 1,
                               100000, &p.keep_versions));
    std::string keep_for;
    DK_RETURN_IF_ERROR(GetString(*ret, "keepFor", where + ": spec.retention.keepFor", &keep_for));
    if (!keep_for.empty()) {
      auto d = svc::ParseDuration(keep_for);
      if (!d.ok()) return d.status().WithContext(where + ": spec.retention.keepFor");
      p.keep_for_ns = d->count();
    }
  }
  if (const json* rs = Field(*spec, "restore")) {
    std::string on = "Restore";
    DK_RETURN_IF_ERROR(GetString(*rs, "onReschedule", where + ": spec.restore.onReschedule", &on));
    p.restore_on_reschedule = on != "Skip";
  }
  if (const json* st = Field(*spec, "storage")) {
    DK_RETURN_IF_ERROR(GetString(*st, "type", where + ": spec.storage.type", &p.storage_type));
    if (p.storage_type != "Local" && p.storage_type != "S3")
      return Status::InvalidArgument(where + ": spec.storage.type '" + p.storage_type +
                                     "' is unknown (Local or S3)");
    const json* s3 = Field(*st, "s3");
    if (p.storage_type == "S3") {
      if (!s3 || !s3->is_object())
        return Status::InvalidArgument(where + ": spec.storage.s3 is required with type S3");
      S3Storage b;
      const std::string w = where + ": spec.storage.s3";
      DK_RETURN_IF_ERROR(GetString(*s3, "endpoint", w + ".endpoint", &b.endpoint));
      DK_RETURN_IF_ERROR(GetString(*s3, "bucket", w + ".bucket", &b.bucket));
      DK_RETURN_IF_ERROR(GetString(*s3, "prefix", w + ".prefix", &b.prefix));
      std::string region;
      DK_RETURN_IF_ERROR(GetString(*s3, "region", w + ".region", &region));
      if (!region.empty()) b.region = region;
      if (const json* ref = Field(*s3, "credentialsSecretRef"))
        DK_RETURN_IF_ERROR(
            GetString(*ref, "name", w + ".credentialsSecretRef.name", &b.credentials_secret));
      if (b.bucket.empty()) return Status::InvalidArgument(w + ".bucket is required");
      if (b.credentials_secret.empty())
        return Status::InvalidArgument(w + ".credentialsSecretRef.name is required");
      if (!b.endpoint.empty() && b.endpoint.rfind("http://", 0) != 0 &&
          b.endpoint.rfind("https://", 0) != 0)
        return Status::InvalidArgument(w + ".endpoint '" + b.endpoint +
                                       "' must be an http:// or https:// URL");
      if (!b.prefix.empty() && b.prefix.front() == '/')
        return Status::InvalidArgument(w + ".prefix '" + b.prefix + "' must not start with '/'");
      p.s3 = std::move(b);
    } else if (s3) {
      return Status::InvalidArgument(where + ": spec.storage.s3 is only allowed with type S3");
    }
  }
  return p;
}

}  // namespace dk::agent
