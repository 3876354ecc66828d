#include "operator.h"

#include "api.h"
#include "base64.h"
#include "conditions.h"
#include "libkube/api_error.h"
#include "libkube/object_meta.h"
#include "libsvc/duration.h"
#include "node_reports.h"
#include "policy_status.h"
#include "restore_gate.h"

namespace dk::op {

using nlohmann::json;
using std::chrono::milliseconds;

namespace {

constexpr char kInstallationKey[] = "installation";

kube::ResourceRef Deployments() { return {"apps", "v1", "deployments", true, "Deployment"}; }

std::chrono::system_clock::time_point Now() { return std::chrono::system_clock::now(); }

std::string NowString() { return FormatRfc3339(Now()); }

std::vector<std::string> SplitKey(const std::string& key) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    size_t slash = key.find('/', start);
    parts.push_back(
        key.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return parts;
}

}  // namespace

OperatorMetrics::OperatorMetrics(svc::MetricsRegistry* r)
    : reconcile_total(r->AddCounter("operator_reconcile_total",
                                    "Reconciles by kind (policy, pod, installation) and result.",
                                    {"kind", "result"})),
      reconcile_duration(r->AddHistogram("operator_reconcile_duration_seconds",
                                         "Time spent in one reconcile, by kind.", {"kind"})),
      restores_created(r->AddCounter("operator_restores_created_total",
                                     "StateRestores created for pods held by the restore gate.")),
      restores_total(r->AddCounter("operator_restores_total",
                                   "StateRestores that finished, by result (Succeeded, Failed).",
                                   {"result"})),
      restores_timed_out(r->AddCounter(
          "operator_restores_timed_out_total",
          "StateRestores the operator failed because no agent finished them in time.")),
      webhook_requests(r->AddCounter("operator_webhook_requests_total",
                                     "Admission requests answered, by result (gated, unchanged, "
                                     "invalid, unavailable).",
                                     {"result"})),
      leader(r->AddGauge("operator_leader", "1 while this replica is the leader.")),
      cert_expiry(r->AddGauge("operator_webhook_certificate_expiry_timestamp_seconds",
                              "When the webhook serving certificate expires (Unix time).")) {
  for (const char* kind : {"policy", "pod", "installation"}) {
    for (const char* result : {"success", "error"}) reconcile_total->Touch({kind, result});
  }
  for (const char* result : {"Succeeded", "Failed"}) restores_total->Touch({result});
  for (const char* result : {"gated", "unchanged", "invalid", "unavailable"})
    webhook_requests->Touch({result});
}

Operator::Operator(kube::Client* client, OperatorOptions options, Logger* logger,
                   svc::MetricsRegistry* metrics, kube::EventRecorder* events)
    : client_(client),
      options_(std::move(options)),
      logger_(logger != nullptr ? logger : NullLogger()),
      events_(events),
      metrics_(metrics),
      queue_(kube::WorkQueueOptions{std::chrono::milliseconds(50), std::chrono::minutes(5), 0, 100,
                                    nullptr}) {
  BucketOpener opener = options_.bucket_opener;
  if (!opener) {
    opener = MakeS3BucketOpener(
        [this](const std::string& name) {
          return client_->Get(kube::resources::Secrets(), options_.install.ns, name);
        },
        options_.install.ns, options_.s3_ca_file, logger_);
  }
  buckets_ =
      std::make_unique<BucketMaintainer>(std::move(opener), options_.bucket_gc, metrics, logger_);
  auto make = [this](kube::ResourceRef ref, std::string ns, std::string labels, std::string fields,
                     std::string name) {
    kube::InformerOptions o;
    o.resource = std::move(ref);
    o.ns = std::move(ns);
    o.label_selector = std::move(labels);
    o.field_selector = std::move(fields);
    o.name = std::move(name);
    return std::make_unique<kube::Informer>(client_, o);
  };
  const std::string& ns = options_.install.ns;
  policies_ = make(resources::StatePolicies(), "", "", "", "statepolicies");
  restores_ = make(resources::StateRestores(), "", "", "", "staterestores");
  statefulsets_ = make(kube::resources::StatefulSets(), "", "", "", "statefulsets");
  pods_ = make(kube::resources::Pods(), "", std::string(kGatedLabel) + "=true", "", "gated-pods");
  reports_ = make(kube::resources::ConfigMaps(), ns, std::string(kNodeReportLabel) + "=true", "",
                  "node-reports");
  agent_config_ = make(kube::resources::ConfigMaps(), ns, "",
                       "metadata.name=" + options_.install.agent_config, "agent-config");
  if (options_.manage_webhook) {
    cert_secret_ = make(kube::resources::Secrets(), ns, "", "metadata.name=" + options_.cert_secret,
                        "webhook-certificate");
    webhook_configs_[0] =
        make(resources::MutatingWebhookConfigurations(), "", "",
             "metadata.name=" + options_.install.webhook_config, "webhook-config");
    webhook_configs_[1] =
        make(resources::MutatingWebhookConfigurations(), "", "",
             "metadata.name=" + options_.install.policy_webhook_config, "policy-webhook-config");
  }
  (void)policies_->AddIndex("target", [](const json& p) -> std::vector<std::string> {
    std::string t = kube::GetStringAtPath(p, "spec.targetRef.name");
    if (t.empty()) return {};
    return {kube::GetNamespace(p) + "/" + t};
  });
  (void)restores_->AddIndex("policy", [](const json& r) -> std::vector<std::string> {
    std::string p = kube::GetStringAtPath(r, "spec.policy");
    if (p.empty()) return {};
    return {kube::GetNamespace(r) + "/" + p};
  });
  AddHandlers();
}

Operator::~Operator() { Stop(); }

void Operator::AddHandlers() {
  auto policy_key = [](const json& p) { return "policy/" + kube::ObjectKey(p); };
  kube::EventHandlers ph;
  ph.on_add = [this, policy_key](const json& p) {
    queue_.Add(policy_key(p));
    queue_.Add(kInstallationKey);
  };
  ph.on_update = [this, policy_key](const json& old_obj, const json& p) {
    queue_.Add(policy_key(p));
    bool spec_changed = GetGeneration(old_obj) != GetGeneration(p) ||
                        IsDeleting(old_obj) != IsDeleting(p) ||
                        kube::GetUid(old_obj) != kube::GetUid(p);
    if (spec_changed) queue_.Add(kInstallationKey);
  };
  ph.on_delete = [this](const json&) { queue_.Add(kInstallationKey); };
  policies_->AddEventHandlers(ph);

  kube::EventHandlers sh;
  auto sts_changed = [this](const json& s) {
    EnqueuePoliciesFor(kube::GetNamespace(s), kube::GetName(s));
  };
  sh.on_add = sts_changed;
  sh.on_update = [sts_changed](const json&, const json& s) { sts_changed(s); };
  sh.on_delete = sts_changed;
  statefulsets_->AddEventHandlers(sh);

  kube::EventHandlers podh;
  podh.on_add = [this](const json& p) { queue_.Add("pod/" + kube::ObjectKey(p)); };
  podh.on_update = [this](const json&, const json& p) { queue_.Add("pod/" + kube::ObjectKey(p)); };
  podh.on_delete = [this](const json& p) {
    std::lock_guard<std::mutex> lock(mu_);
    gate_failures_.erase(kube::GetUid(p));
  };
  pods_->AddEventHandlers(podh);

  kube::EventHandlers rh;
  rh.on_add = [this](const json& r) { OnRestoreChanged(json(), r); };
  rh.on_update = [this](const json& old_obj, const json& r) { OnRestoreChanged(old_obj, r); };
  rh.on_delete = [this](const json& r) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      terminal_restores_.erase(kube::GetUid(r));
    }
    std::string ns = kube::GetNamespace(r);
    queue_.Add("policy/" + ns + "/" + kube::GetStringAtPath(r, "spec.policy"));
  };
  restores_->AddEventHandlers(rh);

  kube::EventHandlers reph;
  auto report_changed = [this](const json& cm) {
    auto report = ParseNodeReport(cm);
    if (!report.ok()) return;
    std::set<std::pair<std::string, std::string>> seen;
    for (const auto& p : report->pods) {
      if (seen.insert({p.ns, p.stateful_set}).second) EnqueuePoliciesFor(p.ns, p.stateful_set);
    }
  };
  reph.on_add = report_changed;
  reph.on_update = [report_changed](const json& old_obj, const json& cm) {
    report_changed(old_obj);
    report_changed(cm);
  };
  reph.on_delete = report_changed;
  reports_->AddEventHandlers(reph);

  for (auto& informer : webhook_configs_) {
    if (!informer) continue;
    kube::EventHandlers wh;
    wh.on_add = [this](const json&) { queue_.Add(kInstallationKey); };
    wh.on_update = [this](const json& old_obj, const json& obj) {
      if (GetGeneration(old_obj) != GetGeneration(obj)) queue_.Add(kInstallationKey);
    };
    wh.on_delete = [this](const json&) { queue_.Add(kInstallationKey); };
    informer->AddEventHandlers(wh);
  }
  if (cert_secret_) {
    kube::EventHandlers ch;
    ch.on_add = [this](const json& s) { OnCertSecret(s); };
    ch.on_update = [this](const json&, const json& s) { OnCertSecret(s); };
    cert_secret_->AddEventHandlers(ch);
  }
}

