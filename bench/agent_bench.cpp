// agent_bench: the node agent's overhead while a workload writes, and its capture lag.
//
// For each write rate it starts `diffkeeper-agent --standalone` (the same capture worker the
// cluster mode runs per pod, fsync on every capture) on a fresh directory and store, then for
// --seconds writes at that rate — rewriting files of --file-size bytes with fresh random
// content, as a database rewriting pages would — while it
//  - samples the agent's CPU time and memory (/proc/<pid>/stat and status, every 100 ms);
//  - every 250 ms writes a small probe file and measures the capture lag: the time from the
//    write to the moment a committed capture set containing it is visible in the store (opened
//    read-only from this process, polled every 2 ms) — i.e. until the version is durable.
// and prints one table row per rate. Not a test: numbers depend on the machine.
//
//   agent_bench [--agent PATH] [--seconds 15] [--rates 1,4,16] [--file-size 262144]
//               [--files 64] [--debounce-ms 200] [--max-delay-ms 1000] [--dir /tmp]
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "libstate/store.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string agent;
  int seconds = 15;
  std::vector<double> rates = {1, 4, 16};
  size_t file_size = 256 * 1024;
  int files = 64;
  int debounce_ms = 200;
  int max_delay_ms = 1000;
  std::string dir = "/tmp";
};

struct Usage {
  double cpu_seconds = 0;
  uint64_t rss = 0, anon = 0;
};

