#include "libstate/store_test_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <lmdb.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <stdexcept>

#include "libstate/logger.h"

namespace dk::testing {
namespace {

// Stops the current test: recorded as a failure, unwinds to GoogleTest (which reports it).
[[noreturn]] void Die(const std::string& what) {
  ADD_FAILURE() << what;
  throw std::runtime_error(what);
}

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

int64_t ToNs(const timespec& ts) {
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void WalkTree(const std::string& root, const std::string& rel, Tree* out) {
  std::string dir = rel.empty() ? root : root + "/" + rel;
  DIR* d = opendir(dir.c_str());
  if (!d) Die(Errno("opendir " + dir));
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  closedir(d);
  for (const auto& n : names) {
    std::string r = rel.empty() ? n : rel + "/" + n;
    std::string full = root + "/" + r;
    struct stat st;
    if (lstat(full.c_str(), &st) != 0) Die(Errno("lstat " + full));
    TreeEntry e;
    e.mode = st.st_mode & 07777;
    e.mtime_ns = ToNs(st.st_mtim);
    if (S_ISDIR(st.st_mode)) {
      e.type = EntryType::kDir;
      (*out)[r] = e;
      WalkTree(root, r, out);
    } else if (S_ISLNK(st.st_mode)) {
      e.type = EntryType::kSymlink;
      char buf[4096];
      ssize_t len = readlink(full.c_str(), buf, sizeof buf);
      if (len < 0) Die(Errno("readlink " + full));
      e.link_target.assign(buf, static_cast<size_t>(len));
      (*out)[r] = e;
    } else if (S_ISREG(st.st_mode)) {
      e.type = EntryType::kFile;
      e.content = ReadFileString(full);
      (*out)[r] = e;
    } else {
      Die("unexpected file type at " + full);
    }
  }
}

std::string Describe(const TreeEntry& e) {
  std::ostringstream os;
  os << EntryTypeName(e.type);
  if (e.type != EntryType::kSymlink) os << " mode " << std::oct << e.mode << std::dec;
  if (e.type == EntryType::kFile)
    os << " size " << e.content.size() << " sha " << HashBytes(AsBytes(e.content)).ShortHex();
  if (e.type == EntryType::kSymlink) os << " -> '" << e.link_target << "'";
  return os.str();
}

}  // namespace

TempDir::TempDir(std::string_view tag) {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl =
      std::string(base && *base ? base : "/tmp") + "/" + std::string(tag) + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) Die(Errno("mkdtemp " + tmpl));
  path_ = buf.data();
}

TempDir::~TempDir() { RemoveTree(path_); }

std::string TempDir::Sub(std::string_view rel) const { return path_ + "/" + std::string(rel); }

void RemoveTree(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return;
  if (!S_ISDIR(st.st_mode)) {
    unlink(path.c_str());
    return;
  }
  chmod(path.c_str(), 0700);
  if (DIR* d = opendir(path.c_str())) {
    std::vector<std::string> names;
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    closedir(d);
    for (const auto& n : names) RemoveTree(path + "/" + n);
  }
  rmdir(path.c_str());
}

void SplitMix64::Fill(uint8_t* p, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v = Next();
    for (int k = 0; k < 8; ++k) p[i + static_cast<size_t>(k)] = static_cast<uint8_t>(v >> (8 * k));
  }
  if (i < n) {
    uint64_t v = Next();
    for (; i < n; ++i, v >>= 8) p[i] = static_cast<uint8_t>(v);
  }
}

Bytes SplitMix64::RandomBytes(size_t n) {
  Bytes b(n);
  Fill(b.data(), n);
  return b;
}

uint64_t TestSeed(uint64_t fallback) {
  const char* s = std::getenv("DK_TEST_SEED");
  if (s && *s) return std::strtoull(s, nullptr, 0);
  return fallback;
}

Bytes TextBytes(SplitMix64& rng, size_t n) {
  static const char* const kWords[] = {"state",  "keeper", "volume", "chunk", "delta",
                                       "merkle", "pod",    "node",   "store", "version",
                                       "lmdb",   "agent",  "set",    "root",  "zstd"};
  std::string s;
  s.reserve(n + 16);
  while (s.size() < n) {
    s += kWords[rng.Below(std::size(kWords))];
    s += rng.OneIn(8) ? '\n' : ' ';
    if (rng.OneIn(16)) s += std::to_string(rng.Below(100000));
  }
  s.resize(n);
  return Bytes(s.begin(), s.end());
}

void MakeDirs(const std::string& path, uint32_t mode) {
  if (path.empty()) return;
  struct stat st;
  if (lstat(path.c_str(), &st) == 0) return;
  size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) MakeDirs(path.substr(0, slash), 0755);
  if (mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) Die(Errno("mkdir " + path));
  if (chmod(path.c_str(), mode) != 0) Die(Errno("chmod " + path));
}