void Operator::Start() {
  for (kube::Informer* i : AllInformers()) i->Start();
}

bool Operator::Synced() const {
  for (const kube::Informer* i : AllInformers()) {
    if (!i->HasSynced()) return false;
  }
  return true;
}

bool Operator::WaitForSync(milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (kube::Informer* i : AllInformers()) {
    auto left =
        std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !i->WaitForSync(left)) return false;
  }
  return true;
}

void Operator::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  queue_.ShutDown();
  for (kube::Informer* i : AllInformers()) i->Stop();
}

std::vector<kube::Informer*> Operator::AllInformers() const {
  std::vector<kube::Informer*> all;
  for (kube::Informer* i : {policies_.get(), restores_.get(), statefulsets_.get(), pods_.get(),
                            reports_.get(), agent_config_.get(), cert_secret_.get(),
                            webhook_configs_[0].get(), webhook_configs_[1].get()}) {
    if (i != nullptr) all.push_back(i);
  }
  return all;
}

void Operator::EnqueuePoliciesFor(const std::string& ns, const std::string& sts) {
  auto ps = policies_->cache().ByIndex("target", ns + "/" + sts);
  if (!ps.ok()) return;
  for (const auto& p : *ps) queue_.Add("policy/" + kube::ObjectKey(p));
}

void Operator::EnqueueAll() {
  queue_.Add(kInstallationKey);
  for (const auto& p : policies_->cache().List()) queue_.Add("policy/" + kube::ObjectKey(p));
  for (const auto& p : pods_->cache().List()) queue_.Add("pod/" + kube::ObjectKey(p));
}

