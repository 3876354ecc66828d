#include "s3_error.h"

#include <utility>

namespace dk::s3 {
namespace {

bool OneOf(std::string_view code, std::initializer_list<std::string_view> codes) {
  for (std::string_view c : codes) {
    if (code == c) return true;
  }
  return false;
}

// A code for responses without an error body (HEAD), from the HTTP status.
std::string_view CodeForStatus(int http_status) {
  static constexpr std::pair<int, std::string_view> kCodes[] = {
      {400, "BadRequest"},         {401, "Unauthorized"},     {403, "AccessDenied"},
      {404, "NotFound"},           {405, "MethodNotAllowed"}, {409, "Conflict"},
      {412, "PreconditionFailed"}, {416, "InvalidRange"},     {429, "TooManyRequests"},
      {500, "InternalError"},      {501, "NotImplemented"},   {502, "BadGateway"},
      {503, "ServiceUnavailable"}, {504, "GatewayTimeout"},
  };
  for (const auto& [status, code] : kCodes) {
    if (status == http_status) return code;
  }
  return "";
}

}  // namespace

Status StatusFromS3Error(int http_status, const S3ErrorBody& error, std::string_view what) {
  std::string code = error.code;
  if (code.empty()) code = std::string(CodeForStatus(http_status));
  std::string msg = std::string(what) + ": S3 " + (code.empty() ? "error" : code);
  if (!error.message.empty()) msg += ": " + error.message;
  msg += " (HTTP " + std::to_string(http_status);
  if (!error.request_id.empty()) msg += ", request id " + error.request_id;
  msg += ")";

  if (code == "RequestTimeTooSkewed") {
    std::string skew =
        "clock skew: the S3 server rejected the request time as too far from its "
        "own clock; fix this node's time (NTP)";
    if (!error.request_time.empty() || !error.server_time.empty()) {
      skew += " (request time " + error.request_time + ", server time " + error.server_time + ")";
    }
    return Status::FailedPrecondition(skew + "; " + msg);
  }
  if (OneOf(code, {"AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId", "InvalidToken",
                   "ExpiredToken", "TokenRefreshRequired", "AllAccessDisabled", "AccountProblem",
                   "InvalidSecurity", "Unauthorized",
                   "XAdminUserNotFound" /* versitygw: unknown access key, HTTP 404 */}) ||
      http_status == 401 || (http_status == 403 && error.code.empty())) {
    return Status::PermissionDenied(msg);
  }
  if (OneOf(code, {"NoSuchBucket", "NoSuchKey", "NoSuchUpload", "NoSuchVersion", "NotFound"}) ||
      http_status == 404) {
    return Status::NotFound(msg);
  }
  if (OneOf(code, {"XAmzContentSHA256Mismatch", "BadDigest"})) {
    return Status(StatusCode::kCorruption, msg, /*retryable=*/true);  // damaged in transit
  }
  if (OneOf(code, {"SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable",
                   "Throttling", "ThrottlingException", "RequestThrottled", "OperationAborted"}) ||
      http_status == 429 || http_status >= 500) {
    return Status::Unavailable(msg);
  }
  if (code == "PreconditionFailed" || http_status == 412) return Status::FailedPrecondition(msg);
  if (http_status == 409) return Status(StatusCode::kConflict, msg, /*retryable=*/false);
  if (http_status >= 400 && http_status < 500) return Status::InvalidArgument(msg);
  return Status::IOError(msg);
}

Status StatusFromHttpResponse(const HttpResponse& response, std::string_view what) {
  std::optional<S3ErrorBody> body;
  if (!response.body.empty()) body = ParseErrorBody(AsChars(response.body));
  if (!body) {
    // No body (HEAD), or not an S3 error document (a proxy's HTML page): show a short excerpt.
    S3ErrorBody synthetic;
    if (const std::string* id = response.Header("x-amz-request-id")) synthetic.request_id = *id;
    if (!response.body.empty()) {
      std::string excerpt(AsChars(response.body).substr(0, 200));
      for (char& c : excerpt) {
        if (c == '\n' || c == '\r' || c == '\t') c = ' ';
      }
      synthetic.message = "non-S3 response body: " + excerpt;
    }
    return StatusFromS3Error(response.status, synthetic, what);
  }
  return StatusFromS3Error(response.status, *body, what);
}

}  // namespace dk::s3
