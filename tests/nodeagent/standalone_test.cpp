// The diffkeeper-agent binary in standalone mode (label integration): captures a directory,
// serves /healthz /readyz /metrics, stops on SIGTERM after a final capture (exit 0), refuses a
// store another process writes (exit 4) and bad flags (exit 1).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <optional>

#include "agent_test_util.h"
#include "libstate/store.h"

#ifndef DK_AGENT_BIN
#error "DK_AGENT_BIN must name the diffkeeper-agent binary"
#endif

namespace dk::agent {
namespace {

using testing::TempDir;
using testing::WaitFor;
using testing::WriteFile;

// The port of the metrics server from the agent's "Serving metrics" log line in `log`
// (the agent binds port 0 itself: a port picked here and bound later could be taken in
// between); 0 when it has not appeared within the wait.
int MetricsPort(const std::string& log) {
  int port = 0;
  WaitFor([&] {
    std::ifstream in(log);
    std::string line;
    while (std::getline(in, line)) {
      const std::string key = "\"url\":\"http://127.0.0.1:";
      size_t at = line.find("Serving metrics");
      size_t url = line.find(key);
      if (at != std::string::npos && url != std::string::npos) {
        port = std::atoi(line.c_str() + url + key.size());
        return port > 0;
      }
    }
    return false;
  });
  return port;
}

// A plain HTTP GET on 127.0.0.1; "" on failure.
std::string HttpGet(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return "";
  }
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  if (write(fd, req.data(), req.size()) < 0) {
    close(fd);
    return "";
  }
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

// Starts the agent; with `log`, its stderr (the JSON log) goes to that file.
pid_t Spawn(const std::vector<std::string>& args, const std::string& log = "") {
  pid_t pid = fork();
  if (pid == 0) {
    if (!log.empty()) {
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd < 0 || dup2(fd, STDERR_FILENO) < 0) _exit(126);
    }
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(DK_AGENT_BIN));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(DK_AGENT_BIN, argv.data());
    _exit(127);
  }
  return pid;
}

int WaitExit(pid_t pid, std::chrono::seconds timeout = std::chrono::seconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

std::optional<std::string> Latest(const std::string& store_path, const std::string& path) {
  StoreOptions o;
  auto s = Store::Open(store_path, o, OpenMode::kReadOnly);
  if (!s.ok()) return std::nullopt;
  auto log = (*s)->Log(path);
  if (!log.ok() || log->back().kind == VersionKind::kDeleted) return std::nullopt;
  auto b = (*s)->ReadVersion(path, log->back().seq);
  if (!b.ok()) return std::nullopt;
  return std::string(b->begin(), b->end());
}

TEST(AgentStandaloneTest, CapturesServesMetricsAndStopsAfterAFinalCapture) {
  TempDir d;
  WriteFile(d.Sub("app/config.yaml"), "workers: 4\n");
  pid_t pid = Spawn({"--standalone", "--watch", d.Sub("app"), "--store", d.Sub("store"),
                     "--debounce-ms", "50", "--metrics-addr", "127.0.0.1:0", "--log-level", "info"},
                    d.Sub("agent1.log"));
  const int port = MetricsPort(d.Sub("agent1.log"));
  ASSERT_GT(port, 0) << "no \"Serving metrics\" line in " << d.Sub("agent1.log");
  ASSERT_TRUE(WaitFor([&] { return Latest(d.Sub("store"), "config.yaml").has_value(); }))
      << "no initial capture";
  ASSERT_TRUE(
      WaitFor([&] { return HttpGet(port, "/readyz").find("\r\n\r\nok") != std::string::npos; }));
  EXPECT_NE(HttpGet(port, "/healthz").find("200 OK"), std::string::npos);
  WriteFile(d.Sub("app/config.yaml"), "workers: 8\n");
  ASSERT_TRUE(WaitFor([&] { return Latest(d.Sub("store"), "config.yaml") == "workers: 8\n"; }));
  std::string metrics = HttpGet(port, "/metrics");
  EXPECT_NE(metrics.find("diffkeeper_agent_captures_total{result=\"ok\"} 2"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("diffkeeper_agent_resident_memory_bytes"), std::string::npos);
  EXPECT_NE(metrics.find("diffkeeper_agent_capture_objects_decoded_total "), std::string::npos)
      << metrics;

  // A second writer of the same store is refused with exit code 4.
  pid_t second = Spawn({"--standalone", "--watch", d.Sub("app"), "--store", d.Sub("store")});
  EXPECT_EQ(WaitExit(second), 4);

  kill(pid, SIGTERM);
  EXPECT_EQ(WaitExit(pid), 0);

  // Written just before SIGTERM, long before the 10 s debounce would fire: still captured.
  pid = Spawn(
      {"--standalone", "--watch", d.Sub("app"), "--store", d.Sub("store"), "--debounce-ms", "10000",
       "--max-delay-ms", "60000", "--metrics-addr", "127.0.0.1:0", "--log-level", "info"},
      d.Sub("agent2.log"));
  const int port2 = MetricsPort(d.Sub("agent2.log"));
  ASSERT_GT(port2, 0) << "no \"Serving metrics\" line in " << d.Sub("agent2.log");
  ASSERT_TRUE(
      WaitFor([&] { return HttpGet(port2, "/readyz").find("\r\n\r\nok") != std::string::npos; }));
  WriteFile(d.Sub("app/late.txt"), "last words");
  kill(pid, SIGTERM);
  EXPECT_EQ(WaitExit(pid), 0);
  EXPECT_EQ(Latest(d.Sub("store"), "late.txt"), "last words");
}

TEST(AgentStandaloneTest, BadFlagsAreUsageErrors) {
  EXPECT_EQ(WaitExit(Spawn({"--standalone"})), 1);
  EXPECT_EQ(WaitExit(Spawn(
                {"--standalone", "--watch", "/tmp", "--store", "/tmp/x", "--debounce-ms", "-5"})),
            1);
  EXPECT_EQ(WaitExit(Spawn({"--no-such-flag"})), 1);
  EXPECT_EQ(WaitExit(Spawn({})), 1) << "cluster mode without --node-name";
}

}  // namespace
}  // namespace dk::agent
