#include <gtest/gtest.h>

#include <map>

#include "restore_waiter.h"

namespace dk::restorewait {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A fake world: files appear at given times, time moves only when the waiter sleeps.
struct World {
  std::chrono::steady_clock::time_point now{};
  std::map<std::string, std::pair<std::chrono::steady_clock::time_point, std::string>> files;
  std::vector<std::string> lines;

  WaitEnv Env() {
    WaitEnv e;
    e.read_file = [this](const std::string& p) -> std::optional<std::string> {
      auto it = files.find(p);
      if (it == files.end() || now < it->second.first) return std::nullopt;
      return it->second.second;
    };
    e.now = [this] { return now; };
    e.sleep = [this](milliseconds d) { now += d; };
    e.print = [this](const std::string& l) { lines.push_back(l); };
    e.cancelled = [] { return false; };
    return e;
  }
  void At(milliseconds when, const std::string& path, const std::string& content) {
    files[path] = {std::chrono::steady_clock::time_point{} + when, content};
  }
};

WaitOptions Opts(OnTimeout on_timeout = OnTimeout::kFail) {
  WaitOptions o;
  o.marker_dir = "/m";
  o.pod_uid = "abc-123";
  o.timeout = seconds(120);
  o.on_timeout = on_timeout;
  return o;
}

TEST(RestoreWaitTest, ExitsZeroWhenTheStateWasRestored) {
  World w;
  w.At(seconds(3), "/m/abc-123", R"({"result":"restored","set":7,"root":"0123456789abcdef0123"})");
  WaitResult r = WaitForRestore(Opts(), w.Env());
  EXPECT_EQ(r.exit_code, kExitOk);
  EXPECT_EQ(r.message,
            "state restored (capture set 7, verified root 0123456789ab); starting the application");
  EXPECT_EQ(w.now - std::chrono::steady_clock::time_point{}, seconds(3));
  EXPECT_EQ(w.lines.front(),
            "restore-wait: waiting up to 2m for the node agent to restore this pod's state (marker "
            "/m/abc-123)");
}

TEST(RestoreWaitTest, EmptyStateStartsTheApplication) {
  World w;
  w.At(seconds(0), "/m/abc-123",
       R"({"result":"empty","message":"no captured state; starting empty"})");
  WaitResult r = WaitForRestore(Opts(), w.Env());
  EXPECT_EQ(r.exit_code, kExitOk);
  EXPECT_EQ(r.message,
            "no captured state for this pod (no captured state; starting empty); starting with "
            "empty volumes");
}

TEST(RestoreWaitTest, AFailedRestoreFailsOrStartsEmptyAsThePolicySays) {
  World w;
  w.At(seconds(1), "/m/abc-123",
       R"({"result":"failed","message":"chunk 3f2a failed verification"})");
  WaitResult r = WaitForRestore(Opts(), w.Env());
  EXPECT_EQ(r.exit_code, kExitFailed);
  EXPECT_NE(r.message.find("the restore failed: chunk 3f2a failed verification; not starting the "
                           "application (restore.onTimeout: Fail)"),
            std::string::npos)
      << r.message;
  World w2;
  w2.At(seconds(1), "/m/abc-123", R"({"result":"failed"})");
  WaitResult r2 = WaitForRestore(Opts(OnTimeout::kStartEmpty), w2.Env());
  EXPECT_EQ(r2.exit_code, kExitOk);
  EXPECT_NE(r2.message.find("starting the application without the restored state"),
            std::string::npos);
}

TEST(RestoreWaitTest, TimesOutWithProgressReports) {
  World w;
  WaitResult r = WaitForRestore(Opts(), w.Env());
  EXPECT_EQ(r.exit_code, kExitTimedOut);
  EXPECT_EQ(w.now - std::chrono::steady_clock::time_point{}, seconds(120));  // never beyond
  EXPECT_NE(r.message.find("timed out after 2m: the node agent did not finish restoring; not "
                           "starting the application"),
            std::string::npos)
      << r.message;
  // Progress every 30 s: at 30, 60 and 90 s.
  int progress = 0;
  for (const auto& l : w.lines) progress += l.find("still waiting after") != std::string::npos;
  EXPECT_EQ(progress, 3);
  World w2;
  EXPECT_EQ(WaitForRestore(Opts(OnTimeout::kStartEmpty), w2.Env()).exit_code, kExitOk);
}

TEST(RestoreWaitTest, AnUnreadableMarkerIsReportedOnceAndAwaited) {
  World w;
  w.At(seconds(1), "/m/abc-123", "{\"res");  // a writer that did not rename atomically
  WaitResult r = WaitForRestore(Opts(), w.Env());
  EXPECT_EQ(r.exit_code, kExitTimedOut);
  int said = 0;
  for (const auto& l : w.lines) said += l.find("is not a JSON object") != std::string::npos;
  EXPECT_EQ(said, 2);  // once when seen, once in the timeout message
  World w2;
  w2.At(seconds(1), "/m/abc-123", R"({"result":"maybe"})");
  w2.At(seconds(5), "/m/abc-123", R"({"result":"restored"})");
  EXPECT_EQ(WaitForRestore(Opts(), w2.Env()).exit_code, kExitOk);
}

TEST(RestoreWaitTest, ASignalStopsTheWait) {
  World w;
  WaitEnv env = w.Env();
  env.cancelled = [&w] { return w.now >= std::chrono::steady_clock::time_point{} + seconds(2); };
  EXPECT_EQ(WaitForRestore(Opts(), env).exit_code, 143);
}

TEST(RestoreWaitArgsTest, ParsesTheProtocolsCommandLine) {
  WaitOptions o;
  std::string err;
  ASSERT_TRUE(ParseArgs({"restore-wait", "--marker-dir", "/var/run/diffkeeper/markers", "--timeout",
                         "600", "--on-timeout", "start-empty"},
                        "0b6f-11ee", &o, &err))
      << err;
  EXPECT_EQ(o.marker_dir, "/var/run/diffkeeper/markers");
  EXPECT_EQ(o.timeout, seconds(600));
  EXPECT_EQ(o.on_timeout, OnTimeout::kStartEmpty);
  EXPECT_EQ(o.pod_uid, "0b6f-11ee");
  ASSERT_TRUE(ParseArgs({"x", "--marker-dir=/m", "--timeout=5", "--pod-uid=ab"}, "", &o, &err));
  EXPECT_EQ(o.pod_uid, "ab");
  EXPECT_EQ(o.on_timeout, OnTimeout::kFail);
}

TEST(RestoreWaitArgsTest, BadArgumentsSayWhatIsWrong) {
  struct Case {
    std::vector<std::string> args;
    std::string env;
    std::string message;
  };
  std::vector<Case> cases = {
      {{"x", "--timeout", "5"}, "ab", "--marker-dir is required"},
      {{"x", "--marker-dir", "/m"}, "ab", "--timeout is required"},
      {{"x", "--marker-dir", "/m", "--timeout", "soon"},
       "ab",
       "--timeout wants a number of seconds"},
      {{"x", "--marker-dir", "/m", "--timeout", "5", "--on-timeout", "retry"},
       "ab",
       "--on-timeout wants fail or start-empty"},
      {{"x", "--marker-dir", "/m", "--timeout", "5"}, "", "no pod UID"},
      {{"x", "--marker-dir", "/m", "--timeout", "5"}, "../../etc/passwd", "is not a pod UID"},
      {{"x", "--marker-dir", "/m", "--timeout", "5", "--bogus"}, "ab", "unknown argument"},
  };
  for (const auto& c : cases) {
    WaitOptions o;
    std::string err;
    EXPECT_FALSE(ParseArgs(c.args, c.env, &o, &err));
    EXPECT_NE(err.find(c.message), std::string::npos) << err;
    EXPECT_NE(err.find("usage: restore-wait"), std::string::npos);
  }
}

}  // namespace
}  // namespace dk::restorewait
