// Pack files (libstate/src/pack_store.h): payloads too big for an LMDB leaf page live in
// append-only packs. Damage to a pack is Corruption naming the object and the file, never a
// crash; a full disk while appending loses no acknowledged version; GC rewrites packs that
// are mostly garbage and removes unreferenced ones; objects stored inline by older builds
// still read.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include "libstate/store.h"
#include "libstate/store_test_util.h"

namespace dk {
namespace {

using namespace dk::testing;  // NOLINT: test helpers

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class PackTest : public ::testing::Test {
 protected:
  StoreOptions Opts() {
    StoreOptions o = FastOptions();
    o.clock = clock_.Fn();
    o.delta = DeltaChoice::kNone;  // every version's chunks stored whole: packed
    return o;
  }
  // big.bin (packed: random bytes), small.txt (inline), copy.bin (same content as big.bin).
  void CaptureThree() {
    SplitMix64 rng(TestSeed(61));
    big_ = rng.RandomBytes(50000);
    WriteFile(src_ + "/big.bin", big_);
    WriteFile(src_ + "/copy.bin", big_);
    WriteFile(src_ + "/small.txt", "small stays inline\n");
    auto s = OpenStoreOrDie(store_, Opts());
    clock_.Advance(kSecondNs);
    CaptureOrDie(*s, src_);
    auto log = LogOrDie(*s, "big.bin");
    ASSERT_EQ(log.size(), 1u);
    ASSERT_EQ(log[0].chunks.size(), 1u);
    big_id_ = log[0].chunks[0];
  }
  std::string Fresh() { return tmp_.Sub("restore" + std::to_string(++n_)); }

  TempDir tmp_;
  const std::string store_ = tmp_.Sub("store");
  const std::string src_ = tmp_.Sub("src");
  FakeClock clock_;
  Bytes big_;
  ObjectId big_id_;
  int n_ = 0;
};

TEST_F(PackTest, LargePayloadsArePackedAndSmallOnesStayInline) {
  CaptureThree();
  auto at = PackedObjectForTest(store_, big_id_);
  ASSERT_TRUE(at.has_value());
  EXPECT_TRUE(Contains(at->pack, store_ + "/packs/")) << at->pack;
  EXPECT_GE(at->offset, 8u);
  auto s = OpenStoreOrDie(store_, Opts(), OpenMode::kReadOnly);
  auto small = LogOrDie(*s, "small.txt");
  EXPECT_FALSE(PackedObjectForTest(store_, small[0].chunks[0]).has_value());
  EXPECT_EQ(ToString(ReadFile(at->pack)).substr(0, 8), "DKPACK1\n");
  // Identical content is one object, packed once.
  auto st = s->Stats();
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->packs, 1u);
  EXPECT_EQ(st->packed_live_bytes, at->length);
  EXPECT_EQ(VerifyProblems(*s), "");
  std::string dir = Fresh();
  RestoreOrDie(*s, dir, {});
  EXPECT_EQ(DiffTrees(ReadTree(src_), ReadTree(dir), true), "");
}

// Flipped, missing and truncated pack bytes: Corruption naming the object (and the pack),
// files using it fail, the others restore, verify reports it.
TEST_F(PackTest, DamagedPacksGiveCorruptionNamingTheObject) {
  CaptureThree();
  const auto at = PackedObjectForTest(store_, big_id_);
  ASSERT_TRUE(at.has_value());
  const Bytes pack = ReadFile(at->pack);
  struct Case {
    const char* name;
    std::function<void()> damage;
    const char* says;
  };
  const Case cases[] = {
      {"flipped byte",
       [&] {
         Bytes b = pack;
         b[at->offset + at->length / 2] ^= 0x10;
         WriteFile(at->pack, b);
       },
       ""},
      {"truncated",
       [&] {
         Bytes b(pack.begin(), pack.begin() + static_cast<long>(at->offset + at->length / 2));
         WriteFile(at->pack, b);
       },
       "beyond the end of the pack"},
      {"missing", [&] { ASSERT_EQ(unlink(at->pack.c_str()), 0); }, "is missing"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    c.damage();
    auto s = OpenStoreOrDie(store_, Opts(), OpenMode::kReadOnly);
    auto rv = s->ReadVersion("big.bin", 1);
    ASSERT_FALSE(rv.ok());
    EXPECT_EQ(rv.status().code(), StatusCode::kCorruption) << rv.status();
    EXPECT_TRUE(Contains(rv.status().message(), big_id_.Hex())) << rv.status();
    EXPECT_TRUE(Contains(rv.status().message(), "big.bin")) << rv.status();
    EXPECT_TRUE(Contains(rv.status().message(), c.says)) << rv.status();
    std::string dir = Fresh();
    auto r = s->Restore(dir, {});
    ASSERT_TRUE(r.ok()) << r.status();
    std::set<std::string> failed;
    for (const auto& f : r->failures) failed.insert(f.path);
    EXPECT_EQ(failed, (std::set<std::string>{"big.bin", "copy.bin"}));
    EXPECT_EQ(ReadFileString(dir + "/small.txt"), "small stays inline\n");
    auto rep = s->Verify();
    ASSERT_TRUE(rep.ok()) << rep.status();
    EXPECT_FALSE(rep->problems.empty());
    WriteFile(at->pack, pack);  // undamaged again for the next case
    EXPECT_EQ(VerifyProblems(*OpenStoreOrDie(store_, Opts(), OpenMode::kReadOnly)), "");
  }
}

// A write to a pack that fails (here: the file size limit, as a full disk would) fails the
// capture with the pack and file named; nothing of it is recorded, every acknowledged
// version restores, and the store takes captures again once there is room.
TEST_F(PackTest, FailingPackWriteLosesNoAcknowledgedVersion) {
  CaptureThree();
  const Tree acknowledged = ReadTree(src_);
  SplitMix64 rng(TestSeed(62));
  WriteFile(src_ + "/huge.bin", rng.RandomBytes(3u << 20));
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Child: no GoogleTest; the exit code says what happened.
    signal(SIGXFSZ, SIG_IGN);
    rlimit lim{1u << 20, 1u << 20};  // the data file stays below; the pack cannot grow past
    setrlimit(RLIMIT_FSIZE, &lim);
    StoreOptions o = Opts();
    auto s = Store::Open(store_, o, OpenMode::kReadWrite);
    if (!s.ok()) _exit(10);
    auto c = (*s)->Capture(src_, {});
    if (c.ok()) _exit(11);
    const std::string m = c.status().message();
    if (!Contains(m, "huge.bin")) _exit(12);
    if (!Contains(m, "/packs/")) _exit(13);
    _exit(0);
  }
  int wstatus = 0;
  ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
  ASSERT_TRUE(WIFEXITED(wstatus));
  ASSERT_EQ(WEXITSTATUS(wstatus), 0) << "10 open failed, 11 capture succeeded, 12/13 message "
                                        "does not name the file/the pack";
  auto s = OpenStoreOrDie(store_, Opts(), OpenMode::kReadWrite);
  EXPECT_EQ(s->Log("huge.bin").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(VerifyProblems(*s), "");
  std::string dir = Fresh();
  RestoreOrDie(*s, dir, {});
  EXPECT_EQ(DiffTrees(acknowledged, ReadTree(dir), true), "");
  clock_.Advance(kSecondNs);
  CaptureOrDie(*s, src_);
  EXPECT_TRUE(ReadVersionOrDie(*s, "huge.bin", 1) == ToString(ReadFile(src_ + "/huge.bin")));
  EXPECT_EQ(VerifyProblems(*s), "");
}

// GC rewrites a pack that is mostly garbage into a new one and removes packs nothing refers
// to (left by a crash between GC's commit and their removal).
TEST_F(PackTest, GcRewritesMostlyGarbagePacksAndRemovesUnreferencedOnes) {
  SplitMix64 rng(TestSeed(63));
  auto s = OpenStoreOrDie(store_, Opts());
  Bytes last;
  for (int v = 0; v < 4; ++v) {
    last = rng.RandomBytes(200000);
    WriteFile(src_ + "/a.bin", last);
    clock_.Advance(kSecondNs);
    CaptureOrDie(*s, src_);
  }
  auto before = s->Stats();
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_EQ(before->packs, 1u);
  s.reset();
  // An unreferenced pack, as a crash after GC's commit would leave.
  WriteFile(store_ + "/packs/00000099.pack", ReadFile(store_ + "/packs/00000001.pack"));
  s = OpenStoreOrDie(store_, Opts(), OpenMode::kReadWrite);
  RetentionPolicy keep;
  keep.keep_last = 1;
  auto g = s->Gc(keep);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->versions_dropped, 3u);
  EXPECT_EQ(g->packs_removed, 2u);  // the 3/4-garbage pack and the unreferenced one
  EXPECT_GT(g->objects_repacked, 0u);
  EXPECT_LT(g->bytes_after, g->bytes_before / 2);
  auto after = s->Stats();
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->packs, 1u);
  EXPECT_EQ(after->pack_bytes, after->packed_live_bytes + 8);
  EXPECT_EQ(access((store_ + "/packs/00000099.pack").c_str(), F_OK), -1);
  // The copies went to a new pack numbered above every pack seen: a removed number is not
  // reused while readers may still know it.
  EXPECT_EQ(access((store_ + "/packs/00000100.pack").c_str(), F_OK), 0);
  EXPECT_EQ(VerifyProblems(*s), "");
  EXPECT_TRUE(ReadVersionOrDie(*s, "a.bin", 4) == ToString(last));
  // New captures go on after the rewrite; a second GC has nothing to rewrite.
  WriteFile(src_ + "/b.bin", rng.RandomBytes(100000));
  clock_.Advance(kSecondNs);
  CaptureOrDie(*s, src_);
  auto g2 = s->Gc(RetentionPolicy{});
  ASSERT_TRUE(g2.ok()) << g2.status();
  EXPECT_EQ(g2->packs_removed, 0u);
  EXPECT_EQ(VerifyProblems(*s), "");
}

// Objects stored inline whatever their size (stores written before packs existed) read,
// verify and collect as before.
TEST_F(PackTest, LargeObjectsStoredInlineByOlderBuildsStillRead) {
  CaptureThree();
  CorruptObjectForTest(store_, big_id_, [](std::string*) {});  // rewritten inline, unchanged
  ASSERT_FALSE(PackedObjectForTest(store_, big_id_).has_value());
  auto s = OpenStoreOrDie(store_, Opts(), OpenMode::kReadWrite);
  EXPECT_EQ(VerifyProblems(*s), "");
  EXPECT_TRUE(ReadVersionOrDie(*s, "big.bin", 1) == ToString(big_));
  auto g = s->Gc(RetentionPolicy{});
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->packs_removed, 1u);  // its packed copy is no longer referenced
  EXPECT_EQ(VerifyProblems(*s), "");
  EXPECT_TRUE(ReadVersionOrDie(*s, "copy.bin", 1) == ToString(big_));
}

}  // namespace
}  // namespace dk
