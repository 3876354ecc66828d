// Bad input and hostile environments: a second writer (same process, other process), a full
// store (LMDB map exhausted), garbled or truncated stored bytes, paths that are not stores,
// bad options. Each must give a clear Status, never a crash, and never damage acknowledged
// data.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include "libstate/store.h"
#include "libstate/store_test_util.h"

namespace dk {
namespace {

using namespace dk::testing;  // NOLINT: test helpers

class BadInputTest : public ::testing::Test {
 protected:
  StoreOptions Opts() {
    StoreOptions o = FastOptions();
    o.clock = clock_.Fn();
    return o;
  }
  std::string Fresh() { return tmp_.Sub("restore" + std::to_string(++n_)); }

  TempDir tmp_;
  const std::string store_ = tmp_.Sub("store");
  const std::string src_ = tmp_.Sub("src");
  FakeClock clock_;
  int n_ = 0;
};

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// --- Concurrent writers ----------------------------------------------------------------------

TEST_F(BadInputTest, SecondWriterInTheSameProcessGetsUnavailable) {
  auto first = OpenStoreOrDie(store_, Opts());
  auto second = Store::Open(store_, Opts(), OpenMode::kReadWrite);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(second.status().retryable());
  EXPECT_TRUE(Contains(second.status().message(), store_)) << second.status();
  EXPECT_TRUE(Contains(second.status().message(), "already open for writing")) << second.status();
  auto create = Store::Open(store_, Opts(), OpenMode::kCreate);
  EXPECT_EQ(create.status().code(), StatusCode::kUnavailable);
  // The first writer is unaffected, and the lock goes with it.
  WriteFile(src_ + "/a", "a");
  CaptureOrDie(*first, src_);
  first.reset();
  auto again = Store::Open(store_, Opts(), OpenMode::kReadWrite);
  ASSERT_TRUE(again.ok()) << again.status();
}

// Child-process checks report through the exit code (no GoogleTest in the child).
enum ChildExit {
  kChildOk = 0,
  kChildWriterOpened = 10,
  kChildWrongCode,
  kChildReaderFailed,
  kChildReadFailed,
  kChildPipe
};

TEST_F(BadInputTest, WriterInAnotherProcessBlocksWritersButNotReaders) {
  WriteFile(src_ + "/a.txt", "written by the parent");
  {
    auto w = OpenStoreOrDie(store_, Opts());
    CaptureOrDie(*w, src_);
    // Another process, while this one holds the writer lock.
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto second = Store::Open(store_, FastOptions(), OpenMode::kReadWrite);
      if (second.ok()) _exit(kChildWriterOpened);
      if (second.status().code() != StatusCode::kUnavailable) _exit(kChildWrongCode);
      auto reader = Store::Open(store_, FastOptions(), OpenMode::kReadOnly);
      if (!reader.ok()) _exit(kChildReaderFailed);
      auto content = (*reader)->ReadVersion("a.txt", 1);
      if (!content.ok() || ToString(*content) != "written by the parent") _exit(kChildReadFailed);
      _exit(kChildOk);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status)) << status;
    EXPECT_EQ(WEXITSTATUS(status), kChildOk);
  }
  // The other way round: the child writes and holds on; this process only reads.
  int to_parent[2], to_child[2];
  ASSERT_EQ(pipe(to_parent), 0);
  ASSERT_EQ(pipe(to_child), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(to_parent[0]);
    close(to_child[1]);
    auto w = Store::Open(store_, FastOptions(), OpenMode::kReadWrite);
    char c = w.ok() ? 'w' : 'x';
    if (write(to_parent[1], &c, 1) != 1) _exit(kChildPipe);
    if (read(to_child[0], &c, 1) != 1) _exit(kChildPipe);
    _exit(w.ok() ? kChildOk : kChildWriterOpened);
  }
  close(to_parent[1]);
  close(to_child[0]);
  char c = 0;
  ASSERT_EQ(read(to_parent[0], &c, 1), 1);
  EXPECT_EQ(c, 'w');
  auto blocked = Store::Open(store_, Opts(), OpenMode::kReadWrite);
  EXPECT_EQ(blocked.status().code(), StatusCode::kUnavailable) << blocked.status();
  {
    auto reader = Store::Open(store_, Opts(), OpenMode::kReadOnly);
    ASSERT_TRUE(reader.ok()) << reader.status();
    EXPECT_EQ(ReadVersionOrDie(**reader, "a.txt", 1), "written by the parent");
  }
  ASSERT_EQ(write(to_child[1], &c, 1), 1);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == kChildOk) << status;
  close(to_parent[0]);
  close(to_child[1]);
  // The child is gone: its lock went with it.
  auto w = Store::Open(store_, Opts(), OpenMode::kReadWrite);
  EXPECT_TRUE(w.ok()) << w.status();
}

