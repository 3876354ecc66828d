#include "libkube/client.h"

#include <utility>
#include <vector>

#include "libkube/api_error.h"
#include "libkube/cpprest_transport.h"
#include "libkube/object_meta.h"
#include "libkube/watch_decoder.h"
#include "query_string.h"

namespace dk::kube {
namespace {

constexpr char kJson[] = "application/json";

// Object names and namespaces end up in URL paths unescaped: refuse anything that could change
// the path's meaning.
Status ValidatePathSegment(std::string_view what, std::string_view s) {
  if (s.empty()) return Status::InvalidArgument(std::string(what) + " is empty");
  if (s == "." || s == ".." || s.size() > 253) {
    return Status::InvalidArgument(std::string(what) + " \"" + std::string(s) + "\" is invalid");
  }
  for (char c : s) {
    if (c == '/' || c == '%' || c == '?' || c == '#' || c <= ' ' || c == 0x7f) {
      return Status::InvalidArgument(std::string(what) + " \"" + std::string(s) +
                                     "\" contains a character not allowed in a name");
    }
  }
  return Status::Ok();
}

Status ValidateNamespace(const ResourceRef& ref, std::string_view ns) {
  if (!ref.namespaced || ns.empty()) return Status::Ok();
  return ValidatePathSegment("namespace", ns);
}

std::string PatchContentType(PatchType t) {
  switch (t) {
    case PatchType::kMerge:
      return "application/merge-patch+json";
    case PatchType::kJson:
      return "application/json-patch+json";
    case PatchType::kStrategicMerge:
      return "application/strategic-merge-patch+json";
    case PatchType::kApply:
      return "application/apply-patch+yaml";
  }
  return kJson;
}

std::string PropagationName(PropagationPolicy p) {
  switch (p) {
    case PropagationPolicy::kOrphan:
      return "Orphan";
    case PropagationPolicy::kBackground:
      return "Background";
    case PropagationPolicy::kForeground:
      return "Foreground";
    case PropagationPolicy::kDefault:
      return "";
  }
  return "";
}

// Namespace for a write: the explicit one, else the object's.
std::string WriteNamespace(const ResourceRef& ref, std::string_view ns, const nlohmann::json& o) {
  if (!ref.namespaced) return "";
  if (!ns.empty()) return std::string(ns);
  return GetNamespace(o);
}

std::string Dump(const nlohmann::json& j) {
  // Replace invalid UTF-8 instead of throwing (strings come from callers and the server).
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

Result<std::unique_ptr<Client>> Client::Create(const RestConfig& config, ClientOptions options) {
  DK_ASSIGN_OR_RETURN(std::unique_ptr<HttpTransport> transport,
                      NewCppRestTransport(config, options.logger));
  return std::make_unique<Client>(std::move(transport), config, std::move(options));
}

Client::Client(std::unique_ptr<HttpTransport> transport, const RestConfig& config,
               ClientOptions options)
    : transport_(std::move(transport)),
      token_(config.bearer_token, config.bearer_token_file,
             options.clock ? options.clock : RealClock()),
      logger_(options.logger ? options.logger : NullLogger()),
      clock_(options.clock ? options.clock : RealClock()),
      user_agent_(std::move(options.user_agent)),
      default_namespace_(config.default_namespace) {}

Status Client::AddAuth(HttpRequest* request) {
  DK_ASSIGN_OR_RETURN(std::string token, token_.Token());
  if (!token.empty()) request->headers.emplace_back("Authorization", "Bearer " + token);
  if (!user_agent_.empty()) request->headers.emplace_back("User-Agent", user_agent_);
  return Status::Ok();
}

Result<HttpResponse> Client::Do(HttpRequest request, std::string_view what) {
  request.headers.emplace_back("Accept", kJson);
  HttpRequest with_auth = request;
  DK_RETURN_IF_ERROR(AddAuth(&with_auth));
  DK_ASSIGN_OR_RETURN_CTX(HttpResponse resp, transport_->Send(with_auth), what);
  if (resp.status_code == 401 && token_.HasFile()) {
    // The token may have been rotated under us: re-read it once.
    token_.Invalidate();
    with_auth = request;
    DK_RETURN_IF_ERROR(AddAuth(&with_auth));
    DK_ASSIGN_OR_RETURN_CTX(resp, transport_->Send(with_auth), what);
  }
  if (resp.status_code < 200 || resp.status_code > 299) {
    Status s = StatusFromApiResponse(resp.status_code, resp.body, what);
    logger_->Debug("API call failed", {{"call", what}, {"code", resp.status_code}});
    return s;
  }
  return resp;
}

Result<nlohmann::json> Client::DoJson(HttpRequest request, std::string_view what) {
  DK_ASSIGN_OR_RETURN(HttpResponse resp, Do(std::move(request), what));
  nlohmann::json j = nlohmann::json::parse(resp.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::Corruption(std::string(what) + ": the response is not a JSON object (" +
                              std::to_string(resp.body.size()) + " bytes)");
  }
  return j;
}

Result<nlohmann::json> Client::Get(const ResourceRef& ref, std::string_view ns,
                                   std::string_view name, const GetOptions& options) {
  DK_RETURN_IF_ERROR(ValidateNamespace(ref, ns));
  DK_RETURN_IF_ERROR(ValidatePathSegment("name", name));
  HttpRequest req;
  req.method = "GET";
  req.path = ref.ObjectPath(ns, name) +
             QueryString().Add("resourceVersion", options.resource_version).str();
  return DoJson(std::move(req), "GET " + ref.ObjectPath(ns, name));
}

Result<ObjectList> Client::List(const ResourceRef& ref, std::string_view ns,
                                const ListOptions& options) {
  DK_RETURN_IF_ERROR(ValidateNamespace(ref, ns));
  QueryString q;
  q.Add("labelSelector", options.label_selector)
      .Add("fieldSelector", options.field_selector)
      .Add("continue", options.continue_token)
      .Add("resourceVersion", options.resource_version);
  if (options.limit > 0) q.AddInt("limit", options.limit);
  HttpRequest req;
  req.method = "GET";
  req.path = ref.CollectionPath(ns) + q.str();
  const std::string what = "LIST " + ref.CollectionPath(ns);
  DK_ASSIGN_OR_RETURN(nlohmann::json j, DoJson(std::move(req), what));

  ObjectList list;
  auto meta = j.find("metadata");
  if (meta != j.end() && meta->is_object()) {
    auto rv = meta->find("resourceVersion");
    if (rv != meta->end() && rv->is_string()) list.resource_version = rv->get<std::string>();
    auto cont = meta->find("continue");
    if (cont != meta->end() && cont->is_string()) list.continue_token = cont->get<std::string>();
    auto rem = meta->find("remainingItemCount");
    if (rem != meta->end() && rem->is_number_integer()) {
      list.remaining_item_count = rem->get<int64_t>();
    }
  }
  auto items = j.find("items");
  if (items != j.end() && !items->is_null() && !items->is_array()) {
    return Status::Corruption(what + ": \"items\" is not an array");
  }
  // Items of a list carry no apiVersion/kind; fill them in so objects look alike everywhere.
  std::string kind = ref.kind;
  auto list_kind = j.find("kind");
  if (kind.empty() && list_kind != j.end() && list_kind->is_string()) {
    kind = list_kind->get<std::string>();
    if (kind.size() > 4 && kind.compare(kind.size() - 4, 4, "List") == 0) {
      kind.resize(kind.size() - 4);
    }
  }
  if (items != j.end() && items->is_array()) {
    list.items.reserve(items->size());
    for (auto& item : *items) {
      if (!item.is_object()) return Status::Corruption(what + ": an item is not an object");
      if (!item.contains("apiVersion")) item["apiVersion"] = ref.ApiVersion();
      if (!item.contains("kind") && !kind.empty()) item["kind"] = kind;
      list.items.push_back(std::move(item));
    }
  }
  return list;
}

Result<ObjectList> Client::ListAll(const ResourceRef& ref, std::string_view ns,
                                   ListOptions options) {
  ObjectList all;
  bool first = true;
  do {
    DK_ASSIGN_OR_RETURN(ObjectList page, List(ref, ns, options));
    if (first) all.resource_version = page.resource_version;
    first = false;
    for (auto& item : page.items) all.items.push_back(std::move(item));
    options.continue_token = page.continue_token;
    options.resource_version.clear();  // not allowed together with continue
  } while (!options.continue_token.empty());
  return all;
}

Result<nlohmann::json> Client::Create(const ResourceRef& ref, std::string_view ns,
                                      const nlohmann::json& object, const WriteOptions& options) {
  if (!object.is_object()) {
    return Status::InvalidArgument("create: the object is not a JSON object");
  }
  const std::string target_ns = WriteNamespace(ref, ns, object);
  if (ref.namespaced && target_ns.empty()) {
    return Status::InvalidArgument("create " + ref.resource + ": no namespace given");
  }
  DK_RETURN_IF_ERROR(ValidateNamespace(ref, target_ns));
  HttpRequest req;
  req.method = "POST";
  req.path = ref.CollectionPath(target_ns) + QueryString()
                                                 .Add("fieldManager", options.field_manager)
                                                 .Add("dryRun", options.dry_run ? "All" : "")
                                                 .str();
  req.content_type = kJson;
  req.body = Dump(object);
  return DoJson(std::move(req), "CREATE " + ref.CollectionPath(target_ns) + "/" + GetName(object));
}

Result<nlohmann::json> Client::Update(const ResourceRef& ref, std::string_view ns,
                                      const nlohmann::json& object, const WriteOptions& options) {
  const std::string name = GetName(object);
  DK_RETURN_IF_ERROR(ValidatePathSegment("metadata.name", name));
  if (GetResourceVersion(object).empty()) {
    return Status::InvalidArgument("update " + ref.resource + "/" + name +
                                   ": metadata.resourceVersion is required (no blind overwrites)");
  }
  const std::string target_ns = WriteNamespace(ref, ns, object);
  if (ref.namespaced && target_ns.empty()) {
    return Status::InvalidArgument("update " + ref.resource + "/" + name + ": no namespace given");
  }
  DK_RETURN_IF_ERROR(ValidateNamespace(ref, target_ns));
  HttpRequest req;
  req.method = "PUT";
  const std::string path = ref.ObjectPath(target_ns, name, options.subresource);
  req.path = path + QueryString()
                        .Add("fieldManager", options.field_manager)
                        .Add("dryRun", options.dry_run ? "All" : "")
                        .str();
  req.content_type = kJson;
  req.body = Dump(object);
  return DoJson(std::move(req), "UPDATE " + path);
}

Result<nlohmann::json> Client::UpdateStatus(const ResourceRef& ref, std::string_view ns,
                                            const nlohmann::json& object, WriteOptions options) {
  options.subresource = "status";
  return Update(ref, ns, object, options);
}

Result<nlohmann::json> Client::Patch(const ResourceRef& ref, std::string_view ns,
                                     std::string_view name, PatchType type,
                                     const nlohmann::json& patch, const PatchOptions& options) {
  DK_RETURN_IF_ERROR(ValidateNamespace(ref, ns));
  DK_RETURN_IF_ERROR(ValidatePathSegment("name", name));
  if (ref.namespaced && ns.empty()) {
    return Status::InvalidArgument("patch " + ref.resource + "/" + std::string(name) +
                                   ": no namespace given");
  }
  if (type == PatchType::kJson && !patch.is_array()) {
    return Status::InvalidArgument("JSON patch must be an array of operations");
  }
  if (type != PatchType::kJson && !patch.is_object()) {
    return Status::InvalidArgument("patch must be a JSON object");
  }
  if (type == PatchType::kApply && options.field_manager.empty()) {
    return Status::InvalidArgument("server-side apply needs a field manager");
  }
  if (options.force && type != PatchType::kApply) {
    return Status::InvalidArgument("force is only meaningful for server-side apply");
  }
  QueryString q;
  q.Add("fieldManager", options.field_manager).Add("dryRun", options.dry_run ? "All" : "");
  if (options.force) q.AddBool("force", true);
  HttpRequest req;
  req.method = "PATCH";
  const std::string path = ref.ObjectPath(ns, name, options.subresource);
  req.path = path + q.str();
  req.content_type = PatchContentType(type);
  req.body = Dump(patch);
  return DoJson(std::move(req), (type == PatchType::kApply ? "APPLY " : "PATCH ") + path);
}

Result<nlohmann::json> Client::Apply(const ResourceRef& ref, std::string_view ns,
                                     const nlohmann::json& object, const PatchOptions& options) {
  if (!object.is_object() || !object.contains("apiVersion") || !object.contains("kind")) {
    return Status::InvalidArgument("apply: the object needs apiVersion and kind");
  }
  const std::string target_ns = WriteNamespace(ref, ns, object);
  return Patch(ref, target_ns, GetName(object), PatchType::kApply, object, options);
}

Status Client::Delete(const ResourceRef& ref, std::string_view ns, std::string_view name,
                      const DeleteOptions& options) {
  DK_RETURN_IF_ERROR(ValidateNamespace(ref, ns));
  DK_RETURN_IF_ERROR(ValidatePathSegment("name", name));
  nlohmann::json body = {{"apiVersion", "v1"}, {"kind", "DeleteOptions"}};
  const std::string propagation = PropagationName(options.propagation);
  if (!propagation.empty()) body["propagationPolicy"] = propagation;
  if (options.grace_period_seconds) body["gracePeriodSeconds"] = *options.grace_period_seconds;
  if (!options.precondition_uid.empty()) body["preconditions"]["uid"] = options.precondition_uid;
  if (!options.precondition_resource_version.empty()) {
    body["preconditions"]["resourceVersion"] = options.precondition_resource_version;
  }
  if (options.dry_run) body["dryRun"] = {"All"};
  HttpRequest req;
  req.method = "DELETE";
  req.path = ref.ObjectPath(ns, name);
  req.content_type = kJson;
  req.body = Dump(body);
  Result<HttpResponse> r = Do(std::move(req), "DELETE " + ref.ObjectPath(ns, name));
  return r.ok() ? Status::Ok() : r.status();
}

Status Client::Watch(const ResourceRef& ref, std::string_view ns, const WatchOptions& options,
                     const WatchHandler& on_event, Cancellation* cancel) {
  DK_RETURN_IF_ERROR(ValidateNamespace(ref, ns));
  QueryString q;
  q.AddBool("watch", true)
      .Add("resourceVersion", options.resource_version)
      .Add("labelSelector", options.label_selector)
      .Add("fieldSelector", options.field_selector);
  if (options.allow_bookmarks) q.AddBool("allowWatchBookmarks", true);
  if (options.timeout.count() > 0) q.AddInt("timeoutSeconds", options.timeout.count());
  HttpRequest req;
  req.method = "GET";
  req.path = ref.CollectionPath(ns) + q.str();
  req.headers.emplace_back("Accept", kJson);
  DK_RETURN_IF_ERROR(AddAuth(&req));
  const std::string what = "WATCH " + ref.CollectionPath(ns) + " from resourceVersion \"" +
                           options.resource_version + "\"";

  WatchDecoder decoder;
  std::vector<WatchEvent> events;
  Status stream_error;  // decode error or ERROR event
  bool handler_stopped = false;
  auto on_chunk = [&](std::string_view chunk) -> bool {
    events.clear();
    Status s = decoder.Feed(chunk, &events);
    for (WatchEvent& e : events) {
      if (e.type == WatchEventType::kError) {
        stream_error = StatusFromApiStatus(e.object, what);
        return false;
      }
      if (!on_event(e)) {
        handler_stopped = true;
        return false;
      }
    }
    if (!s.ok()) {
      stream_error = s.WithContext(what);
      return false;
    }
    return true;
  };
  Result<HttpResponse> resp = transport_->Stream(req, on_chunk, cancel);
  if (!stream_error.ok()) return stream_error;
  if (handler_stopped || (cancel != nullptr && cancel->IsCancelled())) return Status::Ok();
  if (!resp.ok()) return resp.status().WithContext(what);
  if (resp->status_code == 401 && token_.HasFile()) token_.Invalidate();
  if (resp->status_code < 200 || resp->status_code > 299) {
    return StatusFromApiResponse(resp->status_code, resp->body, what);
  }
  return decoder.Finish().WithContext(what);
}

}  // namespace dk::kube
