// Test doubles for S3Client unit tests: a FakeClock that never sleeps, and FakeS3, an in-memory
// S3 behind the private HttpTransport interface (path-style, one bucket).
//
// FakeS3 implements what libs3 uses: Put/Get(Range)/Head/Delete object, ListObjectsV2 (pages by
// max-keys, continuation token = last key), multipart Create/UploadPart/Complete/Abort/ListParts
// (pages by max-parts) and ListMultipartUploads. It checks that every request carries
// Authorization, x-amz-date and an x-amz-content-sha256 equal to the body's SHA-256, and records
// every request. `intercept` can answer a request instead (fault injection).
#pragma once

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "http_transport.h"
#include "libs3/clock.h"
#include "libs3/s3_client.h"
#include "s3_client_internal.h"
#include "xml_parser.h"

namespace dk::s3::testing {

class FakeClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() override {
    std::lock_guard<std::mutex> l(mu_);
    return now_;
  }
  void SleepFor(std::chrono::milliseconds d) override {
    std::lock_guard<std::mutex> l(mu_);
    sleeps_.push_back(d);
    now_ += d;
  }
  void Advance(std::chrono::milliseconds d) {
    std::lock_guard<std::mutex> l(mu_);
    now_ += d;
  }
  std::vector<std::chrono::milliseconds> sleeps() {
    std::lock_guard<std::mutex> l(mu_);
    return sleeps_;
  }

 private:
  std::mutex mu_;
  // 2013-05-24T00:00:00Z
  std::chrono::system_clock::time_point now_{std::chrono::seconds(1369353600)};
  std::vector<std::chrono::milliseconds> sleeps_;
};

struct RecordedRequest {
  std::string method;
  std::string target;
  KeyValues headers;
  std::string body;

  std::string Header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (k.size() == name.size() &&
          std::equal(k.begin(), k.end(), name.begin(),
                     [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
        return v;
      }
    }
    return "";
  }
};

inline HttpResponse MakeResponse(int status, std::string body = "", KeyValues headers = {}) {
  HttpResponse r;
  r.status = status;
  r.headers = std::move(headers);
  r.body.assign(body.begin(), body.end());
  return r;
}

inline HttpResponse S3ErrorResponse(int status, const std::string& code,
                                    const std::string& message = "fake error") {
  return MakeResponse(status, "<?xml version=\"1.0\"?><Error><Code>" + code + "</Code><Message>" +
                                  message + "</Message><RequestId>REQ123</RequestId></Error>");
}

class FakeS3 {
 public:
  using Intercept = std::function<std::optional<Result<HttpResponse>>(const RecordedRequest&)>;

  explicit FakeS3(std::string bucket = "bkt") : bucket_(std::move(bucket)) {}

  // A transport for S3Client; `this` must outlive it.
  std::unique_ptr<HttpTransport> NewTransport();

  Result<HttpResponse> Handle(const HttpRequest& request);

  void set_intercept(Intercept f) {
    std::lock_guard<std::mutex> l(mu_);
    intercept_ = std::move(f);
  }
  std::vector<RecordedRequest> requests() {
    std::lock_guard<std::mutex> l(mu_);
    return requests_;
  }
  size_t CountRequests(const std::string& method, const std::string& target_substr) {
    std::lock_guard<std::mutex> l(mu_);
    return static_cast<size_t>(std::count_if(requests_.begin(), requests_.end(), [&](auto& r) {
      return r.method == method && r.target.find(target_substr) != std::string::npos;
    }));
  }
  void clear_requests() {
    std::lock_guard<std::mutex> l(mu_);
    requests_.clear();
  }
  std::optional<std::string> object(const std::string& key) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = objects_.find(key);
    if (it == objects_.end()) return std::nullopt;
    return it->second.data;
  }
  void PutObjectDirect(const std::string& key, std::string data, std::string etag = "") {
    std::lock_guard<std::mutex> l(mu_);
    if (etag.empty()) etag = Md5Hex(AsBytes(data));
    objects_[key] = {std::move(data), std::move(etag)};
  }
  size_t upload_count() {
    std::lock_guard<std::mutex> l(mu_);
    return uploads_.size();
  }
  // Corrupts the stored bytes of a part (same size), as if the earlier upload had sent other data.
  void ReplacePartData(const std::string& upload_id, int part, std::string data) {
    std::lock_guard<std::mutex> l(mu_);
    auto& p = uploads_.at(upload_id).parts.at(part);
    p.etag = Md5Hex(AsBytes(data));
    p.data = std::move(data);
  }

  int list_page_limit = 1000;  // caps max-keys / max-parts like a server would

 private:
  struct Object {
    std::string data;
    std::string etag;
  };
  struct Upload {
    std::string key;
    std::string initiated;
    std::map<int, Object> parts;
  };

  static std::string Decode(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '%' && i + 2 < s.size()) {
        out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
        i += 2;
      } else {
        out.push_back(s[i]);
      }
    }
    return out;
  }

  Result<HttpResponse> HandleLocked(const RecordedRequest& r);

  std::mutex mu_;
  std::string bucket_;
  Intercept intercept_;
  std::vector<RecordedRequest> requests_;
  std::map<std::string, Object> objects_;
  std::map<std::string, Upload> uploads_;
  int next_upload_ = 1;
};