// --- A full store ------------------------------------------------------------------------------

TEST_F(BadInputTest, FullMapGivesNoSpaceAndKeepsEveryAcknowledgedVersion) {
  const uint64_t seed = TestSeed(21);
  SCOPED_TRACE("seed=" + std::to_string(seed));
  SplitMix64 rng(seed);
  StoreOptions o = Opts();
  o.map_size = 2u << 20;
  auto s = OpenStoreOrDie(store_, o);
  for (int i = 0; i < 20; ++i) WriteFile(src_ + "/small" + std::to_string(i), TextBytes(rng, 2000));
  CaptureResult c1 = CaptureOrDie(*s, src_);
  ASSERT_EQ(c1.set, 1u);
  const Tree acknowledged = ReadTree(src_);

  // Tiny objects stay in the data file (larger ones go to pack files, whose full disk
  // pack_test.cpp covers): 10,000 of them, with their version records, exhaust the 2 MiB map.
  for (int i = 0; i < 10000; ++i)
    WriteFile(src_ + "/huge/f" + std::to_string(i), rng.RandomBytes(150));
  WriteFile(src_ + "/small0", TextBytes(rng, 2100));
  clock_.Advance(kSecondNs);
  auto full = s->Capture(src_, {});
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.status().code(), StatusCode::kNoSpace) << full.status();
  EXPECT_TRUE(Contains(full.status().message(), "map size")) << full.status();
  EXPECT_TRUE(Contains(full.status().message(), "huge/f")) << full.status();

  // Nothing of the failed capture is visible; everything acknowledged restores exactly.
  EXPECT_EQ(s->Log("huge/f0").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(LogOrDie(*s, "small0").size(), 1u);
  auto sets = s->Sets();
  ASSERT_TRUE(sets.ok());
  EXPECT_EQ(sets->size(), 1u);
  std::string dir = Fresh();
  RestoreOrDie(*s, dir, {});
  EXPECT_EQ(DiffTrees(acknowledged, ReadTree(dir), true), "");
  EXPECT_EQ(VerifyProblems(*s), "");

  // Once the big file is gone the store takes captures again, and survives a reopen.
  RemoveTree(src_ + "/huge");
  clock_.Advance(kSecondNs);
  CaptureResult c2 = CaptureOrDie(*s, src_);
  EXPECT_EQ(c2.set, 2u);
  const Tree later = ReadTree(src_);
  s.reset();
  s = OpenStoreOrDie(store_, o, OpenMode::kReadWrite);
  EXPECT_EQ(VerifyProblems(*s), "");
  std::string dir2 = Fresh();
  RestoreOrDie(*s, dir2, {});
  EXPECT_EQ(DiffTrees(later, ReadTree(dir2), true), "");
}

// --- Damaged stored bytes --------------------------------------------------------------------

struct Damage {
  const char* name;
  std::function<void(std::string*)> edit;
};

void PrintTo(const Damage& d, std::ostream* os) { *os << d.name; }

class DamagedObjectTest : public BadInputTest, public ::testing::WithParamInterface<Damage> {};

