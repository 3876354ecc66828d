// ProcessUsage: this process's CPU time and resident memory, read from /proc/self.
//
// The agent reports both on /metrics (diffkeeper_agent_cpu_seconds,
// diffkeeper_agent_resident_memory_bytes) so its overhead per protected pod is visible, and
// the benchmark (bench/agent_bench.sh) reads the same numbers from the outside.
// Thread-safe (every call reads /proc afresh).
#pragma once

#include <cstdint>

namespace dk::agent {

struct ProcessUsage {
  double cpu_seconds = 0;       // user + system
  uint64_t rss_bytes = 0;       // resident set size (includes mapped store pages)
  uint64_t anon_rss_bytes = 0;  // anonymous resident memory (heap, stacks): the agent's own
  uint64_t max_rss_bytes = 0;   // high-water mark (VmHWM)
  int threads = 0;
};

// Zeros when /proc is unreadable.
ProcessUsage ReadProcessUsage();

}  // namespace dk::agent
