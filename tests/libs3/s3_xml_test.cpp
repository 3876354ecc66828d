// The tolerant XML reader and the S3 documents read from it, on sample responses shaped like
// those of AWS S3, versitygw and MinIO.
#include "s3_xml.h"

#include <gtest/gtest.h>

#include "xml_parser.h"

namespace dk::s3 {
namespace {

TEST(XmlParserTest, ReadsNestedElementsAndDecodesText) {
  Result<XmlElement> doc = ParseXml(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<!-- comment -->\n"
      "<s3:Root xmlns:s3=\"http://s3.amazonaws.com/doc/2006-03-01/\" a='1'>\n"
      "  <Name>a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos;</Name>\n"
      "  <Refs>&#65;&#x42;&#xe9;&#x1F600;</Refs>\n"
      "  <Data><![CDATA[<not & parsed>]]></Data>\n"
      "  <Empty/><Empty />\n"
      "</s3:Root>");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(doc->name, "Root");
  EXPECT_EQ(doc->ChildText("Name"), "a & b <c> \"d\" 'e'");
  EXPECT_EQ(doc->ChildText("Refs"), "AB\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_EQ(doc->ChildText("Data"), "<not & parsed>");
  EXPECT_EQ(doc->ChildrenNamed("Empty").size(), 2u);
  EXPECT_EQ(doc->Child("Missing"), nullptr);
  EXPECT_EQ(doc->ChildText("Missing"), "");
}

TEST(XmlParserTest, KeepsWhitespaceInsideLeafText) {
  Result<XmlElement> doc = ParseXml("<R><Key>  spaced key \n</Key></R>");
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(doc->ChildText("Key"), "  spaced key \n");
}

TEST(XmlParserTest, SkipsDoctypeAndProcessingInstructions) {
  Result<XmlElement> doc =
      ParseXml("<!DOCTYPE r [<!ENTITY x \"y\">]><?pi stuff?><r><?inner?>t<!--c-->u</r>  \n");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(doc->text, "tu");
}

TEST(XmlParserTest, RejectsMalformedDocuments) {
  const char* bad[] = {
      "",
      "no xml",
      "<a>",
      "<a></b>",
      "<a><b></a></b>",
      "<a>&unknown;</a>",
      "<a>&#xD800;</a>",
      "<a>&#;</a>",
      "<a>&amp</a>",
      "<a x=1></a>",
      "<a x=\"1></a>",
      "<a></a><b></b>",
      "<a><![CDATA[x</a>",
      "<a><!-- x</a>",
      "<>x</>",
  };
  for (const char* doc : bad) {
    Result<XmlElement> r = ParseXml(doc);
    EXPECT_FALSE(r.ok()) << "accepted: " << doc;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << doc;
    }
  }
}

TEST(XmlParserTest, RejectsNestingDeeperThan64) {
  std::string ok_doc, deep_doc;
  for (int i = 0; i < 64; ++i) ok_doc += "<a>";
  for (int i = 0; i < 64; ++i) ok_doc += "</a>";
  for (int i = 0; i < 65; ++i) deep_doc += "<a>";
  for (int i = 0; i < 65; ++i) deep_doc += "</a>";
  EXPECT_TRUE(ParseXml(ok_doc).ok());
  Result<XmlElement> r = ParseXml(deep_doc);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("deeper than 64"), std::string::npos);
}

TEST(XmlParserTest, EscapeRoundTrips) {
  const std::string raw = "a&b<c>\"d'e";
  Result<XmlElement> doc = ParseXml("<x>" + XmlEscape(raw) + "</x>");
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(doc->text, raw);
}

constexpr char kListPage1[] = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>dk-test</Name>
  <Prefix>objects/</Prefix>
  <KeyCount>2</KeyCount>
  <MaxKeys>2</MaxKeys>
  <IsTruncated>true</IsTruncated>
  <ContinuationToken></ContinuationToken>
  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
  <Contents>
    <Key>objects/a b &amp; c</Key>
    <LastModified>2024-01-02T03:04:05.000Z</LastModified>
    <ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag>
    <ChecksumAlgorithm>CRC32</ChecksumAlgorithm>
    <Size>1048576</Size>
    <Owner><ID>abc</ID><DisplayName>someone</DisplayName></Owner>
    <StorageClass>STANDARD</StorageClass>
  </Contents>
  <Contents>
    <StorageClass>STANDARD</StorageClass>
    <Size>0</Size>
    <Key>objects/caf&#xE9;</Key>
    <ETag>"d41d8cd98f00b204e9800998ecf8427e"</ETag>
  </Contents>
  <UnknownFutureElement><Nested>1</Nested></UnknownFutureElement>
</ListBucketResult>)";

