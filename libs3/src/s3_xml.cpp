#include "s3_xml.h"

#include <charconv>

#include "xml_parser.h"

namespace dk::s3 {
namespace {

bool ParseU64(std::string_view s, uint64_t* out) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n')) s.remove_suffix(1);
  if (s.empty()) return false;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

bool IsTrue(std::string_view s) { return s == "true" || s == "True" || s == "TRUE"; }

Result<XmlElement> ParseRoot(std::string_view body, std::string_view want_root) {
  DK_ASSIGN_OR_RETURN(XmlElement root, ParseXml(body));
  if (root.name != want_root) {
    return Status::InvalidArgument("S3 response: want <" + std::string(want_root) + ">, got <" +
                                   root.name + ">");
  }
  return root;
}

Status Missing(std::string_view doc, std::string_view element) {
  return Status::InvalidArgument("S3 response <" + std::string(doc) + ">: missing <" +
                                 std::string(element) + ">");
}

}  // namespace

std::string StripQuotes(std::string_view s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return std::string(s);
}

std::optional<S3ErrorBody> ParseErrorBody(std::string_view body) {
  Result<XmlElement> root = ParseXml(body);
  if (!root.ok() || root->name != "Error") return std::nullopt;
  S3ErrorBody e;
  e.code = root->ChildText("Code");
  e.message = root->ChildText("Message");
  e.request_id = root->ChildText("RequestId");
  for (const char* name : {"Key", "BucketName", "Resource"}) {
    if (const XmlElement* c = root->Child(name); c != nullptr && !c->text.empty()) {
      e.resource = c->text;
      break;
    }
  }
  e.server_time = root->ChildText("ServerTime");
  e.request_time = root->ChildText("RequestTime");
  return e;
}

Result<ListPage> ParseListObjectsV2(std::string_view body) {
  DK_ASSIGN_OR_RETURN(XmlElement root, ParseRoot(body, "ListBucketResult"));
  ListPage page;
  page.truncated = IsTrue(root.ChildText("IsTruncated"));
  page.next_continuation_token = root.ChildText("NextContinuationToken");
  if (page.truncated && page.next_continuation_token.empty()) {
    return Missing("ListBucketResult", "NextContinuationToken");
  }
  for (const XmlElement* c : root.ChildrenNamed("Contents")) {
    ObjectInfo info;
    const XmlElement* key = c->Child("Key");
    if (key == nullptr) return Missing("Contents", "Key");
    info.key = key->text;
    if (!ParseU64(c->ChildText("Size"), &info.size)) {
      return Status::InvalidArgument("S3 response <Contents>: bad <Size> for key " + info.key);
    }
    info.etag = StripQuotes(c->ChildText("ETag"));
    info.last_modified = c->ChildText("LastModified");
    page.objects.push_back(std::move(info));
  }
  for (const XmlElement* p : root.ChildrenNamed("CommonPrefixes")) {
    page.common_prefixes.push_back(p->ChildText("Prefix"));
  }
  return page;
}

Result<std::string> ParseInitiateMultipartUpload(std::string_view body) {
  DK_ASSIGN_OR_RETURN(XmlElement root, ParseRoot(body, "InitiateMultipartUploadResult"));
  std::string id = root.ChildText("UploadId");
  if (id.empty()) return Missing("InitiateMultipartUploadResult", "UploadId");
  return id;
}

Result<ListPartsPage> ParseListParts(std::string_view body) {
  DK_ASSIGN_OR_RETURN(XmlElement root, ParseRoot(body, "ListPartsResult"));
  ListPartsPage page;
  page.truncated = IsTrue(root.ChildText("IsTruncated"));
  page.next_part_number_marker = root.ChildText("NextPartNumberMarker");
  for (const XmlElement* p : root.ChildrenNamed("Part")) {
    UploadedPart part;
    uint64_t number = 0;
    if (!ParseU64(p->ChildText("PartNumber"), &number) || number < 1 || number > kMaxParts) {
      return Status::InvalidArgument("S3 response <Part>: bad <PartNumber>");
    }
    part.part_number = static_cast<int>(number);
    if (!ParseU64(p->ChildText("Size"), &part.size)) {
      return Status::InvalidArgument("S3 response <Part>: bad <Size> for part " +
                                     std::to_string(number));
    }
    part.etag = StripQuotes(p->ChildText("ETag"));
    page.parts.push_back(std::move(part));
  }
  if (page.truncated && page.next_part_number_marker.empty()) {
    return Missing("ListPartsResult", "NextPartNumberMarker");
  }
  return page;
}

Result<ListUploadsPage> ParseListMultipartUploads(std::string_view body) {
  DK_ASSIGN_OR_RETURN(XmlElement root, ParseRoot(body, "ListMultipartUploadsResult"));
  ListUploadsPage page;
  page.truncated = IsTrue(root.ChildText("IsTruncated"));
  page.next_key_marker = root.ChildText("NextKeyMarker");
  page.next_upload_id_marker = root.ChildText("NextUploadIdMarker");
  for (const XmlElement* u : root.ChildrenNamed("Upload")) {
    MultipartUploadInfo info;
    info.key = u->ChildText("Key");
    info.upload_id = u->ChildText("UploadId");
    info.initiated = u->ChildText("Initiated");
    if (info.upload_id.empty()) return Missing("Upload", "UploadId");
    page.uploads.push_back(std::move(info));
  }
  if (page.truncated && page.next_key_marker.empty() && page.next_upload_id_marker.empty()) {
    return Missing("ListMultipartUploadsResult", "NextKeyMarker");
  }
  return page;
}

Result<std::string> ParseCompleteMultipartUpload(std::string_view body) {
  DK_ASSIGN_OR_RETURN(XmlElement root, ParseRoot(body, "CompleteMultipartUploadResult"));
  return StripQuotes(root.ChildText("ETag"));
}

std::string BuildCompleteMultipartUploadXml(std::span<const UploadedPart> parts) {
  std::string xml = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
  for (const UploadedPart& p : parts) {
    xml += "<Part><PartNumber>" + std::to_string(p.part_number) + "</PartNumber><ETag>" +
           XmlEscape("\"" + p.etag + "\"") + "</ETag></Part>";
  }
  xml += "</CompleteMultipartUpload>";
  return xml;
}

}  // namespace dk::s3
