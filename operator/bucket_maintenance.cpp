#include "bucket_maintenance.h"

#include <algorithm>

#include "api.h"
#include "libkube/object_meta.h"
#include "libreplica/layout.h"
#include "libreplica/s3_bucket.h"
#include "libreplica/secret_credentials.h"
#include "libsvc/duration.h"

namespace dk::op {

using nlohmann::json;

namespace {

std::string Str(const json& o, const char* key) {
  if (!o.is_object()) return "";
  auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : "";
}

// Adds (or merges into) the target of `s3` with the retention of one policy.
void AddTarget(std::map<std::string, BucketTarget>* targets, const S3Spec& s3, int keep_versions,
               std::chrono::seconds keep_within, const std::string& policy) {
  BucketTarget t;
  t.s3 = NormalizedS3(s3);
  const std::string key = t.Key();
  auto [it, added] = targets->emplace(key, std::move(t));
  BucketTarget& cur = it->second;
  const uint32_t keep = static_cast<uint32_t>(std::max(1, keep_versions));
  if (added) {
    cur.keep_last = keep;
    cur.keep_within = keep_within;
    cur.purge_only = policy.empty();
  } else {
    cur.keep_last = std::max(cur.keep_last, keep);
    cur.keep_within = std::max(cur.keep_within, keep_within);
    cur.purge_only = cur.purge_only && policy.empty();
  }
  if (!policy.empty()) cur.policies.push_back(policy);
}

}  // namespace

S3Spec NormalizedS3(S3Spec s3) {
  while (!s3.endpoint.empty() && s3.endpoint.back() == '/') s3.endpoint.pop_back();
  if (s3.region.empty()) s3.region = "us-east-1";
  s3.prefix = replica::BucketLayout(s3.prefix).prefix();
  return s3;
}

std::string BucketTarget::Key() const {
  return s3.endpoint + "\n" + s3.region + "\n" + s3.bucket + "\n" + s3.prefix;
}

std::string BucketTarget::Describe() const {
  return "s3://" + s3.bucket + "/" + s3.prefix + " at " +
         (s3.endpoint.empty() ? "https://s3." + s3.region + ".amazonaws.com" : s3.endpoint);
}

json PurgeEntryStorage(const PolicySpec& spec) {
  json j = json::object();
  if (!spec.s3) return j;
  j["storage"] = {{"type", "S3"},
                  {"s3",
                   {{"endpoint", spec.s3->endpoint},
                    {"bucket", spec.s3->bucket},
                    {"prefix", spec.s3->prefix},
                    {"region", spec.s3->region},
                    {"credentialsSecretRef", {{"name", spec.s3->credentials_secret}}}}}};
  j["retention"] = {{"keepVersions", spec.keep_versions}};
  if (spec.keep_for) j["retention"]["keepFor"] = svc::FormatDuration(*spec.keep_for);
  return j;
}

std::vector<BucketTarget> BucketTargets(const std::vector<json>& policies, const json& purge_list) {
  std::map<std::string, BucketTarget> targets;
  // By namespace/name, so that a target's Secret does not depend on the cache's order.
  std::vector<const json*> sorted;
  for (const auto& p : policies) sorted.push_back(&p);
  std::sort(sorted.begin(), sorted.end(),
            [](const json* a, const json* b) { return kube::ObjectKey(*a) < kube::ObjectKey(*b); });
  for (const json* pp : sorted) {
    const json& p = *pp;
    if (IsDeleting(p)) continue;
    auto spec = ParsePolicySpec(p);
    if (!spec.ok() || !spec->s3) continue;
    auto within = spec->keep_for ? std::chrono::duration_cast<std::chrono::seconds>(*spec->keep_for)
                                 : std::chrono::seconds(0);
    AddTarget(&targets, *spec->s3, spec->keep_versions, within, kube::ObjectKey(p));
  }
  if (purge_list.is_array()) {
    for (const auto& e : purge_list) {
      if (!e.is_object()) continue;
      const json storage = e.value("storage", json::object());
      if (Str(storage, "type") != "S3") continue;
      const json s = storage.value("s3", json::object());
      S3Spec s3;
      s3.endpoint = Str(s, "endpoint");
      s3.bucket = Str(s, "bucket");
      s3.prefix = Str(s, "prefix");
      s3.region = Str(s, "region");
      s3.credentials_secret = Str(s.value("credentialsSecretRef", json::object()), "name");
      if (s3.bucket.empty() || s3.credentials_secret.empty()) continue;
      const json r = e.value("retention", json::object());
      int keep = r.contains("keepVersions") && r["keepVersions"].is_number_integer()
                     ? r["keepVersions"].get<int>()
                     : 1;
      std::chrono::seconds within{0};
      if (auto d = svc::ParseDuration(Str(r, "keepFor")); d.ok()) {
        within = std::chrono::duration_cast<std::chrono::seconds>(*d);
      }
      AddTarget(&targets, s3, keep, within, "");
    }
  }
  std::vector<BucketTarget> out;
  for (auto& [key, t] : targets) out.push_back(std::move(t));
  return out;
}

BucketOpener MakeS3BucketOpener(SecretFetcher secrets, std::string ns, std::string ca_file,
                                Logger* logger) {
  return [secrets = std::move(secrets), ns = std::move(ns), ca_file = std::move(ca_file),
          logger](const S3Spec& spec) -> Result<std::unique_ptr<replica::Bucket>> {
    const S3Spec s = NormalizedS3(spec);
    const std::string where =
        "Secret " + ns + "/" + s.credentials_secret + " (storage.s3.credentialsSecretRef)";
    if (!secrets) return Status::FailedPrecondition(where + ": no API access to read it");
    auto secret = secrets(s.credentials_secret);
    if (!secret.ok()) {
      if (secret.status().IsNotFound()) return Status::NotFound(where + " not found");
      return secret.status().WithContext("reading " + where);
    }
    DK_ASSIGN_OR_RETURN(s3::Credentials creds, replica::CredentialsFromSecret(*secret, where));
    s3::S3Options o;
    o.endpoint = s.endpoint;
    if (o.endpoint.empty()) {
      o.endpoint = "https://s3." + s.region + ".amazonaws.com";
      o.addressing = s3::AddressingStyle::kVirtualHosted;
    }
    o.region = s.region;
    o.bucket = s.bucket;
    o.credentials = std::move(creds);
    o.ca_file = ca_file;
    o.logger = logger;
    auto b = replica::S3Bucket::Create(std::move(o));
    if (!b.ok()) return b.status().WithContext("spec.storage.s3 of bucket " + s.bucket);
    return std::unique_ptr<replica::Bucket>(std::move(*b));
  };
}

BucketMaintenanceMetrics::BucketMaintenanceMetrics(svc::MetricsRegistry* r)
    : runs(r->AddCounter("operator_bucket_gc_runs_total",
                         "Bucket GC runs (retention and garbage collection of one bucket prefix), "
                         "by result (success, error).",
                         {"result"})),
      manifests_deleted(r->AddCounter("operator_bucket_gc_manifests_deleted_total",
                                      "Capture set manifests deleted from buckets by retention.")),
      objects_deleted(r->AddCounter("operator_bucket_gc_objects_deleted_total",
                                    "Unreferenced chunk objects deleted from buckets.")),
      bytes_deleted(r->AddCounter("operator_bucket_gc_bytes_deleted_total",
                                  "Bytes of the chunk objects deleted from buckets.")),
      duration(r->AddHistogram("operator_bucket_gc_duration_seconds",
                               "Duration of one bucket GC run.", {},
                               {0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600})),
      last_success(r->AddGauge("operator_bucket_gc_last_success_timestamp_seconds",
                               "When bucket GC last succeeded (Unix time), by bucket "
                               "(s3://bucket/prefix at endpoint).",
                               {"bucket"})),
      purged_identities(r->AddCounter(
          "operator_bucket_purged_identities_total",
          "Identities whose bucket copies were deleted for policies deleted with onDelete "
          "Delete.")) {
  for (const char* result : {"success", "error"}) runs->Touch({result});
}

BucketMaintainer::BucketMaintainer(BucketOpener opener, BucketMaintenanceOptions options,
                                   svc::MetricsRegistry* metrics, Logger* logger)
    : opener_(std::move(opener)),
      options_(std::move(options)),
      metrics_(metrics ? std::make_unique<BucketMaintenanceMetrics>(metrics) : nullptr),
      log_(logger ? logger : NullLogger()) {}

GcOutcome BucketMaintainer::Collect(const BucketTarget& target) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_run_[target.Key()] = std::chrono::steady_clock::now();
  }
  return Run(target);
}

