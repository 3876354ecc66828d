// Cluster mode of diffkeeper-agent: discovery, capture, restore, peer API and node report for
// the pods of one node (see docs/protocol.md).
#pragma once

#include "agent_config.h"
#include "libstate/logger.h"
#include "libsvc/shutdown.h"

namespace dk::agent {

// Runs until `shutdown` is requested; returns the process exit code.
int RunClusterAgent(const AgentConfig& config, Logger* log, svc::ShutdownSignal* shutdown);

}  // namespace dk::agent
