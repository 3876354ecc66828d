// diffkeeper-agent: the node agent. See agent_config.h for the modes and flags.
#include <cstdio>
#include <memory>

#include "agent_config.h"
#include "cluster_agent.h"
#include "libsvc/logging.h"
#include "libsvc/shutdown.h"
#include "standalone.h"

int main(int argc, char** argv) {
  using namespace dk::agent;
  dk::agent::AgentConfig config;
  bool help = false;
  dk::Status s = ParseAgentConfig(argc, argv, &config, &help);
  if (!s.ok()) {
    std::fprintf(stderr, "diffkeeper-agent: %s\n", s.message().c_str());
    return kExitUsage;
  }
  if (help) return kExitOk;
  auto log = dk::svc::NewProcessLogger(config.log_level, "agent");
  if (!log.ok()) {
    std::fprintf(stderr, "diffkeeper-agent: %s\n", log.status().message().c_str());
    return kExitUsage;
  }
  // Before any other thread exists: every thread inherits the blocked SIGTERM/SIGINT.
  auto shutdown = dk::svc::ShutdownSignal::Install(log->get());
  if (!shutdown.ok()) {
    (*log)->Error("Installing the signal handler failed",
                  {{"error", shutdown.status().ToString()}});
    return kExitFailed;
  }
  if (config.standalone) return RunStandalone(config, log->get(), shutdown->get());
  return RunClusterAgent(config, log->get(), shutdown->get());
}
