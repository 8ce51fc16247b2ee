#include "dataplane/usable_cpus.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace llmproxy::dataplane {
namespace {

namespace fs = std::filesystem;

// A cgroup file tree in a fresh temporary directory.
class CgroupTree : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::path(::testing::TempDir()) /
            ("cgroup-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  void Write(const fs::path& relative, const std::string& text) {
    fs::create_directories((root_ / relative).parent_path());
    std::ofstream(root_ / relative) << text;
  }

  fs::path root_;
};

TEST_F(CgroupTree, ReadsAContainersOwnCgroupV2Limit) {
  Write("cpu.max", "150000 100000\n");
  EXPECT_EQ(CgroupCpuQuota("0::/\n", root_), 1.5);
}

TEST_F(CgroupTree, TakesTheTightestLimitOnTheWayToTheRoot) {
  Write("kubepods/cpu.max", "400000 100000\n");
  Write("kubepods/pod1/cpu.max", "200000 100000\n");
  Write("kubepods/pod1/ctr/cpu.max", "max 100000\n");
  EXPECT_EQ(CgroupCpuQuota("0::/kubepods/pod1/ctr\n", root_), 2.0);
}

TEST_F(CgroupTree, APathItCannotSeeMeansTheRootIsItsCgroup) {
  // Without a cgroup namespace the path names the host's view, while the
  // container has its own cgroup mounted at the root.
  Write("cpu.max", "300000 100000\n");
  EXPECT_EQ(CgroupCpuQuota("0::/system.slice/docker-1234.scope\n", root_), 3.0);
}

TEST_F(CgroupTree, NoLimitIsNoQuota) {
  Write("cpu.max", "max 100000\n");
  Write("a/cpu.max", "max 100000\n");
  EXPECT_EQ(CgroupCpuQuota("0::/a\n", root_), std::nullopt);
  EXPECT_EQ(CgroupCpuQuota("", root_), std::nullopt);
}

TEST_F(CgroupTree, ReadsCgroupV1Quotas) {
  Write("cpu/docker/abc/cpu.cfs_quota_us", "50000\n");
  Write("cpu/docker/abc/cpu.cfs_period_us", "100000\n");
  Write("cpu/cpu.cfs_quota_us", "-1\n");
  Write("cpu/cpu.cfs_period_us", "100000\n");
  const std::string cgroup =
      "9:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n0::/\n";
  EXPECT_EQ(CgroupCpuQuota(cgroup, root_), 0.5);
  Write("cpu/docker/abc/cpu.cfs_quota_us", "-1\n");
  EXPECT_EQ(CgroupCpuQuota(cgroup, root_), std::nullopt);
}

TEST_F(CgroupTree, ReadsCgroupV1MountedUnderItsControllerList) {
  Write("cpu,cpuacct/cpu.cfs_quota_us", "250000\n");
  Write("cpu,cpuacct/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(CgroupCpuQuota("4:cpu,cpuacct:/\n", root_), 2.5);
}

TEST_F(CgroupTree, IgnoresWhatItCannotRead) {
  Write("cpu.max", "lots 100000\n");
  Write("a/cpu.max", "200000 0\n");
  Write("cpu/cpu.cfs_quota_us", "x\n");
  Write("cpu/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(CgroupCpuQuota("garbage\n0::/a\n4:cpu:/\n::\n", root_),
            std::nullopt);
}

TEST(UsableCpus, IsAtLeastOneAndAtMostTheMachinesCores) {
  const int cpus = UsableCpus();
  EXPECT_GE(cpus, 1);
  EXPECT_LE(cpus,
            std::max(1, static_cast<int>(std::thread::hardware_concurrency())));
}

}  // namespace
}  // namespace llmproxy::dataplane