void WriteFile(const std::string& path, ByteView content, uint32_t mode) {
  size_t slash = path.rfind('/');
  if (slash != std::string::npos) MakeDirs(path.substr(0, slash));
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) Die(Errno("open " + path));
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = write(fd, content.data() + off, content.size() - off);
    if (n < 0) {
      close(fd);
      Die(Errno("write " + path));
    }
    off += static_cast<size_t>(n);
  }
  if (fchmod(fd, mode) != 0) Die(Errno("chmod " + path));
  close(fd);
}

Bytes ReadFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) Die(Errno("open " + path));
  Bytes out;
  uint8_t buf[1 << 16];
  while (true) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      close(fd);
      Die(Errno("read " + path));
    }
    if (n == 0) break;
    out.insert(out.end(), buf, buf + n);
  }
  close(fd);
  return out;
}

std::string ReadFileString(const std::string& path) { return ToString(ReadFile(path)); }

void MakeSymlink(const std::string& target, const std::string& path) {
  if (symlink(target.c_str(), path.c_str()) != 0) Die(Errno("symlink " + path));
}

int64_t MtimeNs(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) Die(Errno("lstat " + path));
  return ToNs(st.st_mtim);
}

void SetMtimeNs(const std::string& path, int64_t mtime_ns) {
  timespec ts[2];
  ts[0].tv_sec = mtime_ns / 1'000'000'000;
  ts[0].tv_nsec = mtime_ns % 1'000'000'000;
  ts[1] = ts[0];
  if (utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0)
    Die(Errno("utimensat " + path));
}

Tree ReadTree(const std::string& root) {
  Tree t;
  WalkTree(root, "", &t);
  return t;
}

std::string DiffTrees(const Tree& expected, const Tree& actual, bool compare_mtime) {
  std::ostringstream os;
  for (const auto& [p, e] : expected) {
    auto it = actual.find(p);
    if (it == actual.end()) {
      os << p << ": missing (expected " << Describe(e) << ")\n";
      continue;
    }
    const TreeEntry& a = it->second;
    bool same = a.type == e.type && a.content == e.content && a.link_target == e.link_target &&
                (e.type == EntryType::kSymlink || a.mode == e.mode);
    if (!same) {
      os << p << ": expected " << Describe(e) << ", got " << Describe(a) << "\n";
    } else if (compare_mtime && e.type != EntryType::kDir && a.mtime_ns != e.mtime_ns) {
      os << p << ": mtime " << a.mtime_ns << ", expected " << e.mtime_ns << "\n";
    }
  }
  for (const auto& [p, a] : actual) {
    if (!expected.count(p)) os << p << ": unexpected " << Describe(a) << "\n";
  }
  return os.str();
}

Tree SubTree(const Tree& t, const std::vector<std::string>& prefixes) {
  if (prefixes.empty()) return t;
  Tree out;
  for (const auto& [p, e] : t) {
    for (const auto& q : prefixes) {
      if (p == q || (p.size() > q.size() && p.compare(0, q.size(), q) == 0 && p[q.size()] == '/')) {
        out[p] = e;
        break;
      }
    }
  }
  return out;
}

StoreOptions FastOptions() {
  StoreOptions o;
  o.sync = false;
  o.logger = NullLogger();
  return o;
}

ChunkerParams SmallChunker() {
  ChunkerParams p;
  p.min_size = 256;
  p.avg_size = 1024;
  p.max_size = 4096;
  return p;
}

std::unique_ptr<Store> OpenStoreOrDie(const std::string& dir, const StoreOptions& o,
                                      OpenMode mode) {
  auto s = Store::Open(dir, o, mode);
  if (!s.ok()) Die("Store::Open(" + dir + "): " + s.status().ToString());
  return std::move(s).value();
}

CaptureResult CaptureOrDie(Store& s, const std::string& root, const CaptureFilter& f) {
  auto r = s.Capture(root, f);
  if (!r.ok()) Die("Capture(" + root + "): " + r.status().ToString());
  if (!r->deferred.empty()) Die("Capture(" + root + ") deferred " + r->deferred.front());
  if (!r->skipped.empty()) Die("Capture(" + root + ") skipped " + r->skipped.front());
  return std::move(r).value();
}

RestoreResult RestoreOrDie(Store& s, const std::string& target, const RestoreRequest& req) {
  auto r = s.Restore(target, req);
  if (!r.ok()) Die("Restore(" + target + "): " + r.status().ToString());
  if (!r->failures.empty()) {
    Die("Restore(" + target + ") failed for " + r->failures.front().path + ": " +
        r->failures.front().error);
  }
  return std::move(r).value();
}

