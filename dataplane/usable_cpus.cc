#include "dataplane/usable_cpus.h"

#include <sched.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace llmproxy::dataplane {
namespace {

namespace fs = std::filesystem;

std::optional<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The number a cgroup file holds (surrounding whitespace allowed).
std::optional<double> ParseNumber(std::string_view text) {
  const auto begin = text.find_first_not_of(" \t\n");
  if (begin == std::string_view::npos) return std::nullopt;
  const auto end = text.find_last_not_of(" \t\n") + 1;
  double value = 0;
  auto [ptr, ec] =
      std::from_chars(text.data() + begin, text.data() + end, value);
  if (ec != std::errc() || ptr != text.data() + end) return std::nullopt;
  return value;
}

// CPUs allowed by a quota of `quota` microseconds per `period`.
std::optional<double> Cpus(std::optional<double> quota,
                           std::optional<double> period) {
  if (!quota || !period || *quota <= 0 || *period <= 0) return std::nullopt;
  return *quota / *period;
}

// cgroup v2 cpu.max: "<quota> <period>" in microseconds, or "max <period>".
std::optional<double> QuotaV2(const fs::path& dir) {
  auto text = ReadFile(dir / "cpu.max");
  if (!text) return std::nullopt;
  const std::string_view line(*text);
  const auto space = line.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  return Cpus(ParseNumber(line.substr(0, space)),
              ParseNumber(line.substr(space + 1)));
}

// cgroup v1: cpu.cfs_quota_us (-1: none) over cpu.cfs_period_us.
std::optional<double> QuotaV1(const fs::path& dir) {
  auto quota = ReadFile(dir / "cpu.cfs_quota_us");
  auto period = ReadFile(dir / "cpu.cfs_period_us");
  if (!quota || !period) return std::nullopt;
  return Cpus(ParseNumber(*quota), ParseNumber(*period));
}

std::optional<double> Tighter(std::optional<double> a,
                              std::optional<double> b) {
  if (a && b) return std::min(*a, *b);
  return a ? a : b;
}

// The tightest quota from `hierarchy`/`path` up to `hierarchy` itself.
std::optional<double> TightestOnPath(
    const fs::path& hierarchy, std::string_view path,
    std::optional<double> (*quota_of)(const fs::path&)) {
  fs::path relative = fs::path(path).relative_path();
  std::error_code ec;
  if (!relative.empty() && !fs::is_directory(hierarchy / relative, ec)) {
    relative.clear();
  }
  std::optional<double> tightest;
  while (true) {
    tightest =
        Tighter(tightest,
                quota_of(relative.empty() ? hierarchy : hierarchy / relative));
    if (relative.empty()) return tightest;
    relative = relative.parent_path();
  }
}

}  // namespace

std::optional<double> CgroupCpuQuota(std::string_view proc_self_cgroup,
                                     const fs::path& cgroup_root) {
  std::optional<double> tightest;
  auto consider = [&](std::optional<double> q) {
    tightest = Tighter(tightest, q);
  };
  std::istringstream lines{std::string(proc_self_cgroup)};
  std::string line;
  while (std::getline(lines, line)) {
    // "<hierarchy id>:<controllers>:<path>"
    const auto first = line.find(':');
    const auto second =
        first == std::string::npos ? first : line.find(':', first + 1);
    if (second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    const std::string_view path = std::string_view(line).substr(second + 1);
    if (controllers.empty()) {
      // cgroup v2: the unified hierarchy at the root (or, on a hybrid
      // system, under unified/).
      consider(TightestOnPath(cgroup_root, path, QuotaV2));
      consider(TightestOnPath(cgroup_root / "unified", path, QuotaV2));
      continue;
    }
    std::istringstream names(controllers);
    std::string name;
    while (std::getline(names, name, ',')) {
      if (name != "cpu") continue;
      // cgroup v1: mounted as cpu/, or as cpu,cpuacct/ with cpu/ a link.
      consider(TightestOnPath(cgroup_root / "cpu", path, QuotaV1));
      if (!fs::exists(cgroup_root / "cpu")) {
        consider(TightestOnPath(cgroup_root / controllers, path, QuotaV1));
      }
    }
  }
  return tightest;
}

int UsableCpus() {
  int cpus = static_cast<int>(std::thread::hardware_concurrency());
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) cpus = CPU_COUNT(&set);
  if (auto text = ReadFile("/proc/self/cgroup")) {
    if (auto quota = CgroupCpuQuota(*text, "/sys/fs/cgroup")) {
      cpus = std::min(cpus, static_cast<int>(std::ceil(*quota)));
    }
  }
  return std::max(1, cpus);
}

}  // namespace llmproxy::dataplane