class FakeTransport final : public HttpTransport {
 public:
  explicit FakeTransport(FakeS3* s3) : s3_(s3) {}
  Result<HttpResponse> Send(const HttpRequest& request) override { return s3_->Handle(request); }

 private:
  FakeS3* s3_;
};

inline std::unique_ptr<HttpTransport> FakeS3::NewTransport() {
  return std::make_unique<FakeTransport>(this);
}

inline Result<HttpResponse> FakeS3::Handle(const HttpRequest& request) {
  RecordedRequest r{request.method, request.target, request.headers,
                    std::string(AsChars(request.body))};
  Intercept intercept;
  {
    std::lock_guard<std::mutex> l(mu_);
    requests_.push_back(r);
    intercept = intercept_;
  }
  if (intercept) {
    if (std::optional<Result<HttpResponse>> answer = intercept(r)) return *answer;
  }
  std::lock_guard<std::mutex> l(mu_);
  return HandleLocked(r);
}

inline Result<HttpResponse> FakeS3::HandleLocked(const RecordedRequest& r) {
  if (r.Header("Authorization").rfind("AWS4-HMAC-SHA256 Credential=", 0) != 0 ||
      r.Header("x-amz-date").size() != 16 || r.Header("Host").empty()) {
    return S3ErrorResponse(403, "AccessDenied", "unsigned request");
  }
  if (r.Header("x-amz-content-sha256") != HexSha256(AsBytes(r.body))) {
    return S3ErrorResponse(400, "XAmzContentSHA256Mismatch");
  }
  // Split "/bucket/key?query".
  const size_t q = r.target.find('?');
  const std::string path = Decode(r.target.substr(0, q));
  std::map<std::string, std::string> query;
  if (q != std::string::npos) {
    std::string_view qs = std::string_view(r.target).substr(q + 1);
    while (!qs.empty()) {
      const size_t amp = qs.find('&');
      const std::string_view kv = qs.substr(0, amp);
      const size_t eq = kv.find('=');
      query[Decode(kv.substr(0, eq))] =
          eq == std::string_view::npos ? "" : Decode(kv.substr(eq + 1));
      qs = amp == std::string_view::npos ? std::string_view() : qs.substr(amp + 1);
    }
  }
  const std::string prefix = "/" + bucket_;
  if (path.rfind(prefix, 0) != 0 || (path.size() > prefix.size() && path[prefix.size()] != '/')) {
    return S3ErrorResponse(404, "NoSuchBucket", "The specified bucket does not exist.");
  }
  const bool bucket_level = path.size() <= prefix.size() + 1;
  const std::string key = bucket_level ? "" : path.substr(prefix.size() + 1);
  const auto has = [&](const char* k) { return query.count(k) > 0; };

  if (bucket_level && r.method == "GET" && has("list-type")) {
    int max = std::min(list_page_limit, std::stoi(query["max-keys"]));
    const std::string& pfx = query["prefix"];
    auto it = has("continuation-token") ? objects_.upper_bound(query["continuation-token"])
                                        : objects_.begin();
    std::string xml = "<ListBucketResult><Name>" + bucket_ + "</Name>";
    std::string contents;
    std::string last;
    int n = 0;
    bool truncated = false;
    for (; it != objects_.end(); ++it) {
      if (it->first.rfind(pfx, 0) != 0) continue;
      if (n == max) {
        truncated = true;
        break;
      }
      contents += "<Contents><Key>" + XmlEscape(it->first) + "</Key><Size>" +
                  std::to_string(it->second.data.size()) + "</Size><ETag>\"" + it->second.etag +
                  "\"</ETag></Contents>";
      last = it->first;
      ++n;
    }
    xml += std::string("<IsTruncated>") + (truncated ? "true" : "false") + "</IsTruncated>";
    if (truncated) xml += "<NextContinuationToken>" + XmlEscape(last) + "</NextContinuationToken>";
    return MakeResponse(200, xml + contents + "</ListBucketResult>");
  }
  if (bucket_level && r.method == "GET" && has("uploads")) {
    std::string xml = "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated>";
    for (const auto& [id, u] : uploads_) {
      if (u.key.rfind(query["prefix"], 0) != 0) continue;
      xml += "<Upload><Key>" + XmlEscape(u.key) + "</Key><UploadId>" + id +
             "</UploadId><Initiated>" + u.initiated + "</Initiated></Upload>";
    }
    return MakeResponse(200, xml + "</ListMultipartUploadsResult>");
  }
  if (bucket_level) return S3ErrorResponse(400, "InvalidRequest", "unsupported bucket request");

  if (has("uploadId")) {
    auto up = uploads_.find(query["uploadId"]);
    if (up == uploads_.end()) return S3ErrorResponse(404, "NoSuchUpload");
    if (r.method == "PUT") {
      const int n = std::stoi(query["partNumber"]);
      std::string etag = Md5Hex(AsBytes(r.body));
      up->second.parts[n] = {r.body, etag};
      return MakeResponse(200, "", {{"etag", "\"" + etag + "\""}});
    }
    if (r.method == "GET") {
      const int max = std::min(list_page_limit, std::stoi(query["max-parts"]));
      const int marker = has("part-number-marker") ? std::stoi(query["part-number-marker"]) : 0;
      std::string parts;
      int n = 0;
      int last = 0;
      bool truncated = false;
      for (const auto& [num, p] : up->second.parts) {
        if (num <= marker) continue;
        if (n == max) {
          truncated = true;
          break;
        }
        parts += "<Part><PartNumber>" + std::to_string(num) + "</PartNumber><ETag>\"" + p.etag +
                 "\"</ETag><Size>" + std::to_string(p.data.size()) + "</Size></Part>";
        last = num;
        ++n;
      }
      std::string xml = std::string("<ListPartsResult><IsTruncated>") +
                        (truncated ? "true" : "false") + "</IsTruncated>";
      if (truncated) {
        xml += "<NextPartNumberMarker>" + std::to_string(last) + "</NextPartNumberMarker>";
      }
      return MakeResponse(200, xml + parts + "</ListPartsResult>");
    }
    if (r.method == "DELETE") {
      uploads_.erase(up);
      return MakeResponse(204);
    }
    if (r.method == "POST") {
      Result<XmlElement> doc = ParseXml(r.body);
      if (!doc.ok()) return S3ErrorResponse(400, "MalformedXML");
      std::string data;
      std::vector<std::string> md5s;
      const auto listed = doc->ChildrenNamed("Part");
      for (size_t i = 0; i < listed.size(); ++i) {
        const int n = std::stoi(listed[i]->ChildText("PartNumber"));
        auto p = up->second.parts.find(n);
        if (p == up->second.parts.end() ||
            "\"" + p->second.etag + "\"" != listed[i]->ChildText("ETag")) {
          return S3ErrorResponse(400, "InvalidPart");
        }
        if (i + 1 < listed.size() && p->second.data.size() < kMinPartSize) {
          return S3ErrorResponse(400, "EntityTooSmall");
        }
        data += p->second.data;
        md5s.push_back(p->second.etag);
      }
      const std::string etag = MultipartEtag(md5s);
      objects_[key] = {std::move(data), etag};
      uploads_.erase(up);
      return MakeResponse(200, "<CompleteMultipartUploadResult><Key>" + XmlEscape(key) +
                                   "</Key><ETag>\"" + etag +
                                   "\"</ETag>"
                                   "</CompleteMultipartUploadResult>");
    }
  }
  if (r.method == "POST" && has("uploads")) {
    const std::string id = "upload-" + std::to_string(next_upload_++);
    char initiated[32];
    std::snprintf(initiated, sizeof(initiated), "2024-01-01T00:00:%02dZ", next_upload_ % 60);
    uploads_[id] = {key, initiated, {}};
    return MakeResponse(200, "<InitiateMultipartUploadResult><Key>" + XmlEscape(key) +
                                 "</Key><UploadId>" + id +
                                 "</UploadId></InitiateMultipartUploadResult>");
  }
  auto obj = objects_.find(key);
  if (r.method == "PUT") {
    std::string etag = Md5Hex(AsBytes(r.body));
    objects_[key] = {r.body, etag};
    return MakeResponse(200, "", {{"etag", "\"" + etag + "\""}});
  }
  if (r.method == "DELETE") {
    if (obj != objects_.end()) objects_.erase(obj);
    return MakeResponse(204);
  }
  if (obj == objects_.end()) {
    if (r.method == "HEAD") return MakeResponse(404);
    return S3ErrorResponse(404, "NoSuchKey", "The specified key does not exist.");
  }
  const KeyValues meta = {{"etag", "\"" + obj->second.etag + "\""},
                          {"content-length", std::to_string(obj->second.data.size())},
                          {"last-modified", "Fri, 24 May 2013 00:00:00 GMT"}};
  if (r.method == "HEAD") return MakeResponse(200, "", meta);
  if (r.method == "GET") {
    const std::string range = r.Header("Range");
    if (range.empty()) return MakeResponse(200, obj->second.data, meta);
    const size_t dash = range.find('-');
    const uint64_t from = std::stoull(range.substr(6, dash - 6));
    uint64_t to =
        dash + 1 < range.size() ? std::stoull(range.substr(dash + 1)) : obj->second.data.size() - 1;
    if (from >= obj->second.data.size()) return S3ErrorResponse(416, "InvalidRange");
    to = std::min<uint64_t>(to, obj->second.data.size() - 1);
    return MakeResponse(206, obj->second.data.substr(from, to - from + 1));
  }
  return S3ErrorResponse(405, "MethodNotAllowed");
}

}  // namespace dk::s3::testing