Usage ReadUsage(pid_t pid) {
  Usage u;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (std::getline(stat, line)) {
    size_t close = line.rfind(')');
    unsigned long long ut = 0, st = 0;
    if (close != std::string::npos &&
        std::sscanf(line.c_str() + close + 2,
                    "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2)
      u.cpu_seconds = static_cast<double>(ut + st) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  while (std::getline(status, line)) {
    unsigned long long kb;
    if (std::sscanf(line.c_str(), "VmRSS: %llu kB", &kb) == 1) u.rss = kb * 1024;
    if (std::sscanf(line.c_str(), "RssAnon: %llu kB", &kb) == 1) u.anon = kb * 1024;
  }
  return u;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

void WriteFile(const std::string& path, const std::string& data) {
  std::string tmp = path + ".w";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
  }
  std::rename(tmp.c_str(), path.c_str());
}

struct Row {
  double rate = 0, actual = 0, cpu_pct = 0, cpu_per_mbs = 0;
  double rss_mib = 0, anon_mib = 0, lag_p50 = 0, lag_p95 = 0, lag_max = 0;
  size_t probes = 0, probes_missed = 0;
  uint64_t sets = 0;
  double stored_mib = 0;
};

Row RunOne(const Options& o, double rate_mbs) {
  Row row;
  row.rate = rate_mbs;
  std::string base = o.dir + "/dk-agent-bench-" + std::to_string(getpid()) + "-" +
                     std::to_string(static_cast<int>(rate_mbs * 1000));
  std::filesystem::remove_all(base);
  std::string data = base + "/data", store_path = base + "/store";
  std::filesystem::create_directories(data);
  std::mt19937_64 rng(42);
  auto random_bytes = [&](size_t n) {
    std::string s(n, '\0');
    for (size_t i = 0; i < n; i += 8) {
      uint64_t x = rng();
      std::memcpy(&s[i], &x, std::min<size_t>(8, n - i));
    }
    return s;
  };
  for (int i = 0; i < o.files; ++i)
    WriteFile(data + "/f" + std::to_string(i), random_bytes(o.file_size));

  pid_t pid = fork();
  if (pid == 0) {
    std::string deb = std::to_string(o.debounce_ms), md = std::to_string(o.max_delay_ms);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 2);
    execl(o.agent.c_str(), o.agent.c_str(), "--standalone", "--watch", data.c_str(), "--store",
          store_path.c_str(), "--debounce-ms", deb.c_str(), "--max-delay-ms", md.c_str(),
          "--log-level", "warn", static_cast<char*>(nullptr));
    _exit(127);
  }
  // Wait for the initial capture (the store exists and has a set).
  std::unique_ptr<dk::Store> store;
  auto wait_deadline = Clock::now() + std::chrono::seconds(60);
  while (Clock::now() < wait_deadline) {
    dk::StoreOptions so;
    auto s = dk::Store::Open(store_path, so, dk::OpenMode::kReadOnly);
    if (s.ok()) {
      auto sets = (*s)->Sets();
      if (sets.ok() && !sets->empty()) {
        store = std::move(*s);
        break;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (!store) {
    std::fprintf(stderr, "agent_bench: the agent did not make its initial capture\n");
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return row;
  }

  std::atomic<bool> stop{false};
  std::mutex mu;
  std::map<int, Clock::time_point> probes;  // pending: written, not yet seen
  std::vector<double> lags_ms;
  std::thread checker([&] {
    while (!stop.load()) {
      std::vector<int> pending;
      {
        std::lock_guard<std::mutex> lock(mu);
        for (const auto& [n, t] : probes) pending.push_back(n);
      }
      for (int n : pending) {
        auto log = store->Log("probe-" + std::to_string(n));
        if (!log.ok()) continue;
        auto now = Clock::now();
        std::lock_guard<std::mutex> lock(mu);
        lags_ms.push_back(std::chrono::duration<double, std::milli>(now - probes[n]).count());
        probes.erase(n);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });

  Usage u0 = ReadUsage(pid);
  uint64_t max_rss = u0.rss, max_anon = u0.anon;
  const auto start = Clock::now();
  const auto end = start + std::chrono::seconds(o.seconds);
  const double tick_s = 0.05;
  const size_t per_tick = static_cast<size_t>(rate_mbs * 1048576.0 * tick_s);
  uint64_t written = 0;
  size_t carry = 0;
  int next_file = 0, probe = 0;
  auto next_probe = start;
  auto next_sample = start;
  std::string chunk;
  for (auto t = start; t < end; t += std::chrono::milliseconds(static_cast<int>(tick_s * 1000))) {
    // This tick's bytes: whole files rewritten with fresh content.
    carry += per_tick;
    while (carry >= o.file_size) {
      WriteFile(data + "/f" + std::to_string(next_file), random_bytes(o.file_size));
      next_file = (next_file + 1) % o.files;
      carry -= o.file_size;
      written += o.file_size;
    }
    auto now = Clock::now();
    if (now >= next_probe) {
      {
        std::lock_guard<std::mutex> lock(mu);
        probes[probe] = Clock::now();
      }
      WriteFile(data + "/probe-" + std::to_string(probe), "probe " + std::to_string(probe));
      ++probe;
      next_probe += std::chrono::milliseconds(250);
    }
    if (now >= next_sample) {
      Usage u = ReadUsage(pid);
      max_rss = std::max(max_rss, u.rss);
      max_anon = std::max(max_anon, u.anon);
      next_sample += std::chrono::milliseconds(100);
    }
    std::this_thread::sleep_until(t + std::chrono::milliseconds(static_cast<int>(tick_s * 1000)));
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  Usage u1 = ReadUsage(pid);
  // Give the last probes time to land, then stop.
  auto drain = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < drain) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (probes.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop = true;
  checker.join();
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);

  row.actual = static_cast<double>(written) / 1048576.0 / elapsed;
  row.cpu_pct = 100.0 * (u1.cpu_seconds - u0.cpu_seconds) / elapsed;
  row.cpu_per_mbs = row.actual > 0 ? row.cpu_pct / row.actual : 0;
  row.rss_mib = static_cast<double>(max_rss) / 1048576.0;
  row.anon_mib = static_cast<double>(max_anon) / 1048576.0;
  row.lag_p50 = Percentile(lags_ms, 0.5);
  row.lag_p95 = Percentile(lags_ms, 0.95);
  row.lag_max = lags_ms.empty() ? 0 : *std::max_element(lags_ms.begin(), lags_ms.end());
  row.probes = static_cast<size_t>(probe);
  row.probes_missed = probes.size();
  auto sets = store->Sets();
  row.sets = sets.ok() ? sets->size() : 0;
  auto stats = store->Stats();
  row.stored_mib = stats.ok() ? static_cast<double>(stats->stored_bytes) / 1048576.0 : 0;
  store.reset();
  std::filesystem::remove_all(base);
  return row;
}

bool ParseArgs(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--agent")
      o->agent = next();
    else if (a == "--seconds")
      o->seconds = std::atoi(next().c_str());
    else if (a == "--file-size")
      o->file_size = std::strtoull(next().c_str(), nullptr, 10);
    else if (a == "--files")
      o->files = std::atoi(next().c_str());
    else if (a == "--debounce-ms")
      o->debounce_ms = std::atoi(next().c_str());
    else if (a == "--max-delay-ms")
      o->max_delay_ms = std::atoi(next().c_str());
    else if (a == "--dir")
      o->dir = next();
    else if (a == "--rates") {
      o->rates.clear();
      std::stringstream ss(next());
      std::string r;
      while (std::getline(ss, r, ',')) o->rates.push_back(std::atof(r.c_str()));
    } else {
      std::fprintf(stderr, "agent_bench: unknown argument %s\n", a.c_str());
      return false;
    }
  }
  if (o->agent.empty()) {
    // Next to this binary: <build>/bench/agent_bench → <build>/nodeagent/diffkeeper-agent.
    std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
    o->agent = std::filesystem::path(self).parent_path().parent_path().string() +
               "/nodeagent/diffkeeper-agent";
  }
  return o->seconds > 0 && o->file_size >= 4096 && o->files > 0 && !o->rates.empty();
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!ParseArgs(argc, argv, &o)) return 2;
  if (access(o.agent.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "agent_bench: %s is not executable (--agent PATH)\n", o.agent.c_str());
    return 2;
  }
  std::printf(
      "diffkeeper-agent --standalone, fsync per capture, debounce %d ms, max delay %d ms;\n"
      "workload rewrites %d files of %zu KiB with fresh random data; %d s per rate; "
      "%ld CPUs\n\n",
      o.debounce_ms, o.max_delay_ms, o.files, o.file_size / 1024, o.seconds,
      sysconf(_SC_NPROCESSORS_ONLN));
  std::printf(
      "| target MB/s | written MB/s | agent CPU %% | CPU %% per MB/s | RSS MiB (max) | "
      "anon MiB (max) | lag p50 ms | lag p95 ms | lag max ms | sets | stored MiB |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (double r : o.rates) {
    Row row = RunOne(o, r);
    std::printf("| %.1f | %.2f | %.1f | %.2f | %.1f | %.1f | %.0f | %.0f | %.0f | %llu | %.1f |\n",
                row.rate, row.actual, row.cpu_pct, row.cpu_per_mbs, row.rss_mib, row.anon_mib,
                row.lag_p50, row.lag_p95, row.lag_max, static_cast<unsigned long long>(row.sets),
                row.stored_mib);
    if (row.probes_missed)
      std::printf("  (%zu of %zu probes were not captured within 10 s of the end)\n",
                  row.probes_missed, row.probes);
    std::fflush(stdout);
  }
  std::printf("\nlag = write of a probe file → committed capture set containing it (durable).\n");
  return 0;
}
