#include "libstate/status.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "libstate/result.h"

namespace dk {
namespace {

Result<int> Half(int x) {
  if (x % 2) return Status::InvalidArgument("odd number " + std::to_string(x));
  return x / 2;
}

Result<int> Quarter(int x) {
  DK_ASSIGN_OR_RETURN_CTX(int h, Half(x), "quarter");
  DK_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

TEST(StatusTest, OkIsDefaultAndCheap) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "OK");
  EXPECT_FALSE(s.retryable());
}

TEST(StatusTest, ContextIsPrependedAndCodeKept) {
  Status s = Status::IOError("disk gone", true).WithContext("file a.txt");
  EXPECT_EQ(s.code(), StatusCode::kIOError);
  EXPECT_TRUE(s.retryable());
  EXPECT_EQ(s.ToString(), "IOError: file a.txt: disk gone");
}

TEST(StatusTest, FromErrnoMapsCodes) {
  EXPECT_EQ(Status::FromErrno(ENOENT, "x").code(), StatusCode::kNotFound);
  EXPECT_EQ(Status::FromErrno(ENOSPC, "x").code(), StatusCode::kNoSpace);
  EXPECT_EQ(Status::FromErrno(EACCES, "x").code(), StatusCode::kPermissionDenied);
  EXPECT_NE(Status::FromErrno(EIO, "/a/b").message().find("/a/b"), std::string::npos);
}

TEST(ResultTest, AssignOrReturnPropagatesWithContext) {
  auto ok = Quarter(8);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 2);
  auto bad = Quarter(6);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().ToString(), "InvalidArgument: odd number 3");
  auto bad2 = Quarter(5);
  EXPECT_EQ(bad2.status().ToString(), "InvalidArgument: quarter: odd number 5");
}

}  // namespace
}  // namespace dk
