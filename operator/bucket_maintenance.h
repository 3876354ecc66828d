// Bucket maintenance for StatePolicies with storage S3, done by the operator's leader — the one
// place that does it: retention and garbage collection of each bucket prefix (libreplica
// CollectBucketGarbage, libreplica/FORMAT.md "Garbage collection") and the purge of the bucket
// copies of a policy deleted with retention.onDelete: Delete (docs/protocol.md, "Purge").
//
// Targets: one per distinct (endpoint, region, bucket, prefix) among the
// StatePolicies with storage S3 that are not being deleted, plus those of the purge list entries
// that carry a `storage` (deleted policies; the entries stay `purge_retention`, so chunks a purge
// left inside the grace period are still collected). Retention per target: the most that any
// of its policies asks for — the largest retention.keepVersions as the number of capture sets
// (manifests) kept per identity, the largest retention.keepFor as the age below which every
// set is kept. (GC covers every identity under the prefix, including other clusters' if they
// share it: their sets are kept by their own heads, by these rules and by the grace period.)
//
// Safety with uploads in flight is bucket GC's: only objects that no head or kept manifest
// references and that are older than `grace` go; `grace` must be at least the agents'
// ReplicatorOptions::gc_grace (both 24 h by default).
//
// Thread-safe. Network calls happen in RunDue, Collect and Purge, never under a lock held by
// other callers for long (one mutex guards the schedule only).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "libreplica/bucket.h"
#include "libreplica/bucket_gc.h"
#include "libstate/logger.h"
#include "libsvc/metrics.h"
#include "policy_spec.h"

namespace dk::op {

struct BucketTarget {
  S3Spec s3;  // prefix normalised: "" or ending in '/'
  uint32_t keep_last = 1;
  std::chrono::seconds keep_within{0};
  std::vector<std::string> policies;  // "<namespace>/<name>" of the live policies using it
  bool purge_only = false;            // only deleted policies use it

  // Identifies the target: endpoint, region, bucket and prefix. (Policies that reach the same
  // prefix with different Secrets share one target, so one retention applies; the credentials
  // are those of the first policy by namespace/name, live policies before purge entries.)
  std::string Key() const;
  // "s3://bucket/prefix at endpoint", for logs and messages.
  std::string Describe() const;
};

// `s3` with its prefix normalised and the region defaulted (us-east-1), as targets hold it.
S3Spec NormalizedS3(S3Spec s3);

// The targets of `policies` (StatePolicy objects; those being deleted or with an invalid spec
// are skipped) and of `purge_list` (the agent configuration's purge.json array; entries without
// storage S3 are skipped), sorted by Key().
std::vector<BucketTarget> BucketTargets(const std::vector<nlohmann::json>& policies,
                                        const nlohmann::json& purge_list);

// A purge list entry's `storage` and `retention` (as in policies.json) for a policy with S3.
nlohmann::json PurgeEntryStorage(const PolicySpec& spec);

// A bucket client for `s3`. The operator's reads the credentials Secret in its namespace.
using BucketOpener = std::function<Result<std::unique_ptr<replica::Bucket>>(const S3Spec& s3)>;

// The Secret `name` of the operator's namespace, as the API server returns it.
using SecretFetcher = std::function<Result<nlohmann::json>(const std::string& name)>;

// An opener of S3 buckets (libs3) with the credentials of the Secret named by
// credentialsSecretRef (read on every open; keys accessKeyID, secretAccessKey, optional
// sessionToken; never logged), the endpoint of the spec (default AWS
// https://s3.<region>.amazonaws.com with virtual-hosted addressing; path-style otherwise) and
// the extra CA certificates of `ca_file` ("" = system roots). Errors name the Secret (`ns`).
BucketOpener MakeS3BucketOpener(SecretFetcher secrets, std::string ns, std::string ca_file,
                                Logger* logger);

struct BucketMaintenanceOptions {
  std::chrono::seconds interval{std::chrono::hours(6)};  // GC of a target at most this often
  std::chrono::seconds grace{std::chrono::hours(24)};    // BucketGcOptions::grace
  // BucketGcOptions::now (tests); empty = the bucket's clock.
  std::function<Result<int64_t>()> bucket_now;
};

struct BucketMaintenanceMetrics {
  explicit BucketMaintenanceMetrics(svc::MetricsRegistry* registry);
  svc::Counter* runs;               // {result}: success, error
  svc::Counter* manifests_deleted;  // capture sets dropped by retention
  svc::Counter* objects_deleted;
  svc::Counter* bytes_deleted;
  svc::Histogram* duration;
  svc::Gauge* last_success;  // {bucket}: Unix time of the last successful run
  svc::Counter* purged_identities;
};

struct GcOutcome {
  const BucketTarget* target = nullptr;
  Status status;
  replica::BucketGcReport report;  // when status is OK
  double seconds = 0;
};

class BucketMaintainer {
 public:
  // `metrics` and `logger` may be null.
  BucketMaintainer(BucketOpener opener, BucketMaintenanceOptions options,
                   svc::MetricsRegistry* metrics, Logger* logger);

  // Runs GC for every target whose last run (successful or not) started `interval` or longer
  // before `now`, or that never ran; one after the other. Targets no longer passed are forgotten.
  std::vector<GcOutcome> RunDue(const std::vector<BucketTarget>& targets,
                                std::chrono::steady_clock::time_point now);
  // Runs GC of `target` now (and counts it as its last run).
  GcOutcome Collect(const BucketTarget& target);
  // Deletes the bucket copies (heads, then manifests) of the identities <ns>/<sts>/* under
  // `target`'s prefix, then collects the target's garbage (what is past the grace period goes
  // now, the rest with a later run). Errors name the bucket; retried by the caller.
  Result<replica::PurgeReport> Purge(const BucketTarget& target, const std::string& ns,
                                     const std::string& sts);

 private:
  GcOutcome Run(const BucketTarget& target);  // does not touch the schedule

  const BucketOpener opener_;
  const BucketMaintenanceOptions options_;
  std::unique_ptr<BucketMaintenanceMetrics> metrics_;
  Logger* const log_;
  std::mutex mu_;
  std::map<std::string, std::chrono::steady_clock::time_point> last_run_;  // by Key()
};

}  // namespace dk::op
