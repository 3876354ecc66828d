// SigV4 against the examples published in the AWS documentation ("Signature Calculations for
// the Authorization Header: Transferring Payload in a Single Chunk" for S3, and "Examples of how
// to derive a signing key"), plus the URI-encoding edge cases.
#include "libs3/sigv4.h"

#include <gtest/gtest.h>

namespace dk::s3 {
namespace {

constexpr char kAccessKey[] = "AKIAIOSFODNN7EXAMPLE";
constexpr char kSecretKey[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
constexpr char kHost[] = "examplebucket.s3.amazonaws.com";
constexpr char kDate[] = "20130524T000000Z";

Credentials ExampleCredentials() { return {kAccessKey, kSecretKey, ""}; }

std::string Hex(const std::string& bytes) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

TEST(SigV4Test, GetObjectWithRangeMatchesAwsExample) {
  SigV4Request req;
  req.method = "GET";
  req.path = "/test.txt";
  req.headers = {{"Host", kHost},
                 {"Range", "bytes=0-9"},
                 {"x-amz-content-sha256", std::string(kEmptyPayloadSha256)},
                 {"x-amz-date", kDate}};
  req.payload_sha256 = std::string(kEmptyPayloadSha256);
  const SigV4Signature sig = SignV4(req, ExampleCredentials(), "us-east-1", "s3", kDate);

  EXPECT_EQ(sig.canonical_request,
            "GET\n"
            "/test.txt\n"
            "\n"
            "host:examplebucket.s3.amazonaws.com\n"
            "range:bytes=0-9\n"
            "x-amz-content-sha256:"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
            "x-amz-date:20130524T000000Z\n"
            "\n"
            "host;range;x-amz-content-sha256;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sig.string_to_sign,
            "AWS4-HMAC-SHA256\n"
            "20130524T000000Z\n"
            "20130524/us-east-1/s3/aws4_request\n"
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  EXPECT_EQ(sig.signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(sig.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4Test, PutObjectWithReservedCharacterInKeyMatchesAwsExample) {
  const std::string body = "Welcome to Amazon S3.";
  SigV4Request req;
  req.method = "PUT";
  req.path = "/test$file.text";
  req.payload_sha256 = HexSha256(AsBytes(body));
  ASSERT_EQ(req.payload_sha256, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  req.headers = {{"Host", kHost},
                 {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                 {"x-amz-date", kDate},
                 {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
                 {"x-amz-content-sha256", req.payload_sha256}};
  const SigV4Signature sig = SignV4(req, ExampleCredentials(), "us-east-1", "s3", kDate);
  EXPECT_EQ(sig.canonical_request,
            "PUT\n"
            "/test%24file.text\n"
            "\n"
            "date:Fri, 24 May 2013 00:00:00 GMT\n"
            "host:examplebucket.s3.amazonaws.com\n"
            "x-amz-content-sha256:"
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
            "x-amz-date:20130524T000000Z\n"
            "x-amz-storage-class:REDUCED_REDUNDANCY\n"
            "\n"
            "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  EXPECT_EQ(sig.string_to_sign,
            "AWS4-HMAC-SHA256\n"
            "20130524T000000Z\n"
            "20130524/us-east-1/s3/aws4_request\n"
            "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d");
  EXPECT_EQ(sig.signature, "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(SigV4Test, GetBucketLifecycleWithEmptyQueryValueMatchesAwsExample) {
  SigV4Request req;
  req.method = "GET";
  req.path = "/";
  req.query = {{"lifecycle", ""}};
  req.payload_sha256 = std::string(kEmptyPayloadSha256);
  req.headers = {
      {"Host", kHost}, {"x-amz-date", kDate}, {"x-amz-content-sha256", req.payload_sha256}};
  const SigV4Signature sig = SignV4(req, ExampleCredentials(), "us-east-1", "s3", kDate);
  EXPECT_EQ(sig.canonical_request,
            "GET\n"
            "/\n"
            "lifecycle=\n"
            "host:examplebucket.s3.amazonaws.com\n"
            "x-amz-content-sha256:"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
            "x-amz-date:20130524T000000Z\n"
            "\n"
            "host;x-amz-content-sha256;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sig.signature, "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

TEST(SigV4Test, ListObjectsSortsQueryParametersLikeAwsExample) {
  SigV4Request req;
  req.method = "GET";
  req.path = "/";
  req.query = {{"prefix", "J"}, {"max-keys", "2"}};  // given unsorted
  req.payload_sha256 = std::string(kEmptyPayloadSha256);
  req.headers = {
      {"Host", kHost}, {"x-amz-date", kDate}, {"x-amz-content-sha256", req.payload_sha256}};
  const SigV4Signature sig = SignV4(req, ExampleCredentials(), "us-east-1", "s3", kDate);
  EXPECT_EQ(sig.canonical_request.substr(0, 26), "GET\n/\nmax-keys=2&prefix=J\n");
  EXPECT_EQ(sig.signature, "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(SigV4Test, SigningKeyMatchesAwsDerivationExample) {
  const std::string key =
      DeriveSigningKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam");
  EXPECT_EQ(Hex(key), "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

TEST(SigV4Test, SessionTokenIsSignedWhenPresent) {
  SigV4Request req;
  req.method = "GET";
  req.path = "/b/k";
  req.payload_sha256 = std::string(kEmptyPayloadSha256);
  req.headers = {{"Host", "s3.example"},
                 {"x-amz-date", kDate},
                 {"x-amz-content-sha256", req.payload_sha256},
                 {"x-amz-security-token", "tok"}};
  const SigV4Signature with =
      SignV4(req, {kAccessKey, kSecretKey, "tok"}, "eu-west-1", "s3", kDate);
  EXPECT_EQ(with.signed_headers, "host;x-amz-content-sha256;x-amz-date;x-amz-security-token");
  EXPECT_NE(with.canonical_request.find("x-amz-security-token:tok\n"), std::string::npos);
  EXPECT_NE(with.authorization.find("/20130524/eu-west-1/s3/aws4_request"), std::string::npos);
  req.headers.pop_back();
  const SigV4Signature without = SignV4(req, ExampleCredentials(), "eu-west-1", "s3", kDate);
  EXPECT_NE(with.signature, without.signature);
}

TEST(SigV4Test, HeaderValuesAreTrimmedAndInnerSpacesCollapsed) {
  SigV4Request req;
  req.method = "GET";
  req.path = "/";
  req.payload_sha256 = "UNSIGNED-PAYLOAD";
  req.headers = {{"X-Amz-Meta-Note", "  a   b \t c  "}, {"Host", "h"}};
  const SigV4Signature sig = SignV4(req, ExampleCredentials(), "us-east-1", "s3", kDate);
  EXPECT_NE(sig.canonical_request.find("\nhost:h\nx-amz-meta-note:a b c\n\n"), std::string::npos)
      << sig.canonical_request;
  EXPECT_EQ(sig.signed_headers, "host;x-amz-meta-note");
}

TEST(SigV4Test, UriEncodeKeepsUnreservedAndEncodesEverythingElseUpperCase) {
  EXPECT_EQ(UriEncode("AZaz09-._~", true), "AZaz09-._~");
  EXPECT_EQ(UriEncode("a b", true), "a%20b");  // never '+'
  EXPECT_EQ(UriEncode("a+b=c&d", true), "a%2Bb%3Dc%26d");
  EXPECT_EQ(UriEncode("x/y", true), "x%2Fy");
  EXPECT_EQ(UriEncode("x/y", false), "x/y");
  EXPECT_EQ(UriEncode("100%", true), "100%25");
  EXPECT_EQ(UriEncode("*'()!$", true), "%2A%27%28%29%21%24");
  // UTF-8 byte by byte: "é" = C3 A9, "日" = E6 97 A5, U+1F600 = F0 9F 98 80.
  EXPECT_EQ(UriEncode("caf\xc3\xa9", true), "caf%C3%A9");
  EXPECT_EQ(UriEncode("\xe6\x97\xa5", true), "%E6%97%A5");
  EXPECT_EQ(UriEncode("\xf0\x9f\x98\x80", true), "%F0%9F%98%80");
}

TEST(SigV4Test, CanonicalUriEncodesKeysOnceAndKeepsSlashes) {
  EXPECT_EQ(CanonicalUri(""), "/");
  EXPECT_EQ(CanonicalUri("/bucket/photos/2024/my cat.jpg"), "/bucket/photos/2024/my%20cat.jpg");
  // Already-encoded-looking keys are data: '%' is encoded again (S3 does not double-decode).
  EXPECT_EQ(CanonicalUri("/bucket/a%20b"), "/bucket/a%2520b");
  EXPECT_EQ(CanonicalUri("/bucket/a//b/"), "/bucket/a//b/");
  EXPECT_EQ(CanonicalUri("/bucket/\xc3\xbc/x y+z"), "/bucket/%C3%BC/x%20y%2Bz");
}

TEST(SigV4Test, CanonicalQueryStringSortsByEncodedNameThenValue) {
  EXPECT_EQ(CanonicalQueryString({}), "");
  EXPECT_EQ(CanonicalQueryString({{"uploads", ""}}), "uploads=");
  EXPECT_EQ(CanonicalQueryString({{"b", "2"}, {"a", "z"}, {"a", "y"}, {"A", "1"}}),
            "A=1&a=y&a=z&b=2");
  EXPECT_EQ(CanonicalQueryString({{"prefix", "dir/sub dir/"}, {"continuation-token", "a+b/c="}}),
            "continuation-token=a%2Bb%2Fc%3D&prefix=dir%2Fsub%20dir%2F");
}

TEST(SigV4Test, FormatAmzDateIsUtcBasicFormat) {
  using namespace std::chrono;
  const system_clock::time_point t = system_clock::time_point(seconds(1369353600));  // 2013-05-24
  EXPECT_EQ(FormatAmzDate(t), "20130524T000000Z");
  EXPECT_EQ(FormatAmzDate(t + hours(13) + minutes(5) + seconds(9) + milliseconds(999)),
            "20130524T130509Z");
}

}  // namespace
}  // namespace dk::s3
