// Verify, GC/retention and stats of StoreImpl.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstring>
#include <map>

#include "coding.h"
#include "libstate/merkle.h"
#include "store_impl.h"

namespace dk {

Result<VerifyReport> StoreImpl::Verify(const ProgressFn& progress) {
  std::lock_guard<std::mutex> lock(mu_);
  ObjectStore::CacheScope cache(objects_);
  DK_ASSIGN_OR_RETURN(LmdbTxn txn, env_->Begin(false));
  VerifyReport rep;
  std::map<ObjectId, std::pair<uint64_t, uint64_t>> expected;  // vrefs, brefs
  std::vector<ObjectId> ids;
  {
    DK_ASSIGN_OR_RETURN(LmdbCursor c, LmdbCursor::Open(txn, dbs_.objects));
    for (bool ok = c.Seek(""); ok; ok = c.Next()) {
      ObjectId id;
      if (c.key().size() != 32) {
        rep.problems.push_back("objects database has a malformed key");
        continue;
      }
      std::memcpy(id.bytes.data(), c.key().data(), 32);
      ids.push_back(id);
    }
  }
  uint64_t n = 0;
  for (const auto& id : ids) {
    if (progress && (++n % 256 == 0)) progress({"verify", n, ids.size(), id.ShortHex()});
    expected.try_emplace(id);
    auto h = objects_->Header(txn, id);
    if (!h.ok()) {
      rep.problems.push_back(h.status().message());
      continue;
    }
    for (const auto& b : h->bases) ++expected[b].second;
    auto data = objects_->Read(txn, id);
    if (!data.ok()) {
      rep.problems.push_back(data.status().message());
      continue;
    }
    rep.bytes_checked += data->size();
    ++rep.objects;
  }
  {
    DK_ASSIGN_OR_RETURN(LmdbCursor c, LmdbCursor::Open(txn, dbs_.versions));
    for (bool ok = c.Seek(""); ok; ok = c.Next()) {
      std::string_view k = c.key();
      std::string path(k.substr(0, k.find('\0')));
      auto v = DecodeVersion(path, c.value());
      if (!v.ok()) {
        rep.problems.push_back(v.status().message());
        continue;
      }
      ++rep.versions;
      for (const auto& ch : v->chunks) ++expected[ch].first;
      if (v->kind == VersionKind::kDeleted || v->type != EntryType::kFile) continue;
      // Streamed: memory stays at one chunk whatever the file size.
      Status vs = StreamVersion(txn, *v, [](ByteView) { return Status::Ok(); });
      if (!vs.ok()) rep.problems.push_back(vs.message());
    }
  }
  for (const auto& [id, want] : expected) {
    auto got = objects_->Refs(txn, id);
    if (!got.ok()) {
      rep.problems.push_back(got.status().message());
    } else if (*got != want) {
      rep.problems.push_back("object " + id.Hex() + ": reference counts " +
                             std::to_string(got->first) + "/" + std::to_string(got->second) +
                             " but " + std::to_string(want.first) + "/" +
                             std::to_string(want.second) + " expected");
    }
    if (!objects_->Exists(txn, id))
      rep.problems.push_back("object " + id.Hex() + " is referenced but missing");
  }
  {
    DK_ASSIGN_OR_RETURN(LmdbCursor c, LmdbCursor::Open(txn, dbs_.files));
    for (bool ok = c.Seek(""); ok; ok = c.Next()) {
      auto h = DecodeHead(c.key(), c.value());
      if (!h.ok()) {
        rep.problems.push_back(h.status().message());
        continue;
      }
      if (!txn.Get(dbs_.versions, VersionKey(c.key(), h->latest_seq)).ok())
        rep.problems.push_back("file " + std::string(c.key()) + ": latest version missing");
    }
  }
  uint64_t last_set = 0;
  SetInfo last;
  {
    DK_ASSIGN_OR_RETURN(LmdbCursor c, LmdbCursor::Open(txn, dbs_.sets));
    for (bool ok = c.Seek(""); ok; ok = c.Next()) {
      auto s = DecodeSet(ReadBE64(c.key()), c.value());
      if (!s.ok()) {
        rep.problems.push_back(s.status().message());
        continue;
      }
      ++rep.sets;
      last_set = s->set;
      last = *s;
    }
  }
  if (last_set) {
    uint64_t live, bytes;
    DK_ASSIGN_OR_RETURN(ObjectId root, ComputeSetRoot(txn, &live, &bytes));
    if (root != last.root)
      rep.problems.push_back("latest capture set " + std::to_string(last_set) +
                             ": Merkle root does not match the file records");
  }
  if (progress) progress({"verify", ids.size(), ids.size(), ""});
  log_->Info("Verified store", {{"store", path_},
                                {"objects", rep.objects},
                                {"versions", rep.versions},
                                {"problems", rep.problems.size()}});
  return rep;
}

Result<GcReport> StoreImpl::Gc(const RetentionPolicy& policy) {
  if (mode_ == OpenMode::kReadOnly) return Status::FailedPrecondition("store opened read-only");
  if (policy.recompress_level < 0 || policy.recompress_level > 19) {
    return Status::InvalidArgument("recompress level " + std::to_string(policy.recompress_level) +
                                   " is out of range: must be 1..19 (0 = off)");
  }
  std::lock_guard<std::mutex> lock(mu_);
  ObjectStore::CacheScope cache(objects_);
  GcReport rep;
  rep.bytes_before = DiskBytes();
  const int64_t now = Now();
  {
    DK_ASSIGN_OR_RETURN(LmdbTxn txn, env_->Begin(true));
    std::vector<std::string> paths;
    {
      DK_ASSIGN_OR_RETURN(LmdbCursor c, LmdbCursor::Open(txn, dbs_.files));
      for (bool ok = c.Seek(""); ok; ok = c.Next()) paths.emplace_back(c.key());
    }
    uint64_t cutoff_set = 0;
    const bool any_rule = policy.keep_last > 0 || policy.keep_within_ns > 0;
    const int64_t cutoff_time = now - policy.keep_within_ns;
    for (const auto& p : paths) {
      if (!any_rule) break;
      std::vector<VersionInfo> vs;
      {
        DK_ASSIGN_OR_RETURN(LmdbCursor c, LmdbCursor::Open(txn, dbs_.versions));
        std::string prefix = p + '\0';
        for (bool ok = c.Seek(prefix); ok && c.key().substr(0, prefix.size()) == prefix;
             ok = c.Next()) {
          DK_ASSIGN_OR_RETURN(VersionInfo v, DecodeVersion(p, c.value()));
          vs.push_back(std::move(v));
        }
      }
      const size_t n = vs.size();
      // Kept versions form a suffix: find its start k.
      size_t k = n;
      if (policy.keep_last > 0) k = std::min(k, n > policy.keep_last ? n - policy.keep_last : 0);
      if (policy.keep_within_ns > 0) {
        size_t first_new = n;
        for (size_t i = 0; i < n; ++i)
          if (vs[i].time_ns >= cutoff_time) {
            first_new = i;
            break;
          }
        // The version in effect at the cut-off stays so the whole window restores.
        k = std::min(k, first_new > 0 ? first_new - 1 : 0);
      }
      if (k == n && vs.back().kind != VersionKind::kDeleted) k = n - 1;  // never drop the latest
      if (k == 0) continue;
      for (size_t i = 0; i < k; ++i) {
        for (const auto& ch : vs[i].chunks)
          DK_RETURN_IF_ERROR(objects_->ReleaseVersionRef(txn, ch, &rep.objects_freed));
        DK_RETURN_IF_ERROR(txn.Del(dbs_.versions, VersionKey(p, vs[i].seq)));
        ++rep.versions_dropped;
      }
      if (k == n) {
        DK_RETURN_IF_ERROR(txn.Del(dbs_.files, p));
        cutoff_set = std::max(cutoff_set, vs[n - 1].set);
      } else {
        cutoff_set = std::max(cutoff_set, vs[k].set);
      }
    }
    // Objects kept alive only as delta bases: rewrite their dependents whole, then drop them.
    std::vector<ObjectId> base_only, orphans;
    {
      DK_ASSIGN_OR_RETURN(LmdbCursor c, LmdbCursor::Open(txn, dbs_.refs));
      for (bool ok = c.Seek(""); ok; ok = c.Next()) {
        ObjectId id;
        std::memcpy(id.bytes.data(), c.key().data(), 32);
        Decoder d(c.value());
        uint64_t v = 0, b = 0;
        if (!d.GetVarint(&v) || !d.GetVarint(&b))
          return Status::Corruption("refcount of object " + id.Hex() + " is garbled");
        if (v == 0 && b > 0) base_only.push_back(id);
        if (v == 0 && b == 0) orphans.push_back(id);
      }
    }
    for (const auto& id : base_only) {
      if (!objects_->Exists(txn, id)) continue;  // freed by an earlier rebase
      DK_RETURN_IF_ERROR(
          objects_->RebaseDependents(txn, id, &rep.objects_rebased, &rep.objects_freed));
    }
    for (const auto& id : orphans) {
      if (!objects_->Exists(txn, id)) continue;
      DK_ASSIGN_OR_RETURN(auto r, objects_->Refs(txn, id));
      if (r.first == 0 && r.second == 0) {
        // Orphans cannot arise from captures (one transaction); clean them up if present.
        DK_RETURN_IF_ERROR(objects_->AddVersionRef(txn, id));
        DK_RETURN_IF_ERROR(objects_->ReleaseVersionRef(txn, id, &rep.objects_freed));
      }
    }
    if (cutoff_set > 0) {
      std::vector<std::string> drop;
      DK_ASSIGN_OR_RETURN(LmdbCursor c, LmdbCursor::Open(txn, dbs_.sets));
      for (bool ok = c.Seek(""); ok && ReadBE64(c.key()) < cutoff_set; ok = c.Next())
        drop.emplace_back(c.key());
      for (const auto& k : drop) DK_RETURN_IF_ERROR(txn.Del(dbs_.sets, k));
      rep.sets_dropped = drop.size();
    }
    DK_RETURN_IF_ERROR_CTX(CommitWrite(txn), "gc of store " + path_);
  }
  if (policy.recompress_level > 0) {
    // Recompressed payloads go to a new pack: the replaced ones then make up most of the old
    // packs, which the repack below rewrites.
    packs_->Seal();
    std::vector<ObjectId> ids;
    {
      DK_ASSIGN_OR_RETURN(LmdbTxn txn, env_->Begin(false));
      DK_ASSIGN_OR_RETURN(LmdbCursor c, LmdbCursor::Open(txn, dbs_.objects));
      for (bool ok = c.Seek(""); ok; ok = c.Next()) {
        ObjectId id;
        std::memcpy(id.bytes.data(), c.key().data(), 32);
        ids.push_back(id);
      }
    }
    // Content-preserving, so batches may commit separately (bounded transaction size).
    constexpr size_t kBatch = 512;
    for (size_t i = 0; i < ids.size(); i += kBatch) {
      DK_ASSIGN_OR_RETURN(LmdbTxn txn, env_->Begin(true));
      for (size_t j = i; j < std::min(ids.size(), i + kBatch); ++j) {
        DK_RETURN_IF_ERROR(
            objects_->Recompress(txn, ids[j], policy.recompress_level, &rep.recompress_saved));
      }
      DK_RETURN_IF_ERROR_CTX(CommitWrite(txn), "recompress objects of store " + path_);
      objects_->ClearCache();
    }
  }
  DK_RETURN_IF_ERROR_CTX(RepackLocked(&rep), "repack store " + path_);
  if (policy.compact) {
    // Copy compacted, then rename over the live file (crash: old or new file, never half).
    std::string tmpdir = path_ + "/compact.tmp";
    std::string tmpfile = tmpdir + "/data.mdb";
    unlink(tmpfile.c_str());
    if (mkdir(tmpdir.c_str(), 0750) != 0 && errno != EEXIST)
      return Status::FromErrno(errno, "create " + tmpdir);
    DK_RETURN_IF_ERROR(env_->CopyCompact(tmpdir));
    int fd = open(tmpfile.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      fsync(fd);
      close(fd);
    }
    env_.reset();
    objects_.reset();
    if (rename(tmpfile.c_str(), (path_ + "/data.mdb").c_str()) != 0) {
      Status s = Status::FromErrno(errno, "replace data file of " + path_);
      DK_RETURN_IF_ERROR(OpenEnv());
      return s;
    }
    rmdir(tmpdir.c_str());
    DK_RETURN_IF_ERROR(OpenEnv());
  }
  rep.bytes_after = DiskBytes();
  log_->Info("Collected garbage", {{"store", path_},
                                   {"versions_dropped", rep.versions_dropped},
                                   {"objects_freed", rep.objects_freed},
                                   {"packs_removed", rep.packs_removed},
                                   {"bytes_reclaimed", static_cast<int64_t>(rep.bytes_before) -
                                                           static_cast<int64_t>(rep.bytes_after)}});
  return rep;
}

uint64_t StoreImpl::DiskBytes() {
  uint64_t total = env_->FileBytes();
  auto packs = packs_->List();
  if (packs.ok())
    for (const auto& [n, size] : *packs) total += size;
  return total;
}

Status StoreImpl::RepackLocked(GcReport* rep) {
  DK_ASSIGN_OR_RETURN(auto packs, packs_->List());
  if (packs.empty()) return Status::Ok();
  std::map<uint32_t, uint64_t> live;
  std::map<uint32_t, std::vector<ObjectId>> members;
  {
    DK_ASSIGN_OR_RETURN(LmdbTxn txn, env_->Begin(false));
    DK_ASSIGN_OR_RETURN(LmdbCursor c, LmdbCursor::Open(txn, dbs_.objects));
    for (bool ok = c.Seek(""); ok; ok = c.Next()) {
      ObjectId id;
      if (c.key().size() != 32) return Status::Corruption("objects database has a malformed key");
      std::memcpy(id.bytes.data(), c.key().data(), 32);
      auto h = ObjectStore::ParseHeader(id, c.value());
      if (!h.ok()) {
        // Which pack a garbled record points into is unknown: remove no pack (verify names
        // the record).
        log_->Warn("Not repacking: an object record is garbled",
                   {{"store", path_}, {"error", h.status().message()}});
        return Status::Ok();
      }
      if (!h->packed) continue;
      live[h->loc.pack] += h->loc.length;
      members[h->loc.pack].push_back(id);
    }
  }
  std::vector<uint32_t> drop;
  for (const auto& [n, size] : packs) {
    const uint64_t payload = size > PackStore::kHeaderBytes ? size - PackStore::kHeaderBytes : 0;
    // At least a quarter garbage (or unreferenced): rewriting copies the live three quarters,
    // so a pack is copied at most ~4x over its life in exchange for at most a quarter of it
    // being waste.
    if (live[n] * 4 <= payload * 3) drop.push_back(n);
  }
  if (drop.empty()) return Status::Ok();
  // Copies go to a new pack, never into one that is being emptied.
  if (drop.back() == packs.rbegin()->first) packs_->Seal();
  {
    DK_ASSIGN_OR_RETURN(LmdbTxn txn, env_->Begin(true));
    for (uint32_t n : drop) {
      for (const auto& id : members[n]) {
        DK_RETURN_IF_ERROR(objects_->Repack(txn, id));
        ++rep->objects_repacked;
      }
    }
    DK_RETURN_IF_ERROR(CommitWrite(txn));
  }
  // Committed: nothing refers to these packs any more (a crash before they are removed
  // leaves them unreferenced, and the next GC removes them).
  for (uint32_t n : drop) {
    DK_RETURN_IF_ERROR(packs_->Remove(n));
    ++rep->packs_removed;
  }
  return packs_->Sync();
}

Result<StoreStats> StoreImpl::Stats() {
  std::lock_guard<std::mutex> lock(mu_);
  DK_ASSIGN_OR_RETURN(LmdbTxn txn, env_->Begin(false));
  StoreStats st;
  {
    // What the store records (kSchemaVersion once this process has opened or migrated it,
    // but another process may have changed it since).
    DK_ASSIGN_OR_RETURN(std::string_view schema, txn.Get(dbs_.meta, "schema"));
    uint32_t v = 0;
    auto [end, ec] = std::from_chars(schema.data(), schema.data() + schema.size(), v);
    if (ec != std::errc() || end != schema.data() + schema.size() || v == 0)
      return Status::Corruption("store " + path_ + ": meta schema '" + std::string(schema) +
                                "' is not a schema version");
    st.schema_version = v;
  }
  st.chunker = opts_.chunker.Name();
  st.file_bytes = env_->FileBytes();
  for (auto [name, member] : kStoreDbs) {
    DK_ASSIGN_OR_RETURN(LmdbDbStat d, DbStat(txn, dbs_.*member));
    st.databases.push_back(
        {name, d.entries, d.branch_pages + d.leaf_pages + d.overflow_pages, d.overflow_pages});
  }
  {
    DK_ASSIGN_OR_RETURN(LmdbEnv::Space sp, env_->SpaceOf(txn));
    st.page_size = sp.page_size;
    st.pages = sp.pages;
    st.free_pages = sp.free_pages;
  }
  {
    DK_ASSIGN_OR_RETURN(auto packs, packs_->List());
    st.packs = packs.size();
    for (const auto& [n, size] : packs) st.pack_bytes += size;
  }
  {
    DK_ASSIGN_OR_RETURN(LmdbCursor c, LmdbCursor::Open(txn, dbs_.files));
    for (bool ok = c.Seek(""); ok; ok = c.Next()) {
      DK_ASSIGN_OR_RETURN(FileHead h, DecodeHead(c.key(), c.value()));
      ++st.files;
      if (!h.deleted) {
        ++st.live_files;
        if (h.type == EntryType::kFile) st.live_bytes += h.size;
      }
    }
  }
  {
    DK_ASSIGN_OR_RETURN(LmdbCursor c, LmdbCursor::Open(txn, dbs_.versions));
    for (bool ok = c.Seek(""); ok; ok = c.Next()) {
      std::string_view k = c.key();
      DK_ASSIGN_OR_RETURN(VersionInfo v, DecodeVersion(k.substr(0, k.find('\0')), c.value()));
      ++st.versions;
      if (v.type == EntryType::kFile && v.kind != VersionKind::kDeleted) st.logical_bytes += v.size;
    }
  }
  {
    DK_ASSIGN_OR_RETURN(LmdbCursor c, LmdbCursor::Open(txn, dbs_.sets));
    for (bool ok = c.Seek(""); ok; ok = c.Next()) ++st.sets;
  }
  {
    DK_ASSIGN_OR_RETURN(LmdbCursor c, LmdbCursor::Open(txn, dbs_.objects));
    for (bool ok = c.Seek(""); ok; ok = c.Next()) {
      ++st.objects;
      ObjectId id;
      if (c.key().size() == 32) std::memcpy(id.bytes.data(), c.key().data(), 32);
      // A garbled record (verify names it) counts with the bytes it has.
      auto h = ObjectStore::ParseHeader(id, c.value());
      st.stored_bytes += h.ok() ? h->stored_size : c.value().size();
      if (h.ok() && h->packed) st.packed_live_bytes += h->loc.length;
      if (c.value().size() > 1 && static_cast<uint8_t>(c.value()[1]) == 2)
        ++st.delta_objects;
      else
        ++st.full_objects;
    }
  }
  return st;
}

}  // namespace dk
