// GlobMatch: the capture filter language (options.h).
#include <gtest/gtest.h>

#include "libstate/options.h"

namespace dk {
namespace {

TEST(GlobTest, LiteralMatchesOnlyItself) {
  EXPECT_TRUE(GlobMatch("a/b.txt", "a/b.txt"));
  EXPECT_FALSE(GlobMatch("a/b.txt", "a/b.txtx"));
  EXPECT_FALSE(GlobMatch("a/b.txt", "xa/b.txt"));
  EXPECT_FALSE(GlobMatch("a/b.txt", "a/c.txt"));
}

TEST(GlobTest, StarMatchesWithinOneSegment) {
  EXPECT_TRUE(GlobMatch("a/*.txt", "a/b.txt"));
  EXPECT_TRUE(GlobMatch("a/*.txt", "a/.txt"));
  EXPECT_TRUE(GlobMatch("a/*", "a/b"));
  EXPECT_TRUE(GlobMatch("*b*", "abc"));
  EXPECT_FALSE(GlobMatch("a/*.txt", "a/b/c.txt"));  // '*' does not cross '/'
  EXPECT_FALSE(GlobMatch("a/*.txt", "a/b.dat"));
  EXPECT_FALSE(GlobMatch("a/b*", "a/c/b"));
}

TEST(GlobTest, DoubleStarCrossesDirectories) {
  EXPECT_TRUE(GlobMatch("**", "a"));
  EXPECT_TRUE(GlobMatch("**", "a/b/c"));
  EXPECT_TRUE(GlobMatch("a/**", "a/b"));
  EXPECT_TRUE(GlobMatch("a/**", "a/b/c/d"));
  EXPECT_FALSE(GlobMatch("a/**", "ab/c"));
  EXPECT_TRUE(GlobMatch("**/x.log", "x.log"));  // zero directories
  EXPECT_TRUE(GlobMatch("**/x.log", "a/x.log"));
  EXPECT_TRUE(GlobMatch("**/x.log", "a/b/c/x.log"));
  EXPECT_FALSE(GlobMatch("**/x.log", "a/bx.log"));
  EXPECT_TRUE(GlobMatch("a/**/b", "a/b"));
  EXPECT_TRUE(GlobMatch("a/**/b", "a/x/y/b"));
  EXPECT_FALSE(GlobMatch("a/**/b", "a/x/yb"));
  EXPECT_TRUE(GlobMatch("**/*.txt", "d/e/f.txt"));
  EXPECT_TRUE(GlobMatch("a/**.txt", "a/b/c.txt"));
}

TEST(GlobTest, QuestionMarkMatchesOneCharacterButNotSlash) {
  EXPECT_TRUE(GlobMatch("file?.dat", "file1.dat"));
  EXPECT_FALSE(GlobMatch("file?.dat", "file.dat"));
  EXPECT_FALSE(GlobMatch("file?.dat", "file12.dat"));
  EXPECT_FALSE(GlobMatch("a?b", "a/b"));
  EXPECT_TRUE(GlobMatch("??", "ab"));
}

TEST(GlobTest, PatternWithoutSlashMatchesTheBaseNameAnywhere) {
  EXPECT_TRUE(GlobMatch("*.tmp", "x.tmp"));
  EXPECT_TRUE(GlobMatch("*.tmp", "a/x.tmp"));
  EXPECT_TRUE(GlobMatch("*.tmp", "a/b/c/x.tmp"));
  EXPECT_TRUE(GlobMatch("core", "a/b/core"));
  EXPECT_FALSE(GlobMatch("*.tmp", "a/x.tmpl"));
  // A pattern with a slash is anchored at the root.
  EXPECT_FALSE(GlobMatch("b/*.tmp", "a/b/x.tmp"));
  EXPECT_TRUE(GlobMatch("a/b/*.tmp", "a/b/x.tmp"));
}

TEST(GlobTest, DirectoryPatternMatchesEverythingBelowIt) {
  EXPECT_TRUE(GlobMatch("cache", "cache"));
  EXPECT_TRUE(GlobMatch("cache", "cache/x"));
  EXPECT_TRUE(GlobMatch("cache", "cache/x/y.bin"));
  EXPECT_TRUE(GlobMatch("a/cache", "a/cache/x"));
  EXPECT_TRUE(GlobMatch("a/*", "a/b/c"));  // "a/b" matches, so everything under it does
  EXPECT_FALSE(GlobMatch("cache", "cachex/y"));
  EXPECT_FALSE(GlobMatch("a/cache", "b/a/cache/x"));
}

// Both rules at once: a slash-free pattern names a directory at any depth, and then
// everything below it ("cache" excludes "a/cache" when scanning, so it must also cover
// "a/cache/x", or files captured before the exclude was added are recorded as deleted).
TEST(GlobTest, SlashFreeDirectoryPatternMatchesBelowADirectoryAtAnyDepth) {
  EXPECT_TRUE(GlobMatch("cache", "a/cache"));
  EXPECT_TRUE(GlobMatch("cache", "a/cache/x"));
  EXPECT_TRUE(GlobMatch("*.d", "etc/conf.d/x.conf"));
  EXPECT_TRUE(GlobMatch("node_modules", "web/app/node_modules/lib/index.js"));
  EXPECT_FALSE(GlobMatch("cache", "a/cachex/y"));
}

TEST(GlobTest, EmptyGlobMatchesNothingButTheEmptyPath) {
  EXPECT_FALSE(GlobMatch("", "a"));
  EXPECT_TRUE(GlobMatch("", ""));
}

}  // namespace
}  // namespace dk