void Operator::RunAsLeader(kube::Cancellation* leading) {
  leading_.store(true);
  metrics_.leader->Set(1);
  logger_->Info("Started leading; reconciling",
                {{"identity", options_.identity}, {"workers", options_.workers}});
  EnqueueAll();
  std::vector<std::thread> workers;
  for (int i = 0; i < std::max(1, options_.workers); ++i)
    workers.emplace_back([this] { Worker(); });
  // Bucket GC: one run at a time, beside the workers (a run may take minutes on a big bucket).
  std::thread maintenance;
  if (options_.bucket_gc.interval.count() > 0) {
    maintenance = std::thread([this, leading] {
      while (!leading->IsCancelled() && !queue_.ShuttingDown()) {
        MaintainBuckets();
        if (!leading->SleepFor(kube::RealClock(), options_.bucket_gc_check)) break;
      }
    });
  }
  while (!leading->IsCancelled() && !queue_.ShuttingDown()) {
    if (leading->SleepFor(kube::RealClock(), options_.resync)) EnqueueAll();
  }
  queue_.ShutDown();
  for (auto& t : workers) t.join();
  if (maintenance.joinable()) maintenance.join();  // after its current run
  leading_.store(false);
  metrics_.leader->Set(0);
  logger_->Info("Stopped reconciling", {{"identity", options_.identity}});
}

void Operator::Worker() {
  std::string key;
  while (queue_.Get(&key)) {
    std::string kind = key.substr(0, key.find('/'));
    auto start = std::chrono::steady_clock::now();
    Outcome out;
    Status s = Dispatch(key, &out);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    metrics_.reconcile_duration->Observe({kind}, secs);
    metrics_.reconcile_total->Inc({kind, s.ok() ? "success" : "error"});
    if (s.ok()) {
      queue_.Forget(key);
      if (out.requeue_after) queue_.AddAfter(key, *out.requeue_after);
    } else if (s.code() == StatusCode::kInvalidArgument) {
      logger_->Error("Reconcile failed; not retrying", {{"key", key}, {"error", s.ToString()}});
      queue_.Forget(key);
    } else {
      (kube::IsConflict(s)
           ? logger_->Debug("Reconcile conflicted; retrying", {{"key", key}})
           : logger_->Warn(
                 "Reconcile failed; retrying with backoff",
                 {{"key", key}, {"error", s.ToString()}, {"requeues", queue_.NumRequeues(key)}}));
      queue_.AddRateLimited(key);
    }
    queue_.Done(key);
  }
}

Status Operator::Dispatch(const std::string& key, Outcome* out) {
  if (key == kInstallationKey) return ReconcileInstallation(out);
  std::vector<std::string> parts = SplitKey(key);
  if (parts.size() == 3 && parts[0] == "policy") return ReconcilePolicy(parts[1], parts[2], out);
  if (parts.size() == 3 && parts[0] == "pod") return ReconcilePod(parts[1], parts[2], out);
  return Status::InvalidArgument("unknown work queue key " + key);
}

void Operator::Event(const json& regarding, bool warning, const std::string& reason,
                     const std::string& action, const std::string& note) {
  if (events_ == nullptr) return;
  events_->Record(regarding, warning ? kube::EventType::kWarning : kube::EventType::kNormal, reason,
                  action, note);
}

std::vector<json> Operator::PoliciesForTarget(const std::string& ns, const std::string& sts) const {
  auto ps = policies_->cache().ByIndex("target", ns + "/" + sts);
  return ps.ok() ? *ps : std::vector<json>{};
}

std::vector<NodeReport> Operator::Reports() const {
  std::vector<NodeReport> out;
  for (const auto& cm : reports_->cache().List()) {
    auto r = ParseNodeReport(cm);
    if (r.ok()) {
      out.push_back(std::move(r).value());
    } else {
      logger_->Debug("Ignored a malformed node report", {{"error", r.status().message()}});
    }
  }
  return out;
}

Result<std::optional<ProtectingPolicy>> Operator::LookupPolicy(const std::string& ns,
                                                               const std::string& sts) const {
  if (!policies_->HasSynced()) {
    return Status::Unavailable("this operator replica's StatePolicy cache has not synced yet");
  }
  std::optional<ProtectingPolicy> best;
  for (const auto& p : PoliciesForTarget(ns, sts)) {
    if (IsDeleting(p)) continue;
    auto spec = ParsePolicySpec(p);
    if (!spec.ok()) continue;
    // Several policies for one StatefulSet: the gating one with the smallest name wins, so the
    // answer does not depend on cache order.
    if (!best || (spec->Gates() && !best->spec.Gates()) ||
        (spec->Gates() == best->spec.Gates() && kube::GetName(p) < best->name)) {
      best = ProtectingPolicy{kube::GetName(p), std::move(spec).value()};
    }
  }
  return best;
}

// ------------------------------------------------------------------------------ policies

