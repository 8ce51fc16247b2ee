#pragma once

// The data plane's two HTTP/1.1 parsers: the client's request and the
// upstream's response. Both are Beast parsers (boost::beast::http::
// basic_parser does the parsing and checks framing and limits), with their
// own storage: the header fields of a message live in one string instead of
// http::fields' allocated node per field, and only what the proxy uses is
// kept.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "boost/beast/http/basic_parser.hpp"

namespace llmproxy::dataplane {

// The header fields of one message, in arrival order, names as sent.
class HeaderFields {
 public:
  struct Field {
    std::string_view name;
    std::string_view value;
  };

  class Iterator {
   public:
    Iterator(const HeaderFields* fields, std::size_t index)
        : fields_(fields), index_(index) {}
    Field operator*() const { return fields_->at(index_); }
    Iterator& operator++() {
      ++index_;
      return *this;
    }
    bool operator!=(const Iterator& other) const {
      return index_ != other.index_;
    }

   private:
    const HeaderFields* fields_;
    std::size_t index_;
  };

  void Add(std::string_view name, std::string_view value);

  // The value of the first field named `name` (case-insensitive), or "".
  std::string_view Get(std::string_view name) const;
  Field at(std::size_t index) const;
  std::size_t size() const { return refs_.size(); }
  Iterator begin() const { return Iterator(this, 0); }
  Iterator end() const { return Iterator(this, refs_.size()); }

 private:
  static constexpr std::size_t kTypicalTextBytes = 384;
  static constexpr std::size_t kTypicalFields = 12;

  // Offsets into text_, which may move as it grows.
  struct Ref {
    uint32_t name_at, name_size, value_at, value_size;
  };
  std::string text_;
  std::vector<Ref> refs_;
};

// What both parsers share: the header fields, and nothing done for the
// callbacks neither needs. basic_parser checks framing and limits itself.
template <bool isRequest>
class FieldsParser : public boost::beast::http::basic_parser<isRequest> {
 public:
  const HeaderFields& fields() const { return fields_; }

 protected:
  using error_code = boost::beast::error_code;
  using string_view = boost::beast::string_view;

  void on_request_impl(boost::beast::http::verb, string_view, string_view, int,
                       error_code&) override {}
  void on_response_impl(int, string_view, int, error_code&) override {}
  void on_field_impl(boost::beast::http::field, string_view name,
                     string_view value, error_code&) override {
    fields_.Add(name, value);
  }
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&,
                         error_code&) override {}
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  void on_finish_impl(error_code&) override {}

 private:
  HeaderFields fields_;
};

// A request: method, target, fields and the body as a string. The body limit
// (basic_parser::body_limit) applies to declared and chunked bodies alike.
class RequestParser : public FieldsParser<true> {
 public:
  boost::beast::http::verb method() const { return method_; }
  std::string_view method_string() const { return method_string_; }
  std::string_view target() const { return target_; }
  std::string& body() { return body_; }

 private:
  void on_request_impl(boost::beast::http::verb method, string_view method_str,
                       string_view target, int version,
                       error_code& ec) override;
  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                         error_code& ec) override;
  std::size_t on_body_impl(string_view body, error_code& ec) override;
  std::size_t on_chunk_body_impl(std::uint64_t remain, string_view body,
                                 error_code& ec) override;

  boost::beast::http::verb method_ = boost::beast::http::verb::unknown;
  std::string method_string_;
  std::string target_;
  std::string body_;
};

// A response: status and fields; the body is copied into whatever buffer the
// caller last gave (SetBodyBuffer), and put() stops with
// http::error::need_buffer when that buffer is full.
class ResponseParser : public FieldsParser<false> {
 public:
  int status() const { return status_; }

  void SetBodyBuffer(char* data, std::size_t size) {
    body_data_ = data;
    body_space_ = size;
  }
  // Bytes of the last body buffer still free.
  std::size_t body_space() const { return body_space_; }

 private:
  void on_response_impl(int code, string_view reason, int version,
                        error_code& ec) override;
  std::size_t on_body_impl(string_view body, error_code& ec) override;
  std::size_t on_chunk_body_impl(std::uint64_t remain, string_view body,
                                 error_code& ec) override;

  std::size_t CopyBody(string_view body, error_code& ec);

  int status_ = 0;
  char* body_data_ = nullptr;
  std::size_t body_space_ = 0;
};

}  // namespace llmproxy::dataplane
