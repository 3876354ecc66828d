// The endpoints every DiffKeeper binary serves:
//   GET /healthz  liveness  (200 "ok", or 503 with the failed checks; ?verbose lists all)
//   GET /readyz   readiness (same format)
//   GET /metrics  the registry in the Prometheus text format
// Only GET (and HEAD) are routed to them; request accounting is left to the caller.
#pragma once

#include "libsvc/health.h"
#include "libsvc/http_server.h"
#include "libsvc/metrics.h"

namespace dk::svc {

// Registers the three endpoints on `server` (before Start()). Either pointer may be null to
// leave that part out; both must outlive the server.
void AddStandardEndpoints(HttpServer* server, const HealthChecks* health,
                          const MetricsRegistry* metrics);

// The handlers themselves, for servers that route differently and for tests.
Response HandleHealthz(const HealthChecks& health, const Request& request);
Response HandleReadyz(const HealthChecks& health, const Request& request);
Response HandleMetrics(const MetricsRegistry& metrics, const Request& request);

}  // namespace dk::svc