Status Operator::ReconcilePolicy(const std::string& ns, const std::string& name, Outcome* out) {
  auto cached = policies_->Get(ns, name);
  if (!cached) return Status::Ok();  // deleted; the installation reconcile dropped it
  json policy = *cached;
  Result<PolicySpec> spec = ParsePolicySpec(policy);
  if (IsDeleting(policy)) return FinalizePolicy(policy, spec, out);

  if (!HasFinalizer(policy, kFinalizer)) {
    json finalizers = policy["metadata"].value("finalizers", json::array());
    finalizers.push_back(kFinalizer);
    json patch = {
        {"metadata",
         {{"finalizers", finalizers}, {"resourceVersion", kube::GetResourceVersion(policy)}}}};
    kube::PatchOptions po;
    po.field_manager = kFieldManager;
    DK_ASSIGN_OR_RETURN(policy, client_->Patch(resources::StatePolicies(), ns, name,
                                               kube::PatchType::kMerge, patch, po));
  }

  // The agents' configuration and the webhook entry come first: Ready means they are in place.
  Outcome ignored;
  Status installed = ReconcileInstallation(&ignored, /*full=*/false);

  std::optional<json> sts;
  Result<PolicySpec>* spec_ptr = &spec;
  if (spec.ok()) sts = statefulsets_->Get(ns, spec->target_name);
  bool credentials = true;
  if (spec.ok() && spec->s3) credentials = CredentialsSecretExists(spec->s3->credentials_secret);
  std::vector<json> restores;
  if (auto rs = restores_->cache().ByIndex("policy", ns + "/" + name); rs.ok()) restores = *rs;
  PolicyStatusSummary summary;
  if (spec.ok()) summary = SummarizePolicy(ns, spec->target_name, Reports(), restores);

  PolicyObservation obs;
  obs.policy = &policy;
  obs.spec = spec_ptr;
  obs.stateful_set = sts ? &*sts : nullptr;
  obs.credentials_found = credentials;
  obs.summary = &summary;
  obs.now = NowString();
  obs.replication_degraded_after = options_.replication_degraded_after;
  PolicyStatusDecision d = DecidePolicyStatus(obs);
  if (!installed.ok() && spec.ok() && ConditionStatus(d.status["conditions"], "Ready") == "True") {
    // Protection is not in place while the agents or the webhook miss this policy.
    json conditions = d.status["conditions"];
    SetCondition(&conditions, "Ready", "False", "InstallationIncomplete", installed.message(),
                 GetGeneration(policy), obs.now);
    d.status["conditions"] = conditions;
    d.changed = d.status != policy.value("status", json::object());
    d.events.clear();
  }
  if (d.changed) {
    json updated = policy;
    updated["status"] = d.status;
    kube::WriteOptions wo;
    wo.field_manager = kFieldManager;
    DK_RETURN_IF_ERROR(client_->UpdateStatus(resources::StatePolicies(), ns, updated, wo).status());
    for (const auto& e : d.events) {
      Event(Regarding(policy, kApiVersion, "StatePolicy"), e.warning, e.reason, "Reconcile",
            e.message);
    }
    logger_->Info("Updated StatePolicy status",
                  {{"namespace", ns},
                   {"name", name},
                   {"generation", GetGeneration(policy)},
                   {"ready", ConditionStatus(d.status["conditions"], "Ready")},
                   {"degraded", ConditionStatus(d.status["conditions"], "Degraded")}});
  }
  if (d.requeue_after) out->requeue_after = *d.requeue_after;
  if (!installed.ok()) {
    out->requeue_after = std::min<milliseconds>(out->requeue_after.value_or(milliseconds::max()),
                                                std::chrono::seconds(10));
  }
  return Status::Ok();
}

Status Operator::FinalizePolicy(const json& policy, const Result<PolicySpec>& spec, Outcome* out) {
  if (!HasFinalizer(policy, kFinalizer)) return Status::Ok();
  std::string ns = kube::GetNamespace(policy);
  std::string name = kube::GetName(policy);
  std::string uid = kube::GetUid(policy);
  json regarding = Regarding(policy, kApiVersion, "StatePolicy");
  // Stop protection: agents stop capturing, the webhook stops gating (and, with Delete, the
  // purge request is published).
  Outcome ignored;
  DK_RETURN_IF_ERROR(ReconcileInstallation(&ignored, /*full=*/false));

  bool purge = spec.ok() && spec->on_delete == "Delete";
  std::string outcome = "stored versions retained (retention.onDelete: Retain)";
  if (purge) {
    int remaining = 0;
    std::set<std::string> nodes;
    for (const auto& r : Reports()) {
      for (const auto& p : r.pods) {
        if (p.ns == ns && p.stateful_set == spec->target_name) {
          ++remaining;
          nodes.insert(r.node);
        }
      }
    }
    auto deleted_at = ParseRfc3339(kube::GetStringAtPath(policy, "metadata.deletionTimestamp"));
    bool timed_out = deleted_at && Now() - *deleted_at > options_.purge_timeout;
    if (remaining > 0 && !timed_out) {
      // Show why the policy is still there (Ready=False, reason Deleting).
      PolicyStatusSummary summary = SummarizePolicy(ns, spec->target_name, Reports(), {});
      PolicyObservation obs;
      obs.policy = &policy;
      obs.spec = &spec;
      obs.summary = &summary;
      obs.now = NowString();
      PolicyStatusDecision d = DecidePolicyStatus(obs);
      if (d.changed) {
        json updated = policy;
        updated["status"] = d.status;
        kube::WriteOptions wo;
        wo.field_manager = kFieldManager;
        auto r = client_->UpdateStatus(resources::StatePolicies(), ns, updated, wo);
        if (!r.ok() && !kube::IsNotFound(r.status())) return r.status();
      }
      bool announce;
      {
        std::lock_guard<std::mutex> lock(mu_);
        announce = purge_announced_.insert(uid).second;
      }
      if (announce) {
        Event(regarding, false, "PurgingState", "Finalize",
              "waiting for " + std::to_string(nodes.size()) +
                  " node(s) to delete the stored versions of StatefulSet " + spec->target_name);
      }
      out->requeue_after = std::chrono::seconds(5);
      return Status::Ok();
    }
    if (remaining > 0) {
      outcome = "stored versions NOT deleted on " + std::to_string(nodes.size()) +
                " node(s) within " + svc::FormatDuration(options_.purge_timeout) +
                "; they are deleted when those agents return";
      Event(regarding, true, "PurgeIncomplete", "Finalize", outcome);
    } else {
      outcome = "stored versions deleted (retention.onDelete: Delete)";
    }
    // The bucket's copies, once no agent replicates these identities any more (agents stop
    // replicating a store when they purge it).
    if (spec->s3) {
      Status purged = PurgeBucket(policy, *spec);
      if (!purged.ok() && !timed_out) {
        bool announce;
        {
          std::lock_guard<std::mutex> lock(mu_);
          announce = purge_announced_.insert(uid + "/bucket").second;
        }
        if (announce) {
          Event(regarding, true, "BucketPurgeFailed", "Finalize",
                "deleting the bucket copies failed (retrying until the purge timeout): " +
                    purged.message());
        }
        logger_->Warn("Deleting the bucket copies of a deleted policy failed; retrying",
                      {{"namespace", ns}, {"name", name}, {"error", purged.ToString()}});
        out->requeue_after = std::chrono::seconds(10);
        return Status::Ok();
      }
      if (!purged.ok()) {
        std::string msg = "bucket copies NOT deleted within " +
                          svc::FormatDuration(options_.purge_timeout) + ": " + purged.message();
        Event(regarding, true, "PurgeIncomplete", "Finalize", msg);
        outcome += "; " + msg;
      } else {
        outcome += "; bucket copies deleted from s3://" + spec->s3->bucket + "/" +
                   NormalizedS3(*spec->s3).prefix;
      }
    }
  }
  json finalizers = json::array();
  for (const auto& f : policy["metadata"].value("finalizers", json::array())) {
    if (f != kFinalizer) finalizers.push_back(f);
  }
  json patch = {
      {"metadata",
       {{"finalizers", finalizers}, {"resourceVersion", kube::GetResourceVersion(policy)}}}};
  kube::PatchOptions po;
  po.field_manager = kFieldManager;
  auto r = client_->Patch(resources::StatePolicies(), ns, name, kube::PatchType::kMerge, patch, po);
  if (!r.ok() && !kube::IsNotFound(r.status())) return r.status();
  {
    std::lock_guard<std::mutex> lock(mu_);
    purge_announced_.erase(uid);
    purge_announced_.erase(uid + "/bucket");
    bucket_purged_.erase(uid);
  }
  std::string target = spec.ok() ? spec->target_name : "(invalid spec)";
  Event(regarding, false, "ProtectionRemoved", "Finalize",
        "protection of StatefulSet " + target + " removed; " + outcome);
  logger_->Info("Removed StatePolicy finalizer",
                {{"namespace", ns}, {"name", name}, {"outcome", outcome}});
  return Status::Ok();
}

