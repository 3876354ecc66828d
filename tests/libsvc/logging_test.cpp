#include "libsvc/logging.h"

#include <gtest/gtest.h>

namespace dk::svc {
namespace {

TEST(ProcessLoggerTest, ParsesLevelsCaseInsensitively) {
  auto l = NewProcessLogger("DEBUG", "test");
  ASSERT_TRUE(l.ok());
  EXPECT_TRUE((*l)->Enabled(LogLevel::kDebug));
  auto w = NewProcessLogger("warning", "test");
  ASSERT_TRUE(w.ok());
  EXPECT_FALSE((*w)->Enabled(LogLevel::kInfo));
  EXPECT_TRUE((*w)->Enabled(LogLevel::kWarn));
  auto d = NewProcessLogger("", "test");
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE((*d)->Enabled(LogLevel::kInfo));
  EXPECT_FALSE((*d)->Enabled(LogLevel::kDebug));
}

TEST(ProcessLoggerTest, UnknownLevelNamesTheFlag) {
  auto l = NewProcessLogger("verbose", "test");
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().message(),
            "--log-level: unknown level \"verbose\" (want debug, info, warn or error)");
}

}  // namespace
}  // namespace dk::svc
