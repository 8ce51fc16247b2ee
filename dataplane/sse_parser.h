#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace llmproxy::dataplane {

// One server-sent event as it appeared on the wire.
struct SseEvent {
  // The exact bytes of the event, including the blank line that ends it, so
  // relaying `raw` reproduces the upstream stream byte for byte.
  std::string raw;
  // The "data:" lines joined with '\n' (the event's payload), e.g. a JSON
  // chunk or "[DONE]".
  std::string data;
};

// Splits a text/event-stream into events however the bytes were chunked by
// the network. Lines may end with "\n", "\r\n" or "\r"; an empty line ends an
// event. Work per byte is constant: nothing already scanned is scanned again.
class SseParser {
 public:
  // Appends `chunk` and returns the events it completed, in order.
  std::vector<SseEvent> Feed(std::string_view chunk);

  // Bytes received but not yet part of a complete event (the stream ended
  // mid-event); clears them.
  std::string TakeRemainder();

 private:
  // Consumes the complete lines in buffer_ from scan_, emitting events.
  void Scan(std::vector<SseEvent>& out);
  void ProcessLine(std::string_view line);

  std::string buffer_;
  // buffer_[0, scan_) is already split into lines of the current event.
  std::size_t scan_ = 0;
  std::string data_;
  bool has_data_ = false;
};

}  // namespace llmproxy::dataplane
