#include "controlplane/store/database.h"

#include <cstdlib>

namespace llmproxy::controlplane {

const std::string& SqlRow::Text(size_t i) const {
  static const std::string* const kEmpty = new std::string();
  const auto& cell = cells_.at(i);
  return cell.has_value() ? *cell : *kEmpty;
}

int64_t SqlRow::Int(size_t i) const {
  const auto& cell = cells_.at(i);
  if (!cell.has_value() || cell->empty()) return 0;
  // SQLite may hand back an aggregate of integers as a float ("3.0"); strtod
  // then truncation keeps those readable.
  char* end = nullptr;
  long long value = std::strtoll(cell->c_str(), &end, 10);
  if (end != nullptr && *end != '\0') {
    return static_cast<int64_t>(std::strtod(cell->c_str(), nullptr));
  }
  return value;
}

double SqlRow::Double(size_t i) const {
  const auto& cell = cells_.at(i);
  if (!cell.has_value() || cell->empty()) return 0;
  return std::strtod(cell->c_str(), nullptr);
}

}  // namespace llmproxy::controlplane
