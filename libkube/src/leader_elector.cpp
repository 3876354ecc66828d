#include "libkube/leader_elector.h"

#include <algorithm>
#include <cmath>
#include <thread>

#include "libkube/api_error.h"
#include "micro_time.h"

namespace dk::kube {
namespace {

std::string SpecString(const nlohmann::json& spec, const char* key) {
  auto it = spec.find(key);
  return it != spec.end() && it->is_string() ? it->get<std::string>() : "";
}

int64_t SpecInt(const nlohmann::json& spec, const char* key, int64_t fallback) {
  auto it = spec.find(key);
  return it != spec.end() && it->is_number_integer() ? it->get<int64_t>() : fallback;
}

int64_t CeilSeconds(std::chrono::milliseconds d) {
  return std::max<int64_t>(1, (d.count() + 999) / 1000);
}

}  // namespace

Result<std::unique_ptr<LeaderElector>> LeaderElector::Create(Client* client,
                                                             LeaderElectionConfig config) {
  if (client == nullptr) return Status::InvalidArgument("leader election: no client");
  if (config.lease_namespace.empty() || config.lease_name.empty()) {
    return Status::InvalidArgument("leader election: lease namespace and name are required");
  }
  if (config.identity.empty()) return Status::InvalidArgument("leader election: identity is empty");
  if (config.retry_period.count() <= 0) {
    return Status::InvalidArgument("leader election: retry_period must be positive");
  }
  if (config.lease_duration <= config.renew_deadline) {
    return Status::InvalidArgument("leader election: lease_duration must exceed renew_deadline");
  }
  if (config.renew_deadline.count() <= config.retry_period.count() * 12 / 10) {
    return Status::InvalidArgument(
        "leader election: renew_deadline must exceed 1.2 * retry_period");
  }
  return std::make_unique<LeaderElector>(PrivateTag{}, client, std::move(config));
}

LeaderElector::LeaderElector(PrivateTag, Client* client, LeaderElectionConfig config)
    : client_(client),
      config_(std::move(config)),
      clock_(client->clock()),
      logger_(client->logger()),
      rng_(config_.seed != 0 ? config_.seed : std::random_device{}()) {}

std::string LeaderElector::GetLeader() const {
  std::lock_guard<std::mutex> g(mu_);
  return observed_leader_;
}

Clock::Duration LeaderElector::Jittered(Clock::Duration d) {
  const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
  return d + std::chrono::duration_cast<Clock::Duration>(d * (1.2 * u));
}

void LeaderElector::Observe(const nlohmann::json& spec, Clock::TimePoint now) {
  std::string report;
  {
    std::lock_guard<std::mutex> g(mu_);
    if (spec != observed_spec_) {
      observed_spec_ = spec;
      observed_time_ = now;
    }
    observed_leader_ = SpecString(spec, "holderIdentity");
    if (observed_leader_ != reported_leader_) {
      reported_leader_ = observed_leader_;
      report = observed_leader_;
    }
  }
  if (!report.empty()) {
    logger_->Info("Observed a new leader", {{"lease", config_.lease_name}, {"leader", report}});
    if (config_.on_new_leader) config_.on_new_leader(report);
  }
}

bool LeaderElector::TryAcquireOrRenew() {
  const ResourceRef leases = resources::Leases();
  const Clock::TimePoint now = clock_->Now();
  const std::string wall = FormatMicroTime(clock_->WallNow());
  const int64_t duration_s = CeilSeconds(config_.lease_duration);

  Result<nlohmann::json> got = client_->Get(leases, config_.lease_namespace, config_.lease_name);
  if (!got.ok()) {
    if (!IsNotFound(got.status())) {
      logger_->Warn("Reading the lease failed",
                    {{"lease", config_.lease_name}, {"error", got.status().ToString()}});
      return false;
    }
    nlohmann::json lease = {
        {"apiVersion", leases.ApiVersion()},
        {"kind", leases.kind},
        {"metadata", {{"name", config_.lease_name}, {"namespace", config_.lease_namespace}}},
        {"spec",
         {{"holderIdentity", config_.identity},
          {"leaseDurationSeconds", duration_s},
          {"acquireTime", wall},
          {"renewTime", wall},
          {"leaseTransitions", 0}}}};
    Result<nlohmann::json> created = client_->Create(leases, config_.lease_namespace, lease);
    if (!created.ok()) {
      logger_->Debug("Creating the lease failed",
                     {{"lease", config_.lease_name}, {"error", created.status().ToString()}});
      return false;
    }
    Observe(created->value("spec", nlohmann::json::object()), now);
    is_leader_.store(true);
    return true;
  }

  nlohmann::json spec = got->value("spec", nlohmann::json::object());
  if (!spec.is_object()) spec = nlohmann::json::object();
  Observe(spec, now);
  const std::string holder = SpecString(spec, "holderIdentity");
  const bool mine = holder == config_.identity;
  if (!holder.empty() && !mine) {
    std::lock_guard<std::mutex> g(mu_);
    const auto lease_s = std::chrono::seconds(SpecInt(spec, "leaseDurationSeconds", duration_s));
    if (observed_time_ + lease_s > now) {
      is_leader_.store(false);
      return false;  // held by a live leader
    }
  }

  nlohmann::json new_spec = spec;
  new_spec["holderIdentity"] = config_.identity;
  new_spec["leaseDurationSeconds"] = duration_s;
  new_spec["renewTime"] = wall;
  if (!mine) {
    new_spec["acquireTime"] = wall;
    new_spec["leaseTransitions"] = SpecInt(spec, "leaseTransitions", 0) + 1;
  }
  nlohmann::json updated = std::move(got).value();
  updated["spec"] = new_spec;
  Result<nlohmann::json> r = client_->Update(leases, config_.lease_namespace, updated);
  if (!r.ok()) {
    logger_->Debug(mine ? "Renewing the lease failed" : "Taking over the lease failed",
                   {{"lease", config_.lease_name}, {"error", r.status().ToString()}});
    return false;
  }
  if (!mine) {
    logger_->Info("Acquired the lease", {{"lease", config_.lease_name},
                                         {"identity", config_.identity},
                                         {"previousHolder", holder}});
  }
  Observe(r->value("spec", nlohmann::json::object()), now);
  is_leader_.store(true);
  return true;
}

Status LeaderElector::Release() {
  if (!is_leader_.load()) return Status::Ok();
  const ResourceRef leases = resources::Leases();
  DK_ASSIGN_OR_RETURN_CTX(nlohmann::json lease,
                          client_->Get(leases, config_.lease_namespace, config_.lease_name),
                          "releasing the lease");
  nlohmann::json& spec = lease["spec"];
  if (!spec.is_object() || SpecString(spec, "holderIdentity") != config_.identity) {
    is_leader_.store(false);
    return Status::Ok();  // somebody else holds it already
  }
  const std::string wall = FormatMicroTime(clock_->WallNow());
  spec["holderIdentity"] = "";
  spec["leaseDurationSeconds"] = 1;
  spec["renewTime"] = wall;
  spec["acquireTime"] = wall;
  Result<nlohmann::json> r = client_->Update(leases, config_.lease_namespace, lease);
  if (!r.ok()) return r.status().WithContext("releasing the lease");
  is_leader_.store(false);
  logger_->Info("Released the lease",
                {{"lease", config_.lease_name}, {"identity", config_.identity}});
  return Status::Ok();
}

Status LeaderElector::Run(Cancellation* stop) {
  // Campaign.
  for (;;) {
    if (stop->IsCancelled()) return Status::Ok();
    if (TryAcquireOrRenew()) break;
    if (!stop->SleepFor(clock_, Jittered(config_.retry_period))) return Status::Ok();
  }
  logger_->Info("Started leading", {{"lease", config_.lease_name}, {"identity", config_.identity}});
  Cancellation leading;
  std::thread worker;
  if (config_.on_started_leading) {
    worker = std::thread([this, &leading] { config_.on_started_leading(&leading); });
  }

  // Lead: renew every retry_period; give up once renew_deadline passed without a renewal.
  Status result;
  Clock::TimePoint last_renew = clock_->Now();
  while (stop->SleepFor(clock_, config_.retry_period)) {
    bool renewed = false;
    for (;;) {
      if (TryAcquireOrRenew()) {
        renewed = true;
        break;
      }
      const std::string leader = GetLeader();
      if (!leader.empty() && leader != config_.identity) break;  // somebody else took it
      if (clock_->Now() - last_renew >= config_.renew_deadline) break;
      if (!stop->SleepFor(clock_, config_.retry_period)) break;
    }
    if (stop->IsCancelled()) break;
    if (!renewed) {
      result = Status::Unavailable("leader election: lost the lease " + config_.lease_namespace +
                                   "/" + config_.lease_name + " (not renewed within the deadline)");
      is_leader_.store(false);
      break;
    }
    last_renew = clock_->Now();
  }

  leading.Cancel();
  if (worker.joinable()) worker.join();
  if (stop->IsCancelled() && config_.release_on_cancel) {
    Status s = Release();
    if (!s.ok()) logger_->Warn("Releasing the lease failed", {{"error", s.ToString()}});
  }
  is_leader_.store(false);
  logger_->Info("Stopped leading", {{"lease", config_.lease_name}, {"identity", config_.identity}});
  if (config_.on_stopped_leading) config_.on_stopped_leading();
  return result;
}

}  // namespace dk::kube
