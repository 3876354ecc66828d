// TcpProxy: forwards a loopback port to another, and can be switched off and on again on the
// same port — an S3 endpoint that goes down (connections refused, open ones cut) and comes
// back, without touching the server behind it.
#pragma once

#include <mutex>
#include <thread>

namespace dk::replica::testing {

class TcpProxy {
 public:
  explicit TcpProxy(int target_port) : target_port_(target_port) {}
  ~TcpProxy() { Stop(); }
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  // Listens on 127.0.0.1 (a free port the first time, the same port afterwards). False when
  // the port cannot be bound.
  bool Start();
  // Closes the listener and every forwarded connection; returns when all are closed.
  void Stop();
  int port() const { return port_; }

 private:
  void AcceptLoop(int listen_fd, int stop_fd);
  static void Pump(int a, int b, int stop_fd);

  const int target_port_;
  int port_ = 0;
  std::mutex mu_;
  int stop_pipe_[2] = {-1, -1};
  std::thread acceptor_;
};

}  // namespace dk::replica::testing