// ------------------------------------------------------------------------------ buckets

void Operator::MaintainBuckets() {
  json purge_list = json::array();
  // The informer's copy when it has one (the periodic check needs no extra API request).
  Result<json> config = Status::NotFound("agent configuration not cached");
  if (auto cached = agent_config_->Get(options_.install.ns, options_.install.agent_config)) {
    config = *cached;
  } else {
    config = client_->Get(kube::resources::ConfigMaps(), options_.install.ns,
                          options_.install.agent_config);
  }
  if (config.ok()) {
    const std::string text = config->value("data", json::object()).value("purge.json", "");
    json parsed = json::parse(text.empty() ? "[]" : text, nullptr, false);
    if (parsed.is_array()) purge_list = std::move(parsed);
  } else if (!kube::IsNotFound(config.status())) {
    logger_->Warn(
        "Reading the agent configuration for bucket GC failed; purged policies' "
        "buckets wait for the next check",
        {{"configMap", options_.install.agent_config}, {"error", config.status().ToString()}});
  }
  const std::vector<BucketTarget> targets = BucketTargets(policies_->cache().List(), purge_list);
  for (const GcOutcome& o : buckets_->RunDue(targets, std::chrono::steady_clock::now())) {
    if (o.status.ok()) continue;
    for (const auto& key : o.target->policies) {
      auto parts = SplitKey(key);
      if (parts.size() != 2) continue;
      if (auto p = policies_->Get(parts[0], parts[1])) {
        Event(Regarding(*p, kApiVersion, "StatePolicy"), true, "BucketGCFailed", "CollectGarbage",
              o.status.message());
      }
    }
  }
}

Status Operator::PurgeBucket(const json& policy, const PolicySpec& spec) {
  const std::string uid = kube::GetUid(policy);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (bucket_purged_.count(uid)) return Status::Ok();
  }
  BucketTarget target;
  target.s3 = NormalizedS3(*spec.s3);
  target.keep_last = static_cast<uint32_t>(std::max(1, spec.keep_versions));
  if (spec.keep_for) {
    target.keep_within = std::chrono::duration_cast<std::chrono::seconds>(*spec.keep_for);
  }
  // Live policies sharing the prefix keep what they ask for.
  for (const auto& t : BucketTargets(policies_->cache().List(), json::array())) {
    if (t.Key() != target.Key()) continue;
    target.keep_last = std::max(target.keep_last, t.keep_last);
    target.keep_within = std::max(target.keep_within, t.keep_within);
    target.policies = t.policies;
  }
  DK_ASSIGN_OR_RETURN(replica::PurgeReport r,
                      buckets_->Purge(target, kube::GetNamespace(policy), spec.target_name));
  {
    std::lock_guard<std::mutex> lock(mu_);
    bucket_purged_.insert(uid);
  }
  logger_->Info("Deleted the bucket copies of a deleted policy",
                {{"namespace", kube::GetNamespace(policy)},
                 {"name", kube::GetName(policy)},
                 {"bucket", target.Describe()},
                 {"identities", r.identities},
                 {"manifestsDeleted", r.manifests_deleted}});
  return Status::Ok();
}

// ------------------------------------------------------------------------------ gated pods