// Every kind of damage to a stored object (whole or delta) is Corruption naming the object;
// nothing crashes, other files still restore, Verify reports it.
TEST_P(DamagedObjectTest, DamagedObjectGivesCorruptionNotACrash) {
  const uint64_t seed = TestSeed(22);
  SCOPED_TRACE("seed=" + std::to_string(seed));
  SplitMix64 rng(seed);
  Bytes v1 = rng.RandomBytes(9000);
  WriteFile(src_ + "/whole.bin", v1);
  WriteFile(src_ + "/other.txt", TextBytes(rng, 3000));
  Bytes v2 = v1;
  ObjectId whole_id, delta_id;
  {
    auto s = OpenStoreOrDie(store_, Opts());
    CaptureOrDie(*s, src_);
    for (int i = 0; i < 10; ++i) v2[rng.Below(v2.size())] ^= 0x55;
    v2.push_back(1);
    WriteFile(src_ + "/whole.bin", v2);
    WriteFile(src_ + "/copy.bin", v1);  // version 1's object, referenced by a second file
    clock_.Advance(kSecondNs);
    CaptureOrDie(*s, src_);
    auto log = LogOrDie(*s, "whole.bin");
    ASSERT_EQ(log.size(), 2u);
    ASSERT_EQ(VersionKindName(log[1].kind), "delta");
    whole_id = log[0].chunks[0];
    delta_id = log[1].chunks[0];
  }
  const Tree state = ReadTree(src_);

  for (const ObjectId& victim : {delta_id, whole_id}) {
    SCOPED_TRACE(victim == delta_id ? "delta object" : "whole object");
    // Damage a copy of the store, so that both objects are tested on a clean one.
    const std::string copy = tmp_.Sub(victim == delta_id ? "copy-d" : "copy-w");
    CopyStoreForTest(store_, copy);
    CorruptObjectForTest(copy, victim, GetParam().edit);
    auto s = OpenStoreOrDie(copy, Opts(), OpenMode::kReadWrite);

    auto rv = s->ReadVersion("whole.bin", 2);  // needs the delta and (as its base) the whole
    ASSERT_FALSE(rv.ok());
    EXPECT_EQ(rv.status().code(), StatusCode::kCorruption) << rv.status();
    EXPECT_TRUE(Contains(rv.status().message(), victim.Hex())) << rv.status();
    EXPECT_TRUE(Contains(rv.status().message(), "whole.bin")) << rv.status();
    EXPECT_EQ(ReadVersionOrDie(*s, "other.txt", 1), state.at("other.txt").content);
    if (victim == delta_id) {
      EXPECT_EQ(ReadVersionOrDie(*s, "whole.bin", 1), ToString(v1));
    } else {
      EXPECT_EQ(s->ReadVersion("copy.bin", 1).status().code(), StatusCode::kCorruption);
    }

    std::string dir = Fresh();
    auto r = s->Restore(dir, {});
    ASSERT_TRUE(r.ok()) << r.status();
    std::set<std::string> failed;
    for (const auto& f : r->failures) failed.insert(f.path);
    std::set<std::string> want_failed = {"whole.bin"};
    if (victim == whole_id) want_failed.insert("copy.bin");
    EXPECT_EQ(failed, want_failed);
    Tree got = ReadTree(dir);
    Tree want = state;
    for (const auto& p : want_failed) want.erase(p);
    EXPECT_EQ(DiffTrees(want, got, true), "");

    auto rep = s->Verify();
    ASSERT_TRUE(rep.ok()) << rep.status();
    EXPECT_FALSE(rep->problems.empty());
    EXPECT_TRUE(s->Stats().ok());
    EXPECT_EQ(LogOrDie(*s, "whole.bin").size(), 2u);
  }
}

