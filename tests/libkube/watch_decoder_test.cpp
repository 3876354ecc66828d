#include "libkube/watch_decoder.h"

#include <gtest/gtest.h>

#include "libkube/api_error.h"

namespace dk::kube {
namespace {

const std::string kTwoEvents =
    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"5\"}}}\n"
    "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"6\"},"
    "\"data\":{\"k\":\"h\xc3\xa9llo\"}}}\n";

TEST(WatchDecoderTest, DecodesEventsSplitAtEveryPossibleChunkBoundary) {
  for (size_t cut1 = 0; cut1 <= kTwoEvents.size(); ++cut1) {
    for (size_t cut2 = cut1; cut2 <= kTwoEvents.size(); cut2 += 7) {
      WatchDecoder d;
      std::vector<WatchEvent> events;
      ASSERT_TRUE(d.Feed(std::string_view(kTwoEvents).substr(0, cut1), &events).ok());
      ASSERT_TRUE(d.Feed(std::string_view(kTwoEvents).substr(cut1, cut2 - cut1), &events).ok());
      ASSERT_TRUE(d.Feed(std::string_view(kTwoEvents).substr(cut2), &events).ok());
      ASSERT_EQ(events.size(), 2u) << "cuts " << cut1 << "," << cut2;
      EXPECT_EQ(events[0].type, WatchEventType::kAdded);
      EXPECT_EQ(events[1].type, WatchEventType::kModified);
      EXPECT_EQ(events[1].object["data"]["k"], "h\xc3\xa9llo");  // split inside UTF-8 too
      EXPECT_TRUE(d.Finish().ok());
      EXPECT_EQ(d.buffered_bytes(), 0u);
    }
  }
}

TEST(WatchDecoderTest, DecodesByteByByte) {
  WatchDecoder d;
  std::vector<WatchEvent> events;
  for (char c : kTwoEvents) ASSERT_TRUE(d.Feed(std::string_view(&c, 1), &events).ok());
  EXPECT_EQ(events.size(), 2u);
}

TEST(WatchDecoderTest, DecodesManyEventsInOneChunkInOrder) {
  std::string body;
  for (int i = 0; i < 50; ++i) {
    body += "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"o" + std::to_string(i) +
            "\"}}}\n";
  }
  WatchDecoder d;
  std::vector<WatchEvent> events;
  ASSERT_TRUE(d.Feed(body, &events).ok());
  ASSERT_EQ(events.size(), 50u);
  for (int i = 0; i < 50; ++i)
    EXPECT_EQ(events[i].object["metadata"]["name"], "o" + std::to_string(i));
}

TEST(WatchDecoderTest, DecodesBookmark) {
  WatchDecoder d;
  std::vector<WatchEvent> events;
  ASSERT_TRUE(d.Feed("{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"ConfigMap\",\"metadata\":"
                     "{\"resourceVersion\":\"1234\"}}}\n",
                     &events)
                  .ok());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, WatchEventType::kBookmark);
  EXPECT_EQ(events[0].object["metadata"]["resourceVersion"], "1234");
}

TEST(WatchDecoderTest, ErrorEventWithCode410BecomesGone) {
  WatchDecoder d;
  std::vector<WatchEvent> events;
  ASSERT_TRUE(d.Feed("{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
                     "\"status\":\"Failure\",\"message\":\"too old resource version: 1 (5000)\","
                     "\"reason\":\"Expired\",\"code\":410}}\n",
                     &events)
                  .ok());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, WatchEventType::kError);
  Status s = StatusFromApiStatus(events[0].object, "WATCH configmaps");
  EXPECT_TRUE(IsGone(s)) << s;
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("too old resource version"), std::string::npos);
}

TEST(WatchDecoderTest, SkipsBlankLinesAndCarriageReturns) {
  WatchDecoder d;
  std::vector<WatchEvent> events;
  ASSERT_TRUE(d.Feed("\n\r\n{\"type\":\"DELETED\",\"object\":{}}\r\n\n", &events).ok());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, WatchEventType::kDeleted);
}

TEST(WatchDecoderTest, RejectsInvalidLines) {
  const char* bad[] = {
      "not json\n",
      "[1,2]\n",
      "{\"type\":\"ADDED\"}\n",                    // no object
      "{\"type\":\"EXPLODED\",\"object\":{}}\n",   // unknown type
      "{\"type\":7,\"object\":{}}\n",              // type not a string
      "{\"type\":\"ADDED\",\"object\":\"x\"}\n",   // object not an object
      "{\"type\":\"ADDED\",\"object\":{\"a\":\n",  // truncated JSON on one line
  };
  for (const char* line : bad) {
    WatchDecoder d;
    std::vector<WatchEvent> events;
    Status s = d.Feed(line, &events);
    EXPECT_EQ(s.code(), StatusCode::kCorruption) << line;
  }
}

TEST(WatchDecoderTest, RejectsOverlongLineWithoutBufferingIt) {
  WatchDecoder d(/*max_line_bytes=*/64);
  std::vector<WatchEvent> events;
  ASSERT_TRUE(d.Feed(std::string(60, ' '), &events).ok());
  Status s = d.Feed(std::string(10, 'x'), &events);
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.message().find("exceeds 64 bytes"), std::string::npos);
}

TEST(WatchDecoderTest, FinishReportsTruncatedEvent) {
  WatchDecoder d;
  std::vector<WatchEvent> events;
  ASSERT_TRUE(d.Feed("{\"type\":\"ADDED\",\"obj", &events).ok());
  EXPECT_TRUE(events.empty());
  EXPECT_EQ(d.Finish().code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace dk::kube
