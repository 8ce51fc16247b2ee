#include "dataplane/sse_parser.h"

#include <utility>

namespace llmproxy::dataplane {

std::vector<SseEvent> SseParser::Feed(std::string_view chunk) {
  std::vector<SseEvent> out;
  buffer_.append(chunk);
  Scan(out);
  return out;
}

void SseParser::Scan(std::vector<SseEvent>& out) {
  while (scan_ < buffer_.size()) {
    std::size_t eol = buffer_.find_first_of("\r\n", scan_);
    if (eol == std::string::npos) return;
    std::size_t next = eol + 1;
    if (buffer_[eol] == '\r') {
      // A lone '\r' at the end might be the first half of "\r\n": wait.
      if (next == buffer_.size()) return;
      if (buffer_[next] == '\n') ++next;
    }
    std::string_view line(buffer_.data() + scan_, eol - scan_);
    scan_ = next;
    if (!line.empty()) {
      ProcessLine(line);
      continue;
    }
    // Blank line: the event ends here.
    SseEvent event;
    event.raw = buffer_.substr(0, scan_);
    event.data = std::move(data_);
    data_.clear();
    has_data_ = false;
    buffer_.erase(0, scan_);
    scan_ = 0;
    out.push_back(std::move(event));
  }
}

void SseParser::ProcessLine(std::string_view line) {
  if (line.substr(0, 5) != "data:") return;  // event:, id:, retry:, comments
  std::string_view value = line.substr(5);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (has_data_) data_ += '\n';
  data_.append(value);
  has_data_ = true;
}

std::string SseParser::TakeRemainder() {
  std::string rest = std::move(buffer_);
  buffer_.clear();
  scan_ = 0;
  data_.clear();
  has_data_ = false;
  return rest;
}

}  // namespace llmproxy::dataplane
