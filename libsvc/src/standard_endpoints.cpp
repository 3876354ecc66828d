#include "libsvc/standard_endpoints.h"

namespace dk::svc {
namespace {

Response FromReport(const HealthChecks::Report& report, const Request& request) {
  bool verbose = false;
  request.QueryParam("verbose", &verbose);
  if (report.ok && !verbose) return Response::Text(200, "ok");
  return Response::Text(report.ok ? 200 : 503, report.text);
}

}  // namespace

Response HandleHealthz(const HealthChecks& health, const Request& request) {
  return FromReport(health.CheckLiveness(), request);
}

Response HandleReadyz(const HealthChecks& health, const Request& request) {
  return FromReport(health.CheckReadiness(), request);
}

Response HandleMetrics(const MetricsRegistry& metrics, const Request&) {
  Response r = Response::Text(200, metrics.Render());
  r.content_type = MetricsRegistry::kContentType;
  return r;
}

void AddStandardEndpoints(HttpServer* server, const HealthChecks* health,
                          const MetricsRegistry* metrics) {
  if (health != nullptr) {
    server->Handle("GET", "/healthz",
                   [health](const Request& r) { return HandleHealthz(*health, r); });
    server->Handle("GET", "/livez",
                   [health](const Request& r) { return HandleHealthz(*health, r); });
    server->Handle("GET", "/readyz",
                   [health](const Request& r) { return HandleReadyz(*health, r); });
  }
  if (metrics != nullptr) {
    server->Handle("GET", "/metrics",
                   [metrics](const Request& r) { return HandleMetrics(*metrics, r); });
  }
}

}  // namespace dk::svc