GcOutcome BucketMaintainer::Run(const BucketTarget& target) {
  GcOutcome out;
  out.target = &target;
  const auto start = std::chrono::steady_clock::now();
  auto bucket = opener_(target.s3);
  if (!bucket.ok()) {
    out.status = bucket.status().WithContext("bucket GC of " + target.Describe());
  } else {
    replica::BucketGcOptions o;
    o.grace = options_.grace;
    o.keep_last = target.keep_last;
    o.keep_within = target.keep_within;
    o.now = options_.bucket_now;
    o.logger = log_;
    auto r = replica::CollectBucketGarbage(**bucket, replica::BucketLayout(target.s3.prefix), o);
    if (r.ok()) {
      out.report = *r;
    } else {
      out.status = r.status().WithContext("bucket GC of " + target.Describe());
    }
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::string policies;
  for (const auto& p : target.policies) policies += (policies.empty() ? "" : ",") + p;
  if (metrics_) {
    metrics_->runs->Inc({out.status.ok() ? "success" : "error"});
    metrics_->duration->Observe(out.seconds);
    if (out.status.ok()) {
      metrics_->manifests_deleted->Inc({}, static_cast<double>(out.report.manifests_deleted));
      metrics_->objects_deleted->Inc({}, static_cast<double>(out.report.objects_deleted));
      metrics_->bytes_deleted->Inc({}, static_cast<double>(out.report.bytes_deleted));
      metrics_->last_success->Set(
          {target.Describe()},
          static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count()));
    }
  }
  if (out.status.ok()) {
    log_->Info("Collected bucket garbage",
               {{"bucket", target.Describe()},
                {"policies", policies.empty() ? std::string("(deleted)") : policies},
                {"keepLast", target.keep_last},
                {"keepWithinSeconds", static_cast<int64_t>(target.keep_within.count())},
                {"manifestsDeleted", out.report.manifests_deleted},
                {"objectsDeleted", out.report.objects_deleted},
                {"bytesDeleted", out.report.bytes_deleted},
                {"objectsYoung", out.report.objects_young},
                {"objectsMissing", out.report.objects_missing},
                {"seconds", out.seconds}});
    for (const auto& p : out.report.problems) {
      log_->Warn("Bucket GC found a problem", {{"bucket", target.Describe()}, {"problem", p}});
    }
  } else {
    log_->Warn("Bucket GC failed; retried at the next interval", {{"bucket", target.Describe()},
                                                                  {"policies", policies},
                                                                  {"error", out.status.ToString()},
                                                                  {"seconds", out.seconds}});
  }
  return out;
}