Status Operator::ReconcilePod(const std::string& ns, const std::string& name, Outcome* out) {
  auto pod = pods_->Get(ns, name);
  if (!pod) return Status::Ok();
  std::string uid = kube::GetUid(*pod);
  std::string policy_name = pod->value("metadata", json::object())
                                .value("annotations", json::object())
                                .value(kPolicyAnnotation, "");
  auto policy = policy_name.empty() ? std::nullopt : policies_->Get(ns, policy_name);
  Result<PolicySpec> spec =
      policy ? ParsePolicySpec(*policy) : Result<PolicySpec>(Status::NotFound("policy not found"));
  auto restore = restores_->Get(ns, RestoreNameForPod(*pod));
  if (restore && kube::GetStringAtPath(*restore, "spec.podUID") != uid) restore.reset();
  if (!restore && !policy_name.empty()) {
    // A user's StateRestore waiting for this pod (time travel) replaces the operator's own.
    std::vector<json> all = restores_->cache().List();
    if (const json* user = UserRestoreForPod(all, *pod, policy_name)) {
      restore = *user;
      if (kube::GetLabels(*user)[kRestoreForPodLabel] != uid) {
        kube::PatchOptions po;
        po.field_manager = kFieldManager;
        json patch = {{"metadata", {{"labels", {{kRestoreForPodLabel, uid}}}}}};
        auto r = client_->Patch(resources::StateRestores(), ns, kube::GetName(*user),
                                kube::PatchType::kMerge, patch, po);
        if (!r.ok()) return r.status();
        restore = *r;
        Event(Regarding(*pod, "v1", "Pod"), false, "RestoreRequested", "Gate",
              "waiting for the node agent to carry out StateRestore " + kube::GetName(*user) +
                  " (created by a user" +
                  (kube::GetStringAtPath(*user, "spec.time").empty()
                       ? std::string()
                       : ", state at " + kube::GetStringAtPath(*user, "spec.time")) +
                  ")");
        logger_->Info("Adopted a user's StateRestore for a gated pod",
                      {{"namespace", ns}, {"pod", name}, {"restore", kube::GetName(*user)}});
      }
    }
  }

  GateInputs in;
  in.pod = &*pod;
  in.policy_name = policy_name;
  in.spec = policy ? &spec : nullptr;
  in.restore = restore ? &*restore : nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    in.reported_failures = gate_failures_[uid];
  }
  in.now = Now();
  in.grace = options_.restore_grace;
  GatePlan plan = PlanGatedPod(in);

  bool created = false;
  if (plan.create_restore) {
    kube::WriteOptions wo;
    wo.field_manager = kFieldManager;
    auto r = client_->Create(resources::StateRestores(), ns, *plan.create_restore, wo);
    if (!r.ok() && !kube::IsAlreadyExists(r.status())) return r.status();
    created = r.ok();
    if (created) {
      metrics_.restores_created->Inc();
      logger_->Info("Created StateRestore for a gated pod",
                    {{"namespace", ns}, {"pod", name}, {"restore", kube::GetName(*r)}});
    }
  }
  if (plan.fail_restore) {
    kube::WriteOptions wo;
    wo.field_manager = kFieldManager;
    DK_RETURN_IF_ERROR(
        client_->UpdateStatus(resources::StateRestores(), ns, *plan.fail_restore, wo).status());
    metrics_.restores_timed_out->Inc();
    logger_->Warn(
        "Failed a StateRestore that timed out",
        {{"namespace", ns}, {"pod", name}, {"restore", kube::GetName(*plan.fail_restore)}});
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    gate_failures_[uid] = plan.reported_failures;
  }
  for (const auto& e : plan.events) {
    if (e.reason == "RestoreRequested" && !created) continue;  // someone else created it
    if (e.on_pod) {
      Event(Regarding(*pod, "v1", "Pod"), e.warning, e.reason, "Gate", e.message);
    } else if (restore) {
      Event(Regarding(*restore, kApiVersion, "StateRestore"), e.warning, e.reason, "Gate",
            e.message);
    }
  }
  if (plan.requeue_at) {
    auto d = std::chrono::duration_cast<milliseconds>(*plan.requeue_at - Now());
    out->requeue_after = std::max(d, milliseconds(100));
  }
  return Status::Ok();
}

void Operator::OnRestoreChanged(const json& old_obj, const json& obj) {
  std::string ns = kube::GetNamespace(obj);
  std::string policy_name = kube::GetStringAtPath(obj, "spec.policy");
  queue_.Add("policy/" + ns + "/" + policy_name);
  std::string pod = kube::GetStringAtPath(obj, "spec.pod");
  if (!pod.empty()) queue_.Add("pod/" + ns + "/" + pod);

  std::string phase = kube::GetStringAtPath(obj, "status.phase");
  std::string old_phase = old_obj.is_object() ? kube::GetStringAtPath(old_obj, "status.phase") : "";
  bool terminal = phase == "Succeeded" || phase == "Failed";
  if (!terminal || old_phase == phase) return;
  if (!old_obj.is_object()) return;  // seen at (re)list: counted by whoever saw it finish
  if (!leading_.load()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!terminal_restores_.insert(kube::GetUid(obj)).second) return;
  }
  metrics_.restores_total->Inc({phase});
  auto policy = policies_->Get(ns, policy_name);
  if (!policy) return;
  const json st = obj.value("status", json::object());
  std::string who =
      pod.empty() ? "ordinal " + std::to_string(RestoreOrdinal(obj, "")) : "pod " + pod;
  std::string note;
  if (phase == "Succeeded") {
    note = who + " restored";
    if (st.contains("source")) note += " from " + st.value("source", "");
    if (st.contains("files")) {
      note +=
          ": " + std::to_string(st.value("files", 0)) + " files, " +
          HumanBytes(static_cast<uint64_t>(std::max<int64_t>(0, st.value("bytes", int64_t{0}))));
    }
    if (st.contains("durationSeconds")) {
      char buf[32];
      std::snprintf(buf, sizeof(buf), " in %.1fs", st.value("durationSeconds", 0.0));
      note += buf;
    }
    if (!st.value("message", "").empty()) note += " (" + st.value("message", "") + ")";
  } else {
    note = who + ": restore failed: " + st.value("message", "no reason given");
  }
  Event(Regarding(*policy, kApiVersion, "StatePolicy"), phase == "Failed",
        phase == "Succeeded" ? "RestoreSucceeded" : "RestoreFailed", "Restore",
        note + " (StateRestore " + kube::GetName(obj) + ")");
}

