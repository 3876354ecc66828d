#include "libreplica/tcp_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace dk::replica::testing {
namespace {

sockaddr_in Loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  return a;
}

bool WriteAll(int fd, const char* p, ssize_t n) {
  while (n > 0) {
    const ssize_t w = ::send(fd, p, static_cast<size_t>(n), MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= w;
  }
  return true;
}

}  // namespace

bool TcpProxy::Start() {
  std::lock_guard<std::mutex> l(mu_);
  if (acceptor_.joinable()) return true;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr = Loopback(port_);
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, 64) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      ::pipe2(stop_pipe_, O_CLOEXEC) != 0) {
    ::close(fd);
    return false;
  }
  port_ = ntohs(addr.sin_port);
  const int stop_fd = stop_pipe_[0];
  acceptor_ = std::thread([this, fd, stop_fd] { AcceptLoop(fd, stop_fd); });
  return true;
}

void TcpProxy::Stop() {
  std::thread acceptor;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!acceptor_.joinable()) return;
    const char c = 'x';
    (void)!::write(stop_pipe_[1], &c, 1);  // wakes every poll() on the read end
    acceptor = std::move(acceptor_);
  }
  acceptor.join();  // joins the pumps before it returns
  std::lock_guard<std::mutex> l(mu_);
  ::close(stop_pipe_[0]);
  ::close(stop_pipe_[1]);
  stop_pipe_[0] = stop_pipe_[1] = -1;
}

void TcpProxy::AcceptLoop(int listen_fd, int stop_fd) {
  std::vector<std::thread> pumps;
  while (true) {
    pollfd fds[2] = {{listen_fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents) break;
    if (!(fds[0].revents & POLLIN)) continue;
    const int client = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    const int upstream = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in target = Loopback(target_port_);
    if (upstream < 0 ||
        ::connect(upstream, reinterpret_cast<sockaddr*>(&target), sizeof(target)) != 0) {
      ::close(client);
      if (upstream >= 0) ::close(upstream);
      continue;
    }
    pumps.emplace_back([client, upstream, stop_fd] { Pump(client, upstream, stop_fd); });
  }
  ::close(listen_fd);  // new connections are refused from here on
  for (auto& t : pumps) t.join();
}

void TcpProxy::Pump(int a, int b, int stop_fd) {
  char buf[64 * 1024];
  while (true) {
    pollfd fds[3] = {{a, POLLIN, 0}, {b, POLLIN, 0}, {stop_fd, POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[2].revents) break;
    bool done = false;
    for (int i = 0; i < 2 && !done; ++i) {
      if (!fds[i].revents) continue;
      const int from = i == 0 ? a : b, to = i == 0 ? b : a;
      const ssize_t n = ::recv(from, buf, sizeof(buf), 0);
      if (n <= 0 || !WriteAll(to, buf, n)) done = true;
    }
    if (done) break;
  }
  // Reset rather than close politely: the client sees the connection cut.
  linger lg{1, 0};
  ::setsockopt(a, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  ::close(a);
  ::close(b);
}

}  // namespace dk::replica::testing
