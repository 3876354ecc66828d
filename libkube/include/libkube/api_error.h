// Mapping API server errors to dk::Status, and recognising them again.
//
// A failed call returns a Status whose message ends in "(HTTP <code>, reason <Reason>)", built
// from the metav1.Status the server sent (its `message` and `reason`), so callers and logs see
// what the server said and code can branch on the reason with ApiReason().
//
//   HTTP 404          → NotFound
//   HTTP 409          → Conflict (reason Conflict: stale resourceVersion or failed
//                       precondition; reason AlreadyExists: create of an existing name)
//   HTTP 401, 403     → PermissionDenied
//   HTTP 400, 422     → InvalidArgument (also 405, 406, 413, 415)
//   HTTP 410          → FailedPrecondition, reason Expired/Gone: the requested
//                       resourceVersion is too old; re-list (IsGone())
//   HTTP 408, 429, 5xx→ Unavailable, retryable
//   other             → Internal
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "libstate/status.h"

namespace dk::kube {

// `body` is the response body (a metav1.Status JSON when the server sent one; anything else is
// quoted, shortened). `what` names the call, e.g. "GET /api/v1/namespaces/a/configmaps/b".
Status StatusFromApiResponse(int http_code, std::string_view body, std::string_view what);

// The same for a metav1.Status object already parsed (the object of a watch ERROR event); its
// `code` field gives the HTTP code (500 when absent).
Status StatusFromApiStatus(const nlohmann::json& status, std::string_view what);

// The API `reason` recorded in a Status built above ("" for other statuses).
std::string ApiReason(const Status& s);
// The HTTP code recorded in a Status built above (0 for other statuses).
int ApiHttpCode(const Status& s);

// 410 Gone / Expired: the resourceVersion (or continue token) is too old; list again.
bool IsGone(const Status& s);
bool IsConflict(const Status& s);       // 409 with any reason other than AlreadyExists
bool IsAlreadyExists(const Status& s);  // 409 AlreadyExists
inline bool IsNotFound(const Status& s) { return s.code() == StatusCode::kNotFound; }

}  // namespace dk::kube
