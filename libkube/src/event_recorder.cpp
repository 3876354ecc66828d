#include "libkube/event_recorder.h"

#include <cstdio>

#include "libkube/api_error.h"
#include "libkube/object_meta.h"
#include "micro_time.h"

namespace dk::kube {
namespace {

constexpr size_t kMaxNote = 1024;

std::string TypeName(EventType t) { return t == EventType::kWarning ? "Warning" : "Normal"; }

std::string Str(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

nlohmann::json Reference(const nlohmann::json& obj) {
  nlohmann::json ref = nlohmann::json::object();
  for (const char* k : {"apiVersion", "kind"}) {
    std::string v = Str(obj, k);
    if (!v.empty()) ref[k] = v;
  }
  for (auto [k, v] : {std::pair<const char*, std::string>{"name", GetName(obj)},
                      {"namespace", GetNamespace(obj)},
                      {"uid", GetUid(obj)}}) {
    if (!v.empty()) ref[k] = v;
  }
  return ref;
}

}  // namespace

EventRecorder::EventRecorder(Client* client, EventRecorderOptions options)
    : client_(client),
      options_(std::move(options)),
      clock_(client->clock()),
      logger_(client->logger()),
      aggregator_(options_.aggregation_window, options_.max_aggregated_keys) {
  sender_ = std::thread(&EventRecorder::Run, this);
}

EventRecorder::~EventRecorder() {
  size_t dropped = 0;
  {
    std::lock_guard<std::mutex> g(mu_);
    stopping_ = true;
    dropped = queue_.size();
    queue_.clear();  // best effort: never hold up shutdown on an unreachable API server
  }
  cv_.notify_all();
  sender_.join();
  if (dropped > 0) logger_->Warn("Dropped unsent events at shutdown", {{"events", dropped}});
}

void EventRecorder::Record(const nlohmann::json& regarding, EventType type, std::string reason,
                           std::string action, std::string note) {
  if (note.size() > kMaxNote) note.resize(kMaxNote);
  {
    std::lock_guard<std::mutex> g(mu_);
    if (stopping_) return;
    if (queue_.size() >= options_.max_queue) {
      ++dropped_;
      logger_->Warn("Dropped an event: the queue is full",
                    {{"reason", reason}, {"object", ObjectKey(regarding)}});
      return;
    }
    queue_.push_back(Pending{Reference(regarding), type, std::move(reason), std::move(action),
                             std::move(note), clock_->Now(), clock_->WallNow()});
  }
  cv_.notify_all();
}

void EventRecorder::Flush() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return queue_.empty() && in_flight_ == 0; });
}

uint64_t EventRecorder::NumDropped() const {
  std::lock_guard<std::mutex> g(mu_);
  return dropped_;
}

void EventRecorder::Run() {
  for (;;) {
    Pending p;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      p = std::move(queue_.front());
      queue_.pop_front();
      ++in_flight_;
    }
    Send(p);
    {
      std::lock_guard<std::mutex> g(mu_);
      --in_flight_;
    }
    cv_.notify_all();
  }
}

void EventRecorder::Send(const Pending& p) {
  const ResourceRef events = resources::Events();
  std::string ns = Str(p.regarding, "namespace");
  if (ns.empty()) ns = "default";
  const std::string regarding_name = Str(p.regarding, "name");
  const std::string key = Str(p.regarding, "uid") + "\n" + Str(p.regarding, "kind") + "\n" + ns +
                          "\n" + regarding_name + "\n" + TypeName(p.type) + "\n" + p.reason + "\n" +
                          p.action + "\n" + p.note;
  const std::string when = FormatMicroTime(p.wall);

  char suffix[32];
  std::snprintf(
      suffix, sizeof(suffix), ".%llx",
      static_cast<unsigned long long>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(p.wall.time_since_epoch()).count() +
          static_cast<int64_t>(name_seq_++)));
  std::string base = regarding_name.empty() ? "event" : regarding_name;
  if (base.size() > 200) base.resize(200);
  EventAggregator::Decision d = aggregator_.Observe(key, p.seen, base + suffix);

  if (!d.create) {
    nlohmann::json patch = {{"series", {{"count", d.count}, {"lastObservedTime", when}}}};
    Result<nlohmann::json> r = client_->Patch(events, ns, d.name, PatchType::kMerge, patch);
    if (r.ok()) return;
    if (!IsNotFound(r.status())) {
      logger_->Warn("Updating an event series failed",
                    {{"event", d.name}, {"error", r.status().ToString()}});
      return;
    }
    // The Event expired or was deleted: start over with a new object.
    aggregator_.Forget(key);
    d = aggregator_.Observe(key, p.seen, base + suffix);
  }
  nlohmann::json ev = {
      {"apiVersion", events.ApiVersion()},
      {"kind", events.kind},
      {"metadata", {{"name", d.name}, {"namespace", ns}}},
      {"eventTime", when},
      {"reportingController", options_.reporting_controller},
      {"reportingInstance", options_.reporting_instance},
      {"action", p.action},
      {"reason", p.reason},
      {"note", p.note},
      {"type", TypeName(p.type)},
      {"regarding", p.regarding},
  };
  Result<nlohmann::json> r = client_->Create(events, ns, ev);
  if (!r.ok()) {
    aggregator_.Forget(key);
    logger_->Warn("Creating an event failed",
                  {{"event", d.name}, {"error", r.status().ToString()}});
  }
}

}  // namespace dk::kube
