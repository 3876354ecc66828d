#include "libsvc/shutdown.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace dk::svc {
namespace {

std::atomic<bool> g_installed{false};

sigset_t ShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

Result<std::unique_ptr<ShutdownSignal>> ShutdownSignal::Install(Logger* logger) {
  bool expected = false;
  if (!g_installed.compare_exchange_strong(expected, true)) {
    return Status::FailedPrecondition("a ShutdownSignal is already installed in this process");
  }
  sigset_t set = ShutdownSignals();
  int rc = pthread_sigmask(SIG_BLOCK, &set, nullptr);
  if (rc != 0) {
    g_installed.store(false);
    return Status::FromErrno(rc, "pthread_sigmask(SIG_BLOCK, {SIGTERM, SIGINT})");
  }
  std::unique_ptr<ShutdownSignal> s(new ShutdownSignal(logger));
  s->thread_ = std::thread([p = s.get()] { p->Run(); });
  return s;
}

ShutdownSignal::ShutdownSignal(Logger* logger) : logger_(logger ? logger : NullLogger()) {}

ShutdownSignal::~ShutdownSignal() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  g_installed.store(false);
}

void ShutdownSignal::Run() {
  sigset_t set = ShutdownSignals();
  while (!stop_.load()) {
    timespec timeout{0, 200 * 1000 * 1000};  // re-check stop_ five times a second
    int signo = sigtimedwait(&set, nullptr, &timeout);
    if (signo < 0) continue;  // EAGAIN (timeout) or EINTR
    if (requested_.load()) {
      logger_->Warn("Received a second shutdown signal; exiting immediately",
                    {{"signal", strsignal(signo)}});
      _exit(128 + signo);
    }
    Trigger(signo, strsignal(signo));
  }
}

void ShutdownSignal::Trigger(int signo, const std::string& reason) {
  std::vector<std::function<void()>> callbacks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (requested_.load()) return;
    signo_.store(signo);
    requested_.store(true);
    callbacks.swap(callbacks_);
  }
  logger_->Info("Shutdown requested; draining", {{"reason", reason}});
  for (auto& fn : callbacks) fn();
  {
    std::lock_guard<std::mutex> lock(mu_);
    callbacks_done_ = true;
  }
  cv_.notify_all();
}

void ShutdownSignal::Request(const std::string& reason) { Trigger(0, reason); }

void ShutdownSignal::OnShutdown(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!requested_.load()) {
      callbacks_.push_back(std::move(fn));
      return;
    }
    // Requested: run it here (possibly while the trigger is still running earlier callbacks).
  }
  fn();
}

void ShutdownSignal::Wait() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return callbacks_done_; });
}

bool ShutdownSignal::WaitFor(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return callbacks_done_; });
}

}  // namespace dk::svc
