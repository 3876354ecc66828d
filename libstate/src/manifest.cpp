#include "libstate/manifest.h"

#include <set>

#include "coding.h"
#include "libstate/merkle.h"
#include "records.h"

namespace dk {
namespace {
constexpr std::string_view kMagic = "DKM1";
}

std::vector<ObjectId> SetManifest::Chunks() const {
  std::vector<ObjectId> out;
  std::set<ObjectId> seen;
  for (const auto& e : entries)
    for (const auto& c : e.chunks)
      if (seen.insert(c).second) out.push_back(c);
  return out;
}

uint64_t SetManifest::LogicalBytes() const {
  uint64_t n = 0;
  for (const auto& e : entries)
    if (e.type == EntryType::kFile) n += e.size;
  return n;
}

ObjectId ManifestRoot(const std::vector<VersionInfo>& entries) {
  std::vector<ObjectId> leaves;
  leaves.reserve(entries.size());
  for (const auto& e : entries) leaves.push_back(VersionLeaf(e));
  return MerkleRoot(leaves);
}

std::string EncodeManifest(const SetManifest& m) {
  Encoder e;
  e.PutRaw(kMagic);
  e.PutVarint(m.set);
  e.PutSigned(m.time_ns);
  e.PutId(m.root);
  e.PutVarint(m.entries.size());
  for (const auto& v : m.entries) {
    e.PutString(v.path);
    e.PutString(EncodeVersion(v));
  }
  e.PutVarint(m.absent.size());
  for (const auto& a : m.absent) e.PutString(a);
  return e.Take();
}

Result<SetManifest> DecodeManifest(std::string_view data) {
  if (data.substr(0, kMagic.size()) != kMagic)
    return Status::Corruption("manifest: bad magic (not a DiffKeeper manifest)");
  Decoder d(data.substr(kMagic.size()));
  SetManifest m;
  uint64_t n;
  if (!d.GetVarint(&m.set) || !d.GetSigned(&m.time_ns) || !d.GetId(&m.root) || !d.GetVarint(&n) ||
      n > data.size()) {
    return Status::Corruption("manifest: truncated header");
  }
  std::string prev;
  for (uint64_t i = 0; i < n; ++i) {
    std::string path, rec;
    if (!d.GetString(&path) || !d.GetString(&rec))
      return Status::Corruption("manifest of set " + std::to_string(m.set) + ": truncated entry");
    if (i > 0 && path <= prev)
      return Status::Corruption("manifest of set " + std::to_string(m.set) +
                                ": entries not sorted");
    DK_ASSIGN_OR_RETURN(VersionInfo v, DecodeVersion(path, rec));
    prev = path;
    m.entries.push_back(std::move(v));
  }
  if (!d.GetVarint(&n) || n > data.size())
    return Status::Corruption("manifest: truncated absent list");
  for (uint64_t i = 0; i < n; ++i) {
    std::string a;
    if (!d.GetString(&a)) return Status::Corruption("manifest: truncated absent list");
    m.absent.push_back(std::move(a));
  }
  if (!d.done()) return Status::Corruption("manifest: trailing bytes");
  if (ManifestRoot(m.entries) != m.root)
    return Status::Corruption("manifest of set " + std::to_string(m.set) +
                              ": entries do not match its Merkle root " + m.root.ShortHex());
  return m;
}

}  // namespace dk
