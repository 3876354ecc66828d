// Randomized property test of the whole store: random edit sequences on a small tree
// (insert, delete, overwrite, append, truncate, create, delete, rename, chmod, mkdir, rmdir,
// symlinks, type changes), a capture after each step, then:
//  - every version of every path reads back (ReadVersion) exactly as it was at its set,
//    with its type, mode and mtime, and a version exists exactly where the state changed;
//  - every set restores (into a fresh directory, and over a target holding another set, in
//    random order, and by point in time) to exactly the recorded tree: contents, modes,
//    mtimes, deleted files absent, empty directories present, symlinks as symlinks;
//  - the store verifies clean, survives a reopen, and after retention still restores every
//    remaining set and version exactly.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>

#include "libstate/store.h"
#include "libstate/store_test_util.h"

namespace dk {
namespace {

using namespace dk::testing;  // NOLINT: test helpers

struct Config {
  const char* name;
  ChunkerParams chunker;
  uint32_t snapshot_every;
  uint32_t max_chain;
  DeltaChoice delta;
  size_t big_file;  // largest file created (the delta engines are slow in debug builds)
};

const Config kConfigs[] = {
    {"Default", ChunkerParams{}, 10, 16, DeltaChoice::kAuto, 320 << 10},
    {"SmallChunksShortChains", SmallChunker(), 4, 3, DeltaChoice::kAuto, 48 << 10},
    {"SmallChunksZstdOnly", SmallChunker(), 0, 8, DeltaChoice::kZstd, 160 << 10},
};

const char* const kFilePaths[] = {"f0",       "f1",       "f2",    "d1/f3", "d1/f4",
                                  "d1/d2/f5", "d1/d2/f6", "d3/f7", "x"};
const char* const kDirPaths[] = {"d1", "d1/d2", "d3", "e1", "e1/e2", "x"};
const char* const kLinkPaths[] = {"l0", "d1/l1", "d3/l2", "x"};
const char* const kLinkTargets[] = {"f0",      "../f1", "d1/d2", "/etc/passwd", "../../../outside",
                                    "missing", "x"};
const uint32_t kFileModes[] = {0600, 0644, 0640, 0755, 0700, 0444};
const uint32_t kDirModes[] = {0755, 0700, 0750, 0711};

class Mutator {
 public:
  Mutator(std::string root, SplitMix64& rng, size_t big_file)
      : root_(std::move(root)), rng_(rng), big_file_(big_file) {}

  // One random edit; returns a short description for failure messages.
  std::string Step() {
    Tree t = ReadTree(root_);
    std::vector<std::string> files, dirs, links;
    for (const auto& [p, e] : t) {
      if (e.type == EntryType::kFile) files.push_back(p);
      if (e.type == EntryType::kDir) dirs.push_back(p);
      if (e.type == EntryType::kSymlink) links.push_back(p);
    }
    const uint64_t op = rng_.Below(100);
    if (files.empty() || op < 14) return Create(Pick(kFilePaths));
    const std::string f = files[rng_.Below(files.size())];
    const std::string full = root_ + "/" + f;
    Bytes b = ReadFile(full);
    const uint32_t mode = t[f].mode;
    if (op < 28) {  // insert
      Bytes ins = Content(1 + rng_.Below(rng_.OneIn(4) ? 5000 : 40));
      b.insert(b.begin() + static_cast<ptrdiff_t>(rng_.Below(b.size() + 1)), ins.begin(),
               ins.end());
      Rewrite(full, b, mode);
      return "insert into " + f;
    }
    if (op < 38 && !b.empty()) {  // delete a range
      size_t at = rng_.Below(b.size());
      size_t n = 1 + rng_.Below(std::min<size_t>(b.size() - at, 3000));
      b.erase(b.begin() + static_cast<ptrdiff_t>(at), b.begin() + static_cast<ptrdiff_t>(at + n));
      Rewrite(full, b, mode);
      return "delete range of " + f;
    }
    if (op < 50 && !b.empty()) {  // overwrite in place (same size)
      size_t at = rng_.Below(b.size());
      size_t n = 1 + rng_.Below(std::min<size_t>(b.size() - at, 100));
      for (size_t i = 0; i < n; ++i) b[at + i] = static_cast<uint8_t>(rng_.Next());
      Rewrite(full, b, mode);
      return "overwrite in " + f;
    }
    if (op < 58) {  // append
      Bytes more = Content(1 + rng_.Below(8000));
      b.insert(b.end(), more.begin(), more.end());
      Rewrite(full, b, mode);
      return "append to " + f;
    }
    if (op < 63) {  // truncate
      b.resize(rng_.Below(b.size() + 1));
      Rewrite(full, b, mode);
      return "truncate " + f;
    }
    if (op < 68) {
      RemoveTree(full);
      return "delete " + f;
    }
    if (op < 74) {  // rename (over whatever is at the destination)
      std::string to = Pick(kFilePaths);
      if (to == f || to.rfind(f + "/", 0) == 0) return "no-op rename";
      Clear(to);
      MakeParents(to);
      if (rename(full.c_str(), (root_ + "/" + to).c_str()) != 0) return "failed rename";
      return "rename " + f + " to " + to;
    }
    if (op < 80) {
      uint32_t m = kFileModes[rng_.Below(std::size(kFileModes))];
      chmod(full.c_str(), m);
      return "chmod " + f;
    }
    if (op < 85) {  // make an (empty) directory
      std::string d = Pick(kDirPaths);
      Clear(d, /*keep_dirs=*/true);
      MakeDirs(root_ + "/" + d, kDirModes[rng_.Below(std::size(kDirModes))]);
      return "mkdir " + d;
    }
    if (op < 88 && !dirs.empty()) {  // remove a directory tree
      std::string d = dirs[rng_.Below(dirs.size())];
      RemoveTree(root_ + "/" + d);
      return "rmdir " + d;
    }
    if (op < 91 && !dirs.empty()) {
      std::string d = dirs[rng_.Below(dirs.size())];
      chmod((root_ + "/" + d).c_str(), kDirModes[rng_.Below(std::size(kDirModes))]);
      return "chmod dir " + d;
    }
    if (op < 97) {  // create or retarget a symlink (possibly replacing a file or directory)
      std::string l = Pick(kLinkPaths);
      Clear(l);
      MakeParents(l);
      MakeSymlink(Pick(kLinkTargets), root_ + "/" + l);
      return "symlink " + l;
    }
    if (!links.empty()) {
      std::string l = links[rng_.Below(links.size())];
      RemoveTree(root_ + "/" + l);
      return "unlink " + l;
    }
    return "nothing";
  }

