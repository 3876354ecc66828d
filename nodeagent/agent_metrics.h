// AgentMetrics: the agent's Prometheus metrics (prefix diffkeeper_agent_), registered on a
// libsvc MetricsRegistry and served on /metrics.
//
//   captures_total{result}                ok (new set) | unchanged | error
//   capture_bytes_read_total              bytes read from protected files ("bytes in")
//   capture_bytes_stored_total            bytes added to stores (after dedup, deltas, zstd)
//   capture_objects_decoded_total         stored objects decoded as delta bases by captures
//   capture_duration_seconds              histogram of Store::Capture()
//   capture_wait_seconds                  histogram: first reported change → capture start
//   capture_pending                       workers with changes not yet captured (queue depth)
//   capture_gate_waiting                  workers waiting for a capture slot
//   watch_overflows_total, deferred_files_total
//   restores_total{result,source}, restore_duration_seconds, restore_bytes_total
//   errors_total{kind}                    capture | watch | resolve | restore | report | peer
//   peer_requests_total{endpoint,code}
//   protected_pods                        capture workers running
//   store_logical_bytes{identity}, store_stored_bytes{identity}, store_versions{identity}
//   store_disk_bytes{identity}            data file + pack files on the node's disk
//   node_reports_total{result}
//   replication_bytes_uploaded_total      bytes sent to buckets (objects, manifests, heads)
//   replication_sets_total{result}        replicated | coalesced (superseded in the backlog) |
//                                         skipped (gone from the store, older than the head)
//   replication_errors_total{reason}      failed attempts: AccessDenied, BucketNotFound,
//                                         EndpointUnavailable, Credentials, Config, …
//   replication_lag_sets{identity}, replication_lag_seconds{identity},
//   replication_failing{identity} capture_in_flight, capture_gate_waiting  captures running /
//   waiting for a slot cpu_seconds, resident_memory_bytes, anonymous_memory_bytes   this process
//   (process_usage.h)
//
// Thread-safe (the registry's families are).
#pragma once

#include <string>

#include "capture_worker.h"
#include "libreplica/replicator.h"
#include "libsvc/metrics.h"

namespace dk::agent {

class AgentMetrics {
 public:
  explicit AgentMetrics(svc::MetricsRegistry* registry);

  void RecordCapture(const CaptureReport& r);
  void RecordRestore(const std::string& result, const std::string& source, double seconds,
                     uint64_t bytes);
  void RecordError(const std::string& kind);
  void RecordPeerRequest(const std::string& endpoint, int code);
  void RecordNodeReport(bool ok);
  void SetProtectedPods(size_t n);
  void SetPending(size_t n);
  void SetStoreStats(const std::string& identity, uint64_t logical, uint64_t stored, uint64_t disk,
                     uint64_t versions);
  void RemoveStore(const std::string& identity);
  // Replication of `identity` progressed from `before` to `now` (statuses of one Replicator;
  // counters that went down mean a new Replicator and count from zero).
  void RecordReplication(const std::string& identity, const replica::ReplicationStatus& before,
                         const replica::ReplicationStatus& now);
  void RecordReplicationError(const std::string& reason);
  void RemoveReplication(const std::string& identity);
  // capture_in_flight and capture_gate_waiting, read from `gate` (outlives the registry's use).
  void RegisterGate(const CaptureGate* gate);

  svc::MetricsRegistry* registry() const { return registry_; }

 private:
  svc::MetricsRegistry* const registry_;
  svc::Counter* captures_;
  svc::Counter* objects_decoded_;
  svc::Counter* bytes_read_;
  svc::Counter* bytes_stored_;
  svc::Histogram* capture_duration_;
  svc::Histogram* capture_wait_;
  svc::Gauge* pending_;
  svc::Counter* overflows_;
  svc::Counter* deferred_;
  svc::Counter* restores_;
  svc::Histogram* restore_duration_;
  svc::Counter* restore_bytes_;
  svc::Counter* errors_;
  svc::Counter* peer_requests_;
  svc::Gauge* protected_pods_;
  svc::Gauge* store_logical_;
  svc::Gauge* store_stored_;
  svc::Gauge* store_disk_;
  svc::Gauge* store_versions_;
  svc::Counter* node_reports_;
  svc::Counter* repl_bytes_;
  svc::Counter* repl_sets_;
  svc::Counter* repl_errors_;
  svc::Gauge* repl_lag_sets_;
  svc::Gauge* repl_lag_seconds_;
  svc::Gauge* repl_failing_;
};

}  // namespace dk::agent
