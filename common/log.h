#pragma once

#include <initializer_list>
#include <string_view>
#include <utility>

namespace llmproxy::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

using Field = std::pair<std::string_view, std::string_view>;

// Queues one JSON line {"ts","level","msg",fields…} for stderr; a writer
// thread prints it within milliseconds, so the caller never blocks on I/O.
// Never pass a secret as a field value: mask it first (MaskSecret).
void Write(Level level, std::string_view msg,
           std::initializer_list<Field> fields = {});

// Writes out every queued line and from then on writes synchronously. Runs
// at exit by itself; call it before _exit or abort paths.
void Flush();

// Lines below this level are dropped. Parses "debug", "info", "warn",
// "error"; returns false for anything else.
void SetMinLevel(Level level);
bool SetMinLevel(std::string_view name);

// Whether a line of `level` would be written: lets a caller skip building
// fields (formatting numbers) for a line that would be dropped.
bool Enabled(Level level);

inline void Debug(std::string_view msg, std::initializer_list<Field> f = {}) {
  Write(Level::kDebug, msg, f);
}
inline void Info(std::string_view msg, std::initializer_list<Field> f = {}) {
  Write(Level::kInfo, msg, f);
}
inline void Warn(std::string_view msg, std::initializer_list<Field> f = {}) {
  Write(Level::kWarn, msg, f);
}
inline void Error(std::string_view msg, std::initializer_list<Field> f = {}) {
  Write(Level::kError, msg, f);
}

}  // namespace llmproxy::log
