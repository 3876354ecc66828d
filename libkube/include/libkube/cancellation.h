// Cancellation: a one-shot stop signal shared between the thread that asks a long operation to
// stop and the operation itself (a watch stream, an informer, a leader election loop).
//
// Once Cancel() has been called, IsCancelled() stays true forever. Callbacks registered with
// OnCancel() run once, on the thread that calls Cancel(). SleepFor() is an interruptible sleep
// on any Clock.
//
// Thread-safe. Not copyable or movable (operations keep pointers to it).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>

#include "libkube/clock.h"

namespace dk::kube {

class Cancellation {
 public:
  Cancellation() = default;
  Cancellation(const Cancellation&) = delete;
  Cancellation& operator=(const Cancellation&) = delete;

  // Sets the signal, wakes SleepFor() callers and runs the registered callbacks. Idempotent.
  void Cancel();
  bool IsCancelled() const;

  // Waits for `d` on `clock`. Returns true when the full time passed, false as soon as the
  // signal is set (also when it was already set on entry).
  bool SleepFor(Clock* clock, Clock::Duration d) const;

  // Registers `fn` to run when Cancel() is called; runs it immediately (on this thread) and
  // returns 0 when already cancelled. Otherwise returns a non-zero id for Unregister().
  uint64_t OnCancel(std::function<void()> fn);
  // Removes a callback. After return the callback is not running and will never run.
  void Unregister(uint64_t id);

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool cancelled_ = false;
  bool running_callbacks_ = false;
  uint64_t next_id_ = 1;
  std::map<uint64_t, std::function<void()>> callbacks_;
};

// Registers a callback for the lifetime of the guard (RAII over OnCancel/Unregister).
class CancellationCallback {
 public:
  CancellationCallback(Cancellation* c, std::function<void()> fn)
      : c_(c), id_(c ? c->OnCancel(std::move(fn)) : 0) {}
  ~CancellationCallback() {
    if (c_ != nullptr && id_ != 0) c_->Unregister(id_);
  }
  CancellationCallback(const CancellationCallback&) = delete;
  CancellationCallback& operator=(const CancellationCallback&) = delete;

 private:
  Cancellation* c_;
  uint64_t id_;
};

}  // namespace dk::kube
