#include "fake_api.h"

#include <chrono>

#include "libkube/api_error.h"

namespace dk::kube::testing {
namespace {

struct ParsedPath {
  std::string collection;  // path up to and including the resource
  std::string name;
  std::string subresource;
  std::map<std::string, std::string> query;
};

std::string Unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

ParsedPath Parse(const std::string& full) {
  ParsedPath p;
  std::string path = full;
  size_t q = full.find('?');
  if (q != std::string::npos) {
    path = full.substr(0, q);
    std::string query = full.substr(q + 1);
    size_t start = 0;
    while (start < query.size()) {
      size_t amp = query.find('&', start);
      std::string kv =
          query.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
      size_t eq = kv.find('=');
      p.query[kv.substr(0, eq)] = eq == std::string::npos ? "" : Unescape(kv.substr(eq + 1));
      if (amp == std::string::npos) break;
      start = amp + 1;
    }
  }
  std::vector<std::string> seg;
  size_t start = 1;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    seg.push_back(
        path.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  size_t base = (!seg.empty() && seg[0] == "api") ? 2 : 3;
  if (seg.size() > base + 1 && seg[base] == "namespaces" && seg.size() > base + 2) base += 2;
  std::string collection;
  for (size_t i = 0; i <= base && i < seg.size(); ++i) collection += "/" + seg[i];
  p.collection = collection;
  if (seg.size() > base + 1) p.name = seg[base + 1];
  if (seg.size() > base + 2) p.subresource = seg[base + 2];
  return p;
}

HttpResponse StatusResponse(int code, const std::string& reason, const std::string& message) {
  nlohmann::json s = {{"kind", "Status"},   {"apiVersion", "v1"}, {"status", "Failure"},
                      {"message", message}, {"reason", reason},   {"code", code}};
  return HttpResponse{code, "application/json", s.dump()};
}

HttpResponse Ok(const nlohmann::json& j, int code = 200) {
  return HttpResponse{code, "application/json", j.dump()};
}

bool LabelsMatch(const nlohmann::json& obj, const std::string& selector) {
  if (selector.empty()) return true;
  // Only "k=v" selectors, comma-separated.
  size_t start = 0;
  while (start < selector.size()) {
    size_t comma = selector.find(',', start);
    std::string term =
        selector.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    size_t eq = term.find('=');
    std::string k = term.substr(0, eq), v = term.substr(eq + 1);
    const auto& labels = obj["metadata"].value("labels", nlohmann::json::object());
    if (!labels.contains(k) || labels[k] != v) return false;
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return true;
}

}  // namespace

void FakeApi::RecordLocked(const std::string& collection, const char* type,
                           const nlohmann::json& obj) {
  history_.push_back(Event{rv_, collection, type, obj});
  cv_.notify_all();
}

nlohmann::json FakeApi::StoreLocked(const std::string& collection, nlohmann::json obj,
                                    const char* type) {
  ++rv_;
  obj["metadata"]["resourceVersion"] = std::to_string(rv_);
  if (!obj["metadata"].contains("uid")) {
    obj["metadata"]["uid"] = "uid-" + std::to_string(++uid_seq_);
  }
  objects_[collection][obj["metadata"]["name"].get<std::string>()] = obj;
  RecordLocked(collection, type, obj);
  return obj;
}

nlohmann::json FakeApi::Put(const std::string& collection, nlohmann::json obj) {
  std::lock_guard<std::mutex> g(mu_);
  const std::string name = obj["metadata"]["name"];
  bool exists = objects_[collection].count(name) > 0;
  return StoreLocked(collection, std::move(obj), exists ? "MODIFIED" : "ADDED");
}

bool FakeApi::Remove(const std::string& collection, const std::string& name) {
  std::lock_guard<std::mutex> g(mu_);
  auto& objs = objects_[collection];
  auto it = objs.find(name);
  if (it == objs.end()) return false;
  nlohmann::json obj = it->second;
  objs.erase(it);
  ++rv_;
  obj["metadata"]["resourceVersion"] = std::to_string(rv_);
  RecordLocked(collection, "DELETED", obj);
  return true;
}

std::optional<nlohmann::json> FakeApi::Object(const std::string& collection,
                                              const std::string& name) {
  std::lock_guard<std::mutex> g(mu_);
  auto& objs = objects_[collection];
  auto it = objs.find(name);
  if (it == objs.end()) return std::nullopt;
  return it->second;
}

int64_t FakeApi::ResourceVersion() {
  std::lock_guard<std::mutex> g(mu_);
  return rv_;
}

void FakeApi::SetDown(bool down) {
  std::lock_guard<std::mutex> g(mu_);
  down_ = down;
  if (down) ++drop_generation_;
  cv_.notify_all();
}

void FakeApi::DropWatches() {
  std::lock_guard<std::mutex> g(mu_);
  ++drop_generation_;
  cv_.notify_all();
}

void FakeApi::Compact() {
  std::lock_guard<std::mutex> g(mu_);
  compacted_rv_ = rv_;
  history_.clear();
}

void FakeApi::FailNext(const std::string& method, const std::string& path_prefix, int code,
                       const std::string& reason) {
  std::lock_guard<std::mutex> g(mu_);
  failures_.push_back(Failure{method, path_prefix, reason, code});
}

std::vector<HttpRequest> FakeApi::Requests() {
  std::lock_guard<std::mutex> g(mu_);
  return requests_;
}

int FakeApi::OpenWatches() {
  std::lock_guard<std::mutex> g(mu_);
  return open_watches_;
}

bool FakeApi::WaitForWatches(int n) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return open_watches_ >= n; });
}

