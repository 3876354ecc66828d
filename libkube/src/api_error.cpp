#include "libkube/api_error.h"

#include <cstdlib>

namespace dk::kube {
namespace {

constexpr std::string_view kMarker = " (HTTP ";

std::string DefaultReason(int code) {
  switch (code) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 406:
      return "NotAcceptable";
    case 408:
      return "Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 413:
      return "RequestEntityTooLarge";
    case 415:
      return "UnsupportedMediaType";
    case 422:
      return "Invalid";
    case 429:
      return "TooManyRequests";
    case 500:
      return "InternalError";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "Timeout";
    default:
      return "Unknown";
  }
}

std::string Shorten(std::string_view s) {
  constexpr size_t kMax = 512;
  std::string out(s.substr(0, kMax));
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  if (s.size() > kMax) out += "…";
  return out;
}

Status Build(int code, std::string message, std::string reason, std::string_view what) {
  if (reason.empty()) reason = DefaultReason(code);
  if (message.empty()) message = "the server answered " + reason;
  std::string text = std::string(what) + ": " + message + std::string(kMarker) +
                     std::to_string(code) + ", reason " + reason + ")";
  if (code == 404) return Status::NotFound(std::move(text));
  if (code == 409) {
    // A stale resourceVersion is worth retrying after a re-read; an existing name is not.
    return Status(StatusCode::kConflict, std::move(text), reason != "AlreadyExists");
  }
  if (code == 401 || code == 403) return Status::PermissionDenied(std::move(text));
  if (code == 400 || code == 422 || code == 405 || code == 406 || code == 413 || code == 415) {
    return Status::InvalidArgument(std::move(text));
  }
  if (code == 410) return Status::FailedPrecondition(std::move(text));
  if (code == 408 || code == 429 || (code >= 500 && code <= 599)) {
    return Status::Unavailable(std::move(text));
  }
  return Status::Internal(std::move(text));
}

std::string StringField(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

// Parses the "(HTTP <code>, reason <Reason>)" suffix. Returns false if absent.
bool ParseMarker(const Status& s, int* code, std::string* reason) {
  const std::string& m = s.message();
  if (m.empty() || m.back() != ')') return false;
  size_t pos = m.rfind(kMarker);
  if (pos == std::string::npos) return false;
  std::string_view rest(m);
  rest = rest.substr(pos + kMarker.size());
  rest.remove_suffix(1);  // ')'
  size_t comma = rest.find(", reason ");
  if (comma == std::string_view::npos) return false;
  if (code) *code = std::atoi(std::string(rest.substr(0, comma)).c_str());
  if (reason) *reason = std::string(rest.substr(comma + 9));
  return true;
}

}  // namespace

Status StatusFromApiResponse(int http_code, std::string_view body, std::string_view what) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object() && StringField(j, "kind") == "Status") {
    return Build(http_code, StringField(j, "message"), StringField(j, "reason"), what);
  }
  return Build(http_code, body.empty() ? "" : "\"" + Shorten(body) + "\"", "", what);
}

Status StatusFromApiStatus(const nlohmann::json& status, std::string_view what) {
  int code = 500;
  if (status.is_object()) {
    auto it = status.find("code");
    if (it != status.end() && it->is_number_integer()) code = it->get<int>();
  }
  return Build(code, StringField(status, "message"), StringField(status, "reason"), what);
}

std::string ApiReason(const Status& s) {
  std::string reason;
  return ParseMarker(s, nullptr, &reason) ? reason : "";
}

int ApiHttpCode(const Status& s) {
  int code = 0;
  return ParseMarker(s, &code, nullptr) ? code : 0;
}

bool IsGone(const Status& s) {
  if (s.code() != StatusCode::kFailedPrecondition) return false;
  int code = 0;
  std::string reason;
  if (!ParseMarker(s, &code, &reason)) return false;
  return code == 410 || reason == "Expired" || reason == "Gone";
}

bool IsConflict(const Status& s) {
  return s.code() == StatusCode::kConflict && ApiReason(s) != "AlreadyExists";
}

bool IsAlreadyExists(const Status& s) {
  return s.code() == StatusCode::kConflict && ApiReason(s) == "AlreadyExists";
}

}  // namespace dk::kube