 private:
  std::string Pick(const char* const* list, size_t n) { return list[rng_.Below(n)]; }
  template <size_t N>
  std::string Pick(const char* const (&list)[N]) {
    return Pick(list, N);
  }
  Bytes Content(size_t n) { return rng_.OneIn(2) ? rng_.RandomBytes(n) : TextBytes(rng_, n); }
  // Removes whatever is at `rel` (or, with keep_dirs, anything there that is not a directory).
  void Clear(const std::string& rel, bool keep_dirs = false) {
    struct stat st;
    std::string full = root_ + "/" + rel;
    if (lstat(full.c_str(), &st) != 0) return;
    if (keep_dirs && S_ISDIR(st.st_mode)) return;
    RemoveTree(full);
  }
  // Makes the parents of `rel` directories, replacing non-directories on the way.
  void MakeParents(const std::string& rel) {
    for (size_t slash = rel.find('/'); slash != std::string::npos; slash = rel.find('/', slash + 1))
      Clear(rel.substr(0, slash), /*keep_dirs=*/true);
    size_t slash = rel.rfind('/');
    if (slash != std::string::npos) MakeDirs(root_ + "/" + rel.substr(0, slash));
  }
  std::string Create(const std::string& rel) {
    Clear(rel);
    MakeParents(rel);
    size_t n;
    switch (rng_.Below(10)) {
      case 0:
        n = 0;
        break;
      case 1:
        n = big_file_ / 4 + rng_.Below(big_file_ * 3 / 4);
        break;  // several default chunks
      case 2:
      case 3:
        n = 2000 + rng_.Below(60000);
        break;
      default:
        n = 1 + rng_.Below(3000);
        break;
    }
    WriteFile(root_ + "/" + rel, Content(n), kFileModes[rng_.Below(std::size(kFileModes))]);
    return "create " + rel;
  }
  // In place (same inode), like an application writing its file.
  void Rewrite(const std::string& full, const Bytes& b, uint32_t mode) { WriteFile(full, b, mode); }