size_t FakeApi::WatchRequestCount() {
  std::lock_guard<std::mutex> g(mu_);
  return watch_requests_;
}

bool FakeApi::WaitForWatchRequests(size_t n) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return watch_requests_ >= n; });
}

Result<HttpResponse> FakeApi::Send(const HttpRequest& request) {
  std::lock_guard<std::mutex> g(mu_);
  requests_.push_back(request);
  if (down_) return Status::Unavailable("fake api: connection refused");
  for (auto it = failures_.begin(); it != failures_.end(); ++it) {
    if (it->method == request.method && request.path.rfind(it->prefix, 0) == 0) {
      Failure f = *it;
      failures_.erase(it);
      return StatusResponse(f.code, f.reason, "injected failure");
    }
  }
  return Handle(request);
}

HttpResponse FakeApi::Handle(const HttpRequest& r) {
  ParsedPath p = Parse(r.path);
  auto& objs = objects_[p.collection];
  if (r.method == "GET" && p.name.empty()) {
    nlohmann::json items = nlohmann::json::array();
    int64_t limit = p.query.count("limit") ? std::stoll(p.query["limit"]) : 0;
    std::string after = p.query.count("continue") ? p.query["continue"] : "";
    std::string next;
    for (auto& [name, obj] : objs) {
      if (!after.empty() && name <= after) continue;
      if (!LabelsMatch(obj, p.query["labelSelector"])) continue;
      if (limit > 0 && static_cast<int64_t>(items.size()) == limit) {
        next = items.back()["metadata"]["name"].get<std::string>();
        break;
      }
      nlohmann::json item = obj;
      item.erase("apiVersion");
      item.erase("kind");
      items.push_back(item);
    }
    nlohmann::json meta = {{"resourceVersion", std::to_string(rv_)}};
    if (!next.empty()) meta["continue"] = next;
    return Ok({{"kind", "List"}, {"apiVersion", "v1"}, {"metadata", meta}, {"items", items}});
  }
  if (r.method == "POST") {
    nlohmann::json obj = nlohmann::json::parse(r.body, nullptr, false);
    if (!obj.is_object()) return StatusResponse(400, "BadRequest", "bad body");
    std::string name = obj["metadata"].value("name", "");
    if (name.empty()) return StatusResponse(422, "Invalid", "metadata.name: Required value");
    if (objs.count(name)) {
      return StatusResponse(409, "AlreadyExists", "\"" + name + "\" already exists");
    }
    obj["metadata"]["creationTimestamp"] = "2024-01-01T00:00:00Z";
    return Ok(StoreLocked(p.collection, obj, "ADDED"), 201);
  }
  auto it = objs.find(p.name);
  if (it == objs.end()) return StatusResponse(404, "NotFound", "\"" + p.name + "\" not found");
  if (r.method == "GET") return Ok(it->second);
  if (r.method == "PUT") {
    nlohmann::json obj = nlohmann::json::parse(r.body, nullptr, false);
    if (!obj.is_object()) return StatusResponse(400, "BadRequest", "bad body");
    std::string want = obj["metadata"].value("resourceVersion", "");
    if (want != it->second["metadata"]["resourceVersion"]) {
      return StatusResponse(409, "Conflict",
                            "Operation cannot be fulfilled: the object has been modified");
    }
    nlohmann::json stored = it->second;
    if (p.subresource == "status") {
      stored["status"] = obj.value("status", nlohmann::json::object());
    } else {
      obj["metadata"]["uid"] = stored["metadata"]["uid"];
      if (stored.contains("status")) obj["status"] = stored["status"];
      stored = obj;
    }
    return Ok(StoreLocked(p.collection, stored, "MODIFIED"));
  }
  if (r.method == "PATCH") {
    nlohmann::json patch = nlohmann::json::parse(r.body, nullptr, false);
    if (r.content_type != "application/merge-patch+json") {
      return StatusResponse(415, "UnsupportedMediaType", "fake api: only merge patches");
    }
    nlohmann::json stored = it->second;
    stored.merge_patch(patch);
    return Ok(StoreLocked(p.collection, stored, "MODIFIED"));
  }
  if (r.method == "DELETE") {
    nlohmann::json opts = nlohmann::json::parse(r.body, nullptr, false);
    if (opts.is_object() && opts.contains("preconditions")) {
      const auto& pre = opts["preconditions"];
      if (pre.contains("uid") && pre["uid"] != it->second["metadata"]["uid"]) {
        return StatusResponse(409, "Conflict", "Precondition failed: UID in precondition");
      }
      if (pre.contains("resourceVersion") &&
          pre["resourceVersion"] != it->second["metadata"]["resourceVersion"]) {
        return StatusResponse(409, "Conflict", "Precondition failed: ResourceVersion");
      }
    }
    nlohmann::json obj = it->second;
    objs.erase(it);
    ++rv_;
    obj["metadata"]["resourceVersion"] = std::to_string(rv_);
    RecordLocked(p.collection, "DELETED", obj);
    return Ok(obj);
  }
  return StatusResponse(405, "MethodNotAllowed", r.method);
}

