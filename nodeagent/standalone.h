// Standalone mode: protect one directory with one store, no cluster (the README's demo).
//
//   diffkeeper-agent --standalone --watch DIR --store PATH [--debounce-ms N] [--max-delay-ms N]
//                    [--include GLOB]... [--exclude GLOB]... [--metrics-addr 127.0.0.1:PORT]
//
// Opens (or creates) the store, captures DIR in full, then captures every change (capture
// worker). SIGTERM / SIGINT: the capture in flight finishes, a final capture records what was
// written up to the signal, the store is closed, exit 0. A second signal exits at once.
#pragma once

#include "agent_config.h"
#include "libstate/logger.h"
#include "libsvc/shutdown.h"

namespace dk::agent {

// Exit codes of the agent.
inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 1;
inline constexpr int kExitFailed = 2;
inline constexpr int kExitBusy = 4;  // the store is open for writing by another process

// Runs until `shutdown` is requested; returns the process exit code.
int RunStandalone(const AgentConfig& config, Logger* log, svc::ShutdownSignal* shutdown);

}  // namespace dk::agent
