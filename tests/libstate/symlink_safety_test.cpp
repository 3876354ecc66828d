// Symlinks never lead a capture or a restore out of its root: planted links in a restore
// target are not written through, stored links are restored as links and not followed,
// and a capture records a link without reading what it points to.
#include <gtest/gtest.h>
#include <unistd.h>

#include "libstate/store.h"
#include "libstate/store_test_util.h"

namespace dk {
namespace {

using namespace dk::testing;  // NOLINT: test helpers

class SymlinkSafetyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions o = FastOptions();
    o.clock = clock_.Fn();
    store_ = OpenStoreOrDie(tmp_.Sub("store"), o);
    // A directory outside every root, with content that must never change.
    WriteFile(outside_ + "/victim.txt", "precious");
    WriteFile(outside_ + "/secret/key", "do not capture");
    outside_before_ = ReadTree(outside_);
  }
  void ExpectOutsideUntouched() {
    EXPECT_EQ(DiffTrees(outside_before_, ReadTree(outside_), true), "");
  }

  TempDir tmp_;
  const std::string src_ = tmp_.Sub("src");
  const std::string target_ = tmp_.Sub("target");
  const std::string outside_ = tmp_.Sub("outside");
  Tree outside_before_;
  FakeClock clock_;
  std::unique_ptr<Store> store_;
};

// The recorded state wins: where the store has a directory, a link planted in the target is
// removed (never followed) and a real directory made in its place, inside the target.
TEST_F(SymlinkSafetyTest, RestoreReplacesAPlantedDirectorySymlinkInsteadOfWritingThroughIt) {
  WriteFile(src_ + "/sub/evil.txt", "would land outside");
  WriteFile(src_ + "/fine.txt", "fine");
  CaptureOrDie(*store_, src_);
  const Tree want = ReadTree(src_);
  // The workload replaced sub/ in the target with a link out of it.
  MakeDirs(target_);
  MakeSymlink(outside_, target_ + "/sub");

  auto res = store_->Restore(target_, {});
  ASSERT_TRUE(res.ok()) << res.status();
  ExpectOutsideUntouched();
  EXPECT_FALSE(ReadTree(outside_).count("evil.txt"));
  for (const auto& f : res->failures) ADD_FAILURE() << f.path << ": " << f.error;
  EXPECT_EQ(DiffTrees(want, ReadTree(target_), true), "");
}

TEST_F(SymlinkSafetyTest, RestoreReplacesASymlinkPlantedDeeperInThePath) {
  WriteFile(src_ + "/a/b/c/evil.txt", "deep");
  WriteFile(src_ + "/a/b2/evil2.txt", "deep too");
  CaptureOrDie(*store_, src_);
  const Tree want = ReadTree(src_);
  MakeDirs(target_ + "/a");
  MakeSymlink("../../" + std::string(outside_.substr(outside_.rfind('/') + 1)), target_ + "/a/b");
  MakeSymlink(outside_, target_ + "/a/b2");
  // A subset restore of the deepest file alone must not write through either.
  RestoreRequest only;
  only.paths = {"a/b/c/evil.txt"};
  auto res = store_->Restore(target_, only);
  ASSERT_TRUE(res.ok()) << res.status();
  ExpectOutsideUntouched();
  EXPECT_EQ(ReadFileString(target_ + "/a/b/c/evil.txt"), "deep");
  EXPECT_EQ(EntryTypeName(ReadTree(target_)["a/b2"].type), "symlink");  // not in the subset
  RestoreOrDie(*store_, target_, {});
  ExpectOutsideUntouched();
  EXPECT_EQ(DiffTrees(want, ReadTree(target_), true), "");
}

TEST_F(SymlinkSafetyTest, RestoreReplacesAFileSymlinkInsteadOfWritingThroughIt) {
  WriteFile(src_ + "/victim.txt", "restored content");
  CaptureOrDie(*store_, src_);
  MakeDirs(target_);
  MakeSymlink(outside_ + "/victim.txt", target_ + "/victim.txt");
  RestoreOrDie(*store_, target_, {});
  ExpectOutsideUntouched();
  Tree t = ReadTree(target_);
  EXPECT_EQ(EntryTypeName(t["victim.txt"].type), "file");
  EXPECT_EQ(t["victim.txt"].content, "restored content");
}