// Header: u8 format(1) u8 codec u8 engine varint depth varint raw_size varint nbases ids...
INSTANTIATE_TEST_SUITE_P(
    Damages, DamagedObjectTest,
    ::testing::Values(
        Damage{"FlipPayloadByte", [](std::string* v) { (*v)[v->size() - 5] ^= 0x20; }},
        Damage{"FlipLastByte", [](std::string* v) { v->back() ^= 0x01; }},
        Damage{"TruncateToHalf", [](std::string* v) { v->resize(v->size() / 2); }},
        Damage{"TruncateToThreeBytes", [](std::string* v) { v->resize(3); }},
        Damage{"Empty", [](std::string* v) { v->clear(); }},
        Damage{"AppendGarbage", [](std::string* v) { v->append("garbage after the end"); }},
        Damage{"RandomBytes",
               [](std::string* v) {
                 SplitMix64 r(99);
                 for (auto& ch : *v) ch = static_cast<char>(r.Next());
               }},
        Damage{"UnknownFormat", [](std::string* v) { (*v)[0] = 7; }},
        Damage{"UnknownCodec", [](std::string* v) { (*v)[1] = 9; }},
        Damage{"CodecSwapped", [](std::string* v) { (*v)[1] = (*v)[1] == 1 ? 2 : 1; }},
        Damage{"HugeDeclaredSize",
               [](std::string* v) {
                 // depth is one byte for these objects; replace raw_size with 2^62.
                 size_t at = 4;
                 size_t end = at;
                 while (static_cast<uint8_t>((*v)[end]) & 0x80) ++end;
                 v->replace(at, end - at + 1,
                            std::string("\x80\x80\x80\x80\x80\x80\x80\x80\x40", 9));
               }}),
    [](const ::testing::TestParamInfo<Damage>& p) { return std::string(p.param.name); });

TEST_F(BadInputTest, DeltaWithAnUnknownEngineIsCorruption) {
  SplitMix64 rng(TestSeed(25));
  Bytes v1 = rng.RandomBytes(9000);
  WriteFile(src_ + "/f.bin", v1);
  ObjectId delta_id;
  {
    auto s = OpenStoreOrDie(store_, Opts());
    CaptureOrDie(*s, src_);
    v1[100] ^= 1;
    v1.push_back(0);
    WriteFile(src_ + "/f.bin", v1);
    clock_.Advance(kSecondNs);
    CaptureOrDie(*s, src_);
    auto log = LogOrDie(*s, "f.bin");
    ASSERT_EQ(VersionKindName(log[1].kind), "delta");
    delta_id = log[1].chunks[0];
  }
  CorruptObjectForTest(store_, delta_id, [](std::string* v) { (*v)[2] = 77; });
  auto s = OpenStoreOrDie(store_, Opts(), OpenMode::kReadWrite);
  auto rv = s->ReadVersion("f.bin", 2);
  EXPECT_EQ(rv.status().code(), StatusCode::kCorruption) << rv.status();
  EXPECT_TRUE(Contains(rv.status().message(), delta_id.Hex())) << rv.status();
}

TEST_F(BadInputTest, GarbledRecordsGiveCorruptionNotACrash) {
  WriteFile(src_ + "/a.txt", "alpha");
  WriteFile(src_ + "/b.txt", "beta");
  {
    auto s = OpenStoreOrDie(store_, Opts());
    CaptureOrDie(*s, src_);
  }
  struct Case {
    const char* db;
    std::string key;
  };
  std::vector<Case> cases;
  {
    RawStoreForTest raw(store_);
    for (const char* db : {"versions", "files", "sets", "refs"}) {
      auto all = raw.All(db);
      ASSERT_FALSE(all.empty()) << db;
      cases.push_back({db, all.front().first});
    }
  }
  for (const auto& c : cases) {
    for (int variant = 0; variant < 3; ++variant) {
      SCOPED_TRACE(std::string(c.db) + " variant " + std::to_string(variant));
      const std::string copy = tmp_.Sub("copy-" + std::string(c.db) + std::to_string(variant));
      CopyStoreForTest(store_, copy);
      {
        RawStoreForTest raw(copy);
        std::string v = *raw.Get(c.db, c.key);
        if (variant == 0) v.resize(v.size() / 2);
        if (variant == 1) v.append("trailing");
        if (variant == 2) v.assign(v.size(), '\xff');
        raw.Put(c.db, c.key, v);
      }
      auto s = OpenStoreOrDie(copy, Opts(), OpenMode::kReadWrite);
      // Every call either works or reports Corruption; none crashes or hangs.
      auto check = [&](const Status& st, const char* what) {
        if (!st.ok()) {
          EXPECT_EQ(st.code(), StatusCode::kCorruption) << what << ": " << st;
        }
      };
      check(s->Log("a.txt").status(), "Log");
      check(s->ReadVersion("a.txt", 1).status(), "ReadVersion");
      check(s->Sets().status(), "Sets");
      check(s->Stats().status(), "Stats");
      check(s->Restore(Fresh(), {}).status(), "Restore");
      auto rep = s->Verify();
      // (Trailing bytes after intact reference counts change nothing Verify can see.)
      const bool invisible = std::string(c.db) == "refs" && variant == 1;
      if (rep.ok()) {
        if (!invisible) {
          EXPECT_FALSE(rep->problems.empty()) << "Verify missed damage to " << c.db;
        }
      } else {
        check(rep.status(), "Verify");
      }
      clock_.Advance(kSecondNs);
      WriteFile(src_ + "/a.txt", "alpha " + std::to_string(variant) + c.db);
      check(s->Capture(src_, {}).status(), "Capture");
    }
  }
}