constexpr char kListPageLast[] = R"(<ListBucketResult>
  <Name>dk-test</Name><IsTruncated>false</IsTruncated>
  <Contents><Key>objects/z</Key><Size>5</Size><ETag>"x-3"</ETag></Contents>
  <CommonPrefixes><Prefix>objects/dir1/</Prefix></CommonPrefixes>
  <CommonPrefixes><Prefix>objects/dir2/</Prefix></CommonPrefixes>
</ListBucketResult>)";

TEST(S3XmlTest, ParsesListObjectsV2PageWithContinuation) {
  Result<ListPage> page = ParseListObjectsV2(kListPage1);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_TRUE(page->truncated);
  EXPECT_EQ(page->next_continuation_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
  ASSERT_EQ(page->objects.size(), 2u);
  EXPECT_EQ(page->objects[0].key, "objects/a b & c");
  EXPECT_EQ(page->objects[0].size, 1048576u);
  EXPECT_EQ(page->objects[0].etag, "9b2cf535f27731c974343645a3985328");
  EXPECT_EQ(page->objects[0].last_modified, "2024-01-02T03:04:05.000Z");
  EXPECT_EQ(page->objects[1].key, "objects/caf\xc3\xa9");
  EXPECT_EQ(page->objects[1].size, 0u);
  EXPECT_EQ(page->objects[1].etag, "d41d8cd98f00b204e9800998ecf8427e");
}

TEST(S3XmlTest, ParsesLastListPageWithCommonPrefixes) {
  Result<ListPage> page = ParseListObjectsV2(kListPageLast);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_FALSE(page->truncated);
  EXPECT_EQ(page->next_continuation_token, "");
  ASSERT_EQ(page->objects.size(), 1u);
  EXPECT_EQ(page->objects[0].etag, "x-3");
  EXPECT_EQ(page->common_prefixes, (std::vector<std::string>{"objects/dir1/", "objects/dir2/"}));
}

TEST(S3XmlTest, ListObjectsV2RejectsBrokenPages) {
  // Truncated without a token would loop forever.
  EXPECT_FALSE(ParseListObjectsV2("<ListBucketResult><IsTruncated>true</IsTruncated>"
                                  "</ListBucketResult>")
                   .ok());
  EXPECT_FALSE(ParseListObjectsV2("<ListBucketResult><Contents><Size>1</Size></Contents>"
                                  "</ListBucketResult>")
                   .ok());  // no Key
  EXPECT_FALSE(ParseListObjectsV2("<ListBucketResult><Contents><Key>k</Key><Size>-1</Size>"
                                  "</Contents></ListBucketResult>")
                   .ok());
  EXPECT_FALSE(ParseListObjectsV2("<Error><Code>x</Code></Error>").ok());  // wrong root
  EXPECT_FALSE(ParseListObjectsV2("<ListBucketResult>").ok());
}

TEST(S3XmlTest, ParsesErrorBodies) {
  std::optional<S3ErrorBody> e = ParseErrorBody(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>"
      "<Key>a/b</Key><RequestId>4442587FB7D0A2F9</RequestId><HostId>h</HostId></Error>");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code, "NoSuchKey");
  EXPECT_EQ(e->message, "The specified key does not exist.");
  EXPECT_EQ(e->resource, "a/b");
  EXPECT_EQ(e->request_id, "4442587FB7D0A2F9");

  e = ParseErrorBody(
      "<Error><Code>RequestTimeTooSkewed</Code><Message>The difference between the request time "
      "and the current time is too large.</Message><RequestTime>20240101T000000Z</RequestTime>"
      "<ServerTime>2024-01-01T00:20:00Z</ServerTime><MaxAllowedSkewMilliseconds>900000"
      "</MaxAllowedSkewMilliseconds></Error>");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->request_time, "20240101T000000Z");
  EXPECT_EQ(e->server_time, "2024-01-01T00:20:00Z");

  EXPECT_FALSE(ParseErrorBody("<html><body>502 Bad Gateway</body></html>").has_value());
  EXPECT_FALSE(ParseErrorBody("").has_value());
  EXPECT_FALSE(ParseErrorBody("<Error><Code>x</Code>").has_value());
}

TEST(S3XmlTest, ParsesInitiateMultipartUpload) {
  Result<std::string> id = ParseInitiateMultipartUpload(
      "<?xml version=\"1.0\"?><InitiateMultipartUploadResult "
      "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>b</Bucket><Key>k</Key>"
      "<UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>"
      "</InitiateMultipartUploadResult>");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA");
  EXPECT_FALSE(ParseInitiateMultipartUpload("<InitiateMultipartUploadResult>"
                                            "</InitiateMultipartUploadResult>")
                   .ok());
}

