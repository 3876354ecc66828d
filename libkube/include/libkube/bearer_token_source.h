// BearerTokenSource: the bearer token of a RestConfig, re-read from its file on rotation.
//
// With a token file (in-cluster service accounts, `tokenFile` in a kubeconfig) the file is read
// at most once per `reload_interval` and again whenever the server answered 401 (Invalidate()),
// so a token rotated by the kubelet is picked up without a restart. A read failure keeps the last
// good token (and is reported by Token() only when there never was one). With a literal token it
// is returned as is.
//
// Thread-safe.
#pragma once

#include <mutex>
#include <string>

#include "libkube/clock.h"
#include "libstate/result.h"

namespace dk::kube {

class BearerTokenSource {
 public:
  BearerTokenSource(std::string literal_token, std::string token_file, Clock* clock,
                    Clock::Duration reload_interval = std::chrono::minutes(1));

  // Empty string when the config has no token (client certificates or anonymous).
  Result<std::string> Token();
  // Forces the next Token() to re-read the file (after a 401).
  void Invalidate();
  bool HasFile() const { return !file_.empty(); }

 private:
  const std::string literal_;
  const std::string file_;
  Clock* const clock_;
  const Clock::Duration reload_interval_;

  std::mutex mu_;
  std::string cached_;
  bool loaded_ = false;
  Clock::TimePoint loaded_at_{};
};

}  // namespace dk::kube
