#include "process_usage.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

namespace dk::agent {

ProcessUsage ReadProcessUsage() {
  ProcessUsage u;
  // /proc/self/stat: fields 14 (utime) and 15 (stime) in clock ticks, after the ")" of comm.
  std::ifstream stat("/proc/self/stat");
  std::string line;
  if (std::getline(stat, line)) {
    size_t close = line.rfind(')');
    if (close != std::string::npos) {
      unsigned long long utime = 0, stime = 0;
      long threads = 0;
      // After ") ": state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt
      // utime(14) stime(15) cutime cstime priority nice num_threads(20)
      if (std::sscanf(line.c_str() + close + 2,
                      "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %ld",
                      &utime, &stime, &threads) == 3) {
        double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
        if (tick > 0) u.cpu_seconds = static_cast<double>(utime + stime) / tick;
        u.threads = static_cast<int>(threads);
      }
    }
  }
  std::ifstream status("/proc/self/status");
  while (std::getline(status, line)) {
    unsigned long long kb = 0;
    if (std::sscanf(line.c_str(), "VmRSS: %llu kB", &kb) == 1) u.rss_bytes = kb * 1024;
    if (std::sscanf(line.c_str(), "VmHWM: %llu kB", &kb) == 1) u.max_rss_bytes = kb * 1024;
    if (std::sscanf(line.c_str(), "RssAnon: %llu kB", &kb) == 1) u.anon_rss_bytes = kb * 1024;
  }
  return u;
}

}  // namespace dk::agent
