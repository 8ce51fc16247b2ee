#include "dataplane/sse_parser.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace llmproxy::dataplane {
namespace {

const std::string kStream =
    "data: {\"id\":1}\n\n"
    ": keep-alive comment\n\n"
    "event: message\r\ndata: line1\r\ndata: line2\r\n\r\n"
    "data: {\"id\":2}\r\rdata: [DONE]\n\n";

std::vector<SseEvent> FeedInPieces(const std::string& stream,
                                   const std::vector<std::size_t>& cuts) {
  SseParser parser;
  std::vector<SseEvent> events;
  std::size_t begin = 0;
  for (std::size_t cut : cuts) {
    for (SseEvent& e : parser.Feed(stream.substr(begin, cut - begin))) {
      events.push_back(std::move(e));
    }
    begin = cut;
  }
  for (SseEvent& e : parser.Feed(stream.substr(begin))) {
    events.push_back(std::move(e));
  }
  return events;
}

TEST(SseParser, SplitsEventsAndJoinsDataLines) {
  std::vector<SseEvent> events = FeedInPieces(kStream, {});
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[0].raw, "data: {\"id\":1}\n\n");
  EXPECT_EQ(events[0].data, "{\"id\":1}");
  EXPECT_EQ(events[1].data, "");
  EXPECT_EQ(events[2].data, "line1\nline2");
  EXPECT_EQ(events[3].data, "{\"id\":2}");
  EXPECT_EQ(events[4].data, "[DONE]");
}

TEST(SseParser, RawBytesReproduceTheStream) {
  std::string joined;
  for (const SseEvent& e : FeedInPieces(kStream, {})) joined += e.raw;
  EXPECT_EQ(joined, kStream);
}

TEST(SseParser, SameEventsWhateverTheChunkBoundaries) {
  const std::vector<SseEvent> whole = FeedInPieces(kStream, {});
  // Every single cut point, then every byte separately.
  for (std::size_t cut = 1; cut < kStream.size(); ++cut) {
    std::vector<SseEvent> events = FeedInPieces(kStream, {cut});
    ASSERT_EQ(events.size(), whole.size()) << "cut at " << cut;
    for (std::size_t i = 0; i < events.size(); ++i) {
      EXPECT_EQ(events[i].raw, whole[i].raw) << "cut at " << cut;
      EXPECT_EQ(events[i].data, whole[i].data) << "cut at " << cut;
    }
  }
  std::vector<std::size_t> every;
  for (std::size_t i = 1; i < kStream.size(); ++i) every.push_back(i);
  std::vector<SseEvent> bytewise = FeedInPieces(kStream, every);
  ASSERT_EQ(bytewise.size(), whole.size());
  for (std::size_t i = 0; i < whole.size(); ++i) {
    EXPECT_EQ(bytewise[i].raw, whole[i].raw);
  }
}

TEST(SseParser, EmitsAnEventAsSoonAsItsBlankLineArrives) {
  SseParser parser;
  EXPECT_TRUE(parser.Feed("data: a\n").empty());
  std::vector<SseEvent> events = parser.Feed("\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "a");
}

TEST(SseParser, RemainderHoldsAnUnfinishedEvent) {
  SseParser parser;
  EXPECT_EQ(parser.Feed("data: 1\n\ndata: par").size(), 1u);
  EXPECT_EQ(parser.TakeRemainder(), "data: par");
  EXPECT_EQ(parser.TakeRemainder(), "");
}

}  // namespace
}  // namespace llmproxy::dataplane
