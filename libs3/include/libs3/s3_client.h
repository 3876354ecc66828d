// S3Client: a small client for one bucket of an S3-compatible object store (AWS S3, versitygw,
// MinIO, Ceph RGW …), used by DiffKeeper to replicate objects off the node.
//
// What it does:
//  - Signs every request with AWS Signature V4 (Authorization header, x-amz-date,
//    x-amz-content-sha256 = the SHA-256 of the payload, so the server checks the body too, and
//    x-amz-security-token with session credentials).
//  - Path-style (https://host/bucket/key) or virtual-hosted-style (https://bucket.host/key)
//    addressing; keys may hold any UTF-8, spaces and '/' (kept as path separators).
//  - Retries retryable failures with exponential backoff and jitter (retry_policy.h); every
//    operation here is safe to repeat except CreateMultipartUpload, whose repeat can leave an
//    extra empty upload behind (abort it, or let a bucket lifecycle rule expire it).
//  - Maps S3 errors to dk::Status with S3's Code and Message in the message:
//      AccessDenied, SignatureDoesNotMatch, InvalidAccessKeyId, … → PermissionDenied
//      NoSuchBucket, NoSuchKey, NoSuchUpload, HTTP 404            → NotFound
//      RequestTimeTooSkewed                                        → FailedPrecondition
//                                                                    ("clock skew: …")
//      HTTP 5xx, 429, SlowDown, RequestTimeout, connection errors  → Unavailable (retryable)
//      XAmzContentSHA256Mismatch, BadDigest                        → Corruption (retryable)
//      other 4xx (InvalidArgument, EntityTooSmall, InvalidPart …)  → InvalidArgument
//      412 PreconditionFailed → FailedPrecondition; 409 → Conflict (not retryable)
//    A Status that survived retries says how many attempts were made.
//
// Crash ordering for multipart uploads: parts become an object only when
// CompleteMultipartUpload succeeds; until then nothing is visible under the key, and an
// interrupted upload can be resumed (PutLarge with resume) by uploading only the parts the
// server does not already hold with the right content (checked by size and MD5 ETag).
//
// Memory: PutObject/PutLarge send from the caller's buffer without copying it; GetObject returns
// the whole object (use a byte range to bound memory for large objects); listing calls return
// one page at a time.
//
// Thread safety: an S3Client is thread-safe; concurrent calls share a connection pool.
// Secrets are never logged or put into a Status.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "libs3/clock.h"
#include "libs3/credentials.h"
#include "libs3/retry_policy.h"
#include "libstate/bytes.h"
#include "libstate/logger.h"
#include "libstate/result.h"

namespace dk::s3 {

class HttpTransport;  // private (src/http_transport.h)

inline constexpr uint64_t kMiB = 1024 * 1024;
// S3's multipart limits: parts of at least 5 MiB (except the last), at most 5 GiB, at most
// 10,000 parts per upload.
inline constexpr uint64_t kMinPartSize = 5 * kMiB;
inline constexpr uint64_t kMaxPartSize = 5 * 1024 * kMiB;
inline constexpr int kMaxParts = 10'000;

enum class AddressingStyle {
  kPath,           // <endpoint>/<bucket>/<key>: works with every server and with IP endpoints
  kVirtualHosted,  // <bucket>.<endpoint host>/<key>: AWS's default; needs DNS for the bucket
};

struct S3Options {
  // Scheme, host and optional port, no path: "https://s3.eu-west-1.amazonaws.com",
  // "http://127.0.0.1:9000". Plain http is meant for loopback tests and trusted networks.
  std::string endpoint;
  std::string region = "us-east-1";
  std::string bucket;
  AddressingStyle addressing = AddressingStyle::kPath;
  Credentials credentials;
  // PEM file of CA certificates to trust for https, in addition to the system's; empty = system
  // roots only.
  std::string ca_file;
  // Gives up on a request when no bytes move for this long (connect, send or receive).
  std::chrono::milliseconds request_timeout{30'000};
  RetryPolicy retry;
  // PutLarge: objects larger than multipart_threshold go up in parts of part_size bytes (grown
  // when the object would need more than 10,000 parts).
  uint64_t multipart_threshold = 16 * kMiB;
  uint64_t part_size = 16 * kMiB;
  // Not owned; null = NullLogger() / RealClock(). Both must outlive the client.
  Logger* logger = nullptr;
  Clock* clock = nullptr;
  // Seed of the backoff jitter; 0 picks a random one.
  uint64_t jitter_seed = 0;

  // InvalidArgument naming the bad field, e.g. an endpoint with a path, an empty bucket, a
  // part_size under 5 MiB, missing credentials.
  Status Validate() const;
};

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
  std::string etag;           // as the server sent it, quotes removed
  std::string last_modified;  // as the server sent it (ISO 8601 in listings, RFC 1123 in HEAD)
};

struct PutOptions {
  std::string content_type = "application/octet-stream";
};

struct PutResult {
  std::string etag;  // quotes removed
};

// bytes=offset-(offset+length-1), or bytes=offset- when length is unset.
struct ByteRange {
  uint64_t offset = 0;
  std::optional<uint64_t> length;
};

struct ListOptions {
  std::string prefix;
  std::string delimiter;           // e.g. "/" to group keys into common_prefixes
  std::string continuation_token;  // from the previous page's next_continuation_token
  std::string start_after;
  int max_keys = 1000;  // 1..1000; servers may return fewer
};

struct ListPage {
  std::vector<ObjectInfo> objects;
  std::vector<std::string> common_prefixes;
  bool truncated = false;
  std::string next_continuation_token;  // set when truncated
};

struct UploadedPart {
  int part_number = 0;  // 1..10000
  std::string etag;     // quotes removed
  uint64_t size = 0;
};

struct MultipartUploadInfo {
  std::string key;
  std::string upload_id;
  std::string initiated;  // ISO 8601 as the server sent it
};

struct PutLargeOptions {
  PutOptions put;
  // Resume this upload: the parts already on the server are listed (ListParts) and only the
  // missing ones, or those whose size or MD5 differs from the data, are uploaded.
  std::string resume_upload_id;
  // Without resume_upload_id: look for an unfinished upload of the same key
  // (ListMultipartUploads) and resume the most recently initiated one. Only safe when every
  // writer of the key writes the same bytes (DiffKeeper's content-addressed keys).
  bool resume_pending = false;
  // Abort the upload when PutLarge fails (default: keep it so that it can be resumed).
  bool abort_on_failure = false;
  // Called once the upload id is known, before any part is sent, so the caller can persist it
  // for a later resume.
  std::function<void(std::string_view upload_id)> on_upload_id;
};

struct PutLargeResult {
  std::string etag;
  std::string upload_id;   // empty when the object went up in a single PUT
  int parts_total = 0;     // 0 for a single PUT
  int parts_uploaded = 0;  // parts sent by this call
  int parts_reused = 0;    // parts already on the server with the right content
};

class S3Client {
 public:
  // Validates `options`, opens the CA file, builds the HTTP transport (cpprestsdk).
  static Result<std::unique_ptr<S3Client>> Create(S3Options options);
  // Same over a given transport (unit tests' fake).
  static Result<std::unique_ptr<S3Client>> CreateWithTransportForTest(
      S3Options options, std::unique_ptr<HttpTransport> transport);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  const S3Options& options() const { return options_; }

