#pragma once

// Included by the two places that write protobuf wire bytes without a
// message object: usage records (usage_record.cc) and the batches that carry
// them (report_usage_request.cc).

#include <google/protobuf/io/coded_stream.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace llmproxy::dataplane {

// Appends protobuf wire-format fields to a string, the encoding itself done by
// protobuf's CodedOutputStream helpers, straight into the string's buffer:
// one size check per field, not one per piece. Finish() trims the string to
// what was written; until then it may hold spare bytes. Proto3 semantics: a
// scalar field that holds its default value (0, "", false, +0.0) is not
// written; Bytes (an embedded message, an element of a repeated field) always
// is. Fields must be written in field-number order for the output to match
// the generated serializer's byte for byte.
class ProtoWriter {
 public:
  // Writes after what `out` holds. `expected_bytes`: about how much will be
  // written (the string grows as needed if it is more).
  ProtoWriter(std::string& out, std::size_t expected_bytes)
      : out_(out), size_(out.size()) {
    out_.resize(size_ + expected_bytes);
  }
  ProtoWriter(const ProtoWriter&) = delete;
  ProtoWriter& operator=(const ProtoWriter&) = delete;

  void String(int field, std::string_view value) {
    if (!value.empty()) Bytes(field, value);
  }
  void Bytes(int field, std::string_view value) {
    const uint32_t tag = Tag(field, kLengthDelimited);
    uint8_t* at = Room(Coded::VarintSize32(tag) +
                       Coded::VarintSize64(value.size()) + value.size());
    at = Coded::WriteVarint32ToArray(tag, at);
    at = Coded::WriteVarint64ToArray(value.size(), at);
    std::memcpy(at, value.data(), value.size());
    Advance(at + value.size());
  }
  // int32 and int64 alike: a negative value is written as its 64-bit two's
  // complement, as protobuf does.
  void Int64(int field, int64_t value) {
    Uint64(field, static_cast<uint64_t>(value));
  }
  void Uint64(int field, uint64_t value) {
    if (value == 0) return;
    const uint32_t tag = Tag(field, kVarint);
    uint8_t* at = Room(Coded::VarintSize32(tag) + Coded::VarintSize64(value));
    at = Coded::WriteVarint32ToArray(tag, at);
    Advance(Coded::WriteVarint64ToArray(value, at));
  }
  void Bool(int field, bool value) { Uint64(field, value ? 1 : 0); }
  void Double(int field, double value) {
    uint64_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    if (bits == 0) return;
    const uint32_t tag = Tag(field, kFixed64);
    uint8_t* at = Room(Coded::VarintSize32(tag) + sizeof bits);
    at = Coded::WriteVarint32ToArray(tag, at);
    Advance(Coded::WriteLittleEndian64ToArray(bits, at));
  }

  // Trims the string to the fields written.
  void Finish() { out_.resize(size_); }

 private:
  using Coded = google::protobuf::io::CodedOutputStream;
  static constexpr uint32_t kVarint = 0;
  static constexpr uint32_t kFixed64 = 1;
  static constexpr uint32_t kLengthDelimited = 2;

  static uint32_t Tag(int field, uint32_t wire_type) {
    return static_cast<uint32_t>(field) << 3 | wire_type;
  }
  // Where the next `n` bytes go (each write asks for exactly what it writes),
  // the string grown first if they do not fit.
  uint8_t* Room(std::size_t n) {
    if (out_.size() - size_ < n) {
      out_.resize(std::max(out_.size() * 2, size_ + n));
    }
    return reinterpret_cast<uint8_t*>(out_.data()) + size_;
  }
  void Advance(const uint8_t* end) {
    size_ = static_cast<std::size_t>(
        end - reinterpret_cast<const uint8_t*>(out_.data()));
  }

  std::string& out_;
  std::size_t size_;  // bytes written, from the start of out_
};

}  // namespace llmproxy::dataplane