std::vector<VersionInfo> LogOrDie(Store& s, const std::string& path) {
  auto r = s.Log(path);
  if (!r.ok()) Die("Log(" + path + "): " + r.status().ToString());
  return std::move(r).value();
}

std::string ReadVersionOrDie(Store& s, const std::string& path, uint64_t seq) {
  auto r = s.ReadVersion(path, seq);
  if (!r.ok())
    Die("ReadVersion(" + path + ", " + std::to_string(seq) + "): " + r.status().ToString());
  return ToString(*r);
}

std::string VerifyProblems(Store& s) {
  auto r = s.Verify();
  if (!r.ok()) Die("Verify: " + r.status().ToString());
  std::string out;
  for (const auto& p : r->problems) out += p + "\n";
  return out;
}

std::string ToString(ByteView b) { return std::string(AsChars(b)); }
std::string ToString(const Bytes& b) { return std::string(b.begin(), b.end()); }

struct RawStoreForTest::Impl {
  MDB_env* env = nullptr;
  std::string dir;

  MDB_dbi Dbi(MDB_txn* txn, const char* db, bool* found) {
    MDB_dbi dbi = 0;
    int rc = mdb_dbi_open(txn, db, 0, &dbi);
    *found = rc == 0;
    if (rc != 0 && rc != MDB_NOTFOUND)
      Die(std::string("mdb_dbi_open ") + db + ": " + mdb_strerror(rc));
    return dbi;
  }
  MDB_txn* Begin(bool write) {
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env, nullptr, write ? 0 : MDB_RDONLY, &txn);
    if (rc) Die(std::string("mdb_txn_begin: ") + mdb_strerror(rc));
    return txn;
  }
  void Commit(MDB_txn* txn) {
    int rc = mdb_txn_commit(txn);
    if (rc) Die(std::string("mdb_txn_commit: ") + mdb_strerror(rc));
  }
};

namespace {
MDB_val Val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
}  // namespace

RawStoreForTest::RawStoreForTest(const std::string& dir) : impl_(std::make_unique<Impl>()) {
  impl_->dir = dir;
  int rc = mdb_env_create(&impl_->env);
  if (rc) Die(std::string("mdb_env_create: ") + mdb_strerror(rc));
  mdb_env_set_maxdbs(impl_->env, 16);
  // Room for the copy-on-write pages of a few edits beyond the current data file.
  struct stat st;
  size_t used = stat((dir + "/data.mdb").c_str(), &st) == 0 ? static_cast<size_t>(st.st_size) : 0;
  mdb_env_set_mapsize(impl_->env, used + (size_t{64} << 20));
  rc = mdb_env_open(impl_->env, dir.c_str(), MDB_NOSYNC, 0640);
  if (rc) {
    mdb_env_close(impl_->env);
    impl_->env = nullptr;
    Die("mdb_env_open " + dir + ": " + mdb_strerror(rc));
  }
}

RawStoreForTest::~RawStoreForTest() {
  if (impl_->env) {
    mdb_env_sync(impl_->env, 1);
    mdb_env_close(impl_->env);
  }
}

bool RawStoreForTest::HasDb(const char* db) {
  MDB_txn* txn = impl_->Begin(false);
  bool found;
  impl_->Dbi(txn, db, &found);
  mdb_txn_abort(txn);
  return found;
}

std::optional<std::string> RawStoreForTest::Get(const char* db, std::string_view key) {
  MDB_txn* txn = impl_->Begin(false);
  bool found;
  MDB_dbi dbi = impl_->Dbi(txn, db, &found);
  std::optional<std::string> out;
  if (found) {
    MDB_val k = Val(key), v;
    if (mdb_get(txn, dbi, &k, &v) == 0) out.emplace(static_cast<const char*>(v.mv_data), v.mv_size);
  }
  mdb_txn_abort(txn);
  return out;
}

void RawStoreForTest::Put(const char* db, std::string_view key, std::string_view value) {
  MDB_txn* txn = impl_->Begin(true);
  bool found;
  MDB_dbi dbi = impl_->Dbi(txn, db, &found);
  if (!found) {
    mdb_txn_abort(txn);
    Die(std::string("no database ") + db);
  }
  MDB_val k = Val(key), v = Val(value);
  int rc = mdb_put(txn, dbi, &k, &v, 0);
  if (rc) {
    mdb_txn_abort(txn);
    Die(std::string("mdb_put: ") + mdb_strerror(rc));
  }
  impl_->Commit(txn);
}

