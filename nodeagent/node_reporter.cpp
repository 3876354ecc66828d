#include "node_reporter.h"

#include <ctime>

#include "libstate/options.h"
#include "restore_marker.h"

namespace dk::agent {

using nlohmann::json;

std::string Rfc3339Nano(int64_t ns) {
  if (ns <= 0) return "";
  time_t secs = static_cast<time_t>(ns / 1000000000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[48];
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, sizeof buf - n, ".%09lldZ", static_cast<long long>(ns % 1000000000));
  return buf;
}

bool ParseRfc3339(const std::string& s, int64_t* out) {
  struct tm tm = {};
  const char* p = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!p) return false;
  int64_t frac = 0;
  if (*p == '.') {
    ++p;
    int digits = 0;
    while (*p >= '0' && *p <= '9') {
      if (digits < 9) {
        frac = frac * 10 + (*p - '0');
        ++digits;
      }
      ++p;
    }
    if (digits == 0) return false;
    while (digits++ < 9) frac *= 10;
  }
  int64_t offset = 0;
  if (*p == 'Z' || *p == 'z') {
    ++p;
  } else if (*p == '+' || *p == '-') {
    int sign = *p == '-' ? -1 : 1;
    int hh, mm;
    if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2) return false;
    offset = sign * (hh * 3600 + mm * 60);
    p += 6;
  } else {
    return false;
  }
  if (*p) return false;
  int64_t secs = static_cast<int64_t>(timegm(&tm)) - offset;
  *out = secs * 1000000000 + frac;
  return true;
}

NodeReporter::NodeReporter(kube::Client* client, StoreRegistry* registry,
                           NodeReporterOptions options, std::function<std::string()> endpoint,
                           AgentMetrics* metrics, Logger* logger)
    : client_(client),
      registry_(registry),
      options_(std::move(options)),
      endpoint_(std::move(endpoint)),
      metrics_(metrics),
      log_(logger ? logger : NullLogger()),
      limiter_(
          options_.interval,
          std::min<std::chrono::milliseconds>(options_.interval, std::chrono::milliseconds(2000)),
          options_.heartbeat) {}

NodeReporter::~NodeReporter() { Stop(); }

void NodeReporter::Start() {
  thread_ = std::thread([this] { Run(); });
}

void NodeReporter::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (!thread_.joinable()) return;  // never started: nothing to report
  thread_.join();
  Status s = ReportNow();
  if (!s.ok()) log_->Warn("Final node report failed", {{"error", s.ToString()}});
}

void NodeReporter::Notify(bool important) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    limiter_.MarkDirty(important, ReportRateLimiter::Clock::now());
    ++generation_;
  }
  cv_.notify_all();
}

json NodeReporter::Build() {
  json pods = json::array();
  for (const IdentitySummary& s : registry_->Summaries()) {
    const IdentityRecord& r = s.record;
    json errors = json::array();
    if (!s.last_error.empty()) errors.push_back(s.last_error);
    pods.push_back({{"namespace", r.id.ns},
                    {"policy", r.policy},
                    {"statefulSet", r.id.stateful_set},
                    {"ordinal", r.id.ordinal},
                    {"pod", r.pod.empty() ? r.id.PodName() : r.pod},
                    {"podUID", r.pod_uid},
                    {"layout", r.layout},
                    {"versions", s.versions},
                    {"sets", s.sets},
                    {"logicalBytes", s.logical_bytes},
                    {"storedBytes", s.stored_bytes},
                    {"diskBytes", s.disk_bytes},
                    {"lastCapture", Rfc3339Nano(r.point.time_ns)},
                    {"lastRoot", r.point.set ? r.point.root.Hex() : std::string()},
                    {"lastSet", r.point.set},
                    {"errors", errors},
                    {"errorCount", s.errors},
                    {"replication", replication_ ? replication_(r.id) : json::object()}});
    if (metrics_)
      metrics_->SetStoreStats(r.id.Key(), s.logical_bytes, s.stored_bytes, s.disk_bytes,
                              s.versions);
  }
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata",
           {{"name", ConfigMapName(options_.node)},
            {"namespace", options_.ns},
            {"labels",
             {{"diffkeeper.io/node-report", "true"},
              {"app.kubernetes.io/name", "diffkeeper"},
              {"app.kubernetes.io/component", "agent"}}}}},
          {"data",
           {{"node", options_.node},
            {"endpoint", endpoint_ ? endpoint_() : std::string()},
            {"heartbeat", Rfc3339(SystemClockNs())},
            {"certificate", options_.certificate},
            {"pods", pods.dump()}}}};
}

Status NodeReporter::ReportNow() {
  json cm = Build();
  kube::PatchOptions po;
  po.field_manager = "diffkeeper-agent";
  po.force = true;
  auto r = client_->Apply(kube::resources::ConfigMaps(), options_.ns, cm, po);
  if (metrics_) metrics_->RecordNodeReport(r.ok());
  if (!r.ok()) return r.status().WithContext("node report " + ConfigMapName(options_.node));
  return Status::Ok();
}

void NodeReporter::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    auto due = limiter_.NextDue();
    auto now = ReportRateLimiter::Clock::now();
    if (now < due) {
      cv_.wait_until(lock, due);
      continue;
    }
    const uint64_t generation = generation_;
    lock.unlock();
    Status s = ReportNow();
    lock.lock();
    now = ReportRateLimiter::Clock::now();
    if (s.ok()) {
      limiter_.Reported(now);
      // Changes made while the report was written go into the next one.
      if (generation_ != generation) limiter_.MarkDirty(false, now);
    } else {
      limiter_.Failed(now);
      if (metrics_) metrics_->RecordError("report");
      log_->Warn("Node report failed", {{"error", s.ToString()}});
    }
  }
}

}  // namespace dk::agent
