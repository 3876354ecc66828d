// Encodings of the store's records (private; layouts in libstate/FORMAT.md).
#pragma once

#include <string>
#include <string_view>

#include "libstate/result.h"
#include "libstate/store.h"

namespace dk {

// files DB value: the newest version of a path plus the stat cache used to skip unchanged
// files without reading them.
struct FileHead {
  uint64_t latest_seq = 0;
  uint64_t latest_set = 0;
  bool deleted = false;
  EntryType type = EntryType::kFile;
  uint64_t size = 0;
  uint32_t mode = 0, uid = 0, gid = 0;
  int64_t mtime_ns = 0, ctime_ns = 0;
  uint64_t ino = 0, dev = 0;
  ObjectId content_hash;
  ObjectId root;
};

std::string EncodeVersion(const VersionInfo& v);
Result<VersionInfo> DecodeVersion(std::string_view path, std::string_view value);
std::string EncodeHead(const FileHead& h);
Result<FileHead> DecodeHead(std::string_view path, std::string_view value);
std::string EncodeSet(const SetInfo& s);
Result<SetInfo> DecodeSet(uint64_t set, std::string_view value);

// versions DB key: path, NUL, big-endian seq (sorts by path, then seq).
std::string VersionKey(std::string_view path, uint64_t seq);
// Leaf of the set Merkle tree for one live entry.
ObjectId EntryLeaf(std::string_view path, const FileHead& h);
// The same leaf computed from a live version record.
ObjectId VersionLeaf(const VersionInfo& v);

}  // namespace dk
