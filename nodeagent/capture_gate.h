// CaptureGate: a counting semaphore that bounds how many captures run at once on this node.
//
// Each capture worker holds a slot for the duration of one Store::Capture(), so the agent's CPU
// and I/O are bounded by `slots` captures no matter how many pods write at once. Pods that
// write faster than captures complete wait here; their changes keep being coalesced by their
// watcher meanwhile (capture_worker.h), so waiting costs no memory beyond the bounded dirty set.
//
// Thread-safe.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <mutex>

namespace dk::agent {

class CaptureGate {
 public:
  explicit CaptureGate(size_t slots) : slots_(slots == 0 ? 1 : slots) {}
  CaptureGate(const CaptureGate&) = delete;
  CaptureGate& operator=(const CaptureGate&) = delete;

  void Acquire() {
    std::unique_lock<std::mutex> lock(mu_);
    ++waiting_;
    cv_.wait(lock, [&] { return in_use_ < slots_; });
    --waiting_;
    ++in_use_;
  }
  void Release() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      --in_use_;
    }
    cv_.notify_one();
  }
  size_t waiting() const {
    std::lock_guard<std::mutex> lock(mu_);
    return waiting_;
  }
  size_t in_use() const {
    std::lock_guard<std::mutex> lock(mu_);
    return in_use_;
  }
  size_t slots() const { return slots_; }

 private:
  const size_t slots_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  size_t in_use_ = 0;
  size_t waiting_ = 0;
};

// Holds one slot of a gate for its lifetime (a null gate is unbounded).
class GateSlot {
 public:
  explicit GateSlot(CaptureGate* gate) : gate_(gate) {
    if (gate_) gate_->Acquire();
  }
  ~GateSlot() {
    if (gate_) gate_->Release();
  }
  GateSlot(const GateSlot&) = delete;
  GateSlot& operator=(const GateSlot&) = delete;

 private:
  CaptureGate* gate_;
};

}  // namespace dk::agent
