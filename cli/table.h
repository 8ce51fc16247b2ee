#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace llmproxy::cli {

// Number of terminal columns `utf8` takes, counting one per code point (the
// masks use "…", which is three bytes but one column).
size_t DisplayWidth(std::string_view utf8);

// A plain-text table with left-aligned columns separated by two spaces, the
// way kubectl prints lists. Cells that are empty print as "-" so columns
// never collapse and `awk` still sees one field per column.
class Table {
 public:
  explicit Table(std::vector<std::string> header);

  // Adds a row; missing cells are treated as empty, extra cells are dropped.
  void AddRow(std::vector<std::string> cells);

  size_t row_count() const { return rows_.size(); }

  // The header line and every row, each ending in '\n'. Trailing spaces are
  // not printed.
  std::string Render() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// Renders "field: value" pairs, one per line, with the values aligned: the
// view of one resource.
class DetailView {
 public:
  void Add(std::string field, std::string value);
  std::string Render() const;

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

}  // namespace llmproxy::cli
