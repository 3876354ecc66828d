// HealthChecks: named liveness and readiness checks behind /healthz and /readyz.
//
// A check is a function returning OK or a Status saying what is wrong ("informer pods has not
// synced"). Liveness answers "should this process be restarted?" (keep it to deadlocks and
// unrecoverable states); readiness answers "should it get traffic?" (caches synced, webhook
// certificate loaded). With no checks registered both are healthy.
//
// Thread-safe; checks run on the caller's thread (an HTTP worker) and must be quick.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "libstate/status.h"

namespace dk::svc {

using HealthCheck = std::function<Status()>;

class HealthChecks {
 public:
  void AddLiveness(std::string name, HealthCheck check);
  void AddReadiness(std::string name, HealthCheck check);

  struct Report {
    bool ok = true;
    // Kubernetes style: "[+]name ok" / "[-]name failed: reason" per check, then
    // "healthz check passed" or "healthz check failed".
    std::string text;
  };
  Report CheckLiveness() const;
  Report CheckReadiness() const;

 private:
  struct Named {
    std::string name;
    HealthCheck check;
  };
  static Report Run(const std::vector<Named>& checks, const char* what);

  mutable std::mutex mu_;
  std::vector<Named> liveness_;
  std::vector<Named> readiness_;
};

}  // namespace dk::svc
