#pragma once

// Included by the two places that write protobuf wire bytes without a
// message object: usage records (usage_record.cc) and the batches that carry
// them (report_usage_request.cc).

#include <google/protobuf/io/coded_stream.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace llmproxy::dataplane {

// Appends protobuf wire-format fields to a string, the encoding itself done by
// protobuf's CodedOutputStream helpers. Proto3 semantics: a scalar field that
// holds its default value (0, "", false, +0.0) is not written; Bytes (an
// embedded message, an element of a repeated field) always is. Fields must be
// written in field-number order for the output to match the generated
// serializer's byte for byte.
class ProtoWriter {
 public:
  explicit ProtoWriter(std::string& out) : out_(out) {}

  void String(int field, std::string_view value) {
    if (!value.empty()) Bytes(field, value);
  }
  void Bytes(int field, std::string_view value) {
    uint8_t head[kMaxTagBytes + kMaxVarintBytes];
    uint8_t* end = Tag(field, kLengthDelimited, head);
    Append(head, Coded::WriteVarint64ToArray(value.size(), end));
    out_.append(value);
  }
  // int32 and int64 alike: a negative value is written as its 64-bit two's
  // complement, as protobuf does.
  void Int64(int field, int64_t value) {
    Uint64(field, static_cast<uint64_t>(value));
  }
  void Uint64(int field, uint64_t value) {
    if (value == 0) return;
    uint8_t buf[kMaxTagBytes + kMaxVarintBytes];
    uint8_t* end = Tag(field, kVarint, buf);
    Append(buf, Coded::WriteVarint64ToArray(value, end));
  }
  void Bool(int field, bool value) { Uint64(field, value ? 1 : 0); }
  void Double(int field, double value) {
    uint64_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    if (bits == 0) return;
    uint8_t buf[kMaxTagBytes + 8];
    uint8_t* end = Tag(field, kFixed64, buf);
    Append(buf, Coded::WriteLittleEndian64ToArray(bits, end));
  }

 private:
  using Coded = google::protobuf::io::CodedOutputStream;
  static constexpr uint32_t kVarint = 0;
  static constexpr uint32_t kFixed64 = 1;
  static constexpr uint32_t kLengthDelimited = 2;
  static constexpr std::size_t kMaxTagBytes = 5;
  static constexpr std::size_t kMaxVarintBytes = 10;

  // Each field's tag and its scalar (or length) leave in one append.
  static uint8_t* Tag(int field, uint32_t wire_type, uint8_t* target) {
    return Coded::WriteVarint32ToArray(
        static_cast<uint32_t>(field) << 3 | wire_type, target);
  }
  void Append(const uint8_t* begin, const uint8_t* end) {
    out_.append(reinterpret_cast<const char*>(begin), end - begin);
  }

  std::string& out_;
};

}  // namespace llmproxy::dataplane