TEST_F(SymlinkSafetyTest, RestoreDeletesAPlantedSymlinkWithoutFollowingIt) {
  // A path deleted in the store whose target copy is a link to a directory outside: the
  // deletion removes the link, never the directory's contents.
  MakeDirs(src_ + "/data");
  WriteFile(src_ + "/data/x", "x");
  CaptureOrDie(*store_, src_);
  RemoveTree(src_ + "/data");
  WriteFile(src_ + "/other", "o");
  clock_.Advance(kSecondNs);
  CaptureOrDie(*store_, src_);
  MakeDirs(target_);
  MakeSymlink(outside_, target_ + "/data");
  RestoreOrDie(*store_, target_, {});
  ExpectOutsideUntouched();
  EXPECT_EQ(DiffTrees(ReadTree(src_), ReadTree(target_), true), "");
}

TEST_F(SymlinkSafetyTest, StoredSymlinksAreRestoredAsSymlinksAndNeverFollowed) {
  MakeDirs(src_);
  MakeSymlink(outside_, src_ + "/to-outside-dir");
  MakeSymlink(outside_ + "/victim.txt", src_ + "/to-outside-file");
  MakeSymlink("../../../../../../../../etc/passwd", src_ + "/dotdot");
  MakeSymlink("missing", src_ + "/dangling");
  CaptureOrDie(*store_, src_);
  Tree want = ReadTree(src_);
  RestoreResult r = RestoreOrDie(*store_, target_, {});
  EXPECT_EQ(r.symlinks, 4u);
  EXPECT_EQ(DiffTrees(want, ReadTree(target_), true), "");
  // Restoring again over the links (which now exist and point outside) rewrites the links,
  // not what they point to.
  RestoreOrDie(*store_, target_, {});
  EXPECT_EQ(DiffTrees(want, ReadTree(target_), true), "");
  ExpectOutsideUntouched();
}

TEST_F(SymlinkSafetyTest, RestoreOfAnOlderSetDoesNotFollowALinkThatReplacedADirectory) {
  // Set 1: conf/ is a directory. Set 2: conf is a link out of the tree. Restoring set 1 over
  // a target in state 2 must not put set 1's files into the link's destination.
  WriteFile(src_ + "/conf/app.ini", "set one");
  CaptureOrDie(*store_, src_);
  RemoveTree(src_ + "/conf");
  MakeSymlink(outside_, src_ + "/conf");
  clock_.Advance(kSecondNs);
  CaptureOrDie(*store_, src_);
  RestoreOrDie(*store_, target_, {});
  RestoreRequest r;
  r.set = 1;
  auto res = store_->Restore(target_, r);
  ASSERT_TRUE(res.ok()) << res.status();
  ExpectOutsideUntouched();
  EXPECT_FALSE(ReadTree(outside_).count("app.ini"));
  for (const auto& f : res->failures) ADD_FAILURE() << f.path << ": " << f.error;
  EXPECT_EQ(ReadFileString(target_ + "/conf/app.ini"), "set one");
}

TEST_F(SymlinkSafetyTest, CaptureRecordsALinkOutOfTheRootWithoutReadingThroughIt) {
  WriteFile(src_ + "/own.txt", "own");
  MakeSymlink(outside_, src_ + "/escape");
  MakeSymlink(outside_ + "/victim.txt", src_ + "/escape-file");
  CaptureResult c = CaptureOrDie(*store_, src_);
  EXPECT_EQ(c.scanned, 3u);
  EXPECT_EQ(c.bytes_read, 3u);  // only own.txt was read
  auto log = LogOrDie(*store_, "escape");
  EXPECT_EQ(EntryTypeName(log[0].type), "symlink");
  EXPECT_EQ(log[0].link_target, outside_);
  EXPECT_EQ(EntryTypeName(LogOrDie(*store_, "escape-file")[0].type), "symlink");
  EXPECT_EQ(store_->Log("escape/secret/key").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Log("escape/victim.txt").status().code(), StatusCode::kNotFound);
  auto st = store_->Stats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->live_bytes, 3u);
}

TEST_F(SymlinkSafetyTest, CaptureRootGivenAsASymlinkIsCapturedButNothingBelowEscapes) {
  // The root argument itself may be a link (e.g. a kubelet volume path); below it nothing is
  // followed.
  WriteFile(src_ + "/a.txt", "a");
  MakeSymlink(outside_, src_ + "/out");
  MakeSymlink(src_, tmp_.Sub("root-link"));
  CaptureResult c = CaptureOrDie(*store_, tmp_.Sub("root-link"));
  EXPECT_EQ(c.scanned, 2u);
  EXPECT_EQ(store_->Log("out/victim.txt").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace dk