std::vector<GcOutcome> BucketMaintainer::RunDue(const std::vector<BucketTarget>& targets,
                                                std::chrono::steady_clock::time_point now) {
  std::vector<const BucketTarget*> due;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::map<std::string, std::chrono::steady_clock::time_point> kept;
    for (const auto& t : targets) {
      auto it = last_run_.find(t.Key());
      if (it == last_run_.end() || now - it->second >= options_.interval) {
        due.push_back(&t);
        kept[t.Key()] = now;
      } else {
        kept.insert(*it);
      }
    }
    last_run_.swap(kept);
  }
  std::vector<GcOutcome> out;
  for (const BucketTarget* t : due) out.push_back(Run(*t));
  return out;
}

Result<replica::PurgeReport> BucketMaintainer::Purge(const BucketTarget& target,
                                                     const std::string& ns,
                                                     const std::string& sts) {
  DK_ASSIGN_OR_RETURN(auto bucket, opener_(target.s3));
  const replica::BucketLayout layout(target.s3.prefix);
  DK_ASSIGN_OR_RETURN_CTX(replica::PurgeReport r,
                          replica::PurgeIdentities(*bucket, layout, ns + "/" + sts + "/", log_),
                          "purging " + ns + "/" + sts + "/* from " + target.Describe());
  if (metrics_) metrics_->purged_identities->Inc({}, static_cast<double>(r.identities));
  // What is past the grace period goes now; the rest with the target's next runs.
  GcOutcome gc = Collect(target);
  if (!gc.status.ok()) {
    log_->Warn("Bucket GC after a purge failed; the next run collects the garbage",
               {{"bucket", target.Describe()}, {"error", gc.status.ToString()}});
  }
  return r;
}

}  // namespace dk::op