Result<HttpResponse> FakeApi::Stream(const HttpRequest& request, const BodyChunkHandler& on_chunk,
                                     Cancellation* cancel) {
  ParsedPath p = Parse(request.path);
  // Declared before the lock so that it is unregistered after the lock is released.
  bool cancelled = false;
  CancellationCallback on_cancel(cancel, [&] {
    std::lock_guard<std::mutex> g(mu_);
    cancelled = true;
    cv_.notify_all();
  });
  std::unique_lock<std::mutex> lock(mu_);
  requests_.push_back(request);
  ++watch_requests_;
  cv_.notify_all();
  if (down_) return Status::Unavailable("fake api: connection refused");
  for (auto it = failures_.begin(); it != failures_.end(); ++it) {
    if (it->method == "WATCH" && request.path.rfind(it->prefix, 0) == 0) {
      Failure f = *it;
      failures_.erase(it);
      return StatusResponse(f.code, f.reason, "injected failure");
    }
  }
  if (p.query["watch"] != "true") return StatusResponse(400, "BadRequest", "not a watch");
  const std::string rv_text = p.query["resourceVersion"];
  int64_t from = rv_text.empty() ? rv_ : std::stoll(rv_text);
  const uint64_t generation = drop_generation_;
  ++open_watches_;
  cv_.notify_all();
  auto send = [&](const std::string& line) {
    // Two chunks split at a pseudo-random point, delivered without the lock held.
    split_seed_ = split_seed_ * 6364136223846793005ULL + 1442695040888963407ULL;
    size_t cut = line.size() > 1 ? 1 + (split_seed_ >> 33) % (line.size() - 1) : 0;
    lock.unlock();
    bool more = on_chunk(std::string_view(line).substr(0, cut)) &&
                on_chunk(std::string_view(line).substr(cut));
    lock.lock();
    return more;
  };
  HttpResponse done{200, "application/json", ""};
  if (from < compacted_rv_) {
    nlohmann::json status = {
        {"kind", "Status"},    {"apiVersion", "v1"},
        {"status", "Failure"}, {"reason", "Expired"},
        {"code", 410},         {"message", "too old resource version: " + rv_text}};
    send(nlohmann::json({{"type", "ERROR"}, {"object", status}}).dump() + "\n");
    --open_watches_;
    return done;
  }
  for (;;) {
    // Deliver everything newer than `from` in this collection.
    bool progressed = false;
    for (size_t i = 0; i < history_.size(); ++i) {
      const Event e = history_[i];
      if (e.rv <= from) continue;
      from = e.rv;
      progressed = true;
      if (e.collection != p.collection || !LabelsMatch(e.object, p.query["labelSelector"])) {
        continue;
      }
      if (!send(nlohmann::json({{"type", e.type}, {"object", e.object}}).dump() + "\n")) {
        --open_watches_;
        return done;
      }
      break;  // history may have changed while unlocked: rescan
    }
    if (progressed) continue;
    if (cancelled || down_ || drop_generation_ != generation) break;
    cv_.wait(lock);
  }
  --open_watches_;
  if (down_) return Status::Unavailable("fake api: connection reset");
  return done;
}

}  // namespace dk::kube::testing
