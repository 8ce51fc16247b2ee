#include "dataplane/http_parsers.h"

#include <algorithm>
#include <cstring>

#include "boost/beast/http/error.hpp"
#include "dataplane/ascii.h"

namespace llmproxy::dataplane {

namespace http = boost::beast::http;

void HeaderFields::Add(std::string_view name, std::string_view value) {
  if (refs_.empty()) {
    // A typical header in one allocation each, not one per field.
    text_.reserve(kTypicalTextBytes);
    refs_.reserve(kTypicalFields);
  }
  // The parser's header limit keeps a header far below 4 GiB.
  const auto at = static_cast<uint32_t>(text_.size());
  text_.append(name).append(value);
  refs_.push_back(Ref{at, static_cast<uint32_t>(name.size()),
                      static_cast<uint32_t>(at + name.size()),
                      static_cast<uint32_t>(value.size())});
}

HeaderFields::Field HeaderFields::at(std::size_t index) const {
  const Ref& ref = refs_[index];
  return Field{std::string_view(text_.data() + ref.name_at, ref.name_size),
               std::string_view(text_.data() + ref.value_at, ref.value_size)};
}

std::string_view HeaderFields::Get(std::string_view name) const {
  for (const Ref& ref : refs_) {
    if (ref.name_size == name.size() &&
        EqualsIgnoreCase(
            std::string_view(text_.data() + ref.name_at, ref.name_size),
            name)) {
      return std::string_view(text_.data() + ref.value_at, ref.value_size);
    }
  }
  return {};
}

void RequestParser::on_request_impl(http::verb method, string_view method_str,
                                    string_view target, int, error_code&) {
  method_ = method;
  method_string_.assign(method_str.data(), method_str.size());
  target_.assign(target.data(), target.size());
}

void RequestParser::on_body_init_impl(
    const boost::optional<std::uint64_t>& content_length, error_code&) {
  // basic_parser has already refused a length above the body limit.
  if (content_length) body_.reserve(static_cast<std::size_t>(*content_length));
}

std::size_t RequestParser::on_body_impl(string_view body, error_code&) {
  body_.append(body.data(), body.size());
  return body.size();
}

std::size_t RequestParser::on_chunk_body_impl(std::uint64_t, string_view body,
                                              error_code&) {
  body_.append(body.data(), body.size());
  return body.size();
}

void ResponseParser::on_response_impl(int code, string_view, int, error_code&) {
  status_ = code;
}

std::size_t ResponseParser::on_body_impl(string_view body, error_code& ec) {
  return CopyBody(body, ec);
}

std::size_t ResponseParser::on_chunk_body_impl(std::uint64_t, string_view body,
                                               error_code& ec) {
  return CopyBody(body, ec);
}

std::size_t ResponseParser::CopyBody(string_view body, error_code& ec) {
  const std::size_t n = std::min(body_space_, body.size());
  if (n > 0) {
    std::memcpy(body_data_, body.data(), n);
    body_data_ += n;
    body_space_ -= n;
  }
  // What did not fit waits in the read buffer for the next body buffer.
  if (n < body.size()) ec = http::error::need_buffer;
  return n;
}

}  // namespace llmproxy::dataplane