TEST_F(BadInputTest, ChunkListThatDoesNotMatchItsRootIsCorruption) {
  WriteFile(src_ + "/a.txt", "alpha");
  WriteFile(src_ + "/b.txt", "bravo");
  ObjectId a_id, b_id;
  {
    auto s = OpenStoreOrDie(store_, Opts());
    CaptureOrDie(*s, src_);
    a_id = LogOrDie(*s, "a.txt")[0].chunks[0];
    b_id = LogOrDie(*s, "b.txt")[0].chunks[0];
  }
  {
    // Point a.txt's version at b.txt's (intact, same-size) object.
    RawStoreForTest raw(store_);
    for (auto& [k, v] : raw.All("versions")) {
      if (k.rfind("a.txt", 0) != 0) continue;
      // The last occurrence is the chunk list (the first is the content hash: one chunk).
      size_t at = v.rfind(std::string(AsChars(a_id.View())));
      ASSERT_NE(at, std::string::npos);
      v.replace(at, 32, std::string(AsChars(b_id.View())));
      raw.Put("versions", k, v);
    }
  }
  auto s = OpenStoreOrDie(store_, Opts(), OpenMode::kReadWrite);
  auto rv = s->ReadVersion("a.txt", 1);
  EXPECT_EQ(rv.status().code(), StatusCode::kCorruption);
  EXPECT_TRUE(Contains(rv.status().message(), "Merkle root")) << rv.status();
  EXPECT_FALSE(s->Verify()->problems.empty());
}

// --- Things that are not stores ----------------------------------------------------------------

TEST_F(BadInputTest, OpeningADirectoryThatIsNotAStoreIsNotFoundNamingIt) {
  MakeDirs(tmp_.Sub("plain"));
  WriteFile(tmp_.Sub("plain/readme.txt"), "not a store");
  for (OpenMode m : {OpenMode::kReadOnly, OpenMode::kReadWrite}) {
    auto s = Store::Open(tmp_.Sub("plain"), Opts(), m);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), StatusCode::kNotFound);
    EXPECT_TRUE(Contains(s.status().message(), tmp_.Sub("plain"))) << s.status();
  }
  Tree t = ReadTree(tmp_.Sub("plain"));
  EXPECT_EQ(t.size(), 1u) << "opening left files behind";
}

TEST_F(BadInputTest, OpeningAMissingPathIsNotFoundNamingIt) {
  for (OpenMode m : {OpenMode::kReadOnly, OpenMode::kReadWrite}) {
    auto s = Store::Open(tmp_.Sub("missing"), Opts(), m);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), StatusCode::kNotFound);
    EXPECT_TRUE(Contains(s.status().message(), tmp_.Sub("missing"))) << s.status();
  }
}

TEST_F(BadInputTest, OpeningARegularFileIsAnErrorNamingIt) {
  WriteFile(tmp_.Sub("file"), "x");
  for (OpenMode m : {OpenMode::kReadOnly, OpenMode::kReadWrite, OpenMode::kCreate}) {
    auto s = Store::Open(tmp_.Sub("file"), Opts(), m);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(Contains(s.status().message(), tmp_.Sub("file"))) << s.status();
  }
}

