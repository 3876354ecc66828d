// Readers and writers of the S3 XML documents libs3 uses (private to libs3).
//
// Readers accept any element order and ignore elements they do not know; a missing required
// element (e.g. UploadId) is InvalidArgument naming it.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "libs3/s3_client.h"
#include "libstate/result.h"

namespace dk::s3 {

// <Error><Code/><Message/>…</Error>.
struct S3ErrorBody {
  std::string code;
  std::string message;
  std::string request_id;
  std::string resource;      // Key, BucketName or Resource, whichever is present
  std::string server_time;   // RequestTimeTooSkewed: ServerTime
  std::string request_time;  // RequestTimeTooSkewed: RequestTime
};

// The error document in `body`, or nullopt when `body` is not an <Error> document.
std::optional<S3ErrorBody> ParseErrorBody(std::string_view body);

// ListBucketResult (ListObjectsV2).
Result<ListPage> ParseListObjectsV2(std::string_view body);

// InitiateMultipartUploadResult → UploadId.
Result<std::string> ParseInitiateMultipartUpload(std::string_view body);

struct ListPartsPage {
  std::vector<UploadedPart> parts;
  bool truncated = false;
  std::string next_part_number_marker;
};
Result<ListPartsPage> ParseListParts(std::string_view body);

struct ListUploadsPage {
  std::vector<MultipartUploadInfo> uploads;
  bool truncated = false;
  std::string next_key_marker;
  std::string next_upload_id_marker;
};
Result<ListUploadsPage> ParseListMultipartUploads(std::string_view body);

// CompleteMultipartUploadResult → ETag (quotes removed).
Result<std::string> ParseCompleteMultipartUpload(std::string_view body);

// <CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"…"</ETag></Part>…
std::string BuildCompleteMultipartUploadXml(std::span<const UploadedPart> parts);

// Removes one pair of surrounding double quotes (ETags come quoted).
std::string StripQuotes(std::string_view s);

}  // namespace dk::s3