  std::string root_;
  SplitMix64& rng_;
  size_t big_file_;
};

bool SameState(const TreeEntry& a, const TreeEntry& b) {
  return a.type == b.type && a.content == b.content && a.link_target == b.link_target &&
         (a.type == EntryType::kSymlink || a.mode == b.mode);
}

class StorePropertyTest : public ::testing::TestWithParam<std::tuple<int, int>> {};

TEST_P(StorePropertyTest, RandomEditsThenEveryVersionAndEverySetComesBackExactly) {
  const Config& cfg = kConfigs[std::get<0>(GetParam())];
  const uint64_t seed = TestSeed(1000 + 17 * static_cast<uint64_t>(std::get<1>(GetParam())) +
                                 static_cast<uint64_t>(std::get<0>(GetParam())));
  SCOPED_TRACE("seed=" + std::to_string(seed) + " config=" + cfg.name);
  SplitMix64 rng(seed);
  TempDir tmp;
  const std::string src = tmp.Sub("src"), store_dir = tmp.Sub("store");
  MakeDirs(src);
  FakeClock clock;
  StoreOptions o = FastOptions();
  o.clock = clock.Fn();
  o.chunker = cfg.chunker;
  o.snapshot_every = cfg.snapshot_every;
  o.max_chain = cfg.max_chain;
  o.delta = cfg.delta;
  auto store = OpenStoreOrDie(store_dir, o);
  Mutator mut(src, rng, cfg.big_file);

  std::map<uint64_t, Tree> want;      // set -> the state it recorded
  std::map<uint64_t, int64_t> times;  // set -> capture time
  std::map<uint64_t, std::string> what;
  Tree current;  // expected state of the latest set (mtimes as recorded)
  const int kSteps = 40;
  for (int step = 0; step < kSteps; ++step) {
    std::string did;
    for (uint64_t k = 0, n = 1 + rng.Below(3); k < n; ++k) did += mut.Step() + "; ";
    clock.Advance(kSecondNs * static_cast<int64_t>(1 + rng.Below(100)));
    CaptureResult c = CaptureOrDie(*store, src);
    Tree seen = ReadTree(src);
    // What the store records: an entry whose state did not change keeps its recorded mtime.
    for (auto& [p, e] : seen) {
      auto it = current.find(p);
      if (it != current.end() && SameState(it->second, e)) e.mtime_ns = it->second.mtime_ns;
    }
    bool changed = seen.size() != current.size();
    for (const auto& [p, e] : seen) {
      auto it = current.find(p);
      changed = changed || it == current.end() || !SameState(it->second, e);
    }
    ASSERT_EQ(c.set != 0, changed) << "step " << step << ": " << did;
    current = std::move(seen);
    if (c.set) {
      want[c.set] = current;
      times[c.set] = clock.now();
      what[c.set] = did;
    }
    if (step == kSteps / 2) {  // persistence: everything survives a reopen
      store.reset();
      store = OpenStoreOrDie(store_dir, o, OpenMode::kReadWrite);
    }
  }
  ASSERT_GE(want.size(), 10u);

  // Every version of every path, and a version exactly where the recorded state changed.
  auto check_versions = [&](const std::set<uint64_t>& live_sets) {
    std::set<std::string> paths;
    for (const auto& [s, t] : want)
      for (const auto& [p, e] : t) paths.insert(p);
    for (const auto& p : paths) {
      SCOPED_TRACE("path " + p);
      auto log = store->Log(p);
      ASSERT_TRUE(log.ok()) << log.status();
      std::map<uint64_t, const VersionInfo*> by_set;
      uint64_t prev_seq = 0;
      for (const auto& v : *log) {
        EXPECT_GT(v.seq, prev_seq);
        prev_seq = v.seq;
        EXPECT_TRUE(by_set.emplace(v.set, &v).second) << "two versions in set " << v.set;
        SCOPED_TRACE("version " + std::to_string(v.seq) + " set " + std::to_string(v.set) +
                     " after: " + what[v.set]);
        EXPECT_EQ(v.time_ns, times[v.set]);
        const Tree& t = want[v.set];
        auto it = t.find(p);
        if (v.kind == VersionKind::kDeleted) {
          EXPECT_EQ(it, t.end()) << "deletion recorded for a live path";
          EXPECT_EQ(store->ReadVersion(p, v.seq).status().code(), StatusCode::kNotFound);
          continue;
        }
        ASSERT_NE(it, t.end()) << "a version for a path absent at its set";
        const TreeEntry& e = it->second;
        EXPECT_EQ(EntryTypeName(v.type), EntryTypeName(e.type));
        if (e.type != EntryType::kSymlink) {
          EXPECT_EQ(v.mode, e.mode);
        }
        if (e.type == EntryType::kFile) {
          EXPECT_TRUE(ReadVersionOrDie(*store, p, v.seq) == e.content) << "content differs";
          EXPECT_EQ(v.size, e.content.size());
          EXPECT_EQ(v.mtime_ns, e.mtime_ns);
        } else if (e.type == EntryType::kSymlink) {
          EXPECT_EQ(v.link_target, e.link_target);
          EXPECT_EQ(ReadVersionOrDie(*store, p, v.seq), e.link_target);
        }
      }
      // Changes in the recorded state <=> versions (over sets whose predecessor is known).
      const TreeEntry* before = nullptr;
      bool known = false;
      for (const auto& [s, t] : want) {
        auto it = t.find(p);
        const TreeEntry* now = it == t.end() ? nullptr : &it->second;
        bool differs =
            (before == nullptr) != (now == nullptr) || (before && now && !SameState(*before, *now));
        if (known && live_sets.count(s)) {
          EXPECT_EQ(by_set.count(s) != 0, differs) << "set " << s << " after: " << what[s];
        }
        before = now;
        known = live_sets.count(s) != 0;
      }
    }
  };
  std::set<uint64_t> all_sets;
  for (const auto& [s, t] : want) all_sets.insert(s);
  check_versions(all_sets);
  if (::testing::Test::HasFatalFailure()) return;

  // Every set into a fresh directory, by number and by time.
  int n = 0;
  for (const auto& [s, t] : want) {
    SCOPED_TRACE("set " + std::to_string(s) + " after: " + what[s]);
    RestoreRequest r;
    if (n % 2) {
      r.time_ns = times[s] + kSecondNs / 2;  // between this capture and the next
    } else {
      r.set = s;
    }
    std::string dir = tmp.Sub("fresh" + std::to_string(++n));
    RestoreResult res = RestoreOrDie(*store, dir, r);
    EXPECT_EQ(res.set, s);
    EXPECT_EQ(DiffTrees(t, ReadTree(dir), true), "");
    RemoveTree(dir);
  }
  // Every set over one target that holds some other set, in random order.
  std::vector<uint64_t> order(all_sets.begin(), all_sets.end());
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.Below(i)]);
  const std::string over = tmp.Sub("over");
  for (uint64_t s : order) {
    SCOPED_TRACE("over-restore of set " + std::to_string(s) + " after: " + what[s]);
    RestoreRequest r;
    r.set = s;
    RestoreOrDie(*store, over, r);
    EXPECT_EQ(DiffTrees(want[s], ReadTree(over), true), "");
  }
  EXPECT_EQ(VerifyProblems(*store), "");

