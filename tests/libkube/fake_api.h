// FakeApi: an in-memory HttpTransport that behaves like a tiny Kubernetes API server, for unit
// tests of Client, Informer, LeaderElector and EventRecorder. (Integration tests use the real
// control plane; this never stands in for it there.)
//
// Supports, for any resource path (/api/v1/… or /apis/g/v/…, namespaced or not): GET object,
// LIST (with limit/continue paging), POST (409 AlreadyExists), PUT (409 Conflict on a stale
// resourceVersion; "/status" replaces only .status), PATCH merge (RFC 7386), DELETE (with
// preconditions), and WATCH (?watch=true&resourceVersion=N) from a global event history:
// resourceVersions older than the compaction point get an ERROR event with code 410, like the
// watch cache does. Each event line is delivered in two chunks split at a pseudo-random point.
//
// Fault hooks: SetDown(true) fails every request as a transport error and ends open watches;
// DropWatches() ends open watches cleanly; Compact() forgets history; FailNext() scripts the
// status of upcoming requests.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "libkube/http_transport.h"

namespace dk::kube::testing {

class FakeApi final : public HttpTransport {
 public:
  Result<HttpResponse> Send(const HttpRequest& request) override;
  Result<HttpResponse> Stream(const HttpRequest& request, const BodyChunkHandler& on_chunk,
                              Cancellation* cancel) override;

  // Direct access for test setup and checks (bypassing HTTP). `collection` is a collection path
  // such as "/api/v1/namespaces/ns/configmaps".
  nlohmann::json Put(const std::string& collection, nlohmann::json obj);  // create or replace
  bool Remove(const std::string& collection, const std::string& name);
  std::optional<nlohmann::json> Object(const std::string& collection, const std::string& name);
  int64_t ResourceVersion();

  void SetDown(bool down);
  void DropWatches();
  // Forget history up to the current version: older watches get 410.
  void Compact();
  // The next request whose method and path prefix match answers `code` with a Status body.
  void FailNext(const std::string& method, const std::string& path_prefix, int code,
                const std::string& reason);

  std::vector<HttpRequest> Requests();
  int OpenWatches();
  // Blocks (real time, bounded) until at least `n` watches are open.
  bool WaitForWatches(int n);
  // Number of watch requests received so far (including refused ones), and a bounded wait for it.
  size_t WatchRequestCount();
  bool WaitForWatchRequests(size_t n);

 private:
  struct Event {
    int64_t rv;
    std::string collection;
    std::string type;
    nlohmann::json object;
  };
  struct Failure {
    std::string method, prefix, reason;
    int code;
  };

  HttpResponse Handle(const HttpRequest& r);
  nlohmann::json StoreLocked(const std::string& collection, nlohmann::json obj, const char* type);
  void RecordLocked(const std::string& collection, const char* type, const nlohmann::json& obj);

  std::mutex mu_;
  std::condition_variable cv_;
  int64_t rv_ = 100;
  int64_t compacted_rv_ = 0;
  int64_t uid_seq_ = 0;
  std::map<std::string, std::map<std::string, nlohmann::json>> objects_;
  std::deque<Event> history_;
  std::vector<HttpRequest> requests_;
  std::vector<Failure> failures_;
  bool down_ = false;
  uint64_t drop_generation_ = 0;
  int open_watches_ = 0;
  size_t watch_requests_ = 0;
  uint64_t split_seed_ = 12345;
};

// Forwards to a shared FakeApi, so several Clients (candidates) can talk to one fake server.
class FakeApiProxy final : public HttpTransport {
 public:
  explicit FakeApiProxy(FakeApi* api) : api_(api) {}
  Result<HttpResponse> Send(const HttpRequest& r) override { return api_->Send(r); }
  Result<HttpResponse> Stream(const HttpRequest& r, const BodyChunkHandler& on_chunk,
                              Cancellation* cancel) override {
    return api_->Stream(r, on_chunk, cancel);
  }

 private:
  FakeApi* api_;
};

}  // namespace dk::kube::testing