TEST_F(BadInputTest, OpeningAGarbageDataFileIsCorruptionNotACrash) {
  SplitMix64 rng(TestSeed(23));
  MakeDirs(store_);
  WriteFile(store_ + "/data.mdb", rng.RandomBytes(64 << 10));
  for (OpenMode m : {OpenMode::kReadOnly, OpenMode::kReadWrite}) {
    auto s = Store::Open(store_, Opts(), m);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), StatusCode::kCorruption) << s.status();
    EXPECT_TRUE(Contains(s.status().message(), store_)) << s.status();
  }
}

TEST_F(BadInputTest, NewerSchemaIsRefusedNamingBothVersions) {
  { OpenStoreOrDie(store_, Opts()); }
  {
    RawStoreForTest raw(store_);
    raw.Put("meta", "schema", std::to_string(kSchemaVersion + 1));
  }
  auto s = Store::Open(store_, Opts(), OpenMode::kReadWrite);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(s.status().message(), "schema " + std::to_string(kSchemaVersion + 1)))
      << s.status();
  EXPECT_TRUE(Contains(s.status().message(), "(" + std::to_string(kSchemaVersion) + ")"))
      << s.status();
}

TEST_F(BadInputTest, UnknownRecordedChunkerIsCorruption) {
  { OpenStoreOrDie(store_, Opts()); }
  {
    RawStoreForTest raw(store_);
    raw.Put("meta", "chunker", "rabin9-1-2-3");
  }
  auto s = Store::Open(store_, Opts(), OpenMode::kReadWrite);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kCorruption);
  EXPECT_TRUE(Contains(s.status().message(), "rabin9-1-2-3")) << s.status();
}

TEST_F(BadInputTest, TheRecordedChunkerWinsOverTheCallersOptions) {
  StoreOptions small = Opts();
  small.chunker = SmallChunker();
  { OpenStoreOrDie(store_, small); }
  auto s = OpenStoreOrDie(store_, Opts(), OpenMode::kReadWrite);  // default chunker asked
  auto st = s->Stats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->chunker, SmallChunker().Name());
  SplitMix64 rng(TestSeed(24));
  WriteFile(src_ + "/f", rng.RandomBytes(20000));
  CaptureOrDie(*s, src_);
  EXPECT_GT(LogOrDie(*s, "f")[0].chunks.size(), 3u);  // small chunks, not one 20 KB chunk
}

TEST_F(BadInputTest, InvalidOptionsAreRejectedBeforeAnythingIsTouched) {
  std::vector<std::pair<const char*, StoreOptions>> bad;
  StoreOptions o = Opts();
  o.map_size = 1000;
  bad.emplace_back("map_size", o);
  o = Opts();
  o.zstd_level = 0;
  bad.emplace_back("zstd", o);
  o = Opts();
  o.delta_max_ratio = 0;
  bad.emplace_back("delta_max_ratio", o);
  o = Opts();
  o.max_chain = 0;
  bad.emplace_back("max_chain", o);
  o = Opts();
  o.chunker.avg_size = 1000;
  bad.emplace_back("avg=1000", o);
  for (const auto& [what, opts] : bad) {
    auto s = Store::Open(store_, opts, OpenMode::kCreate);
    ASSERT_FALSE(s.ok()) << what;
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument) << what;
    EXPECT_TRUE(Contains(s.status().message(), what)) << s.status();
  }
  EXPECT_EQ(access(store_.c_str(), F_OK), -1) << "a rejected open created the store directory";
}

TEST_F(BadInputTest, UnknownPathsAndVersionsAreNotFoundNamingThem) {
  WriteFile(src_ + "/a.txt", "a");
  auto s = OpenStoreOrDie(store_, Opts());
  CaptureOrDie(*s, src_);
  auto log = s->Log("nope.txt");
  EXPECT_EQ(log.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(Contains(log.status().message(), "nope.txt")) << log.status();
  auto rv = s->ReadVersion("a.txt", 7);
  EXPECT_EQ(rv.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(Contains(rv.status().message(), "a.txt")) << rv.status();
  EXPECT_TRUE(Contains(rv.status().message(), "7")) << rv.status();
  EXPECT_EQ(s->ReadVersion("a.txt", 0).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace dk
