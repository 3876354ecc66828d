#include "standalone.h"

#include <atomic>
#include <memory>

#include "agent_metrics.h"
#include "capture_worker.h"
#include "libstate/store.h"
#include "libsvc/health.h"
#include "libsvc/http_server.h"
#include "libsvc/metrics.h"
#include "libsvc/standard_endpoints.h"

namespace dk::agent {

int RunStandalone(const AgentConfig& c, Logger* log, svc::ShutdownSignal* shutdown) {
  StoreOptions so;
  so.logger = log;
  so.sync = !c.no_sync;
  auto store = Store::Open(c.store_path, so, OpenMode::kCreate);
  if (!store.ok()) {
    log->Error("Opening the store failed",
               {{"store", c.store_path}, {"error", store.status().ToString()}});
    return store.status().code() == StatusCode::kUnavailable ? kExitBusy : kExitFailed;
  }

  svc::MetricsRegistry registry;
  AgentMetrics metrics(&registry);
  svc::HealthChecks health;
  std::atomic<bool> initial_done{false};

  CaptureWorkerOptions wo;
  wo.name = c.watch_dir;
  wo.root = c.watch_dir;
  wo.filter.include = c.include;
  wo.filter.exclude = c.exclude;
  wo.watch.debounce_ms = static_cast<uint32_t>(c.debounce_ms);
  wo.watch.max_delay_ms = static_cast<uint32_t>(c.max_delay_ms);
  wo.watch.max_dirty = static_cast<size_t>(c.max_dirty);
  wo.on_capture = [&](const CaptureReport& r) {
    metrics.RecordCapture(r);
    if (r.initial) initial_done = true;
  };
  CaptureGate gate(static_cast<size_t>(c.max_concurrent_captures));
  metrics.RegisterGate(&gate);
  CaptureWorker worker(store->get(), wo, &gate, log);

  health.AddReadiness("initial-capture", [&]() -> Status {
    if (!initial_done) return Status::Unavailable("the initial capture has not finished");
    return Status::Ok();
  });
  health.AddLiveness("capture-worker", [&]() -> Status {
    auto s = worker.Snapshot();
    if (s.root_missing) return Status::Unavailable("the watched directory is missing");
    return Status::Ok();
  });
  std::unique_ptr<svc::HttpServer> server;
  if (!c.metrics_addr.empty()) {
    svc::HttpServerOptions ho;
    Status hs = SplitHostPort(c.metrics_addr, &ho.host, &ho.port);
    ho.name = "metrics";
    ho.logger = log;
    auto srv = hs.ok() ? svc::NewHttpServer(ho) : Result<std::unique_ptr<svc::HttpServer>>(hs);
    if (!srv.ok()) {
      log->Error("Metrics server failed", {{"error", srv.status().ToString()}});
      return kExitFailed;
    }
    server = std::move(*srv);
    svc::AddStandardEndpoints(server.get(), &health, &registry);
    if (Status s = server->Start(); !s.ok()) {
      log->Error("Metrics server failed to start", {{"error", s.ToString()}});
      return kExitFailed;
    }
    log->Info("Serving metrics", {{"url", server->BaseUrl() + "/metrics"}});
  }

  if (Status s = worker.Start(); !s.ok()) {
    log->Error("Watching the directory failed", {{"dir", c.watch_dir}, {"error", s.ToString()}});
    return kExitFailed;
  }
  log->Info("Protecting directory", {{"dir", c.watch_dir},
                                     {"store", c.store_path},
                                     {"debounce_ms", c.debounce_ms},
                                     {"max_delay_ms", c.max_delay_ms}});
  while (!shutdown->Requested()) {
    auto wait = c.rescan_interval.count() > 0 ? c.rescan_interval : std::chrono::milliseconds(1000);
    if (shutdown->WaitFor(wait)) break;
    auto st = worker.Snapshot();
    metrics.SetPending(st.pending ? 1 : 0);
    if (c.rescan_interval.count() > 0) worker.RequestRescan();
  }
  log->Info("Stopping: finishing the capture in flight and a final capture");
  worker.Stop();
  auto st = worker.Snapshot();
  if (server) server->Shutdown(std::chrono::milliseconds(1000));
  log->Info("Stopped", {{"captures", st.captures},
                        {"sets", st.sets},
                        {"errors", st.errors},
                        {"last_set", st.last_set},
                        {"last_root", st.last_root.ShortHex()}});
  return kExitOk;
}

}  // namespace dk::agent
