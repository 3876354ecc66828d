// diffkeeper-operator: see operator.h for what it does and operator/README.md for how to run it.
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <thread>

#include "admission_webhook.h"
#include "libkube/client.h"
#include "libkube/event_recorder.h"
#include "libkube/in_cluster_config.h"
#include "libkube/kubeconfig.h"
#include "libkube/leader_elector.h"
#include "libsvc/duration.h"
#include "libsvc/flags.h"
#include "libsvc/http_server.h"
#include "libsvc/logging.h"
#include "libsvc/shutdown.h"
#include "libsvc/standard_endpoints.h"
#include "operator.h"

namespace dk::op {
namespace {

struct Flags {
  std::string kubeconfig;
  std::string ns = "diffkeeper-system";
  std::string identity;
  std::string log_level = "info";
  bool leader_elect = true;
  std::string lease_name = "diffkeeper-operator";
  std::chrono::milliseconds lease_duration{15000};
  std::chrono::milliseconds renew_deadline{10000};
  std::chrono::milliseconds retry_period{2000};
  int64_t workers = 2;
  std::string metrics_address = "0.0.0.0:8080";
  std::string webhook_address = "0.0.0.0:9443";
  bool webhook = true;
  std::string webhook_config = "diffkeeper-restore-gate";
  std::string webhook_service = "diffkeeper-webhook";
  std::string webhook_secret = "diffkeeper-webhook-tls";
  std::vector<std::string> webhook_hosts;
  std::chrono::milliseconds cert_validity{std::chrono::hours(24 * 365)};
  std::chrono::milliseconds cert_renew_before{std::chrono::hours(24 * 30)};
  bool manage_agent = true;
  std::string agent_daemonset = "diffkeeper-agent";
  std::string agent_service_account = "diffkeeper-agent";
  std::string agent_config = "diffkeeper-agent-config";
  std::string agent_log_level = "info";
  std::vector<std::string> agent_args;
  std::string image = "ghcr.io/diffkeeper/diffkeeper:latest";
  std::string image_pull_policy = "IfNotPresent";
  std::string kubelet_root = "/var/lib/kubelet";
  std::string state_dir = "/var/lib/diffkeeper";
  std::string owner_deployment = "diffkeeper-operator";
  std::chrono::milliseconds resync{std::chrono::minutes(5)};
  std::chrono::milliseconds purge_timeout{std::chrono::minutes(10)};
  std::chrono::milliseconds restore_grace{std::chrono::seconds(30)};
  std::chrono::milliseconds replication_degraded_after{std::chrono::minutes(5)};
  std::chrono::milliseconds bucket_gc_interval{std::chrono::hours(6)};
  std::chrono::milliseconds bucket_gc_grace{std::chrono::hours(24)};
  std::string s3_ca_file;
  std::chrono::milliseconds drain{std::chrono::seconds(10)};
};

Status ParseAddress(const std::string& flag, const std::string& value, std::string* host,
                    int* port) {
  size_t colon = value.rfind(':');
  if (colon == std::string::npos) {
    return Status::InvalidArgument("--" + flag + ": \"" + value + "\" is not host:port");
  }
  *host = value.substr(0, colon);
  if (host->size() >= 2 && host->front() == '[') *host = host->substr(1, host->size() - 2);
  if (host->empty()) *host = "0.0.0.0";
  char* end = nullptr;
  long p = std::strtol(value.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || p < 0 || p > 65535) {
    return Status::InvalidArgument("--" + flag + ": bad port in \"" + value + "\"");
  }
  *port = static_cast<int>(p);
  return Status::Ok();
}

Result<kube::RestConfig> LoadConfig(const std::string& kubeconfig) {
  if (!kubeconfig.empty()) return kube::LoadKubeconfig(kubeconfig);
  return kube::LoadInClusterConfig();
}

int Run(int argc, char** argv) {
  Flags f;
  char host[256] = "operator";
  gethostname(host, sizeof(host) - 1);
  f.identity = std::string(host) + "-" + std::to_string(getpid());
  svc::FlagSet flags("diffkeeper-operator",
                     "Reconciles StatePolicy and StateRestore objects, owns the DiffKeeper agent "
                     "DaemonSet and its configuration, and serves the restore-gate admission "
                     "webhook.");
  flags.String("kubeconfig", &f.kubeconfig,
               "Path to a kubeconfig; empty: in-cluster configuration.", "KUBECONFIG");
  flags.String("namespace", &f.ns, "The operator's namespace (agents, configuration, lease).",
               "POD_NAMESPACE");
  flags.String("identity", &f.identity, "This replica's name for leader election and events.",
               "POD_NAME");
  flags.String("log-level", &f.log_level, "debug, info, warn or error.", "DIFFKEEPER_LOG_LEVEL");
  flags.Bool("leader-elect", &f.leader_elect, "Elect a leader among replicas (Lease).");
  flags.String("leader-election-lease", &f.lease_name, "Name of the leader-election Lease.");
  flags.Duration("lease-duration", &f.lease_duration, "Leader-election lease duration.");
  flags.Duration("renew-deadline", &f.renew_deadline, "Leader-election renew deadline.");
  flags.Duration("retry-period", &f.retry_period, "Leader-election retry period.");
  flags.Int("workers", &f.workers, "Concurrent reconciles.");
  flags.String("metrics-bind-address", &f.metrics_address,
               "host:port of /metrics, /healthz and /readyz (plain HTTP).");
  flags.String("webhook-bind-address", &f.webhook_address,
               "host:port of the admission webhook (HTTPS).");
  flags.Bool("webhook", &f.webhook,
             "Serve the restore-gate webhook and manage its certificate and configuration.");
  flags.String("webhook-config-name", &f.webhook_config,
               "The MutatingWebhookConfiguration installed by the manifests.");
  flags.String("webhook-service-name", &f.webhook_service,
               "The webhook Service (its DNS names go into the serving certificate).");
  flags.String("webhook-cert-secret", &f.webhook_secret,
               "Secret holding the webhook CA and serving certificate.");
  flags.StringList("webhook-cert-host", &f.webhook_hosts,
                   "Extra DNS name or IP for the serving certificate (repeatable).");
  flags.Duration("webhook-cert-validity", &f.cert_validity, "Lifetime of a serving certificate.");
  flags.Duration("webhook-cert-renew-before", &f.cert_renew_before,
                 "Renew the serving certificate this long before it expires.");
  flags.Bool("manage-agent", &f.manage_agent, "Create and update the agent DaemonSet.");
  flags.String("agent-daemonset-name", &f.agent_daemonset, "Name of the agent DaemonSet.");
  flags.String("agent-service-account", &f.agent_service_account, "Service account of the agents.");
  flags.String("agent-config-name", &f.agent_config,
               "ConfigMap the agents read their policies from.");
  flags.String("agent-log-level", &f.agent_log_level, "--log-level passed to the agents.");
  flags.StringList("agent-arg", &f.agent_args,
                   "Extra argument for the agents, e.g. --agent-arg=--report-interval=30s "
                   "(repeatable).");
  flags.String("image", &f.image, "Image of the agent and of the restore-wait init container.",
               "DIFFKEEPER_IMAGE");
  flags.String("image-pull-policy", &f.image_pull_policy, "Pull policy for that image.");
  flags.String("kubelet-root", &f.kubelet_root, "The kubelet's root directory on the nodes.");
  flags.String("state-dir", &f.state_dir, "The agents' state directory on the nodes.");
  flags.String("owner-deployment", &f.owner_deployment,
               "Deployment that owns the objects the operator creates (\"\" for none).");
  flags.Duration("resync", &f.resync, "Re-check everything this often.");
  flags.Duration("purge-timeout", &f.purge_timeout,
                 "How long a deleted policy with onDelete=Delete waits for agents to purge.");
  flags.Duration("restore-grace", &f.restore_grace,
                 "Extra time past a policy's restore timeout before a StateRestore is failed.");
  flags.Duration("replication-degraded-after", &f.replication_degraded_after,
                 "A policy whose replication to S3 fails this long becomes Degraded.");
  flags.Duration("bucket-gc-interval", &f.bucket_gc_interval,
                 "Garbage-collect each S3 bucket prefix of the policies this often (0 = never).");
  flags.Duration("bucket-gc-grace", &f.bucket_gc_grace,
                 "Unreferenced bucket objects younger than this are kept (uploads in flight; at "
                 "least the agents' grace, 24h).");
  flags.String("s3-ca-file", &f.s3_ca_file,
               "CA certificates for https S3 endpoints besides the system's (bucket GC).");
  flags.Duration("shutdown-drain", &f.drain, "How long in-flight requests may take at shutdown.");
  Status st = flags.Parse(argc, argv);
  if (flags.help_requested()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  if (st.ok() && f.bucket_gc_grace < std::chrono::hours(24)) {
    // The agents reuse bucket objects written within 12 h (ReplicatorOptions::gc_grace / 2).
    st = Status::InvalidArgument("--bucket-gc-grace " + svc::FormatDuration(f.bucket_gc_grace) +
                                 " is shorter than the agents' replication grace (24h): GC "
                                 "could delete chunks that uploads in flight reuse");
  }
  if (!st.ok()) {
    std::fprintf(stderr, "diffkeeper-operator: %s\n", st.message().c_str());
    return 2;
  }
  auto logger_or = svc::NewProcessLogger(f.log_level, "operator");
  if (!logger_or.ok()) {
    std::fprintf(stderr, "diffkeeper-operator: %s\n", logger_or.status().message().c_str());
    return 2;
  }
  std::unique_ptr<Logger> logger = std::move(logger_or).value();
  auto shutdown_or = svc::ShutdownSignal::Install(logger.get());  // before any thread starts
  if (!shutdown_or.ok()) {
    logger->Error("Cannot install signal handling", {{"error", shutdown_or.status().message()}});
    return 1;
  }
  std::unique_ptr<svc::ShutdownSignal> shutdown = std::move(shutdown_or).value();

  std::string metrics_host, webhook_host;
  int metrics_port = 0, webhook_port = 0;
  for (Status s :
       {ParseAddress("metrics-bind-address", f.metrics_address, &metrics_host, &metrics_port),
        ParseAddress("webhook-bind-address", f.webhook_address, &webhook_host, &webhook_port)}) {
    if (!s.ok()) {
      logger->Error("Invalid flag", {{"error", s.message()}});
      return 2;
    }
  }
  auto config = LoadConfig(f.kubeconfig);
  if (!config.ok()) {
    logger->Error("Cannot load the Kubernetes client configuration",
                  {{"error", config.status().message()}});
    return 1;
  }
  kube::ClientOptions co;
  co.logger = logger.get();
  co.user_agent = "diffkeeper-operator/0.1";
  auto client_or = kube::Client::Create(*config, co);
  if (!client_or.ok()) {
    logger->Error("Cannot create the Kubernetes client", {{"error", client_or.status().message()}});
    return 1;
  }
  std::unique_ptr<kube::Client> client = std::move(client_or).value();

  svc::MetricsRegistry metrics;
  svc::HealthChecks health;
  kube::EventRecorder events(client.get(), {"diffkeeper.io/operator", f.identity});

  OperatorOptions oo;
  oo.identity = f.identity;
  oo.install.ns = f.ns;
  oo.install.agent_daemonset = f.agent_daemonset;
  oo.install.agent_service_account = f.agent_service_account;
  oo.install.agent_config = f.agent_config;
  oo.install.image = f.image;
  oo.install.image_pull_policy = f.image_pull_policy;
  oo.install.kubelet_root = f.kubelet_root;
  oo.install.state_dir = f.state_dir;
  oo.install.agent_log_level = f.agent_log_level;
  oo.install.agent_extra_args = f.agent_args;
  oo.install.webhook_config = f.webhook_config;
  oo.gate.image = f.image;
  oo.gate.image_pull_policy = f.image_pull_policy;
  oo.gate.state_dir = f.state_dir;
  oo.manage_agent = f.manage_agent;
  oo.manage_webhook = f.webhook;
  oo.webhook_service = f.webhook_service;
  oo.cert_secret = f.webhook_secret;
  oo.extra_cert_hosts = f.webhook_hosts;
  oo.cert_lifetimes.serving_validity =
      std::chrono::duration_cast<std::chrono::seconds>(f.cert_validity);
  oo.cert_lifetimes.renew_before =
      std::chrono::duration_cast<std::chrono::seconds>(f.cert_renew_before);
  oo.owner_deployment = f.owner_deployment;
  oo.workers = static_cast<int>(f.workers);
  oo.resync = f.resync;
  oo.purge_timeout = f.purge_timeout;
  oo.restore_grace = std::chrono::duration_cast<std::chrono::seconds>(f.restore_grace);
  oo.replication_degraded_after =
      std::chrono::duration_cast<std::chrono::seconds>(f.replication_degraded_after);
  oo.bucket_gc.interval = std::chrono::duration_cast<std::chrono::seconds>(f.bucket_gc_interval);
  oo.bucket_gc.grace = std::chrono::duration_cast<std::chrono::seconds>(f.bucket_gc_grace);
  oo.s3_ca_file = f.s3_ca_file;
  Operator op(client.get(), oo, logger.get(), &metrics, &events);
  metrics.AddCallbackGauge("operator_workqueue_depth", "Keys waiting in the work queue.",
                           [&op] { return static_cast<double>(op.QueueDepth()); });

  // /metrics, /healthz, /readyz.
  svc::HttpServerOptions mo;
  mo.host = metrics_host;
  mo.port = metrics_port;
  mo.name = "metrics";
  mo.logger = logger.get();
  auto metrics_server_or = svc::NewHttpServer(mo);
  if (!metrics_server_or.ok()) {
    logger->Error("Invalid metrics server options",
                  {{"error", metrics_server_or.status().message()}});
    return 2;
  }
  std::unique_ptr<svc::HttpServer> metrics_server = std::move(metrics_server_or).value();
  svc::AddStandardEndpoints(metrics_server.get(), &health, &metrics);

  // The webhook server starts once a certificate is known and follows its rotations.
  AdmissionWebhook webhook(
      [&op](const std::string& ns, const std::string& sts) { return op.LookupPolicy(ns, sts); },
      oo.gate, logger.get(), op.metrics()->webhook_requests);
  std::mutex webhook_mu;
  std::unique_ptr<svc::HttpServer> webhook_server;
  std::atomic<bool> webhook_failed{false};
  if (f.webhook) {
    op.OnWebhookCertificate([&](const std::string& crt, const std::string& key) {
      std::lock_guard<std::mutex> lock(webhook_mu);
      if (webhook_server) {
        Status s = webhook_server->SetCertificate(crt, key);
        if (s.ok()) {
          logger->Info("Webhook now serves the rotated certificate");
        } else {
          logger->Error("Rejected a new webhook certificate", {{"error", s.message()}});
        }
        return;
      }
      svc::HttpServerOptions wo;
      wo.host = webhook_host;
      wo.port = webhook_port;
      wo.name = "webhook";
      wo.logger = logger.get();
      wo.tls_enabled = true;
      wo.tls.cert_pem = crt;
      wo.tls.key_pem = key;
      wo.max_body_bytes = 4 << 20;
      auto server = svc::NewHttpServer(wo);
      if (!server.ok()) {
        logger->Error("Cannot create the webhook server", {{"error", server.status().message()}});
        return;
      }
      (*server)->Handle("POST", "/mutate",
                        [&webhook](const svc::Request& r) { return webhook.Handle(r); });
      Status s = (*server)->Start();
      if (!s.ok()) {
        // An environment problem (the port is taken): exit so that the restart is visible.
        logger->Error("Cannot start the webhook server", {{"error", s.message()}});
        webhook_failed = true;
        shutdown->Request("the webhook server cannot start");
        return;
      }
      webhook_server = std::move(server).value();
    });
    health.AddReadiness("webhook", [&]() -> Status {
      std::lock_guard<std::mutex> lock(webhook_mu);
      return webhook_server ? Status::Ok()
                            : Status::Unavailable("no webhook serving certificate yet");
    });
  }
  health.AddReadiness("informers", [&op]() -> Status {
    return op.Synced() ? Status::Ok() : Status::Unavailable("caches have not synced yet");
  });

  st = metrics_server->Start();
  if (!st.ok()) {
    logger->Error("Cannot start the metrics server", {{"error", st.message()}});
    return 1;
  }
  op.Start();
  logger->Info("Started diffkeeper-operator", {{"identity", f.identity},
                                               {"namespace", f.ns},
                                               {"server", config->server},
                                               {"metrics", metrics_server->BaseUrl()},
                                               {"leaderElect", f.leader_elect ? "true" : "false"}});

  kube::Cancellation stop;
  shutdown->OnShutdown([&stop] { stop.Cancel(); });
  std::atomic<bool> lost_leadership{false};
  std::thread leader_thread;
  if (f.leader_elect) {
    kube::LeaderElectionConfig lc;
    lc.lease_namespace = f.ns;
    lc.lease_name = f.lease_name;
    lc.identity = f.identity;
    lc.lease_duration = f.lease_duration;
    lc.renew_deadline = f.renew_deadline;
    lc.retry_period = f.retry_period;
    lc.on_started_leading = [&op](kube::Cancellation* leading) { op.RunAsLeader(leading); };
    lc.on_new_leader = [&](const std::string& who) {
      logger->Info("Observed a new leader", {{"leader", who}});
    };
    auto elector = kube::LeaderElector::Create(client.get(), lc);
    if (!elector.ok()) {
      logger->Error("Invalid leader election settings", {{"error", elector.status().message()}});
      return 2;
    }
    leader_thread = std::thread([&, e = std::move(elector).value()]() mutable {
      Status s = e->Run(&stop);
      if (!s.ok() && !stop.IsCancelled()) {
        lost_leadership = true;
        shutdown->Request("leadership lost: " + s.message());
      }
    });
  } else {
    leader_thread = std::thread([&] { op.RunAsLeader(&stop); });
  }

  shutdown->Wait();
  stop.Cancel();
  leader_thread.join();  // releases the lease when leading
  op.Stop();
  {
    std::lock_guard<std::mutex> lock(webhook_mu);
    if (webhook_server) webhook_server->Shutdown(f.drain);
  }
  metrics_server->Shutdown(std::chrono::seconds(1));
  events.Flush();
  logger->Info("Stopped diffkeeper-operator",
               {{"lostLeadership", lost_leadership ? "true" : "false"}});
  return lost_leadership || webhook_failed ? 1 : 0;
}

}  // namespace
}  // namespace dk::op

int main(int argc, char** argv) { return dk::op::Run(argc, argv); }