TEST(S3XmlTest, ParsesListPartsWithMarker) {
  Result<ListPartsPage> page = ParseListParts(
      "<ListPartsResult><Bucket>b</Bucket><Key>k</Key><UploadId>u</UploadId>"
      "<PartNumberMarker>0</PartNumberMarker><NextPartNumberMarker>3</NextPartNumberMarker>"
      "<MaxParts>2</MaxParts><IsTruncated>true</IsTruncated>"
      "<Part><PartNumber>3</PartNumber><LastModified>2024-01-01T00:00:00.000Z</LastModified>"
      "<ETag>\"aaaa\"</ETag><Size>5242880</Size></Part>"
      "<Part><ChecksumCRC32>x</ChecksumCRC32><Size>10</Size><ETag>&quot;bbbb&quot;</ETag>"
      "<PartNumber>1</PartNumber></Part></ListPartsResult>");
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_TRUE(page->truncated);
  EXPECT_EQ(page->next_part_number_marker, "3");
  ASSERT_EQ(page->parts.size(), 2u);
  EXPECT_EQ(page->parts[0].part_number, 3);
  EXPECT_EQ(page->parts[0].etag, "aaaa");
  EXPECT_EQ(page->parts[0].size, 5242880u);
  EXPECT_EQ(page->parts[1].part_number, 1);
  EXPECT_EQ(page->parts[1].etag, "bbbb");
  EXPECT_FALSE(ParseListParts("<ListPartsResult><Part><PartNumber>0</PartNumber><Size>1</Size>"
                              "</Part></ListPartsResult>")
                   .ok());
  EXPECT_FALSE(ParseListParts("<ListPartsResult><Part><PartNumber>10001</PartNumber>"
                              "<Size>1</Size></Part></ListPartsResult>")
                   .ok());
}

TEST(S3XmlTest, ParsesListMultipartUploads) {
  Result<ListUploadsPage> page = ParseListMultipartUploads(
      "<ListMultipartUploadsResult><Bucket>b</Bucket><IsTruncated>false</IsTruncated>"
      "<Upload><Key>k1</Key><UploadId>u1</UploadId><Initiated>2024-01-01T00:00:00Z</Initiated>"
      "</Upload><Upload><Key>k2</Key><UploadId>u2</UploadId></Upload>"
      "</ListMultipartUploadsResult>");
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->uploads.size(), 2u);
  EXPECT_EQ(page->uploads[0].key, "k1");
  EXPECT_EQ(page->uploads[0].upload_id, "u1");
  EXPECT_EQ(page->uploads[0].initiated, "2024-01-01T00:00:00Z");
  EXPECT_EQ(page->uploads[1].upload_id, "u2");
}

TEST(S3XmlTest, CompleteMultipartUploadRoundTrip) {
  const std::vector<UploadedPart> parts = {{1, "a54357aff0632cce46d942af68356b38", 5},
                                           {2, "0c78aef83f66abc1fa1e8477f296d394", 5}};
  EXPECT_EQ(BuildCompleteMultipartUploadXml(parts),
            "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
            "<Part><PartNumber>1</PartNumber><ETag>&quot;a54357aff0632cce46d942af68356b38&quot;"
            "</ETag></Part>"
            "<Part><PartNumber>2</PartNumber><ETag>&quot;0c78aef83f66abc1fa1e8477f296d394&quot;"
            "</ETag></Part></CompleteMultipartUpload>");
  Result<std::string> etag = ParseCompleteMultipartUpload(
      "<CompleteMultipartUploadResult><Location>http://x/b/k</Location><Bucket>b</Bucket>"
      "<Key>k</Key><ETag>\"3858f62230ac3c915f300c664312c11f-9\"</ETag>"
      "</CompleteMultipartUploadResult>");
  ASSERT_TRUE(etag.ok());
  EXPECT_EQ(*etag, "3858f62230ac3c915f300c664312c11f-9");
}

TEST(S3XmlTest, StripQuotesRemovesOnePairOnly) {
  EXPECT_EQ(StripQuotes("\"abc\""), "abc");
  EXPECT_EQ(StripQuotes("abc"), "abc");
  EXPECT_EQ(StripQuotes("\""), "\"");
  EXPECT_EQ(StripQuotes("\"\"x\"\""), "\"x\"");
}

}  // namespace
}  // namespace dk::s3
