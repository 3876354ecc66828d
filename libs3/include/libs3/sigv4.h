// AWS Signature Version 4 for S3 requests, signed in the Authorization header.
//
// The algorithm (AWS "Signing AWS API requests", S3 flavour):
//   CanonicalRequest = Method \n CanonicalURI \n CanonicalQueryString \n
//                      CanonicalHeaders \n SignedHeaders \n HashedPayload
//   StringToSign     = "AWS4-HMAC-SHA256" \n AmzDate \n Scope \n HexSHA256(CanonicalRequest)
//   Scope            = YYYYMMDD/region/service/aws4_request
//   SigningKey       = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, YYYYMMDD), region), service),
//                           "aws4_request")
//   Signature        = Hex(HMAC(SigningKey, StringToSign))
//
// S3 specifics: the path is URI-encoded once (never twice, unlike other services) with '/' kept;
// query keys and values are encoded with '/' encoded too; every header handed to the signer is
// signed (names lower-cased, values trimmed with inner runs of spaces collapsed).
//
// Thread safety: all functions are pure.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "libs3/credentials.h"
#include "libstate/bytes.h"

namespace dk::s3 {

using KeyValues = std::vector<std::pair<std::string, std::string>>;

// SHA-256 of an empty payload, hex.
inline constexpr std::string_view kEmptyPayloadSha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// Percent-encodes every byte except the unreserved characters A-Z a-z 0-9 - . _ ~ (and '/' when
// `encode_slash` is false), with upper-case hex digits, as SigV4 requires. UTF-8 input is encoded
// byte by byte.
std::string UriEncode(std::string_view s, bool encode_slash);

// The canonical URI of an S3 object path: UriEncode(path, /*encode_slash=*/false), and "/" for
// an empty path. `path` is raw (not yet encoded), e.g. "/bucket/photos/my cat.jpg".
std::string CanonicalUri(std::string_view path);

// Query parameters encoded and sorted by encoded name, then value: "a=1&b=&c=x%2Fy".
// This string is also what goes on the wire, so the signature always covers what is sent.
std::string CanonicalQueryString(const KeyValues& query);

// "20130524T000000Z" for a UTC time point (seconds precision).
std::string FormatAmzDate(std::chrono::system_clock::time_point t);

// Lower-case hex SHA-256 of `data`.
std::string HexSha256(ByteView data);

// The 32-byte SigV4 signing key for `date` (YYYYMMDD), region and service.
std::string DeriveSigningKey(std::string_view secret_key, std::string_view date,
                             std::string_view region, std::string_view service);

struct SigV4Request {
  std::string method;          // "GET", "PUT", …
  std::string path;            // raw path, e.g. "/bucket/key with spaces"
  KeyValues query;             // raw names and values
  KeyValues headers;           // every header to sign, including host and x-amz-date
  std::string payload_sha256;  // hex SHA-256 of the body, or "UNSIGNED-PAYLOAD"
};

struct SigV4Signature {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signed_headers;  // "host;range;x-amz-content-sha256;x-amz-date"
  std::string signature;       // lower-case hex
  std::string authorization;   // the full Authorization header value
};

// Signs `request` at `amz_date` ("YYYYMMDDTHHMMSSZ"). The caller must have put the same
// x-amz-date (and, with session credentials, x-amz-security-token) among request.headers;
// the signer adds nothing to the request.
SigV4Signature SignV4(const SigV4Request& request, const Credentials& credentials,
                      std::string_view region, std::string_view service, std::string_view amz_date);

}  // namespace dk::s3
