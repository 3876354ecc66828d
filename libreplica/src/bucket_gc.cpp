#include "libreplica/bucket_gc.h"

#include <algorithm>
#include <map>
#include <set>

#include "libreplica/bucket_reader.h"
#include "libreplica/head.h"

namespace dk::replica {
namespace {

constexpr size_t kMaxProblems = 100;
constexpr int64_t kNsPerSec = 1'000'000'000;

struct ListedManifest {
  uint64_t set = 0;
  int64_t last_modified_ns = 0;
  std::string key;
};

void AddProblem(BucketGcReport* r, std::string p) {
  if (r->problems.size() < kMaxProblems) r->problems.push_back(std::move(p));
}

Result<int64_t> BucketNow(Bucket& bucket, const BucketLayout& layout) {
  const std::string key = layout.GcClockKey();
  DK_RETURN_IF_ERROR_CTX(bucket.Put(key, AsBytes(FormatRfc3339(SystemClockNs()))),
                         "bucket GC: writing " + key);
  DK_ASSIGN_OR_RETURN_CTX(BucketObject o, bucket.Head(key), "bucket GC: reading " + key);
  return o.last_modified_ns;
}

}  // namespace

Status BucketGcOptions::Validate() const {
  if (grace.count() < 0) return Status::InvalidArgument("bucket GC grace must be >= 0");
  if (keep_within.count() < 0) return Status::InvalidArgument("bucket GC keep_within must be >= 0");
  return Status::Ok();
}

Result<BucketGcReport> CollectBucketGarbage(Bucket& bucket, const BucketLayout& layout,
                                            const BucketGcOptions& options) {
  DK_RETURN_IF_ERROR(options.Validate());
  Logger* log = options.logger ? options.logger : NullLogger();
  BucketGcReport report;

  // 1. The time, on the bucket's clock, before anything is listed.
  DK_ASSIGN_OR_RETURN(const int64_t now, options.now ? options.now() : BucketNow(bucket, layout));
  report.now_ns = now;
  const int64_t grace_ns = options.grace.count() * kNsPerSec;
  const int64_t keep_within_ns = options.keep_within.count() * kNsPerSec;

  // 2. Heads, and their manifests by key.
  std::vector<std::string> identities;
  DK_RETURN_IF_ERROR(bucket.List(layout.HeadsPrefix(), [&](const BucketObject& o) {
    if (auto id = layout.ParseHeadKey(o.key)) identities.push_back(std::move(*id));
    return Status::Ok();
  }));
  std::map<std::string, uint64_t> head_set;  // identity -> head's set
  std::vector<ObjectId> referenced;
  for (const auto& id : identities) {
    Head head;
    auto m = ReadHeadManifest(bucket, layout, id, &head);
    if (!m.ok()) {
      if (m.status().IsNotFound() && m.status().message().rfind("no head", 0) == 0) continue;
      return m.status().WithContext("bucket GC: head of " + id + " (nothing deleted)");
    }
    head_set[id] = head.set;
    for (const auto& c : m->Chunks()) referenced.push_back(c);
  }

  // 3. Manifests, grouped by identity.
  std::map<std::string, std::vector<ListedManifest>> manifests;
  DK_RETURN_IF_ERROR(bucket.List(layout.ManifestsPrefix(), [&](const BucketObject& o) {
    auto name = layout.ParseManifestKey(o.key);
    if (!name) {
      ++report.foreign_keys;
      return Status::Ok();
    }
    ++report.manifests;
    manifests[name->identity].push_back({name->set, o.last_modified_ns, o.key});
    return Status::Ok();
  }));
  std::set<std::string> all_ids(identities.begin(), identities.end());
  for (const auto& [id, list] : manifests) all_ids.insert(id);
  report.identities = all_ids.size();

  std::vector<ListedManifest> drop;
  std::vector<std::pair<std::string, ListedManifest>> keep;  // besides the heads' manifests
  for (auto& [id, list] : manifests) {
    std::sort(list.begin(), list.end(),
              [](const ListedManifest& a, const ListedManifest& b) { return a.set > b.set; });
    auto hs = head_set.find(id);
    for (size_t i = 0; i < list.size(); ++i) {
      const ListedManifest& m = list[i];
      const bool is_head = hs != head_set.end() && m.set == hs->second;
      const bool newer_than_head = hs != head_set.end() && m.set > hs->second;
      const bool recent = keep_within_ns > 0 && m.last_modified_ns >= now - keep_within_ns;
      const bool young = m.last_modified_ns >= now - grace_ns;
      if (is_head) {
        ++report.manifests_kept;  // referenced already
      } else if (newer_than_head || i < options.keep_last || recent || young) {
        ++report.manifests_kept;
        keep.emplace_back(id, m);
      } else {
        drop.push_back(m);
      }
    }
  }

  // 4. Mark: every kept manifest's chunks.
  for (const auto& [id, m] : keep) {
    auto man = ReadManifest(bucket, layout, id, m.set);
    if (!man.ok()) {
      if (man.status().IsNotFound()) continue;  // deleted meanwhile by another run
      return man.status().WithContext("bucket GC: kept manifest (nothing deleted)");
    }
    for (const auto& c : man->Chunks()) referenced.push_back(c);
  }
  std::sort(referenced.begin(), referenced.end());
  referenced.erase(std::unique(referenced.begin(), referenced.end()), referenced.end());
  report.objects_referenced = referenced.size();

  // 5a. Sweep manifests first: a crash after this leaves unreferenced objects, never a kept
  // manifest without its chunks.
  for (const auto& m : drop) {
    if (!options.dry_run) DK_RETURN_IF_ERROR_CTX(bucket.Delete(m.key), "bucket GC");
    ++report.manifests_deleted;
  }

  // 5b. Sweep objects.
  std::vector<bool> seen(referenced.size(), false);
  Status swept = bucket.List(layout.ObjectsPrefix(), [&](const BucketObject& o) -> Status {
    auto id = layout.ParseObjectKey(o.key);
    if (!id) {
      ++report.foreign_keys;
      return Status::Ok();
    }
    ++report.objects;
    auto it = std::lower_bound(referenced.begin(), referenced.end(), *id);
    if (it != referenced.end() && *it == *id) {
      seen[static_cast<size_t>(it - referenced.begin())] = true;
      return Status::Ok();
    }
    if (o.last_modified_ns >= now - grace_ns) {
      ++report.objects_young;
      return Status::Ok();
    }
    if (!options.dry_run) {
      Status del = bucket.Delete(o.key);
      if (!del.ok()) return del.WithContext("bucket GC");
    }
    ++report.objects_deleted;
    report.bytes_deleted += o.size;
    return Status::Ok();
  });
  DK_RETURN_IF_ERROR(swept);
  for (size_t i = 0; i < referenced.size(); ++i) {
    if (seen[i]) continue;
    ++report.objects_missing;
    AddProblem(&report, "object " + layout.ObjectKey(referenced[i]) +
                            " is referenced by a kept manifest but missing from the bucket");
  }

  log->Info("Bucket GC finished", {{"prefix", layout.prefix()},
                                   {"dryRun", options.dry_run ? "true" : "false"},
                                   {"identities", report.identities},
                                   {"manifestsDeleted", report.manifests_deleted},
                                   {"manifestsKept", report.manifests_kept},
                                   {"objects", report.objects},
                                   {"objectsDeleted", report.objects_deleted},
                                   {"bytesDeleted", report.bytes_deleted},
                                   {"objectsYoung", report.objects_young},
                                   {"objectsMissing", report.objects_missing}});
  return report;
}

Result<PurgeReport> PurgeIdentities(Bucket& bucket, const BucketLayout& layout,
                                    std::string_view identity_prefix, Logger* logger) {
  Logger* log = logger ? logger : NullLogger();
  const std::string want(identity_prefix);
  if (want.size() < 2 || want.back() != '/') {
    return Status::InvalidArgument("bucket purge: identity prefix \"" + want +
                                   "\" must end in '/' and name at least one segment");
  }
  DK_RETURN_IF_ERROR_CTX(ValidateIdentity(want.substr(0, want.size() - 1)),
                         "bucket purge: identity prefix \"" + want + "\"");
  PurgeReport report;
  std::set<std::string> ids;
  auto matches = [&want](const std::string& id) { return id.compare(0, want.size(), want) == 0; };

  // 1. Heads (collected first: deleting while listing would disturb the pagination).
  std::vector<std::string> heads;
  DK_RETURN_IF_ERROR_CTX(bucket.List(layout.HeadsPrefix() + want,
                                     [&](const BucketObject& o) {
                                       auto id = layout.ParseHeadKey(o.key);
                                       if (id && matches(*id)) {
                                         heads.push_back(o.key);
                                         ids.insert(*id);
                                       }
                                       return Status::Ok();
                                     }),
                         "bucket purge: listing heads of " + want);
  for (const auto& key : heads) {
    DK_RETURN_IF_ERROR_CTX(bucket.Delete(key), "bucket purge");
    ++report.heads_deleted;
  }

  // 2. Manifests.
  std::vector<std::string> manifests;
  DK_RETURN_IF_ERROR_CTX(bucket.List(layout.ManifestsPrefix() + want,
                                     [&](const BucketObject& o) {
                                       auto name = layout.ParseManifestKey(o.key);
                                       if (name && matches(name->identity)) {
                                         manifests.push_back(o.key);
                                         ids.insert(name->identity);
                                       }
                                       return Status::Ok();
                                     }),
                         "bucket purge: listing manifests of " + want);
  for (const auto& key : manifests) {
    DK_RETURN_IF_ERROR_CTX(bucket.Delete(key), "bucket purge");
    ++report.manifests_deleted;
  }
  report.identities = ids.size();
  log->Info("Purged identities from the bucket", {{"prefix", layout.prefix()},
                                                  {"identities", want + "*"},
                                                  {"matched", report.identities},
                                                  {"headsDeleted", report.heads_deleted},
                                                  {"manifestsDeleted", report.manifests_deleted}});
  return report;
}

}  // namespace dk::replica