  // Single objects.
  // Uploads `data` as `key` in one request (S3 allows up to 5 GiB; use PutLarge above 16 MiB).
  Result<PutResult> PutObject(std::string_view key, ByteView data, const PutOptions& put = {});
  // The object's bytes, or the bytes of `range`. NotFound when the key or bucket is missing;
  // InvalidArgument when the range starts beyond the end.
  Result<Bytes> GetObject(std::string_view key, std::optional<ByteRange> range = std::nullopt);
  // Size, ETag and Last-Modified of `key`. NotFound when missing.
  Result<ObjectInfo> HeadObject(std::string_view key);
  // Deletes `key`. OK when it did not exist (S3 semantics).
  Status DeleteObject(std::string_view key);

  // One page of ListObjectsV2 (keys in UTF-8 binary order).
  Result<ListPage> ListObjectsV2(const ListOptions& list);
  // Every object under `prefix`, following continuation tokens (memory grows with the count).
  Result<std::vector<ObjectInfo>> ListAllObjects(std::string_view prefix, int page_size = 1000);

  // Multipart upload steps.
  // Starts an upload; returns its upload id. Not idempotent (see the header comment).
  Result<std::string> CreateMultipartUpload(std::string_view key, const PutOptions& put = {});
  // Uploads one part (1..10000). Re-uploading a part number replaces it.
  Result<UploadedPart> UploadPart(std::string_view key, std::string_view upload_id, int part_number,
                                  ByteView data);
  // Assembles `parts` (ascending part numbers) into the object. A repeat after a lost reply is
  // recognised (NoSuchUpload, and the object's ETag is the expected multipart ETag) and succeeds.
  Result<PutResult> CompleteMultipartUpload(std::string_view key, std::string_view upload_id,
                                            std::span<const UploadedPart> parts);
  // Discards an upload and its parts. OK when the upload no longer exists.
  Status AbortMultipartUpload(std::string_view key, std::string_view upload_id);
  // Every part of an upload, ascending (follows part-number markers).
  Result<std::vector<UploadedPart>> ListParts(std::string_view key, std::string_view upload_id);
  // Unfinished uploads whose key starts with `prefix` (follows markers).
  Result<std::vector<MultipartUploadInfo>> ListMultipartUploads(std::string_view prefix);

  // Uploads `data` as `key`: one PutObject up to options().multipart_threshold, otherwise a
  // multipart upload (created, or resumed per `opts`), completed at the end.
  Result<PutLargeResult> PutLarge(std::string_view key, ByteView data,
                                  const PutLargeOptions& opts = {});

  // Part size PutLarge uses for an object of `size` bytes: options().part_size, grown (to a
  // whole MiB) so that at most 10,000 parts are needed.
  uint64_t PartSizeFor(uint64_t size) const;

 private:
  struct Request;
  struct Response;
  S3Client(S3Options options, std::unique_ptr<HttpTransport> transport, std::string host_header,
           std::string path_prefix);

  // Sends `request` with signing and retries; a 2xx response or a failed Status.
  Result<Response> Execute(const Request& request);
  // One signed attempt; on a failed response, *retry_after gets the server's Retry-After.
  Result<Response> ExecuteOnce(const Request& request, std::string_view payload_sha256,
                               std::chrono::milliseconds* retry_after);
  std::string ObjectPath(std::string_view key) const;
  std::string Describe(const Request& request) const;
  double NextJitter();

  // The upload PutLarge should continue (its parts in *existing), or "" when a new one is
  // needed; *gone is set when opts.resume_upload_id no longer exists on the server.
  Result<std::string> FindUploadToResume(std::string_view key, const PutLargeOptions& opts,
                                         std::vector<UploadedPart>* existing, bool* gone);

  S3Options options_;
  std::unique_ptr<HttpTransport> transport_;
  std::string host_header_;  // what the transport sends as Host (signed)
  std::string path_prefix_;  // "/bucket" for path style, "" for virtual-hosted
  Logger* logger_;
  Clock* clock_;
  struct JitterSource;
  std::unique_ptr<JitterSource> jitter_;
};

}  // namespace dk::s3
