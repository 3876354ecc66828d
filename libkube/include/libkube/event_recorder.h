// EventRecorder: records events.k8s.io/v1 Events about objects, aggregating repeats.
//
// Record() only enqueues (bounded queue; when full, the event is dropped and a warning logged):
// a sender thread creates the Event, or, for a repeat within the aggregation window
// (event_aggregator.h), merge-patches its series (count, lastObservedTime) instead of creating
// another object. Events are best effort: failures are logged, never returned.
//
// The Event is created in the namespace of the regarding object ("default" for cluster-scoped
// ones), named "<regarding name>.<unique hex>", with reportingController/reportingInstance from
// the options.
//
// Thread-safe. The destructor waits for the event being sent (one API call, bounded by the
// client's timeout) and drops the rest of the queue; call Flush() first to deliver everything.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "libkube/client.h"
#include "libkube/event_aggregator.h"

namespace dk::kube {

enum class EventType { kNormal, kWarning };

struct EventRecorderOptions {
  std::string reporting_controller;  // e.g. "diffkeeper.io/operator" (required)
  std::string reporting_instance;    // e.g. the pod name (required)
  std::chrono::nanoseconds aggregation_window = std::chrono::minutes(6);
  size_t max_aggregated_keys = 4096;
  size_t max_queue = 1000;
};

class EventRecorder {
 public:
  EventRecorder(Client* client, EventRecorderOptions options);
  ~EventRecorder();
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;

  // `regarding` is the object the event is about (its apiVersion, kind, metadata.name,
  // metadata.namespace and metadata.uid are used). `reason` is a CamelCase machine word
  // ("RestoreFailed"), `action` what was done ("Restore"), `note` the human text (<= 1 KiB,
  // truncated beyond).
  void Record(const nlohmann::json& regarding, EventType type, std::string reason,
              std::string action, std::string note);

  // Blocks until every event recorded so far has been sent (or failed).
  void Flush();
  uint64_t NumDropped() const;

 private:
  struct Pending {
    nlohmann::json regarding;
    EventType type;
    std::string reason, action, note;
    Clock::TimePoint seen;
    Clock::WallTime wall;
  };

  void Run();
  void Send(const Pending& p);

  Client* const client_;
  const EventRecorderOptions options_;
  Clock* const clock_;
  Logger* const logger_;
  EventAggregator aggregator_;  // sender thread only

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  uint64_t in_flight_ = 0;
  uint64_t dropped_ = 0;
  uint64_t name_seq_ = 0;
  std::thread sender_;
};

}  // namespace dk::kube