  // Retention keeps what it promises, exactly.
  RetentionPolicy keep;
  keep.keep_last = static_cast<uint32_t>(1 + rng.Below(4));
  auto g = store->Gc(keep);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(VerifyProblems(*store), "");
  auto sets = store->Sets();
  ASSERT_TRUE(sets.ok());
  std::set<uint64_t> live;
  for (const auto& si : *sets) live.insert(si.set);
  ASSERT_FALSE(live.empty());
  EXPECT_EQ(*live.rbegin(), *all_sets.rbegin());
  for (uint64_t s : live) {
    SCOPED_TRACE("after gc, set " + std::to_string(s));
    RestoreRequest r;
    r.set = s;
    std::string dir = tmp.Sub("gc" + std::to_string(s));
    RestoreOrDie(*store, dir, r);
    EXPECT_EQ(DiffTrees(want[s], ReadTree(dir), true), "");
  }
  // Versions still listed read back exactly (those of dropped sets are gone).
  for (const auto& [s, t] : want) {
    for (const auto& [p, e] : t) {
      auto log = store->Log(p);
      if (!log.ok()) continue;
      for (const auto& v : *log) {
        if (v.set != s || v.kind == VersionKind::kDeleted || e.type != EntryType::kFile) continue;
        EXPECT_TRUE(ReadVersionOrDie(*store, p, v.seq) == e.content) << p << " v" << v.seq;
      }
    }
  }
}

std::string PropertyName(const ::testing::TestParamInfo<std::tuple<int, int>>& p) {
  return std::string(kConfigs[std::get<0>(p.param)].name) + "_Run" +
         std::to_string(std::get<1>(p.param));
}

// Runs per configuration: 2 by default; DK_PROPERTY_RUNS=<n> for a longer search (each run
// has its own seed, printed on failure).
int PropertyRuns() {
  const char* s = std::getenv("DK_PROPERTY_RUNS");
  return s && std::atoi(s) > 0 ? std::atoi(s) : 2;
}

INSTANTIATE_TEST_SUITE_P(Seeds, StorePropertyTest,
                         ::testing::Combine(::testing::Range(0, 3),
                                            ::testing::Range(0, PropertyRuns())),
                         PropertyName);

}  // namespace
}  // namespace dk
