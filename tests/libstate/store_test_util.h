// Shared helpers for the libstate tests: temporary directories, a portable seeded PRNG,
// directory-tree snapshots for byte-exact comparison, a fake clock, and direct access to a
// store's LMDB environment for corruption tests.
//
// Determinism: every random value comes from SplitMix64 (no std:: distributions, whose
// output differs between standard libraries). Tests print their seed with SCOPED_TRACE;
// DK_TEST_SEED=<n> in the environment replaces the default seed of every test.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libstate/bytes.h"
#include "libstate/hash.h"
#include "libstate/options.h"
#include "libstate/store.h"

namespace dk::testing {

// A fresh directory from mkdtemp(3) under $TMPDIR (or /tmp); removed with everything in it
// when destroyed (directories made unwritable by a test are made writable first; symlinks
// are removed, never followed).
class TempDir {
 public:
  explicit TempDir(std::string_view tag = "dk-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // path() + "/" + rel (not created).
  std::string Sub(std::string_view rel) const;

 private:
  std::string path_;
};

// Removes `path` recursively without following symlinks. OK when absent.
void RemoveTree(const std::string& path);

// splitmix64: tiny, fast, identical on every platform.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : x_(seed) {}
  uint64_t Next() {
    uint64_t z = (x_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) (n > 0; the tiny modulo bias is irrelevant for tests).
  uint64_t Below(uint64_t n) { return Next() % n; }
  // Uniform in [lo, hi].
  uint64_t Between(uint64_t lo, uint64_t hi) { return lo + Below(hi - lo + 1); }
  bool OneIn(uint64_t n) { return Below(n) == 0; }
  Bytes RandomBytes(size_t n);
  void Fill(uint8_t* p, size_t n);

 private:
  uint64_t x_;
};

// The seed for a test: DK_TEST_SEED from the environment if set, else `fallback`.
uint64_t TestSeed(uint64_t fallback);

// Text-like content (lines of words) of about `n` bytes: compresses and deltas like real files.
Bytes TextBytes(SplitMix64& rng, size_t n);

// Writes `content` to `path` (parents created, 0755) and sets `mode`; aborts the test on error.
void WriteFile(const std::string& path, ByteView content, uint32_t mode = 0644);
inline void WriteFile(const std::string& path, std::string_view content, uint32_t mode = 0644) {
  WriteFile(path, AsBytes(content), mode);
}
Bytes ReadFile(const std::string& path);
std::string ReadFileString(const std::string& path);
void MakeDirs(const std::string& path, uint32_t mode = 0755);
void MakeSymlink(const std::string& target, const std::string& path);
int64_t MtimeNs(const std::string& path);  // lstat
// Sets the mtime (and atime) of `path` without following a symlink.
void SetMtimeNs(const std::string& path, int64_t mtime_ns);

// One entry of a directory tree as seen by lstat: what a restore must reproduce.
struct TreeEntry {
  EntryType type = EntryType::kFile;
  uint32_t mode = 0;        // permission bits; not compared for symlinks
  std::string content;      // files
  std::string link_target;  // symlinks
  int64_t mtime_ns = 0;     // compared for files and symlinks when asked
};
using Tree = std::map<std::string, TreeEntry>;  // relative path -> entry

// Walks `root` without following symlinks. The root itself is not an entry.
Tree ReadTree(const std::string& root);
// "" when equal; otherwise one line per difference (path: what differs), for EXPECT_EQ.
// Content is never printed, only sizes and short hashes.
std::string DiffTrees(const Tree& expected, const Tree& actual, bool compare_mtime);
// The tree of everything under `prefix` (prefix itself included), or the whole tree.
Tree SubTree(const Tree& t, const std::vector<std::string>& prefixes);

// A settable clock for StoreOptions::clock. Must outlive every store that uses it.
class FakeClock {
 public:
  explicit FakeClock(int64_t start_ns = int64_t{1'700'000'000} * 1'000'000'000) : now_(start_ns) {}
  ClockFn Fn() {
    return [this] { return now_; };
  }
  int64_t now() const { return now_; }
  void Set(int64_t t) { now_ = t; }
  void Advance(int64_t d) { now_ += d; }

 private:
  int64_t now_;
};

constexpr int64_t kSecondNs = 1'000'000'000;
constexpr int64_t kHourNs = 3600 * kSecondNs;

// Options for fast tests: no fsync, a logger that drops everything.
StoreOptions FastOptions();
// Small chunker parameters so that files of a few KiB already have several chunks.
ChunkerParams SmallChunker();

// Opens (or creates) a store and fails the test on error.
std::unique_ptr<Store> OpenStoreOrDie(const std::string& dir, const StoreOptions& o,
                                      OpenMode mode = OpenMode::kCreate);
CaptureResult CaptureOrDie(Store& s, const std::string& root, const CaptureFilter& f = {});
RestoreResult RestoreOrDie(Store& s, const std::string& target, const RestoreRequest& r = {});
std::vector<VersionInfo> LogOrDie(Store& s, const std::string& path);
std::string ReadVersionOrDie(Store& s, const std::string& path, uint64_t seq);
// Verify() must succeed; returns its problems joined by newlines ("" when clean).
std::string VerifyProblems(Store& s);

std::string ToString(ByteView b);
std::string ToString(const Bytes& b);

// Direct access to a store's LMDB environment, for tests that damage stored bytes.
// LMDB allows one environment per file per process: the Store on `dir` must be closed
// (destroyed) while one of these is alive.
class RawStoreForTest {
 public:
  explicit RawStoreForTest(const std::string& dir);
  ~RawStoreForTest();
  RawStoreForTest(const RawStoreForTest&) = delete;
  RawStoreForTest& operator=(const RawStoreForTest&) = delete;

  // The value of `key` in named database `db`; nullopt when absent (or no such database).
  std::optional<std::string> Get(const char* db, std::string_view key);
  void Put(const char* db, std::string_view key, std::string_view value);
  void Del(const char* db, std::string_view key);
  std::vector<std::pair<std::string, std::string>> All(const char* db);
  bool HasDb(const char* db);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Rewrites the stored bytes of object `id` in the store at `dir` (store closed) with `edit`,
// which sees the inline encoding (header, payload; FORMAT.md). A packed object is written
// back inline with its edited encoding, so every damage reaches the same decoder; damage to
// pack files themselves goes through PackedObjectForTest.
void CorruptObjectForTest(const std::string& dir, const ObjectId& id,
                          const std::function<void(std::string*)>& edit);
// Where a packed object's payload is; nullopt when the object is stored inline.
struct PackedAt {
  std::string pack;  // path of the pack file
  uint64_t offset = 0, length = 0;
};
std::optional<PackedAt> PackedObjectForTest(const std::string& dir, const ObjectId& id);
// Copies a closed store (data file and packs) from `from` to the new directory `to`.
void CopyStoreForTest(const std::string& from, const std::string& to);
// The (version refs, base refs) counts recorded for object `id`; nullopt when absent.
std::optional<std::pair<uint64_t, uint64_t>> ObjectRefsForTest(const std::string& dir,
                                                               const ObjectId& id);

}  // namespace dk::testing
