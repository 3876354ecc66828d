#include "records.h"

#include "coding.h"

namespace dk {
namespace {
constexpr uint8_t kRecordFormat = 1;
}

std::string VersionKey(std::string_view path, uint64_t seq) {
  std::string k(path);
  k.push_back('\0');
  k += BE64(seq);
  return k;
}

std::string EncodeVersion(const VersionInfo& v) {
  Encoder e;
  e.PutU8(kRecordFormat);
  e.PutVarint(v.seq);
  e.PutVarint(v.set);
  e.PutSigned(v.time_ns);
  e.PutU8(static_cast<uint8_t>(v.type));
  e.PutU8(static_cast<uint8_t>(v.kind));
  e.PutVarint(v.size);
  e.PutVarint(v.mode);
  e.PutVarint(v.uid);
  e.PutVarint(v.gid);
  e.PutSigned(v.mtime_ns);
  e.PutId(v.content_hash);
  e.PutId(v.root);
  e.PutVarint(v.chunks.size());
  for (size_t i = 0; i < v.chunks.size(); ++i) {
    e.PutId(v.chunks[i]);
    e.PutVarint(v.chunk_sizes[i]);
  }
  e.PutString(v.link_target);
  e.PutVarint(v.new_stored_bytes);
  return e.Take();
}

Result<VersionInfo> DecodeVersion(std::string_view path, std::string_view value) {
  Decoder d(value);
  VersionInfo v;
  v.path = std::string(path);
  uint8_t fmt, type, kind;
  uint64_t n;
  bool ok = d.GetU8(&fmt) && fmt == kRecordFormat && d.GetVarint(&v.seq) && d.GetVarint(&v.set) &&
            d.GetSigned(&v.time_ns) && d.GetU8(&type) && type >= 1 && type <= 3 && d.GetU8(&kind) &&
            kind >= 1 && kind <= 4 && d.GetVarint(&v.size) && d.GetVarintAs(&v.mode) &&
            d.GetVarintAs(&v.uid) && d.GetVarintAs(&v.gid) && d.GetSigned(&v.mtime_ns) &&
            d.GetId(&v.content_hash) && d.GetId(&v.root) && d.GetVarint(&n) &&
            n <= value.size() / 33;
  if (ok) {
    v.chunks.resize(n);
    v.chunk_sizes.resize(n);
    for (size_t i = 0; ok && i < n; ++i)
      ok = d.GetId(&v.chunks[i]) && d.GetVarintAs(&v.chunk_sizes[i]);
    ok = ok && d.GetString(&v.link_target) && d.GetVarint(&v.new_stored_bytes) && d.done();
  }
  if (!ok) return Status::Corruption("version record of " + v.path + " is garbled");
  v.type = static_cast<EntryType>(type);
  v.kind = static_cast<VersionKind>(kind);
  return v;
}

std::string EncodeHead(const FileHead& h) {
  Encoder e;
  e.PutU8(kRecordFormat);
  e.PutVarint(h.latest_seq);
  e.PutVarint(h.latest_set);
  e.PutU8(h.deleted ? 1 : 0);
  e.PutU8(static_cast<uint8_t>(h.type));
  e.PutVarint(h.size);
  e.PutVarint(h.mode);
  e.PutVarint(h.uid);
  e.PutVarint(h.gid);
  e.PutSigned(h.mtime_ns);
  e.PutSigned(h.ctime_ns);
  e.PutVarint(h.ino);
  e.PutVarint(h.dev);
  e.PutId(h.content_hash);
  e.PutId(h.root);
  return e.Take();
}

Result<FileHead> DecodeHead(std::string_view path, std::string_view value) {
  Decoder d(value);
  FileHead h;
  uint8_t fmt, del, type;
  bool ok = d.GetU8(&fmt) && fmt == kRecordFormat && d.GetVarint(&h.latest_seq) &&
            d.GetVarint(&h.latest_set) && d.GetU8(&del) && d.GetU8(&type) && type >= 1 &&
            type <= 3 && d.GetVarint(&h.size) && d.GetVarintAs(&h.mode) && d.GetVarintAs(&h.uid) &&
            d.GetVarintAs(&h.gid) && d.GetSigned(&h.mtime_ns) && d.GetSigned(&h.ctime_ns) &&
            d.GetVarint(&h.ino) && d.GetVarint(&h.dev) && d.GetId(&h.content_hash) &&
            d.GetId(&h.root) && d.done();
  if (!ok) return Status::Corruption("file record of " + std::string(path) + " is garbled");
  h.deleted = del != 0;
  h.type = static_cast<EntryType>(type);
  return h;
}

std::string EncodeSet(const SetInfo& s) {
  Encoder e;
  e.PutU8(kRecordFormat);
  e.PutSigned(s.time_ns);
  e.PutId(s.root);
  e.PutVarint(s.changed);
  e.PutVarint(s.live_entries);
  e.PutVarint(s.logical_bytes);
  return e.Take();
}

Result<SetInfo> DecodeSet(uint64_t set, std::string_view value) {
  Decoder d(value);
  SetInfo s;
  s.set = set;
  uint8_t fmt;
  if (!(d.GetU8(&fmt) && fmt == kRecordFormat && d.GetSigned(&s.time_ns) && d.GetId(&s.root) &&
        d.GetVarint(&s.changed) && d.GetVarint(&s.live_entries) && d.GetVarint(&s.logical_bytes) &&
        d.done())) {
    return Status::Corruption("capture set record " + std::to_string(set) + " is garbled");
  }
  return s;
}

namespace {
ObjectId Leaf(std::string_view path, EntryType type, uint32_t mode, uint64_t size,
              const ObjectId& root) {
  Encoder e;
  e.PutString(path);
  e.PutU8(static_cast<uint8_t>(type));
  e.PutVarint(mode);
  e.PutVarint(size);
  e.PutId(root);
  return HashBytes(AsBytes(e.str()));
}
}  // namespace

ObjectId EntryLeaf(std::string_view path, const FileHead& h) {
  return Leaf(path, h.type, h.mode, h.size, h.root);
}

ObjectId VersionLeaf(const VersionInfo& v) { return Leaf(v.path, v.type, v.mode, v.size, v.root); }

}  // namespace dk
