#pragma once

#include <filesystem>
#include <optional>
#include <string_view>

namespace llmproxy::dataplane {

// How many CPUs this process can keep busy: the CPUs it may run on
// (sched_getaffinity), lowered to a CPU quota set on its cgroup or any
// ancestor (cgroup v2 cpu.max, v1 cpu.cfs_quota_us / cpu.cfs_period_us),
// rounded up; at least 1. The default for --threads: in a container limited
// to 2 CPUs on a 64-core node, std::thread::hardware_concurrency() says 64,
// and 64 I/O threads sharing a 2-CPU quota spend it switching between each
// other and then sit throttled until the next quota period.
int UsableCpus();

// The tightest CPU quota, in CPUs, that the cgroup files under
// `cgroup_root` (normally /sys/fs/cgroup) put on the cgroup named in
// `proc_self_cgroup` (the text of /proc/self/cgroup) and its ancestors;
// nullopt when none is set. A path that does not exist under the root (a
// container that sees only its own cgroup, mounted at the root) counts as
// the root itself.
std::optional<double> CgroupCpuQuota(std::string_view proc_self_cgroup,
                                     const std::filesystem::path& cgroup_root);

}  // namespace llmproxy::dataplane
