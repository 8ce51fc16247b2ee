#include "common/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <thread>

#include "boost/json/serialize.hpp"
#include "boost/json/string.hpp"
#include "common/bounded_queue.h"

namespace llmproxy::log {
namespace {

std::atomic<int> min_level{static_cast<int>(Level::kInfo)};

const char* LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

void AppendQuoted(std::string& out, std::string_view s) {
  out += boost::json::serialize(boost::json::string(s));
}

// Takes finished lines from any thread without blocking (a lock-free queue)
// and writes them to stderr on a thread of its own, so a request thread never
// waits on a write(2). Lines are written in the order they were queued; when
// the queue is full a line is dropped and counted rather than waiting.
class AsyncSink {
 public:
  static AsyncSink& Get() {
    // Never destroyed: lines may be logged from other static destructors;
    // the atexit hook below drains and stops the writer first.
    static AsyncSink* sink = [] {
      auto* s = new AsyncSink();
      std::atexit([] { Get().Stop(); });
      return s;
    }();
    return *sink;
  }

  void Push(std::string line) {
    if (stopped_.load(std::memory_order_acquire)) {
      std::fwrite(line.data(), 1, line.size(), stderr);
      return;
    }
    if (!queue_.TryPush(std::move(line))) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
    }
  }

  void Stop() {
    if (stopped_.exchange(true)) return;
    writer_.join();
    Drain();
  }

 private:
  AsyncSink() : queue_(1 << 14), writer_([this] { Run(); }) {}

  void Run() {
    while (!stopped_.load(std::memory_order_acquire)) {
      if (!Drain()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    }
  }

  // Writes everything queued; false when there was nothing.
  bool Drain() {
    std::string batch;
    while (auto line = queue_.TryPop()) batch += *line;
    if (uint64_t n = dropped_.exchange(0, std::memory_order_relaxed)) {
      batch +=
          "{\"level\":\"warn\",\"msg\":\"log lines dropped: queue full\","
          "\"dropped\":\"" +
          std::to_string(n) + "\"}\n";
    }
    if (batch.empty()) return false;
    std::fwrite(batch.data(), 1, batch.size(), stderr);
    std::fflush(stderr);
    return true;
  }

  BoundedQueue<std::string> queue_;
  std::atomic<bool> stopped_{false};
  std::atomic<uint64_t> dropped_{0};
  std::thread writer_;
};

}  // namespace

void SetMinLevel(Level level) { min_level.store(static_cast<int>(level)); }

bool Enabled(Level level) {
  return static_cast<int>(level) >= min_level.load(std::memory_order_relaxed);
}

bool SetMinLevel(std::string_view name) {
  for (Level l : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError}) {
    if (name == LevelName(l)) {
      SetMinLevel(l);
      return true;
    }
  }
  return false;
}

void Write(Level level, std::string_view msg,
           std::initializer_list<Field> fields) {
  if (!Enabled(level)) {
    return;
  }
  auto now = std::chrono::system_clock::now();
  std::time_t secs = std::chrono::system_clock::to_time_t(now);
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(
                    now.time_since_epoch())
                    .count() %
                1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char ts[64];
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, static_cast<int>(millis));
  std::string line = "{\"ts\":\"";
  line += ts;
  line += "\",\"level\":\"";
  line += LevelName(level);
  line += "\",\"msg\":";
  AppendQuoted(line, msg);
  for (const auto& [key, value] : fields) {
    line += ',';
    AppendQuoted(line, key);
    line += ':';
    AppendQuoted(line, value);
  }
  line += "}\n";
  AsyncSink::Get().Push(std::move(line));
}

void Flush() { AsyncSink::Get().Stop(); }

}  // namespace llmproxy::log
