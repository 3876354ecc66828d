#include "agent_metrics.h"

#include "process_usage.h"

namespace dk::agent {

AgentMetrics::AgentMetrics(svc::MetricsRegistry* registry) : registry_(registry) {
  auto* r = registry_;
  captures_ = r->AddCounter("agent_captures_total",
                            "Capture attempts by result: ok (new capture set), unchanged, error.",
                            {"result"});
  for (const char* res : {"ok", "unchanged", "error"}) captures_->Touch({res});
  bytes_read_ = r->AddCounter("agent_capture_bytes_read_total",
                              "Bytes read from protected files by captures.");
  bytes_stored_ = r->AddCounter("agent_capture_bytes_stored_total",
                                "Bytes added to the stores by captures (after dedup and deltas).");
  objects_decoded_ = r->AddCounter(
      "agent_capture_objects_decoded_total",
      "Stored objects decoded by captures as delta bases (grows with delta chain depth).");
  bytes_read_->Touch();
  bytes_stored_->Touch();
  objects_decoded_->Touch();
  capture_duration_ = r->AddHistogram("agent_capture_duration_seconds",
                                      "Duration of one capture (scan, read, store, commit).", {});
  capture_wait_ = r->AddHistogram(
      "agent_capture_wait_seconds",
      "Time from the first change reported by the watcher to the start of its capture.", {});
  pending_ = r->AddGauge("agent_capture_pending",
                         "Protected pods with reported changes not captured yet (queue depth).");
  pending_->Set(0);
  overflows_ = r->AddCounter("agent_watch_overflows_total",
                             "Kernel inotify queue overflows (each forces a full rescan).");
  overflows_->Touch();
  deferred_ = r->AddCounter("agent_deferred_files_total",
                            "Files deferred because they kept changing while read.");
  deferred_->Touch();
  restores_ = r->AddCounter("agent_restores_total", "Restores carried out, by result and source.",
                            {"result", "source"});
  restore_duration_ = r->AddHistogram("agent_restore_duration_seconds",
                                      "Duration of restores (fetch, verify, write).", {},
                                      svc::ExponentialBuckets(0.05, 2, 14));
  restore_bytes_ = r->AddCounter("agent_restore_bytes_total", "Bytes written by restores.");
  restore_bytes_->Touch();
  errors_ = r->AddCounter("agent_errors_total", "Errors by kind.", {"kind"});
  for (const char* k : {"capture", "watch", "resolve", "restore", "report", "peer"})
    errors_->Touch({k});
  peer_requests_ =
      r->AddCounter("agent_peer_requests_total",
                    "Peer API requests served, by endpoint and HTTP code.", {"endpoint", "code"});
  protected_pods_ = r->AddGauge("agent_protected_pods", "Capture workers running.");
  protected_pods_->Set(0);
  store_logical_ =
      r->AddGauge("agent_store_logical_bytes",
                  "Sum of the sizes of every version in an identity's store.", {"identity"});
  store_stored_ =
      r->AddGauge("agent_store_stored_bytes",
                  "Bytes stored for an identity (compressed, deduplicated).", {"identity"});
  store_disk_ = r->AddGauge(
      "agent_store_disk_bytes",
      "Bytes an identity's store occupies on the node's disk (data file and pack files, with "
      "free pages and garbage that GC reclaims).",
      {"identity"});
  store_versions_ =
      r->AddGauge("agent_store_versions", "File versions in an identity's store.", {"identity"});
  node_reports_ = r->AddCounter("agent_node_reports_total",
                                "Node report writes to the API server, by result.", {"result"});
  node_reports_->Touch({"ok"});
  node_reports_->Touch({"error"});
  repl_bytes_ = r->AddCounter("agent_replication_bytes_uploaded_total",
                              "Bytes uploaded to buckets (chunk objects, manifests, heads).");
  repl_bytes_->Touch();
  repl_sets_ = r->AddCounter("agent_replication_sets_total",
                             "Capture sets handled by replication, by result: replicated, "
                             "coalesced (superseded in the backlog), skipped.",
                             {"result"});
  for (const char* res : {"replicated", "coalesced", "skipped"}) repl_sets_->Touch({res});
  repl_errors_ = r->AddCounter("agent_replication_errors_total",
                               "Failed replication attempts, by reason.", {"reason"});
  repl_lag_sets_ = r->AddGauge("agent_replication_lag_sets",
                               "Capture sets of an identity not in its bucket yet.", {"identity"});
  repl_lag_seconds_ = r->AddGauge(
      "agent_replication_lag_seconds",
      "Seconds since the bucket misses captured changes of an identity (0 = caught up).",
      {"identity"});
  repl_failing_ =
      r->AddGauge("agent_replication_failing",
                  "1 while replication of an identity fails and is retried.", {"identity"});
  r->AddCallbackGauge("agent_cpu_seconds", "CPU time (user + system) used by the agent.",
                      [] { return ReadProcessUsage().cpu_seconds; });
  r->AddCallbackGauge("agent_resident_memory_bytes",
                      "Resident memory of the agent, including mapped store pages.",
                      [] { return static_cast<double>(ReadProcessUsage().rss_bytes); });
  r->AddCallbackGauge("agent_anonymous_memory_bytes",
                      "Anonymous resident memory of the agent (heap and stacks).",
                      [] { return static_cast<double>(ReadProcessUsage().anon_rss_bytes); });
}

void AgentMetrics::RecordCapture(const CaptureReport& rep) {
  if (rep.new_overflows) overflows_->Inc({}, static_cast<double>(rep.new_overflows));
  if (!rep.status.ok()) {
    captures_->Inc({"error"});
    errors_->Inc({"capture"});
    return;
  }
  captures_->Inc({rep.result.set ? "ok" : "unchanged"});
  bytes_read_->Inc({}, static_cast<double>(rep.result.bytes_read));
  bytes_stored_->Inc({}, static_cast<double>(rep.result.bytes_stored));
  objects_decoded_->Inc({}, static_cast<double>(rep.result.objects_decoded));
  capture_duration_->Observe(rep.duration_seconds);
  if (!rep.initial) capture_wait_->Observe(rep.wait_seconds);
  if (!rep.result.deferred.empty())
    deferred_->Inc({}, static_cast<double>(rep.result.deferred.size()));
}

void AgentMetrics::RecordRestore(const std::string& result, const std::string& source,
                                 double seconds, uint64_t bytes) {
  restores_->Inc({result, source});
  restore_duration_->Observe(seconds);
  restore_bytes_->Inc({}, static_cast<double>(bytes));
  if (result != "succeeded") errors_->Inc({"restore"});
}

void AgentMetrics::RegisterGate(const CaptureGate* gate) {
  registry_->AddCallbackGauge("agent_capture_in_flight", "Captures running now.",
                              [gate] { return static_cast<double>(gate->in_use()); });
  registry_->AddCallbackGauge("agent_capture_gate_waiting",
                              "Pods waiting for a capture slot (--max-concurrent-captures).",
                              [gate] { return static_cast<double>(gate->waiting()); });
}

void AgentMetrics::RecordError(const std::string& kind) { errors_->Inc({kind}); }

void AgentMetrics::RecordPeerRequest(const std::string& endpoint, int code) {
  peer_requests_->Inc({endpoint, std::to_string(code)});
}

void AgentMetrics::RecordNodeReport(bool ok) { node_reports_->Inc({ok ? "ok" : "error"}); }

void AgentMetrics::SetProtectedPods(size_t n) { protected_pods_->Set(static_cast<double>(n)); }

void AgentMetrics::SetPending(size_t n) { pending_->Set(static_cast<double>(n)); }

void AgentMetrics::SetStoreStats(const std::string& identity, uint64_t logical, uint64_t stored,
                                 uint64_t disk, uint64_t versions) {
  store_logical_->Set({identity}, static_cast<double>(logical));
  store_stored_->Set({identity}, static_cast<double>(stored));
  store_disk_->Set({identity}, static_cast<double>(disk));
  store_versions_->Set({identity}, static_cast<double>(versions));
}

void AgentMetrics::RemoveStore(const std::string& identity) {
  store_logical_->Remove({identity});
  store_stored_->Remove({identity});
  store_disk_->Remove({identity});
  store_versions_->Remove({identity});
}

void AgentMetrics::RecordReplication(const std::string& identity,
                                     const replica::ReplicationStatus& before,
                                     const replica::ReplicationStatus& now) {
  auto delta = [](uint64_t b, uint64_t n) { return static_cast<double>(n >= b ? n - b : n); };
  if (double d = delta(before.bytes_uploaded, now.bytes_uploaded)) repl_bytes_->Inc({}, d);
  if (double d = delta(before.sets_replicated, now.sets_replicated))
    repl_sets_->Inc({"replicated"}, d);
  if (double d = delta(before.sets_coalesced, now.sets_coalesced))
    repl_sets_->Inc({"coalesced"}, d);
  if (double d = delta(before.sets_skipped, now.sets_skipped)) repl_sets_->Inc({"skipped"}, d);
  if (double d = delta(before.consecutive_failures, now.consecutive_failures);
      d && now.consecutive_failures)
    repl_errors_->Inc({now.last_error_reason.empty() ? "Error" : now.last_error_reason}, d);
  repl_lag_sets_->Set({identity}, static_cast<double>(now.lag_sets));
  repl_lag_seconds_->Set({identity}, now.lag_seconds);
  repl_failing_->Set({identity}, now.failing ? 1 : 0);
}

void AgentMetrics::RecordReplicationError(const std::string& reason) {
  repl_errors_->Inc({reason});
}

void AgentMetrics::RemoveReplication(const std::string& identity) {
  repl_lag_sets_->Remove({identity});
  repl_lag_seconds_->Remove({identity});
  repl_failing_->Remove({identity});
}

}  // namespace dk::agent
