// Client: typed-enough access to the Kubernetes API — objects are nlohmann::json, resources are
// addressed by ResourceRef, failures are dk::Status (api_error.h explains the mapping).
//
// Every call is one HTTP request; nothing is retried automatically except one re-send after a
// 401 when the bearer token comes from a file that may have been rotated. Callers retry
// retryable errors (Unavailable, Conflict after re-reading) with their own policy: a work queue
// (work_queue.h) or an informer (informer.h).
//
// Writes never overwrite blindly: Update() requires metadata.resourceVersion (409 Conflict when
// it is stale); prefer Apply() (server-side apply) for objects the caller owns.
//
// Thread-safe: one Client is shared by all threads of a process. The logger, clock and
// transport outlive it (the transport is owned).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "libkube/bearer_token_source.h"
#include "libkube/cancellation.h"
#include "libkube/clock.h"
#include "libkube/http_transport.h"
#include "libkube/request_options.h"
#include "libkube/resource_ref.h"
#include "libkube/rest_config.h"
#include "libkube/watch_event.h"
#include "libstate/logger.h"
#include "libstate/result.h"

namespace dk::kube {

struct ClientOptions {
  Logger* logger = nullptr;  // null: NullLogger()
  Clock* clock = nullptr;    // null: RealClock()
  std::string user_agent = "diffkeeper/0.1";
};

// Called for every event of a watch, in order; return false to end the watch.
using WatchHandler = std::function<bool(const WatchEvent& event)>;

class Client {
 public:
  // A client over the cpprestsdk transport.
  static Result<std::unique_ptr<Client>> Create(const RestConfig& config,
                                                ClientOptions options = {});

  // A client over any transport (tests use a fake). `config` supplies the credentials sent as
  // headers (bearer token); TLS settings are the transport's business.
  Client(std::unique_ptr<HttpTransport> transport, const RestConfig& config,
         ClientOptions options = {});

  const std::string& default_namespace() const { return default_namespace_; }
  Logger* logger() const { return logger_; }
  Clock* clock() const { return clock_; }

  // GET one object. NotFound when it does not exist.
  Result<nlohmann::json> Get(const ResourceRef& ref, std::string_view ns, std::string_view name,
                             const GetOptions& options = {});

  // One page of a list (options.limit / options.continue_token page through it).
  Result<ObjectList> List(const ResourceRef& ref, std::string_view ns,
                          const ListOptions& options = {});
  // All pages; items concatenated, resource_version of the first page. Gone (IsGone) when a
  // continue token expired between pages: the caller lists again.
  Result<ObjectList> ListAll(const ResourceRef& ref, std::string_view ns, ListOptions options);

  // POST. The namespace is taken from `ns`, or from metadata.namespace when `ns` is empty.
  // Conflict with reason AlreadyExists when the name is taken.
  Result<nlohmann::json> Create(const ResourceRef& ref, std::string_view ns,
                                const nlohmann::json& object, const WriteOptions& options = {});

  // PUT the whole object (or its status with options.subresource = "status"). The object must
  // carry metadata.name and metadata.resourceVersion (InvalidArgument otherwise); Conflict when
  // the version is stale — re-read, re-apply the change, retry.
  Result<nlohmann::json> Update(const ResourceRef& ref, std::string_view ns,
                                const nlohmann::json& object, const WriteOptions& options = {});
  // Update() of the status subresource.
  Result<nlohmann::json> UpdateStatus(const ResourceRef& ref, std::string_view ns,
                                      const nlohmann::json& object, WriteOptions options = {});

  // PATCH with the given patch type; `patch` is the JSON document (an array for kJson).
  Result<nlohmann::json> Patch(const ResourceRef& ref, std::string_view ns, std::string_view name,
                               PatchType type, const nlohmann::json& patch,
                               const PatchOptions& options = {});

  // Server-side apply of `object` (must have apiVersion, kind, metadata.name) as
  // options.field_manager (required). Conflict (reason Conflict) when another manager owns a
  // field and !options.force.
  Result<nlohmann::json> Apply(const ResourceRef& ref, std::string_view ns,
                               const nlohmann::json& object, const PatchOptions& options);

  // DELETE. NotFound when already gone; Conflict when a precondition fails.
  Status Delete(const ResourceRef& ref, std::string_view ns, std::string_view name,
                const DeleteOptions& options = {});

  // One watch connection (?watch=true). Calls `on_event` for each event until:
  //  - the server ends the stream (timeoutSeconds elapsed) → OK;
  //  - `on_event` returns false, or `cancel` fires → OK;
  //  - the server refuses the watch (HTTP error) or sends an ERROR event → the mapped Status,
  //    IsGone() for 410 either way (the caller re-lists);
  //  - the body cannot be decoded → Corruption; the connection fails → Unavailable.
  // ERROR events are not passed to `on_event`.
  Status Watch(const ResourceRef& ref, std::string_view ns, const WatchOptions& options,
               const WatchHandler& on_event, Cancellation* cancel = nullptr);

  // The raw call used by all of the above, exposed for paths libkube has no helper for
  // (e.g. /version, /readyz). Adds auth and User-Agent; maps non-2xx to a Status.
  Result<HttpResponse> Do(HttpRequest request, std::string_view what);

 private:
  Status AddAuth(HttpRequest* request);
  Result<nlohmann::json> DoJson(HttpRequest request, std::string_view what);

  std::unique_ptr<HttpTransport> transport_;
  BearerTokenSource token_;
  Logger* logger_;
  Clock* clock_;
  std::string user_agent_;
  std::string default_namespace_;
};

}  // namespace dk::kube
