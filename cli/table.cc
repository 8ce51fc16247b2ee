#include "cli/table.h"

#include <algorithm>
#include <utility>

namespace llmproxy::cli {
namespace {

// Control characters (a newline in a name, say) would break the alignment
// and could be used to forge output lines, so they print as spaces.
std::string Sanitize(std::string cell) {
  for (char& c : cell) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return cell.empty() ? "-" : cell;
}

void AppendPadded(std::string& out, const std::string& cell, size_t width) {
  out += cell;
  out.append(width - std::min(width, DisplayWidth(cell)), ' ');
}

void RStrip(std::string& line) {
  while (!line.empty() && line.back() == ' ') line.pop_back();
}

}  // namespace

size_t DisplayWidth(std::string_view utf8) {
  size_t n = 0;
  for (char c : utf8) {
    // Continuation bytes (10xxxxxx) do not start a new code point.
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

Table::Table(std::vector<std::string> header) : header_(std::move(header)) {}

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(header_.size());
  for (std::string& cell : cells) cell = Sanitize(std::move(cell));
  rows_.push_back(std::move(cells));
}

std::string Table::Render() const {
  std::vector<size_t> widths(header_.size());
  for (size_t i = 0; i < header_.size(); ++i) {
    widths[i] = DisplayWidth(header_[i]);
    for (const auto& row : rows_) {
      widths[i] = std::max(widths[i], DisplayWidth(row[i]));
    }
  }
  std::string out;
  auto render_line = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (size_t i = 0; i < cells.size(); ++i) {
      if (i > 0) line += "  ";
      AppendPadded(line, cells[i], widths[i]);
    }
    RStrip(line);
    out += line;
    out += '\n';
  };
  render_line(header_);
  for (const auto& row : rows_) render_line(row);
  return out;
}

void DetailView::Add(std::string field, std::string value) {
  fields_.emplace_back(std::move(field), Sanitize(std::move(value)));
}

std::string DetailView::Render() const {
  size_t width = 0;
  for (const auto& [field, value] : fields_) {
    width = std::max(width, DisplayWidth(field) + 1);
  }
  std::string out;
  for (const auto& [field, value] : fields_) {
    std::string line;
    AppendPadded(line, field + ":", width);
    line += "  ";
    line += value;
    RStrip(line);
    out += line;
    out += '\n';
  }
  return out;
}

}  // namespace llmproxy::cli
