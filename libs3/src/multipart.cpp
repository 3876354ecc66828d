// S3Client: multipart upload operations and PutLarge (create or resume, upload the missing
// parts, complete).
#include <openssl/evp.h>

#include <algorithm>
#include <map>

#include "libs3/s3_client.h"
#include "s3_client_internal.h"
#include "s3_xml.h"

namespace dk::s3 {
namespace {

constexpr char kHex[] = "0123456789abcdef";

std::string HexOf(const unsigned char* p, size_t n) {
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kHex[p[i] >> 4]);
    out.push_back(kHex[p[i] & 0xf]);
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Status CheckPartNumber(int part_number) {
  if (part_number < 1 || part_number > kMaxParts) {
    return Status::InvalidArgument("part number " + std::to_string(part_number) +
                                   " is outside 1..10000");
  }
  return Status::Ok();
}

std::string ToLowerAscii(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

}  // namespace

std::string Md5Hex(ByteView data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_md5(), nullptr);
  return HexOf(md, len);
}

std::string MultipartEtag(std::span<const std::string> part_md5_hex) {
  Bytes concat;
  concat.reserve(part_md5_hex.size() * 16);
  for (const std::string& h : part_md5_hex) {
    if (h.size() != 32) return "";
    for (size_t i = 0; i < 32; i += 2) {
      const int hi = HexValue(h[i]);
      const int lo = HexValue(h[i + 1]);
      if (hi < 0 || lo < 0) return "";
      concat.push_back(static_cast<uint8_t>(hi * 16 + lo));
    }
  }
  return Md5Hex(concat) + "-" + std::to_string(part_md5_hex.size());
}

uint64_t S3Client::PartSizeFor(uint64_t size) const {
  uint64_t part = options_.part_size;
  if ((size + part - 1) / part > static_cast<uint64_t>(kMaxParts)) {
    part = (size + kMaxParts - 1) / kMaxParts;
    part = (part + kMiB - 1) / kMiB * kMiB;
  }
  return std::min(part, kMaxPartSize);
}

Result<std::string> S3Client::CreateMultipartUpload(std::string_view key, const PutOptions& put) {
  Request r;
  r.method = "POST";
  r.key = std::string(key);
  r.query = {{"uploads", ""}};
  if (!put.content_type.empty()) r.headers.emplace_back("Content-Type", put.content_type);
  DK_ASSIGN_OR_RETURN(Response resp, Execute(r));
  Result<std::string> id = ParseInitiateMultipartUpload(AsChars(resp.body));
  if (!id.ok()) return Status::IOError(id.status().message()).WithContext(Describe(r));
  logger_->Info("Started S3 multipart upload",
                {{"bucket", options_.bucket}, {"key", key}, {"uploadId", *id}});
  return id;
}

Result<UploadedPart> S3Client::UploadPart(std::string_view key, std::string_view upload_id,
                                          int part_number, ByteView data) {
  DK_RETURN_IF_ERROR(CheckPartNumber(part_number));
  Request r;
  r.method = "PUT";
  r.key = std::string(key);
  r.query = {{"partNumber", std::to_string(part_number)}, {"uploadId", std::string(upload_id)}};
  r.body = data;
  DK_ASSIGN_OR_RETURN(Response resp, Execute(r));
  UploadedPart part;
  part.part_number = part_number;
  part.size = data.size();
  if (const std::string* etag = resp.Header("etag")) part.etag = StripQuotes(*etag);
  if (part.etag.empty()) {
    return Status::IOError(Describe(r) + " part " + std::to_string(part_number) +
                           ": no ETag in the response");
  }
  return part;
}

Result<PutResult> S3Client::CompleteMultipartUpload(std::string_view key,
                                                    std::string_view upload_id,
                                                    std::span<const UploadedPart> parts) {
  if (parts.empty()) return Status::InvalidArgument("CompleteMultipartUpload: no parts");
  for (size_t i = 0; i < parts.size(); ++i) {
    DK_RETURN_IF_ERROR(CheckPartNumber(parts[i].part_number));
    if (i > 0 && parts[i].part_number <= parts[i - 1].part_number) {
      return Status::InvalidArgument("CompleteMultipartUpload: part numbers must ascend");
    }
  }
  const std::string xml = BuildCompleteMultipartUploadXml(parts);
  Request r;
  r.method = "POST";
  r.key = std::string(key);
  r.query = {{"uploadId", std::string(upload_id)}};
  r.headers.emplace_back("Content-Type", "application/xml");
  r.body = AsBytes(xml);
  r.error_in_2xx_body = true;
  Result<Response> resp = Execute(r);
  if (!resp.ok()) {
    // NoSuchUpload after a lost reply (or a crash right after completing): the object is there
    // when its ETag is the one these parts make.
    if (resp.status().IsNotFound() &&
        resp.status().message().find("NoSuchUpload") != std::string::npos) {
      std::vector<std::string> md5s;
      for (const UploadedPart& p : parts) md5s.push_back(ToLowerAscii(p.etag));
      const std::string expected = MultipartEtag(md5s);
      Result<ObjectInfo> head = HeadObject(key);
      if (!expected.empty() && head.ok() && ToLowerAscii(head->etag) == expected) {
        logger_->Info("S3 multipart upload was already complete",
                      {{"bucket", options_.bucket}, {"key", key}, {"uploadId", upload_id}});
        return PutResult{head->etag};
      }
    }
    return resp.status();
  }
  Result<std::string> etag = ParseCompleteMultipartUpload(AsChars(resp->body));
  if (!etag.ok()) return Status::IOError(etag.status().message()).WithContext(Describe(r));
  return PutResult{std::move(etag).value()};
}

Status S3Client::AbortMultipartUpload(std::string_view key, std::string_view upload_id) {
  Request r;
  r.method = "DELETE";
  r.key = std::string(key);
  r.query = {{"uploadId", std::string(upload_id)}};
  Result<Response> resp = Execute(r);
  if (!resp.ok() && resp.status().IsNotFound() &&
      resp.status().message().find("NoSuchUpload") != std::string::npos) {
    return Status::Ok();
  }
  return resp.ok() ? Status::Ok() : resp.status();
}

Result<std::vector<UploadedPart>> S3Client::ListParts(std::string_view key,
                                                      std::string_view upload_id) {
  std::vector<UploadedPart> all;
  std::string marker;
  for (;;) {
    Request r;
    r.method = "GET";
    r.key = std::string(key);
    r.query = {{"uploadId", std::string(upload_id)}, {"max-parts", "1000"}};
    if (!marker.empty()) r.query.emplace_back("part-number-marker", marker);
    DK_ASSIGN_OR_RETURN(Response resp, Execute(r));
    Result<ListPartsPage> page = ParseListParts(AsChars(resp.body));
    if (!page.ok()) return Status::IOError(page.status().message()).WithContext(Describe(r));
    for (UploadedPart& p : page->parts) all.push_back(std::move(p));
    if (!page->truncated) break;
    if (page->next_part_number_marker == marker) {
      return Status::IOError(Describe(r) + ": the server repeated a part number marker");
    }
    marker = page->next_part_number_marker;
  }
  std::sort(all.begin(), all.end(), [](const UploadedPart& a, const UploadedPart& b) {
    return a.part_number < b.part_number;
  });
  return all;
}

Result<std::vector<MultipartUploadInfo>> S3Client::ListMultipartUploads(std::string_view prefix) {
  std::vector<MultipartUploadInfo> all;
  std::string key_marker;
  std::string id_marker;
  for (;;) {
    Request r;
    r.method = "GET";
    r.bucket_level = true;
    r.query = {{"uploads", ""}};
    if (!prefix.empty()) r.query.emplace_back("prefix", std::string(prefix));
    if (!key_marker.empty()) r.query.emplace_back("key-marker", key_marker);
    if (!id_marker.empty()) r.query.emplace_back("upload-id-marker", id_marker);
    DK_ASSIGN_OR_RETURN(Response resp, Execute(r));
    Result<ListUploadsPage> page = ParseListMultipartUploads(AsChars(resp.body));
    if (!page.ok()) return Status::IOError(page.status().message()).WithContext(Describe(r));
    for (MultipartUploadInfo& u : page->uploads) all.push_back(std::move(u));
    if (!page->truncated) return all;
    if (page->next_key_marker == key_marker && page->next_upload_id_marker == id_marker) {
      return Status::IOError(Describe(r) + ": the server repeated its markers");
    }
    key_marker = page->next_key_marker;
    id_marker = page->next_upload_id_marker;
  }
}

Result<std::string> S3Client::FindUploadToResume(std::string_view key, const PutLargeOptions& opts,
                                                 std::vector<UploadedPart>* existing, bool* gone) {
  *gone = false;
  std::string upload_id = opts.resume_upload_id;
  if (upload_id.empty() && opts.resume_pending) {
    DK_ASSIGN_OR_RETURN(std::vector<MultipartUploadInfo> uploads, ListMultipartUploads(key));
    const MultipartUploadInfo* latest = nullptr;
    for (const MultipartUploadInfo& u : uploads) {
      // ISO 8601 timestamps of one server compare correctly as strings.
      if (u.key == key && (latest == nullptr || u.initiated >= latest->initiated)) latest = &u;
    }
    if (latest != nullptr) upload_id = latest->upload_id;
  }
  if (upload_id.empty()) return std::string();
  Result<std::vector<UploadedPart>> parts = ListParts(key, upload_id);
  if (!parts.ok()) {
    if (!parts.status().IsNotFound()) return parts.status();
    // Gone: completed (then the object is there) or aborted.
    *gone = true;
    logger_->Info("S3 multipart upload to resume no longer exists",
                  {{"bucket", options_.bucket}, {"key", key}, {"uploadId", upload_id}});
    return std::string();
  }
  *existing = std::move(parts).value();
  logger_->Info("Resuming S3 multipart upload", {{"bucket", options_.bucket},
                                                 {"key", key},
                                                 {"uploadId", upload_id},
                                                 {"partsOnServer", existing->size()}});
  return upload_id;
}

Result<PutLargeResult> S3Client::PutLarge(std::string_view key, ByteView data,
                                          const PutLargeOptions& opts) {
  PutLargeResult result;
  if (data.size() <= options_.multipart_threshold) {
    DK_ASSIGN_OR_RETURN(PutResult put, PutObject(key, data, opts.put));
    result.etag = std::move(put.etag);
    return result;
  }
  const uint64_t part_size = PartSizeFor(data.size());
  const int count = static_cast<int>((data.size() + part_size - 1) / part_size);
  result.parts_total = count;

  std::vector<std::string> md5s(static_cast<size_t>(count));
  const auto part_data = [&](int n) {
    const uint64_t off = static_cast<uint64_t>(n - 1) * part_size;
    return data.subspan(off, std::min<uint64_t>(part_size, data.size() - off));
  };
  const auto part_md5 = [&](int n) -> const std::string& {
    std::string& m = md5s[static_cast<size_t>(n - 1)];
    if (m.empty()) m = Md5Hex(part_data(n));
    return m;
  };

  std::vector<UploadedPart> existing;
  bool gone = false;
  DK_ASSIGN_OR_RETURN(result.upload_id, FindUploadToResume(key, opts, &existing, &gone));
  if (gone) {
    // The upload to resume was completed already when the object has the ETag these parts make.
    for (int n = 1; n <= count; ++n) part_md5(n);
    const std::string expected = MultipartEtag(md5s);
    Result<ObjectInfo> head = HeadObject(key);
    if (head.ok() && !expected.empty() && ToLowerAscii(head->etag) == expected) {
      result.etag = head->etag;
      result.upload_id = opts.resume_upload_id;
      result.parts_reused = count;
      return result;
    }
    if (!head.ok() && !head.status().IsNotFound()) return head.status();
  }
  if (result.upload_id.empty()) {
    DK_ASSIGN_OR_RETURN(result.upload_id, CreateMultipartUpload(key, opts.put));
  }
  if (opts.on_upload_id) opts.on_upload_id(result.upload_id);

  std::map<int, const UploadedPart*> on_server;
  for (const UploadedPart& p : existing) on_server[p.part_number] = &p;
  std::vector<UploadedPart> parts;
  parts.reserve(static_cast<size_t>(count));
  const auto fail = [&](const Status& s) -> Status {
    if (opts.abort_on_failure) (void)AbortMultipartUpload(key, result.upload_id);
    return s.WithContext("multipart upload " + result.upload_id + " of " + options_.bucket + "/" +
                         std::string(key));
  };
  for (int n = 1; n <= count; ++n) {
    const ByteView chunk = part_data(n);
    if (auto it = on_server.find(n); it != on_server.end()) {
      const UploadedPart& have = *it->second;
      if (have.size == chunk.size() && ToLowerAscii(have.etag) == part_md5(n)) {
        parts.push_back(have);
        ++result.parts_reused;
        continue;
      }
    }
    Result<UploadedPart> up = UploadPart(key, result.upload_id, n, chunk);
    if (!up.ok()) return fail(up.status());
    parts.push_back(std::move(up).value());
    ++result.parts_uploaded;
  }
  Result<PutResult> done = CompleteMultipartUpload(key, result.upload_id, parts);
  if (!done.ok()) return fail(done.status());
  result.etag = std::move(done->etag);
  logger_->Info("Completed S3 multipart upload", {{"bucket", options_.bucket},
                                                  {"key", key},
                                                  {"uploadId", result.upload_id},
                                                  {"parts", count},
                                                  {"partsUploaded", result.parts_uploaded},
                                                  {"partsReused", result.parts_reused}});
  return result;
}

}  // namespace dk::s3
