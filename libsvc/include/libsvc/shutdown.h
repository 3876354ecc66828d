// ShutdownSignal: turns SIGTERM / SIGINT into an orderly shutdown.
//
// Install() blocks SIGTERM and SIGINT in the calling thread — call it first thing in main(),
// before any other thread exists, so every thread inherits the mask and the signals are only
// ever received by the ShutdownSignal's own thread. The first signal (or Request()) marks the
// shutdown as requested, runs the OnShutdown() callbacks once, in registration order, on the
// signal thread (or on Request()'s caller), and then wakes Wait(). Callbacks must be quick —
// cancel a token, shut a queue — and leave the slow draining to the thread that called Wait(),
// because a second signal while draining exits the process at once with status 128 + signal
// (the operator pressed Ctrl-C twice, or the kubelet lost patience) and is only noticed when
// the signal thread is free.
//
// At most one instance per process. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "libstate/logger.h"
#include "libstate/result.h"

namespace dk::svc {

class ShutdownSignal {
 public:
  // FailedPrecondition when another instance exists.
  static Result<std::unique_ptr<ShutdownSignal>> Install(Logger* logger);
  ~ShutdownSignal();  // stops the signal thread; the signal mask stays
  ShutdownSignal(const ShutdownSignal&) = delete;
  ShutdownSignal& operator=(const ShutdownSignal&) = delete;

  // Runs `fn` when shutdown is requested; at once (on this thread) if it already was.
  void OnShutdown(std::function<void()> fn);

  // Requests shutdown programmatically (e.g. leadership lost); `reason` is logged.
  void Request(const std::string& reason);
  bool Requested() const { return requested_.load(); }
  // Blocks until shutdown was requested and the callbacks have run.
  void Wait();
  // Blocks until then or until `timeout` passed; true when shutdown was requested.
  bool WaitFor(std::chrono::milliseconds timeout);
  // The signal that requested shutdown (0 for Request() or none yet).
  int signal_number() const { return signo_.load(); }

 private:
  explicit ShutdownSignal(Logger* logger);
  void Run();
  void Trigger(int signo, const std::string& reason);

  Logger* const logger_;
  std::atomic<bool> requested_{false};
  std::atomic<int> signo_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::function<void()>> callbacks_;
  bool callbacks_done_ = false;
  std::thread thread_;
};

}  // namespace dk::svc
