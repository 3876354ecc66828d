#include "cluster_agent.h"

#include <fstream>
#include <memory>
#include <sstream>

#include "agent_metrics.h"
#include "libkube/client.h"
#include "libkube/event_recorder.h"
#include "libkube/in_cluster_config.h"
#include "libkube/informer.h"
#include "libkube/kubeconfig.h"
#include "libkube/object_meta.h"
#include "libsvc/health.h"
#include "libsvc/http_server.h"
#include "libsvc/metrics.h"
#include "libsvc/standard_endpoints.h"
#include "node_reporter.h"
#include "peer_api.h"
#include "peer_client.h"
#include "pod_controller.h"
#include "replication_manager.h"
#include "restore_controller.h"
#include "restore_executor.h"
#include "restore_marker.h"
#include "self_signed_cert.h"
#include "standalone.h"
#include "store_purger.h"
#include "store_registry.h"
#include "token_review.h"

namespace dk::agent {
namespace {

using nlohmann::json;

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<kube::RestConfig> LoadRestConfig(const AgentConfig& c) {
  if (!c.kubeconfig.empty()) return kube::LoadKubeconfig(c.kubeconfig);
  kube::InClusterOptions o;
  if (!c.service_account_dir.empty()) o.service_account_dir = c.service_account_dir;
  return kube::LoadInClusterConfig(o);
}

std::string TokenFile(const AgentConfig& c) {
  if (!c.peer_token_file.empty()) return c.peer_token_file;
  return (c.service_account_dir.empty() ? std::string(kube::kServiceAccountDir)
                                        : c.service_account_dir) +
         "/token";
}

}  // namespace

int RunClusterAgent(const AgentConfig& c, Logger* log, svc::ShutdownSignal* shutdown) {
  auto fail = [&](const char* what, const Status& s) {
    log->Error(what, {{"error", s.ToString()}});
    return kExitFailed;
  };
  auto rc = LoadRestConfig(c);
  if (!rc.ok()) return fail("Loading the API server configuration failed", rc.status());
  kube::ClientOptions co;
  co.logger = log;
  co.user_agent = "diffkeeper-agent/0.1 (" + c.node_name + ")";
  auto client = kube::Client::Create(*rc, co);
  if (!client.ok()) return fail("Creating the API client failed", client.status());
  std::string peer_ca;
  if (!c.peer_ca.empty()) {
    auto ca = ReadFile(c.peer_ca);
    if (!ca.ok()) return fail("Reading --peer-ca failed", ca.status());
    peer_ca = *ca;
  }

  StoreOptions defaults;
  defaults.logger = log;
  defaults.sync = !c.no_sync;
  StoreRegistry registry(c.StoresDir(), defaults, log);
  svc::MetricsRegistry metrics_registry;
  AgentMetrics metrics(&metrics_registry);
  svc::HealthChecks health;
  CaptureGate gate(static_cast<size_t>(c.max_concurrent_captures));
  metrics.RegisterGate(&gate);

  // Informers: the pods bound to this node, every policy and restore, the node reports.
  kube::InformerOptions pod_opts;
  pod_opts.resource = kube::resources::Pods();
  pod_opts.field_selector = "spec.nodeName=" + c.node_name;
  pod_opts.name = "pods";
  kube::Informer pods(client->get(), pod_opts);
  (void)pods.AddIndex("uid", kube::IndexByField("metadata.uid"));
  kube::InformerOptions pol_opts;
  pol_opts.resource = StatePolicies();
  pol_opts.name = "statepolicies";
  kube::Informer policies(client->get(), pol_opts);
  (void)policies.AddIndex("namespace", kube::IndexByNamespace());
  kube::InformerOptions sr_opts;
  sr_opts.resource = StateRestores();
  sr_opts.name = "staterestores";
  kube::Informer restores(client->get(), sr_opts);
  kube::InformerOptions rep_opts;
  rep_opts.resource = kube::resources::ConfigMaps();
  rep_opts.ns = c.agent_namespace;
  rep_opts.label_selector = "diffkeeper.io/node-report=true";
  rep_opts.name = "node-reports";
  kube::Informer reports(client->get(), rep_opts);
  kube::InformerOptions cfg_opts;
  cfg_opts.resource = kube::resources::ConfigMaps();
  cfg_opts.ns = c.agent_namespace;
  cfg_opts.field_selector = "metadata.name=diffkeeper-agent-config";
  cfg_opts.name = "agent-config";
  kube::Informer agent_config(client->get(), cfg_opts);

  // The peer API server first: its port is part of the node report.
  std::string advertise = c.advertise_address.empty() ? "127.0.0.1" : c.advertise_address;
  if (c.advertise_address.empty())
    log->Warn("No --advertise-address (POD_IP): other nodes are told 127.0.0.1");
  svc::HttpServerOptions po;
  po.host = c.peer_bind_address;
  po.port = static_cast<int>(c.peer_port);
  po.tls_enabled = true;
  po.tls.cert_file = c.tls_cert;
  po.tls.key_file = c.tls_key;
  std::string published_cert;
  if (c.tls_cert.empty()) {
    auto cert = EnsureSelfSignedCert(c.state_dir + "/tls", advertise);
    if (!cert.ok()) return fail("Creating the peer API certificate failed", cert.status());
    po.tls.cert_file = cert->cert_file;
    po.tls.key_file = cert->key_file;
    published_cert = cert->cert_pem;
  } else {
    auto pem = ReadFile(c.tls_cert);
    if (!pem.ok()) return fail("Reading --tls-cert failed", pem.status());
    published_cert = *pem;
  }
  po.name = "peer";
  po.logger = log;
  auto peer_server = svc::NewHttpServer(po);
  if (!peer_server.ok()) return fail("Creating the peer API server failed", peer_server.status());
  std::atomic<int> peer_port{0};
  auto endpoint = [&]() -> std::string {
    std::string host = advertise.find(':') != std::string::npos ? "[" + advertise + "]" : advertise;
    return "https://" + host + ":" + std::to_string(peer_port.load());
  };

  registry.SetOptionsSource([&](const PodIdentity& id) -> std::optional<StoreOptions> {
    auto p = FindPolicy(policies, id.ns, id.stateful_set);
    if (!p.policy) return std::nullopt;
    return p.policy->ToStoreOptions();
  });
  NodeReporterOptions nro;
  nro.node = c.node_name;
  nro.ns = c.agent_namespace;
  nro.interval = c.report_interval;
  nro.heartbeat =
      std::max<std::chrono::milliseconds>(c.report_interval * 6, std::chrono::seconds(30));
  nro.certificate = published_cert;
  NodeReporter reporter(client->get(), &registry, nro, endpoint, &metrics, log);

  // Replication to the buckets of policies with storage S3; credentials from Secrets in the
  // agent's namespace (RBAC: get on secrets there only).
  ReplicationManagerOptions rmo;
  rmo.node = c.node_name;
  rmo.ns = c.agent_namespace;
  rmo.ca_file = c.s3_ca_file;
  kube::Client* api = client->get();
  const std::string secret_ns = c.agent_namespace;
  ReplicationManager replication(
      rmo,
      [api, secret_ns](const std::string& name) -> Result<json> {
        return api->Get(kube::resources::Secrets(), secret_ns, name);
      },
      nullptr, &metrics, log);
  replication.SetOnChange([&reporter](bool important) { reporter.Notify(important); });
  reporter.SetReplicationSource(
      [&replication](const PodIdentity& id) { return replication.ReportJson(id); });
  PodController pod_ctl(c, &pods, &policies, &registry, &gate, &metrics, &reporter, log,
                        &replication);

  PeerClientOptions pco;
  pco.ca_pem = peer_ca;
  pco.server_name = c.peer_server_name;
  pco.token_file = TokenFile(c);
  PeerConnector connect =
      [pco, log](const SourceCandidate& peer) -> Result<std::unique_ptr<PeerSource>> {
    PeerClientOptions o = pco;
    if (o.ca_pem.empty()) {
      // No CA configured: trust exactly the certificate the peer published in its report.
      if (peer.certificate.empty())
        return Status::Unavailable("node " + peer.node + " published no certificate");
      o.ca_pem = peer.certificate;
      o.server_name = "diffkeeper-agent";
    }
    auto p = PeerClient::Create(peer.endpoint, o, log);
    if (!p.ok()) return p.status();
    return std::unique_ptr<PeerSource>(std::move(*p));
  };
  RestoreExecutorOptions reo;
  reo.marker_dir = c.MarkerDir();
  reo.spool_dir = c.SpoolDir();
  reo.node_name = c.node_name;
  RestoreExecutor executor(reo, &registry, connect, log);
  kube::EventRecorderOptions ero;
  ero.reporting_controller = "diffkeeper.io/agent";
  ero.reporting_instance = c.node_name;
  kube::EventRecorder events(client->get(), ero);
  RestoreController restore_ctl(c, client->get(), &restores, &pods, &policies, &reports, &registry,
                                &executor, &pod_ctl, &reporter, &events, &metrics, log);
  restore_ctl.SetBucketOpener(
      [&replication](const S3Storage& s) { return replication.OpenBucket(s); });

  LocalPeerSource local_source(&registry);
  TokenReviewAuthenticator authn(
      client->get(),
      TokenReviewAuthenticator::ServiceAccountUser(c.agent_namespace, c.service_account),
      c.token_review_cache);
  PeerApi peer_api(
      &local_source, &authn,
      [&](const PeerCaller& caller, const PodIdentity& id) -> Status {
        // Tokens bound to a pod name the caller's node: it may read only identities it is
        // restoring. Other agent tokens (not pod-bound) are trusted as agents.
        if (caller.node.empty()) return Status::Ok();
        return restore_ctl.Entitled(caller.node, id);
      },
      &metrics, log);
  peer_api.Register(peer_server->get());
  if (Status s = (*peer_server)->Start(); !s.ok()) return fail("Starting the peer API failed", s);
  peer_port = (*peer_server)->port();
  log->Info("Serving the peer API", {{"endpoint", endpoint()}});

  std::unique_ptr<svc::HttpServer> metrics_server;
  std::atomic<bool> synced{false};
  health.AddReadiness("informers", [&]() -> Status {
    return synced ? Status::Ok() : Status::Unavailable("caches have not synced yet");
  });
  if (!c.metrics_addr.empty()) {
    svc::HttpServerOptions mo;
    Status hs = SplitHostPort(c.metrics_addr, &mo.host, &mo.port);
    if (!hs.ok()) return fail("--metrics-addr", hs);
    mo.name = "metrics";
    mo.logger = log;
    auto srv = svc::NewHttpServer(mo);
    if (!srv.ok()) return fail("Creating the metrics server failed", srv.status());
    metrics_server = std::move(*srv);
    svc::AddStandardEndpoints(metrics_server.get(), &health, &metrics_registry);
    if (Status s = metrics_server->Start(); !s.ok())
      return fail("Starting the metrics server failed", s);
    log->Info("Serving metrics", {{"url", metrics_server->BaseUrl() + "/metrics"}});
  }
  // Where to find this agent's ports (port 0 picks free ones; tests and tools read this).
  {
    json ep = {{"peer", endpoint()},
               {"metrics", metrics_server ? metrics_server->BaseUrl() : std::string()},
               {"pid", static_cast<int64_t>(getpid())}};
    std::string dir = c.state_dir;
    std::string tmp = dir + "/.agent.json.tmp";
    std::ofstream(tmp) << ep.dump() << "\n";
    if (std::rename(tmp.c_str(), (dir + "/agent.json").c_str()) != 0)
      log->Warn("Writing <state-dir>/agent.json failed", {{"dir", dir}});
  }

  pods.AddEventHandlers({
      [&](const json& o) {
        pod_ctl.Enqueue(kube::ObjectKey(o));
        restore_ctl.EnqueueNamespace(kube::GetNamespace(o));
      },
      [&](const json&, const json& o) { pod_ctl.Enqueue(kube::ObjectKey(o)); },
      [&](const json& o) { pod_ctl.Enqueue(kube::ObjectKey(o)); },
  });
  auto on_policy = [&](const json& o) {
    pod_ctl.EnqueueNamespace(kube::GetNamespace(o));
    restore_ctl.EnqueueNamespace(kube::GetNamespace(o));
  };
  policies.AddEventHandlers(
      {on_policy, [&](const json&, const json& o) { on_policy(o); }, on_policy});
  auto on_config = [&](const json& o) {
    if (!synced) return;  // applied once everything is running (below)
    size_t n = ApplyPurges(
        o, &registry, [&](const PodIdentity& id) { return pod_ctl.Capturing(id); }, log,
        [&](const PodIdentity& id) { replication.Forget(id); });
    if (n) reporter.Notify(true);
  };
  agent_config.AddEventHandlers(
      {on_config, [&](const json&, const json& o) { on_config(o); }, nullptr});
  restores.AddEventHandlers({
      [&](const json& o) { restore_ctl.Enqueue(kube::ObjectKey(o)); },
      [&](const json&, const json& o) { restore_ctl.Enqueue(kube::ObjectKey(o)); },
      nullptr,
  });
  pods.Start();
  policies.Start();
  restores.Start();
  reports.Start();
  agent_config.Start();
  log->Info("Waiting for caches", {{"node", c.node_name}});
  while (!shutdown->Requested()) {
    if (pods.HasSynced() && policies.HasSynced() && restores.HasSynced() && reports.HasSynced() &&
        agent_config.HasSynced())
      break;
    shutdown->WaitFor(std::chrono::milliseconds(200));
  }
  if (!shutdown->Requested()) {
    synced = true;
    log->Info("Caches synced; agent running", {{"node", c.node_name},
                                               {"pods", pods.cache().Size()},
                                               {"policies", policies.cache().Size()},
                                               {"restores", restores.cache().Size()}});
    reporter.Start();
    replication.Start();
    pod_ctl.Start();
    restore_ctl.Start(2);
    pod_ctl.EnqueueAll();
    for (const auto& k : restores.cache().Keys()) restore_ctl.Enqueue(k);
    for (const auto& cfg : agent_config.cache().List()) on_config(cfg);
  }
  auto last_prune = std::chrono::steady_clock::now();
  while (!shutdown->WaitFor(std::chrono::seconds(60))) {
    if (std::chrono::steady_clock::now() - last_prune > std::chrono::minutes(10)) {
      last_prune = std::chrono::steady_clock::now();
      std::vector<std::string> live;
      for (const auto& p : pods.cache().List()) live.push_back(kube::GetUid(p));
      size_t n = PruneMarkers(c.MarkerDir(), live, 3600);
      if (n) log->Info("Removed markers of pods gone from this node", {{"count", n}});
    }
  }

  log->Info("Stopping: restores in progress finish, every pod gets a final capture");
  restore_ctl.Stop();
  pod_ctl.Stop();
  // The final captures are queued: let them reach the buckets (bounded), then stop.
  replication.Stop(
      std::min<std::chrono::milliseconds>(c.shutdown_grace / 2, std::chrono::seconds(10)));
  reporter.Stop();
  (*peer_server)
      ->Shutdown(std::min<std::chrono::milliseconds>(c.shutdown_grace, std::chrono::seconds(5)));
  pods.Stop();
  policies.Stop();
  restores.Stop();
  reports.Stop();
  agent_config.Stop();
  events.Flush();
  if (metrics_server) metrics_server->Shutdown(std::chrono::milliseconds(500));
  log->Info("Stopped");
  return kExitOk;
}

}  // namespace dk::agent