// ------------------------------------------------------------------------------ installation

json Operator::OwnerReference() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (owner_looked_up_) return owner_ref_;
  }
  json ref;
  if (!options_.owner_deployment.empty()) {
    auto d = client_->Get(Deployments(), options_.install.ns, options_.owner_deployment);
    if (d.ok()) {
      ref = {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"name", kube::GetName(*d)},
             {"uid", kube::GetUid(*d)}, {"controller", false},  {"blockOwnerDeletion", false}};
    } else if (!kube::IsNotFound(d.status())) {
      return json();  // try again next time
    } else {
      logger_->Info("Owner Deployment not found; created objects get no ownerReference",
                    {{"deployment", options_.owner_deployment}});
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  owner_looked_up_ = true;
  owner_ref_ = ref;
  return ref;
}

bool Operator::CredentialsSecretExists(const std::string& name) {
  // Policy status only needs to know whether the Secret is there; status reconciles run on
  // every node report, so the answer is kept for 30 s instead of a GET each time.
  constexpr auto kFresh = std::chrono::seconds(30);
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = secret_seen_.find(name);
    if (it != secret_seen_.end() && now - it->second.second < kFresh) return it->second.first;
  }
  auto secret = client_->Get(kube::resources::Secrets(), options_.install.ns, name);
  bool found = secret.ok() || !kube::IsNotFound(secret.status());
  std::lock_guard<std::mutex> lock(mu_);
  secret_seen_[name] = {found, now};
  return found;
}

Status Operator::ReconcileInstallation(Outcome* out, bool full) {
  std::lock_guard<std::mutex> lock(install_mu_);
  const InstallationOptions& io = options_.install;
  std::vector<json> policies = policies_->cache().List();
  json owner = OwnerReference();
  kube::PatchOptions apply;
  apply.field_manager = kFieldManager;
  apply.force = true;

  // Every policy reconcile comes here (full=false): it reads the informers' caches, so the
  // API server sees writes only when something differs; the periodic full pass reads live.
  auto read = [&](kube::Informer* cache, const kube::ResourceRef& ref, const std::string& ns,
                  const std::string& name) -> Result<json> {
    if (!full && cache != nullptr && cache->HasSynced()) {
      if (auto o = cache->Get(ns, name)) return *o;
    }
    return client_->Get(ref, ns, name);
  };
  // 1. Agent configuration.
  auto current = read(agent_config_.get(), kube::resources::ConfigMaps(), io.ns, io.agent_config);
  if (!current.ok() && !kube::IsNotFound(current.status())) return current.status();
  json cur = current.ok() ? *current : json();
  json desired = DesiredAgentConfig(io, policies, cur, owner, Now());
  bool owner_differs = cur.is_object() && owner.is_object() &&
                       cur["metadata"].value("ownerReferences", json::array()) !=
                           desired["metadata"]["ownerReferences"];
  if (!cur.is_object() || cur.value("data", json::object()) != desired["data"] || owner_differs) {
    DK_RETURN_IF_ERROR(client_->Apply(kube::resources::ConfigMaps(), io.ns, desired, apply)
                           .status()
                           .WithContext("apply ConfigMap " + io.agent_config));
    logger_->Info(
        "Published the agent configuration",
        {{"configMap", io.agent_config},
         {"policies", json::parse(desired["data"]["policies.json"].get<std::string>()).size()}});
  }

  // 2. Agent DaemonSet (server-side apply is a no-op when nothing changed).
  if (full && options_.manage_agent) {
    DK_RETURN_IF_ERROR(
        client_
            ->Apply(kube::resources::DaemonSets(), io.ns, DesiredAgentDaemonSet(io, owner), apply)
            .status()
            .WithContext("apply DaemonSet " + io.agent_daemonset));
  }

  // 3. Webhook certificate and configuration.
  if (options_.manage_webhook) {
    auto live = read(webhook_configs_[0].get(), resources::MutatingWebhookConfigurations(), "",
                     io.webhook_config);
    if (!live.ok()) {
      out->requeue_after = std::chrono::seconds(30);
      return live.status().WithContext("MutatingWebhookConfiguration " + io.webhook_config);
    }
    std::string bundle;
    if (full) {
      DK_RETURN_IF_ERROR(ReconcileCertificates(*live, &bundle, out));
    } else {
      auto secret = cert_secret_->Get(io.ns, options_.cert_secret);
      auto ca = secret ? secret->value("data", json::object()).value("ca.crt", "") : "";
      auto decoded = Base64Decode(ca);
      if (!decoded || decoded->empty()) {
        return Status::Unavailable("the webhook certificate has not been issued yet");
      }
      bundle = *decoded;
    }
    DK_ASSIGN_OR_RETURN(DesiredWebhooks wh,
                        DesiredWebhookConfigurations(io, *live, policies, bundle));
    std::string live_ca;
    for (const auto& w : live->value("webhooks", json::array())) {
      if (w.value("name", "") == io.gate_entry) {
        live_ca = w.value("clientConfig", json::object()).value("caBundle", "");
      }
    }
    if (live_ca != wh.gate["webhooks"][0]["clientConfig"]["caBundle"]) {
      DK_RETURN_IF_ERROR(
          client_->Apply(resources::MutatingWebhookConfigurations(), "", wh.gate, apply)
              .status()
              .WithContext("apply caBundle to " + io.webhook_config));
      logger_->Info("Updated the webhook caBundle", {{"name", io.webhook_config}});
    }
    auto cur_policies = read(webhook_configs_[1].get(), resources::MutatingWebhookConfigurations(),
                             "", io.policy_webhook_config);
    if (!cur_policies.ok() && !kube::IsNotFound(cur_policies.status())) {
      return cur_policies.status();
    }
    // Compare what we set with what is there (the server adds defaults to each entry).
    bool same = cur_policies.ok() && cur_policies->value("webhooks", json::array()).size() ==
                                         wh.policies["webhooks"].size();
    if (same) {
      const json have = cur_policies->value("webhooks", json::array());
      for (size_t i = 0; i < have.size() && same; ++i) {
        for (const auto& [k, v] : wh.policies["webhooks"][i].items()) {
          if (have[i].value(k, json()) != v) same = false;
        }
      }
      const json owners = (*cur_policies)["metadata"].value("ownerReferences", json::array());
      same = same && owners == wh.policies["metadata"]["ownerReferences"];
    }
    if (!same) {
      DK_RETURN_IF_ERROR(
          client_->Apply(resources::MutatingWebhookConfigurations(), "", wh.policies, apply)
              .status()
              .WithContext("apply MutatingWebhookConfiguration " + io.policy_webhook_config));
      logger_->Info("Updated the per-policy webhook configuration",
                    {{"name", io.policy_webhook_config},
                     {"entries", static_cast<int>(wh.policies["webhooks"].size())}});
    }
  }
  if (!out->requeue_after || *out->requeue_after > options_.resync) {
    out->requeue_after = options_.resync;
  }
  return Status::Ok();
}

