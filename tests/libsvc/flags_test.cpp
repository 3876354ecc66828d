#include "libsvc/flags.h"

#include <gtest/gtest.h>
#include <stdlib.h>

namespace dk::svc {
namespace {

struct Settings {
  std::string kubeconfig;
  int64_t workers = 2;
  bool leader_elect = true;
  std::chrono::milliseconds resync{30000};
  std::vector<std::string> hosts{"default"};
};

FlagSet Define(Settings* s) {
  FlagSet f("prog", "Does things.");
  f.String("kubeconfig", &s->kubeconfig, "Path to a kubeconfig.", "DK_TEST_KUBECONFIG");
  f.Int("workers", &s->workers, "Workers.", "DK_TEST_WORKERS");
  f.Bool("leader-elect", &s->leader_elect, "Elect a leader.");
  f.Duration("resync", &s->resync, "Resync period.");
  f.StringList("host", &s->hosts, "Hosts.", "DK_TEST_HOSTS");
  return f;
}

Status ParseArgs(FlagSet* f, std::vector<const char*> args) {
  args.insert(args.begin(), "prog");
  return f->Parse(static_cast<int>(args.size()), args.data());
}

TEST(FlagsTest, CommandLineBeatsEnvironmentBeatsDefault) {
  setenv("DK_TEST_KUBECONFIG", "/env/config", 1);
  setenv("DK_TEST_WORKERS", "9", 1);
  Settings s;
  FlagSet f = Define(&s);
  ASSERT_TRUE(ParseArgs(&f, {"--kubeconfig=/cli/config", "--leader-elect=false", "--resync",
                             "1m30s", "--host", "a", "--host=b", "pos"})
                  .ok());
  EXPECT_EQ(s.kubeconfig, "/cli/config");
  EXPECT_EQ(s.workers, 9);
  EXPECT_FALSE(s.leader_elect);
  EXPECT_EQ(s.resync, std::chrono::seconds(90));
  EXPECT_EQ(s.hosts, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(f.args(), (std::vector<std::string>{"pos"}));
  unsetenv("DK_TEST_KUBECONFIG");
  unsetenv("DK_TEST_WORKERS");
}

TEST(FlagsTest, ErrorsNameTheFlagOrVariable) {
  Settings s;
  FlagSet f = Define(&s);
  Status st = ParseArgs(&f, {"--nope"});
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("--nope"), std::string::npos) << st;
  Settings s2;
  FlagSet f2 = Define(&s2);
  st = ParseArgs(&f2, {"--workers=many"});
  EXPECT_NE(st.message().find("flag --workers"), std::string::npos) << st;
  Settings s3;
  FlagSet f3 = Define(&s3);
  setenv("DK_TEST_WORKERS", "x", 1);
  st = ParseArgs(&f3, {});
  EXPECT_NE(st.message().find("DK_TEST_WORKERS"), std::string::npos) << st;
  unsetenv("DK_TEST_WORKERS");
  Settings s4;
  FlagSet f4 = Define(&s4);
  st = ParseArgs(&f4, {"--kubeconfig"});
  EXPECT_NE(st.message().find("needs a value"), std::string::npos) << st;
}

TEST(FlagsTest, HelpIsReportedAndUsageListsFlagsWithDefaults) {
  Settings s;
  FlagSet f = Define(&s);
  ASSERT_TRUE(ParseArgs(&f, {"--help"}).ok());
  EXPECT_TRUE(f.help_requested());
  std::string usage = f.Usage();
  EXPECT_NE(usage.find("--workers int"), std::string::npos) << usage;
  EXPECT_NE(usage.find("(default 2)"), std::string::npos) << usage;
  EXPECT_NE(usage.find("(default 30s)"), std::string::npos) << usage;
  EXPECT_NE(usage.find("[$DK_TEST_KUBECONFIG]"), std::string::npos) << usage;
}

}  // namespace
}  // namespace dk::svc
