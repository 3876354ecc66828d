#include "libsvc/health.h"

namespace dk::svc {

void HealthChecks::AddLiveness(std::string name, HealthCheck check) {
  std::lock_guard<std::mutex> lock(mu_);
  liveness_.push_back({std::move(name), std::move(check)});
}

void HealthChecks::AddReadiness(std::string name, HealthCheck check) {
  std::lock_guard<std::mutex> lock(mu_);
  readiness_.push_back({std::move(name), std::move(check)});
}

HealthChecks::Report HealthChecks::Run(const std::vector<Named>& checks, const char* what) {
  Report r;
  for (const auto& c : checks) {
    Status s = c.check();
    if (s.ok()) {
      r.text += "[+]" + c.name + " ok\n";
    } else {
      r.ok = false;
      r.text += "[-]" + c.name + " failed: " + s.message() + "\n";
    }
  }
  r.text += std::string(what) + (r.ok ? " check passed\n" : " check failed\n");
  return r;
}

HealthChecks::Report HealthChecks::CheckLiveness() const {
  std::vector<Named> checks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    checks = liveness_;
  }
  return Run(checks, "healthz");
}

HealthChecks::Report HealthChecks::CheckReadiness() const {
  std::vector<Named> checks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    checks = readiness_;
  }
  return Run(checks, "readyz");
}

}  // namespace dk::svc
