#include "libsvc/duration.h"

#include <gtest/gtest.h>

namespace dk::svc {
namespace {

using std::chrono::nanoseconds;
using namespace std::chrono_literals;

TEST(DurationTest, ParsesGoDurations) {
  EXPECT_EQ(*ParseDuration("0"), 0ns);
  EXPECT_EQ(*ParseDuration("300ms"), 300ms);
  EXPECT_EQ(*ParseDuration("10s"), 10s);
  EXPECT_EQ(*ParseDuration("1.5h"), 90min);
  EXPECT_EQ(*ParseDuration("2h45m"), 165min);
  EXPECT_EQ(*ParseDuration("1m30s"), 90s);
  EXPECT_EQ(*ParseDuration("250us"), 250us);
  EXPECT_EQ(*ParseDuration("7ns"), 7ns);
  EXPECT_EQ(*ParseDuration("+5s"), 5s);
}

TEST(DurationTest, RejectsWhatCelRejects) {
  for (const char* bad : {"", "5", "s", "-5s", "5 s", "5sec", "1d", "1.s.", "abc", "99999999h"}) {
    auto r = ParseDuration(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    }
  }
  EXPECT_NE(ParseDuration("1d").status().message().find("\"1d\""), std::string::npos);
}

TEST(DurationTest, FormatsLikeGo) {
  EXPECT_EQ(FormatDuration(0ns), "0s");
  EXPECT_EQ(FormatDuration(250ms), "250ms");
  EXPECT_EQ(FormatDuration(1500ms), "1.5s");
  EXPECT_EQ(FormatDuration(90s), "1m30s");
  EXPECT_EQ(FormatDuration(3h + 2s), "3h0m2s");
  EXPECT_EQ(FormatDuration(12ns), "12ns");
  EXPECT_EQ(*ParseDuration(FormatDuration(123456789ns)), 123456789ns);
}

}  // namespace
}  // namespace dk::svc