void RawStoreForTest::Del(const char* db, std::string_view key) {
  MDB_txn* txn = impl_->Begin(true);
  bool found;
  MDB_dbi dbi = impl_->Dbi(txn, db, &found);
  if (found) {
    MDB_val k = Val(key);
    mdb_del(txn, dbi, &k, nullptr);
  }
  impl_->Commit(txn);
}

std::vector<std::pair<std::string, std::string>> RawStoreForTest::All(const char* db) {
  std::vector<std::pair<std::string, std::string>> out;
  MDB_txn* txn = impl_->Begin(false);
  bool found;
  MDB_dbi dbi = impl_->Dbi(txn, db, &found);
  if (found) {
    MDB_cursor* c = nullptr;
    if (mdb_cursor_open(txn, dbi, &c) == 0) {
      MDB_val k, v;
      for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
           rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        out.emplace_back(std::string(static_cast<const char*>(k.mv_data), k.mv_size),
                         std::string(static_cast<const char*>(v.mv_data), v.mv_size));
      }
      mdb_cursor_close(c);
    }
  }
  mdb_txn_abort(txn);
  return out;
}

namespace {
// A packed objects record (format 2): the header, then varint pack, offset, length.
struct PackedRecord {
  size_t header_size = 0;
  PackedAt at;
};
std::optional<PackedRecord> ParsePacked(const std::string& dir, const std::string& v) {
  if (v.empty() || v[0] != 2) return std::nullopt;
  size_t i = 3;  // format, codec, engine
  auto varint = [&](uint64_t* out) {
    *out = 0;
    for (int shift = 0; i < v.size() && shift < 64; shift += 7) {
      uint8_t b = static_cast<uint8_t>(v[i++]);
      *out |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  };
  uint64_t depth, raw_size, nbases, pack;
  PackedRecord r;
  if (!varint(&depth) || !varint(&raw_size) || !varint(&nbases)) return std::nullopt;
  i += 32 * nbases;
  r.header_size = i;
  if (i > v.size() || !varint(&pack) || !varint(&r.at.offset) || !varint(&r.at.length))
    return std::nullopt;
  char name[32];
  std::snprintf(name, sizeof name, "/packs/%08u.pack", static_cast<unsigned>(pack));
  r.at.pack = dir + name;
  return r;
}
}  // namespace

std::optional<PackedAt> PackedObjectForTest(const std::string& dir, const ObjectId& id) {
  RawStoreForTest raw(dir);
  auto v = raw.Get("objects", std::string(AsChars(id.View())));
  if (!v) Die("object " + id.Hex() + " is not in the store at " + dir);
  auto r = ParsePacked(dir, *v);
  if (!r) return std::nullopt;
  return r->at;
}

void CorruptObjectForTest(const std::string& dir, const ObjectId& id,
                          const std::function<void(std::string*)>& edit) {
  RawStoreForTest raw(dir);
  std::string key(AsChars(id.View()));
  auto v = raw.Get("objects", key);
  if (!v) Die("object " + id.Hex() + " is not in the store at " + dir);
  std::string value = *v;
  if (auto packed = ParsePacked(dir, value)) {
    std::string pack = ReadFileString(packed->at.pack);
    if (packed->at.offset + packed->at.length > pack.size())
      Die("object " + id.Hex() + ": payload beyond the end of " + packed->at.pack);
    value =
        value.substr(0, packed->header_size) + pack.substr(packed->at.offset, packed->at.length);
    value[0] = 1;  // inline
  }
  edit(&value);
  raw.Put("objects", key, value);
}

void CopyStoreForTest(const std::string& from, const std::string& to) {
  MakeDirs(to);
  WriteFile(to + "/data.mdb", ReadFile(from + "/data.mdb"));
  DIR* d = opendir((from + "/packs").c_str());
  if (!d) return;  // no packs yet
  MakeDirs(to + "/packs");
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") WriteFile(to + "/packs/" + n, ReadFile(from + "/packs/" + n));
  }
  closedir(d);
}

std::optional<std::pair<uint64_t, uint64_t>> ObjectRefsForTest(const std::string& dir,
                                                               const ObjectId& id) {
  RawStoreForTest raw(dir);
  auto v = raw.Get("refs", AsChars(id.View()));
  if (!v) return std::nullopt;
  // Two LEB128 varints.
  std::pair<uint64_t, uint64_t> r{0, 0};
  size_t i = 0;
  for (uint64_t* out : {&r.first, &r.second}) {
    uint64_t x = 0;
    for (int shift = 0; i < v->size(); shift += 7) {
      uint8_t b = static_cast<uint8_t>((*v)[i++]);
      x |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) break;
    }
    *out = x;
  }
  return r;
}

}  // namespace dk::testing
