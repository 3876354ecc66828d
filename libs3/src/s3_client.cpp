// S3Client: options, request signing and retries, single-object operations and listing.
// Multipart operations and PutLarge are in multipart.cpp.
#include "libs3/s3_client.h"

#include <algorithm>
#include <charconv>

#include "endpoint.h"
#include "s3_client_internal.h"
#include "s3_error.h"
#include "s3_xml.h"

namespace dk::s3 {
namespace {

bool IsDnsCompatibleBucket(std::string_view b) {
  if (b.size() < 3 || b.size() > 63) return false;
  for (char c : b) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
  }
  return b.front() != '-' && b.front() != '.' && b.back() != '-' && b.back() != '.';
}

bool ParseU64(std::string_view s, uint64_t* out) {
  if (s.empty()) return false;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

std::string RangeHeader(const ByteRange& r) {
  std::string v = "bytes=" + std::to_string(r.offset) + "-";
  if (r.length) v += std::to_string(r.offset + *r.length - 1);
  return v;
}

}  // namespace

Status S3Options::Validate() const {
  Result<Endpoint> ep = ParseEndpoint(endpoint);
  if (!ep.ok()) return ep.status();
  if (region.empty() || region.find_first_of("/ ") != std::string::npos) {
    return Status::InvalidArgument("region \"" + region + "\" is empty or has '/' or ' '");
  }
  if (bucket.empty() || bucket.find_first_of("/ \t\r\n?#") != std::string::npos) {
    return Status::InvalidArgument("bucket \"" + bucket +
                                   "\" is empty or has '/', '?', '#' or "
                                   "whitespace");
  }
  if (addressing == AddressingStyle::kVirtualHosted) {
    if (!IsDnsCompatibleBucket(bucket)) {
      return Status::InvalidArgument("bucket \"" + bucket +
                                     "\" cannot be a DNS name; use path-style addressing");
    }
    if (ep->HostIsIpLiteral()) {
      return Status::InvalidArgument("virtual-hosted-style addressing needs a DNS endpoint, not " +
                                     ep->host);
    }
  }
  if (credentials.access_key.empty() || credentials.secret_key.empty()) {
    return Status::InvalidArgument("credentials: access key and secret key are required");
  }
  if (request_timeout.count() <= 0) return Status::InvalidArgument("request_timeout must be > 0");
  DK_RETURN_IF_ERROR(retry.Validate());
  if (part_size < kMinPartSize || part_size > kMaxPartSize) {
    return Status::InvalidArgument("part_size must be between 5 MiB and 5 GiB");
  }
  if (multipart_threshold > kMaxPartSize) {
    return Status::InvalidArgument("multipart_threshold must be at most 5 GiB (single PUT limit)");
  }
  return Status::Ok();
}

Result<std::unique_ptr<S3Client>> S3Client::Create(S3Options options) {
  DK_RETURN_IF_ERROR(options.Validate());
  Endpoint ep = ParseEndpoint(options.endpoint).value();
  if (options.addressing == AddressingStyle::kVirtualHosted)
    ep.host = options.bucket + "." + ep.host;
  TransportOptions t;
  t.base_url = ep.Url();
  t.ca_file = options.ca_file;
  t.timeout = options.request_timeout;
  DK_ASSIGN_OR_RETURN(std::unique_ptr<HttpTransport> transport, NewCppRestTransport(t));
  return CreateWithTransportForTest(std::move(options), std::move(transport));
}

Result<std::unique_ptr<S3Client>> S3Client::CreateWithTransportForTest(
    S3Options options, std::unique_ptr<HttpTransport> transport) {
  DK_RETURN_IF_ERROR(options.Validate());
  Endpoint ep = ParseEndpoint(options.endpoint).value();
  std::string prefix;
  if (options.addressing == AddressingStyle::kVirtualHosted) {
    ep.host = options.bucket + "." + ep.host;
  } else {
    prefix = "/" + options.bucket;
  }
  return std::unique_ptr<S3Client>(
      new S3Client(std::move(options), std::move(transport), ep.HostPort(), std::move(prefix)));
}

S3Client::S3Client(S3Options options, std::unique_ptr<HttpTransport> transport,
                   std::string host_header, std::string path_prefix)
    : options_(std::move(options)),
      transport_(std::move(transport)),
      host_header_(std::move(host_header)),
      path_prefix_(std::move(path_prefix)),
      logger_(options_.logger ? options_.logger : NullLogger()),
      clock_(options_.clock ? options_.clock : RealClock()),
      jitter_(std::make_unique<JitterSource>()) {
  uint64_t seed = options_.jitter_seed;
  if (seed == 0) seed = (uint64_t{std::random_device{}()} << 32) | std::random_device{}();
  jitter_->rng.seed(seed);
}

S3Client::~S3Client() = default;

double S3Client::NextJitter() {
  std::lock_guard<std::mutex> lock(jitter_->mu);
  return std::uniform_real_distribution<double>(0.0, 1.0)(jitter_->rng);
}

std::string S3Client::ObjectPath(std::string_view key) const {
  return path_prefix_ + "/" + std::string(key);
}

std::string S3Client::Describe(const Request& request) const {
  std::string d = request.method + " " + options_.bucket;
  if (!request.bucket_level) d += "/" + request.key;
  return d;
}

Result<S3Client::Response> S3Client::ExecuteOnce(const Request& request,
                                                 std::string_view payload_sha256,
                                                 std::chrono::milliseconds* retry_after) {
  const std::string amz_date = FormatAmzDate(clock_->Now());
  SigV4Request sreq;
  sreq.method = request.method;
  sreq.path =
      request.bucket_level ? (path_prefix_.empty() ? "/" : path_prefix_) : ObjectPath(request.key);
  sreq.query = request.query;
  sreq.payload_sha256 = std::string(payload_sha256);
  sreq.headers = {{"Host", host_header_},
                  {"x-amz-date", amz_date},
                  {"x-amz-content-sha256", sreq.payload_sha256}};
  if (!options_.credentials.session_token.empty()) {
    sreq.headers.emplace_back("x-amz-security-token", options_.credentials.session_token);
  }
  for (const auto& h : request.headers) sreq.headers.push_back(h);
  const SigV4Signature sig = SignV4(sreq, options_.credentials, options_.region, "s3", amz_date);

  HttpRequest hreq;
  hreq.method = request.method;
  hreq.target = CanonicalUri(sreq.path);
  if (!sreq.query.empty()) hreq.target += "?" + CanonicalQueryString(sreq.query);
  hreq.headers = std::move(sreq.headers);
  hreq.headers.emplace_back("Authorization", sig.authorization);
  hreq.body = request.body;

  const std::string what = Describe(request);
  Result<HttpResponse> sent = transport_->Send(hreq);
  if (!sent.ok()) return sent.status().WithContext(what);
  Response resp;
  static_cast<HttpResponse&>(resp) = std::move(sent).value();
  if (resp.status >= 200 && resp.status <= 299) {
    if (request.error_in_2xx_body) {
      if (std::optional<S3ErrorBody> err = ParseErrorBody(AsChars(resp.body))) {
        return StatusFromS3Error(resp.status, *err, what);
      }
    }
    return resp;
  }
  if (const std::string* ra = resp.Header("retry-after")) {
    uint64_t secs = 0;
    if (ParseU64(*ra, &secs) && secs < 3600) *retry_after = std::chrono::seconds(secs);
  }
  return StatusFromHttpResponse(resp, what);
}

Result<S3Client::Response> S3Client::Execute(const Request& request) {
  const std::string payload_sha256 = HexSha256(request.body);  // once for all attempts
  const auto start = clock_->Now();
  for (int attempt = 1;; ++attempt) {
    std::chrono::milliseconds retry_after{0};
    Result<Response> r = ExecuteOnce(request, payload_sha256, &retry_after);
    if (r.ok()) return r;
    const Status& st = r.status();
    const std::string attempts = "gave up after " + std::to_string(attempt) + " attempts";
    if (!IsRetryable(st)) return attempt > 1 ? st.WithContext(attempts) : st;
    if (attempt >= options_.retry.max_attempts) return st.WithContext(attempts);
    std::chrono::milliseconds delay = BackoffDelay(options_.retry, attempt, NextJitter());
    if (retry_after > delay) delay = std::min(retry_after, options_.retry.max_backoff);
    if (options_.retry.max_elapsed.count() > 0) {
      const auto elapsed =
          std::chrono::duration_cast<std::chrono::milliseconds>(clock_->Now() - start);
      if (elapsed + delay > options_.retry.max_elapsed) {
        return st.WithContext(attempts + " (retry time budget of " +
                              std::to_string(options_.retry.max_elapsed.count()) + " ms spent)");
      }
    }
    logger_->Warn("Retrying S3 request", {{"request", Describe(request)},
                                          {"attempt", attempt},
                                          {"delayMs", static_cast<int64_t>(delay.count())},
                                          {"error", st.ToString()}});
    clock_->SleepFor(delay);
  }
}

Result<PutResult> S3Client::PutObject(std::string_view key, ByteView data, const PutOptions& put) {
  Request r;
  r.method = "PUT";
  r.key = std::string(key);
  r.body = data;
  if (!put.content_type.empty()) r.headers.emplace_back("Content-Type", put.content_type);
  DK_ASSIGN_OR_RETURN(Response resp, Execute(r));
  PutResult out;
  if (const std::string* etag = resp.Header("etag")) out.etag = StripQuotes(*etag);
  return out;
}

Result<Bytes> S3Client::GetObject(std::string_view key, std::optional<ByteRange> range) {
  Request r;
  r.method = "GET";
  r.key = std::string(key);
  if (range) {
    if (range->length && *range->length == 0) return Bytes();
    r.headers.emplace_back("Range", RangeHeader(*range));
  }
  DK_ASSIGN_OR_RETURN(Response resp, Execute(r));
  if (range && resp.status == 200) {
    // The server ignored the Range header and sent the whole object: cut the range out.
    if (range->offset >= resp.body.size()) {
      return Status::InvalidArgument("GET " + options_.bucket + "/" + std::string(key) +
                                     ": range starts beyond the object's end");
    }
    const uint64_t end = range->length
                             ? std::min<uint64_t>(resp.body.size(), range->offset + *range->length)
                             : resp.body.size();
    return Bytes(resp.body.begin() + static_cast<ptrdiff_t>(range->offset),
                 resp.body.begin() + static_cast<ptrdiff_t>(end));
  }
  return std::move(resp.body);
}

Result<ObjectInfo> S3Client::HeadObject(std::string_view key) {
  Request r;
  r.method = "HEAD";
  r.key = std::string(key);
  DK_ASSIGN_OR_RETURN(Response resp, Execute(r));
  ObjectInfo info;
  info.key = std::string(key);
  if (const std::string* len = resp.Header("content-length")) {
    if (!ParseU64(*len, &info.size)) {
      return Status::IOError("HEAD " + options_.bucket + "/" + info.key + ": bad Content-Length");
    }
  }
  if (const std::string* etag = resp.Header("etag")) info.etag = StripQuotes(*etag);
  if (const std::string* lm = resp.Header("last-modified")) info.last_modified = *lm;
  return info;
}

Status S3Client::DeleteObject(std::string_view key) {
  Request r;
  r.method = "DELETE";
  r.key = std::string(key);
  Result<Response> resp = Execute(r);
  if (!resp.ok() && resp.status().IsNotFound() &&
      resp.status().message().find("NoSuchKey") != std::string::npos) {
    return Status::Ok();  // some servers answer 404 where S3 answers 204
  }
  return resp.ok() ? Status::Ok() : resp.status();
}

Result<ListPage> S3Client::ListObjectsV2(const ListOptions& list) {
  if (list.max_keys < 1 || list.max_keys > 1000) {
    return Status::InvalidArgument("ListObjectsV2: max_keys must be 1..1000");
  }
  Request r;
  r.method = "GET";
  r.bucket_level = true;
  r.query = {{"list-type", "2"}, {"max-keys", std::to_string(list.max_keys)}};
  if (!list.prefix.empty()) r.query.emplace_back("prefix", list.prefix);
  if (!list.delimiter.empty()) r.query.emplace_back("delimiter", list.delimiter);
  if (!list.continuation_token.empty()) {
    r.query.emplace_back("continuation-token", list.continuation_token);
  }
  if (!list.start_after.empty()) r.query.emplace_back("start-after", list.start_after);
  DK_ASSIGN_OR_RETURN(Response resp, Execute(r));
  Result<ListPage> page = ParseListObjectsV2(AsChars(resp.body));
  if (!page.ok()) return Status::IOError(page.status().message()).WithContext(Describe(r));
  return page;
}

Result<std::vector<ObjectInfo>> S3Client::ListAllObjects(std::string_view prefix, int page_size) {
  ListOptions list;
  list.prefix = std::string(prefix);
  list.max_keys = page_size;
  std::vector<ObjectInfo> all;
  for (;;) {
    DK_ASSIGN_OR_RETURN(ListPage page, ListObjectsV2(list));
    for (ObjectInfo& o : page.objects) all.push_back(std::move(o));
    if (!page.truncated) return all;
    if (page.next_continuation_token == list.continuation_token) {
      return Status::IOError("ListObjectsV2 " + options_.bucket +
                             ": the server repeated a continuation token");
    }
    list.continuation_token = std::move(page.next_continuation_token);
  }
}

}  // namespace dk::s3
