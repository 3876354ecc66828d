// LeaderElector: leader election on a coordination.k8s.io/v1 Lease (client-go's algorithm).
//
// Acquire: the Lease is created if missing, or taken over when its holder is empty (released)
// or has not renewed it for lease_duration as observed on OUR clock (no clock-skew trust:
// expiry is measured from when this process last saw the lease record change). Every write is
// an Update with the resourceVersion just read, so two candidates never both win.
// Renew: every retry_period; when renewals keep failing until renew_deadline has passed since
// the last successful one, leadership is lost (on_stopped_leading) and Run() returns.
// Release (stop requested while leading, release_on_cancel): holderIdentity is cleared and
// leaseDurationSeconds set to 1, so another candidate takes over at once.
//
// Required: lease_duration > renew_deadline > retry_period * 1.2 (retries are jittered by up
// to 20%).
//
// Callbacks: on_started_leading runs on its own thread with a Cancellation that fires when
// leadership ends; it must return soon after. on_stopped_leading runs on Run()'s thread after
// on_started_leading returned, only if this process was leading. on_new_leader runs on Run()'s
// thread whenever the observed holder changes.
//
// Thread-safe: Run() from one thread; IsLeader()/GetLeader() from any.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "libkube/cancellation.h"
#include "libkube/client.h"

namespace dk::kube {

struct LeaderElectionConfig {
  std::string lease_namespace;
  std::string lease_name;
  std::string identity;  // unique per candidate, e.g. the pod name
  std::chrono::milliseconds lease_duration = std::chrono::seconds(15);
  std::chrono::milliseconds renew_deadline = std::chrono::seconds(10);
  std::chrono::milliseconds retry_period = std::chrono::seconds(2);
  bool release_on_cancel = true;
  uint64_t seed = 0;  // jitter seed (0: random)

  std::function<void(Cancellation* leading)> on_started_leading;
  std::function<void()> on_stopped_leading;
  std::function<void(const std::string& identity)> on_new_leader;
};

class LeaderElector {
 public:
  // InvalidArgument for missing names or inconsistent durations.
  static Result<std::unique_ptr<LeaderElector>> Create(Client* client, LeaderElectionConfig config);

  // Campaigns until leading, leads until leadership is lost or `stop` fires, then returns:
  // OK when stopped by `stop` (the lease was released if release_on_cancel), Unavailable when
  // leadership was lost (the process should stop its leader-only work; typically it exits).
  Status Run(Cancellation* stop);

  // One attempt to acquire or renew; true when this process holds the lease afterwards.
  // Exposed for tests (Run() calls it on its schedule).
  bool TryAcquireOrRenew();
  // Gives the lease up if held (see above). OK when not held.
  Status Release();

  bool IsLeader() const { return is_leader_.load(); }
  std::string GetLeader() const;

 private:
  struct PrivateTag {};

 public:
  LeaderElector(PrivateTag, Client* client, LeaderElectionConfig config);  // use Create()

 private:
  Clock::Duration Jittered(Clock::Duration d);
  // Records the lease spec as seen now; reports a changed holder to on_new_leader.
  void Observe(const nlohmann::json& spec, Clock::TimePoint now);

  Client* const client_;
  const LeaderElectionConfig config_;
  Clock* const clock_;
  Logger* const logger_;
  std::mt19937_64 rng_;

  std::atomic<bool> is_leader_{false};
  mutable std::mutex mu_;
  std::string observed_leader_;
  nlohmann::json observed_spec_;
  Clock::TimePoint observed_time_{};
  std::string reported_leader_;
};

}  // namespace dk::kube
