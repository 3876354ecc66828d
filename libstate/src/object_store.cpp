#include "object_store.h"

#include <zstd.h>

#include "coding.h"
#include "libstate/delta.h"
#include "storage_policy.h"
#include "zstd_context.h"

namespace dk {
namespace {
constexpr uint8_t kInlineFormat = 1;  // header, payload
constexpr uint8_t kPackedFormat = 2;  // header, varint pack, varint offset, varint length
constexpr uint64_t kMaxObjectSize = 1ull << 30;  // sanity bound on a decoded object
constexpr int kMaxDecodeDepth = 1024;

std::string Key(const ObjectId& id) { return std::string(AsChars(id.View())); }

// Whole objects record their zstd level in the engine byte (0 in stores written before).
ObjectHeader WholeHeader(uint64_t raw_size, int level) {
  ObjectHeader h;
  h.codec = ObjectCodec::kZstd;
  h.engine = static_cast<uint8_t>(level);
  h.raw_size = raw_size;
  return h;
}

std::string EncodeHeader(const ObjectHeader& h) {
  Encoder e;
  e.PutU8(h.packed ? kPackedFormat : kInlineFormat);
  e.PutU8(static_cast<uint8_t>(h.codec));
  e.PutU8(h.engine);
  e.PutVarint(h.depth);
  e.PutVarint(h.raw_size);
  e.PutVarint(h.bases.size());
  for (const auto& b : h.bases) e.PutId(b);
  if (h.packed) {
    e.PutVarint(h.loc.pack);
    e.PutVarint(h.loc.offset);
    e.PutVarint(h.loc.length);
  }
  return e.Take();
}

Result<Bytes> ZstdCompress(ByteView in, int level) {
  ZSTD_CCtx* const cctx = ThreadCCtx();
  if (!cctx) return Status::Internal("zstd compress: cannot allocate a compression context");
  Bytes out(ZSTD_compressBound(in.size()));
  size_t n = ZSTD_compressCCtx(cctx, out.data(), out.size(), in.data(), in.size(), level);
  if (ZSTD_isError(n))
    return Status::Internal(std::string("zstd compress: ") + ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}
}  // namespace

Result<ObjectHeader> ObjectStore::ParseHeader(const ObjectId& id, std::string_view value) {
  Decoder d(value);
  ObjectHeader h;
  uint8_t fmt, codec;
  uint64_t nbases;
  auto bad = [&](const char* what) {
    return Status::Corruption("object " + id.Hex() + ": " + what);
  };
  if (!d.GetU8(&fmt) || (fmt != kInlineFormat && fmt != kPackedFormat))
    return bad("unknown object format");
  if (!d.GetU8(&codec) || (codec != 1 && codec != 2)) return bad("unknown codec");
  h.codec = static_cast<ObjectCodec>(codec);
  if (!d.GetU8(&h.engine) || !d.GetVarintAs(&h.depth) || !d.GetVarint(&h.raw_size) ||
      !d.GetVarint(&nbases) || nbases > 64) {
    return bad("truncated header");
  }
  if (h.raw_size > kMaxObjectSize) return bad("declared size too large");
  if ((h.codec == ObjectCodec::kDelta) != (nbases > 0)) return bad("delta without bases");
  h.bases.resize(nbases);
  for (auto& b : h.bases)
    if (!d.GetId(&b)) return bad("truncated base list");
  h.payload_offset = value.size() - d.rest().size();
  h.stored_size = value.size();
  if (fmt == kPackedFormat) {
    h.packed = true;
    if (!d.GetVarintAs(&h.loc.pack) || !d.GetVarint(&h.loc.offset) || !d.GetVarint(&h.loc.length) ||
        !d.rest().empty()) {
      return bad("garbled pack location");
    }
    if (h.loc.length > kMaxObjectSize) return bad("declared packed length too large");
    h.stored_size = h.payload_offset + h.loc.length;  // the location is not counted
    h.payload_offset = value.size();
  }
  return h;
}

bool ObjectStore::Exists(LmdbTxn& txn, const ObjectId& id) {
  return txn.Get(dbs_.objects, Key(id)).ok();
}

Result<ObjectHeader> ObjectStore::Header(LmdbTxn& txn, const ObjectId& id) {
  auto v = txn.Get(dbs_.objects, Key(id));
  if (!v.ok()) return v.status().WithContext("object " + id.Hex());
  return ParseHeader(id, *v);
}

Result<std::pair<uint64_t, uint64_t>> ObjectStore::Refs(LmdbTxn& txn, const ObjectId& id) {
  auto v = txn.Get(dbs_.refs, Key(id));
  if (!v.ok()) {
    if (v.status().IsNotFound()) return std::pair<uint64_t, uint64_t>{0, 0};
    return v.status();
  }
  Decoder d(*v);
  std::pair<uint64_t, uint64_t> r;
  if (!d.GetVarint(&r.first) || !d.GetVarint(&r.second))
    return Status::Corruption("refcount of object " + id.Hex() + " is garbled");
  return r;
}

Status ObjectStore::SetRefs(LmdbTxn& txn, const ObjectId& id, uint64_t v, uint64_t b) {
  Encoder e;
  e.PutVarint(v);
  e.PutVarint(b);
  return txn.Put(dbs_.refs, Key(id), e.str());
}

// Writes an encoded object with fresh reference counts; packs the payload when the record
// would not fit a leaf page.
Status ObjectStore::PutEncoded(LmdbTxn& txn, const ObjectId& id, const ObjectHeader& h,
                               ByteView payload, uint64_t* written) {
  std::string value = EncodeHeader(h);
  if (value.size() + payload.size() > kMaxInlineRecord) {
    ObjectHeader ph = h;
    ph.packed = true;
    DK_ASSIGN_OR_RETURN(ph.loc, packs_->Append(payload));
    *written = value.size() + payload.size();  // as inline: where it is is not counted
    value = EncodeHeader(ph);
  } else {
    value.append(AsChars(payload));
    *written = value.size();
  }
  DK_RETURN_IF_ERROR(txn.Put(dbs_.objects, Key(id), value));
  return SetRefs(txn, id, 0, 0);
}

Status ObjectStore::Repack(LmdbTxn& txn, const ObjectId& id) {
  DK_ASSIGN_OR_RETURN(ObjectHeader h, Header(txn, id));
  if (!h.packed) return Status::Ok();
  DK_ASSIGN_OR_RETURN(Bytes payload, packs_->Read(h.loc, id));
  DK_ASSIGN_OR_RETURN(h.loc, packs_->Append(payload));
  return txn.Put(dbs_.objects, Key(id), EncodeHeader(h));
}

Status ObjectStore::StoreWhole(LmdbTxn& txn, const ObjectId& id, ByteView content,
                               uint64_t* written) {
  DK_ASSIGN_OR_RETURN(Bytes z, ZstdCompress(content, opts_.zstd_level));
  return PutEncoded(txn, id, WholeHeader(content.size(), opts_.zstd_level), z, written);
}

Status ObjectStore::Recompress(LmdbTxn& txn, const ObjectId& id, int level, uint64_t* saved) {
  DK_ASSIGN_OR_RETURN(ObjectHeader h, Header(txn, id));
  if (h.codec != ObjectCodec::kZstd || h.engine >= level) return Status::Ok();
  DK_ASSIGN_OR_RETURN(Bytes content, Read(txn, id));
  DK_ASSIGN_OR_RETURN(auto refs, Refs(txn, id));
  DK_ASSIGN_OR_RETURN(std::string_view old, txn.Get(dbs_.objects, Key(id)));
  const uint64_t old_size = h.stored_size;
  DK_ASSIGN_OR_RETURN(Bytes z, ZstdCompress(content, level));
  ObjectHeader nh = WholeHeader(content.size(), level);
  if (EncodeHeader(nh).size() + z.size() >= old_size) {
    // No gain: record the level so the object is not tried again.
    std::string value(old);
    value[2] = static_cast<char>(level);
    return txn.Put(dbs_.objects, Key(id), value);
  }
  uint64_t written;
  DK_RETURN_IF_ERROR(PutEncoded(txn, id, nh, z, &written));
  DK_RETURN_IF_ERROR(SetRefs(txn, id, refs.first, refs.second));
  *saved += old_size - written;
  return Status::Ok();
}

Result<uint64_t> ObjectStore::Put(LmdbTxn& txn, const ObjectId& id, ByteView content,
                                  const DeltaBase& base, bool force_whole) {
  const std::vector<ObjectId>& bases = base.ids;
  if (Exists(txn, id)) return uint64_t{0};
  StoragePolicy policy(opts_);
  uint32_t depth = 0;
  for (const auto& b : bases) {
    DK_ASSIGN_OR_RETURN(ObjectHeader bh, Header(txn, b));
    depth = std::max(depth, bh.depth);
  }
  uint64_t written = 0;
  if (bases.empty() || base.bytes.empty() || !policy.TryDelta(content.size(), depth, force_whole)) {
    DK_RETURN_IF_ERROR(StoreWhole(txn, id, content, &written));
    return written;
  }
  DK_ASSIGN_OR_RETURN(Bytes whole, ZstdCompress(content, opts_.zstd_level));
  Bytes best;
  DeltaEngine best_engine = DeltaEngine::kZstdPatchFrom;
  DeltaOptions dopts;
  dopts.zstd_level = opts_.delta_zstd_level;
  dopts.base_offset = base.offset;
  for (DeltaEngine e : policy.Engines(base.bytes.size(), base.offset, content.size())) {
    auto patch = MakeDelta(e, base.bytes, content, dopts);
    if (!patch.ok()) continue;  // e.g. over the engine's size bound: other engine or whole
    if (best.empty() || patch->size() < best.size()) {
      best = std::move(*patch);
      best_engine = e;
    }
    if (policy.SmallEnough(best.size(), content.size(), base.in_place)) break;
  }
  if (best.empty() || !policy.Worth(best.size(), whole.size())) {
    DK_RETURN_IF_ERROR(
        PutEncoded(txn, id, WholeHeader(content.size(), opts_.zstd_level), whole, &written));
    return written;
  }
  ObjectHeader h;
  h.codec = ObjectCodec::kDelta;
  h.engine = static_cast<uint8_t>(best_engine);
  h.depth = depth + 1;
  h.raw_size = content.size();
  h.bases = bases;
  DK_RETURN_IF_ERROR(PutEncoded(txn, id, h, best, &written));
  for (const auto& b : bases) {
    DK_ASSIGN_OR_RETURN(auto r, Refs(txn, b));
    DK_RETURN_IF_ERROR(SetRefs(txn, b, r.first, r.second + 1));
    DK_RETURN_IF_ERROR(txn.Put(dbs_.deps, Key(b) + Key(id), ""));
  }
  return written;
}

void ObjectStore::CachePut(const ObjectId& id, const Bytes& b) {
  if (cache_.count(id) || b.size() > kCacheBytes) return;
  lru_.push_front(id);
  cache_.emplace(id, std::make_pair(b, lru_.begin()));
  cache_bytes_ += b.size();
  while (cache_bytes_ > kCacheBytes) {
    auto it = cache_.find(lru_.back());
    cache_bytes_ -= it->second.first.size();
    cache_.erase(it);
    lru_.pop_back();
  }
}

Result<Bytes> ObjectStore::Read(LmdbTxn& txn, const ObjectId& id, bool cache_result) {
  return ReadDepth(txn, id, kMaxDecodeDepth, cache_result);
}

Result<Bytes> ObjectStore::ReadForCallerToVerify(LmdbTxn& txn, const ObjectId& id) {
  return ReadDepth(txn, id, kMaxDecodeDepth, /*cache_result=*/false, /*verify=*/false);
}

Result<Bytes> ObjectStore::ReadDepth(LmdbTxn& txn, const ObjectId& id, int depth_left,
                                     bool cache_result, bool verify) {
  if (auto it = cache_.find(id); it != cache_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second.second);
    return it->second.first;
  }
  if (depth_left <= 0) return Status::Corruption("object " + id.Hex() + ": delta chain too deep");
  auto v = txn.Get(dbs_.objects, Key(id));
  if (!v.ok()) {
    if (v.status().IsNotFound())
      return Status::Corruption("object " + id.Hex() + " is missing from the store");
    return v.status().WithContext("object " + id.Hex());
  }
  decoded_.fetch_add(1, std::memory_order_relaxed);
  std::string_view value = *v;
  DK_ASSIGN_OR_RETURN(ObjectHeader h, ParseHeader(id, value));
  ByteView payload = AsBytes(value.substr(h.payload_offset));
  Bytes packed;
  if (h.packed) {
    DK_ASSIGN_OR_RETURN(packed, packs_->Read(h.loc, id));
    payload = packed;
  }
  Bytes out;
  if (h.codec == ObjectCodec::kZstd) {
    unsigned long long declared = ZSTD_getFrameContentSize(payload.data(), payload.size());
    if (declared != h.raw_size)
      return Status::Corruption("object " + id.Hex() + ": compressed frame size mismatch");
    ZSTD_DCtx* const dctx = ThreadDCtx();
    if (!dctx) return Status::Internal("zstd: cannot allocate a decompression context");
    out.resize(h.raw_size);
    size_t n = ZSTD_decompressDCtx(dctx, out.data(), out.size(), payload.data(), payload.size());
    if (ZSTD_isError(n) || n != h.raw_size) {
      return Status::Corruption("object " + id.Hex() + ": cannot decompress: " +
                                (ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short output"));
    }
  } else {
    Bytes base;
    for (const auto& b : h.bases) {
      DK_ASSIGN_OR_RETURN(Bytes part, ReadDepth(txn, b, depth_left - 1, /*cache_result=*/true));
      base.insert(base.end(), part.begin(), part.end());
    }
    auto r = ApplyDelta(static_cast<DeltaEngine>(h.engine), base, payload, h.raw_size);
    if (!r.ok()) return Status::Corruption("object " + id.Hex() + ": " + r.status().message());
    out = std::move(*r);
    if (out.size() != h.raw_size)
      return Status::Corruption("object " + id.Hex() + ": patched size mismatch");
  }
  if (verify && HashBytes(out) != id)
    return Status::Corruption("object " + id.Hex() + ": content does not match its id");
  if (cache_result) CachePut(id, out);
  return out;
}

Status ObjectStore::AddVersionRef(LmdbTxn& txn, const ObjectId& id) {
  DK_ASSIGN_OR_RETURN(auto r, Refs(txn, id));
  return SetRefs(txn, id, r.first + 1, r.second);
}

Status ObjectStore::Delete(LmdbTxn& txn, const ObjectId& id, uint64_t* freed) {
  // Iterative to bound stack depth on long chains.
  std::vector<ObjectId> work{id};
  while (!work.empty()) {
    ObjectId cur = work.back();
    work.pop_back();
    DK_ASSIGN_OR_RETURN(ObjectHeader h, Header(txn, cur));
    DK_RETURN_IF_ERROR(txn.Del(dbs_.objects, Key(cur)));
    DK_RETURN_IF_ERROR(txn.Del(dbs_.refs, Key(cur)));
    if (auto it = cache_.find(cur); it != cache_.end()) {
      cache_bytes_ -= it->second.first.size();
      lru_.erase(it->second.second);
      cache_.erase(it);
    }
    ++*freed;
    for (const auto& b : h.bases) {
      Status s = txn.Del(dbs_.deps, Key(b) + Key(cur));
      if (!s.ok() && !s.IsNotFound()) return s;
      DK_ASSIGN_OR_RETURN(auto r, Refs(txn, b));
      uint64_t brefs = r.second ? r.second - 1 : 0;
      if (r.first == 0 && brefs == 0) {
        work.push_back(b);
      } else {
        DK_RETURN_IF_ERROR(SetRefs(txn, b, r.first, brefs));
      }
    }
  }
  return Status::Ok();
}

Status ObjectStore::ReleaseVersionRef(LmdbTxn& txn, const ObjectId& id, uint64_t* freed) {
  DK_ASSIGN_OR_RETURN(auto r, Refs(txn, id));
  if (r.first == 0)
    return Status::Corruption("object " + id.Hex() + ": released more often than referenced");
  if (r.first == 1 && r.second == 0) return Delete(txn, id, freed);
  return SetRefs(txn, id, r.first - 1, r.second);
}

Status ObjectStore::RebaseDependents(LmdbTxn& txn, const ObjectId& id, uint64_t* rebased,
                                     uint64_t* freed) {
  std::vector<ObjectId> deps;
  {
    DK_ASSIGN_OR_RETURN(LmdbCursor c, LmdbCursor::Open(txn, dbs_.deps));
    std::string prefix = Key(id);
    for (bool ok = c.Seek(prefix); ok && c.key().substr(0, 32) == prefix; ok = c.Next()) {
      ObjectId dep;
      std::memcpy(dep.bytes.data(), c.key().data() + 32, 32);
      deps.push_back(dep);
    }
  }
  for (const auto& dep : deps) {
    // Rebasing an earlier dependent may have freed this one (it was also that one's base
    // and nothing else kept it): its references are already released.
    if (!Exists(txn, dep)) continue;
    DK_ASSIGN_OR_RETURN(Bytes content, Read(txn, dep));
    DK_ASSIGN_OR_RETURN(ObjectHeader old, Header(txn, dep));
    DK_ASSIGN_OR_RETURN(auto dep_refs, Refs(txn, dep));
    uint64_t written;
    DK_RETURN_IF_ERROR(StoreWhole(txn, dep, content, &written));
    DK_RETURN_IF_ERROR(SetRefs(txn, dep, dep_refs.first, dep_refs.second));
    ++*rebased;
    for (const auto& b : old.bases) {
      // A base listed twice has one deps entry (as in Delete): the second delete finds none.
      Status ds = txn.Del(dbs_.deps, Key(b) + Key(dep));
      if (!ds.ok() && !ds.IsNotFound()) return ds;
      DK_ASSIGN_OR_RETURN(auto r, Refs(txn, b));
      uint64_t brefs = r.second ? r.second - 1 : 0;
      if (r.first == 0 && brefs == 0) {
        DK_RETURN_IF_ERROR(Delete(txn, b, freed));
      } else {
        DK_RETURN_IF_ERROR(SetRefs(txn, b, r.first, brefs));
      }
    }
  }
  return Status::Ok();
}

}  // namespace dk
