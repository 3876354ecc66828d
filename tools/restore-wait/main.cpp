// restore-wait: see restore_waiter.h.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "restore_waiter.h"

namespace {
std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop.store(true); }
}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      std::fputs(dk::restorewait::Usage().c_str(), stdout);
      return 0;
    }
  }
  const char* uid = std::getenv("POD_UID");
  dk::restorewait::WaitOptions options;
  std::string error;
  if (!dk::restorewait::ParseArgs(args, uid != nullptr ? uid : "", &options, &error)) {
    std::fputs(error.c_str(), stderr);
    return dk::restorewait::kExitUsage;
  }
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  auto result = dk::restorewait::WaitForRestore(
      options, dk::restorewait::RealEnv([] { return g_stop.load(); }));
  return result.exit_code;
}