Status Operator::ReconcileCertificates(const json& webhook_config, std::string* ca_bundle,
                                       Outcome* out) {
  const InstallationOptions& io = options_.install;
  std::vector<std::string> hosts =
      WebhookCertHosts(io, webhook_config, options_.webhook_service, options_.extra_cert_hosts);
  auto secret = client_->Get(kube::resources::Secrets(), io.ns, options_.cert_secret);
  if (!secret.ok() && !kube::IsNotFound(secret.status())) return secret.status();
  SecretData data;
  if (secret.ok()) {
    const json encoded = secret->value("data", json::object());
    for (const auto& [k, v] : encoded.items()) {
      if (!v.is_string()) continue;
      if (auto d = Base64Decode(v.get<std::string>())) data[k] = *d;
    }
  }
  DK_ASSIGN_OR_RETURN(auto plan,
                      PlanWebhookCertificates(data, hosts, options_.cert_lifetimes, Now()));
  if (plan) {
    json enc = json::object();
    for (const auto& [k, v] : plan->data) enc[k] = Base64Encode(v);
    json s = {{"apiVersion", "v1"},
              {"kind", "Secret"},
              {"metadata",
               {{"name", options_.cert_secret},
                {"namespace", io.ns},
                {"labels",
                 {{"app.kubernetes.io/name", "diffkeeper"},
                  {"app.kubernetes.io/component", "webhook"},
                  {kManagedByLabel, kFieldManager}}}}},
              {"type", "Opaque"},
              {"data", enc}};
    json owner = OwnerReference();
    if (owner.is_object()) s["metadata"]["ownerReferences"] = json::array({owner});
    kube::WriteOptions wo;
    wo.field_manager = kFieldManager;
    if (secret.ok()) {
      s["metadata"]["resourceVersion"] = kube::GetResourceVersion(*secret);
      DK_RETURN_IF_ERROR(client_->Update(kube::resources::Secrets(), io.ns, s, wo).status());
    } else {
      DK_RETURN_IF_ERROR(client_->Create(kube::resources::Secrets(), io.ns, s, wo).status());
    }
    std::string joined;
    for (const auto& h : hosts) joined += (joined.empty() ? "" : ",") + h;
    logger_->Info("Issued the webhook serving certificate",
                  {{"secret", options_.cert_secret}, {"reason", plan->reason}, {"hosts", joined}});
    data = plan->data;
    // Serve it at once on this replica (the informer tells the others).
    json fake = {{"data", enc}};
    OnCertSecret(fake);
  }
  *ca_bundle = data["ca.crt"];
  if (auto info = InspectCertificate(data["tls.crt"]); info.ok()) {
    metrics_.cert_expiry->Set(static_cast<double>(
        std::chrono::duration_cast<std::chrono::seconds>(info->not_after.time_since_epoch())
            .count()));
  }
  if (auto next = NextRenewal(data, options_.cert_lifetimes)) {
    auto d = std::chrono::duration_cast<milliseconds>(*next - Now());
    out->requeue_after = std::max(d, milliseconds(1000));
  }
  return Status::Ok();
}

void Operator::OnCertSecret(const json& secret) {
  const json data = secret.value("data", json::object());
  auto crt = data.contains("tls.crt") && data["tls.crt"].is_string()
                 ? Base64Decode(data["tls.crt"].get<std::string>())
                 : std::nullopt;
  auto key = data.contains("tls.key") && data["tls.key"].is_string()
                 ? Base64Decode(data["tls.key"].get<std::string>())
                 : std::nullopt;
  if (!crt || !key || crt->empty() || key->empty()) return;
  std::function<void(const std::string&, const std::string&)> fn;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (*crt == cert_pem_ && *key == key_pem_) return;
    cert_pem_ = *crt;
    key_pem_ = *key;
    fn = cert_listener_;
  }
  if (fn) fn(*crt, *key);
}

void Operator::OnWebhookCertificate(
    std::function<void(const std::string&, const std::string&)> fn) {
  std::string crt, key;
  {
    std::lock_guard<std::mutex> lock(mu_);
    cert_listener_ = fn;
    crt = cert_pem_;
    key = key_pem_;
  }
  if (!crt.empty() && fn) fn(crt, key);
}

}  // namespace dk::op
