// Maps S3 error responses to dk::Status (private to libs3). The table is in s3_client.h.
#pragma once

#include <string_view>

#include "http_transport.h"
#include "libstate/status.h"
#include "s3_xml.h"

namespace dk::s3 {

// The Status for S3 error `code` (may be empty) with HTTP status `http_status`; `what` names the
// request ("GET bucket/key"). The message carries S3's Code and Message and the request id.
Status StatusFromS3Error(int http_status, const S3ErrorBody& error, std::string_view what);

// The Status for a non-2xx response: parses its XML error body when there is one (HEAD
// responses have none; the HTTP status then stands for the code).
Status StatusFromHttpResponse(const HttpResponse& response, std::string_view what);

}  // namespace dk::s3
