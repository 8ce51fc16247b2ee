#include "dataplane/snapshot_file.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "dataplane/config_subscriber.h"
#include "dataplane/test_snapshot.h"
#include "gtest/gtest.h"

namespace llmproxy::dataplane {
namespace {

class SnapshotFileTest : public ::testing::Test {
 protected:
  SnapshotFileTest() {
    dir_ = std::filesystem::temp_directory_path() /
           ("dp-snap-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  ~SnapshotFileTest() override { std::filesystem::remove_all(dir_); }

  std::string Path(std::string name) const { return (dir_ / name).string(); }
  static std::string Slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }

  std::filesystem::path dir_;
};

TEST_F(SnapshotFileTest, RoundTripsSealedWithNoPlaintextSecret) {
  auto box = LoadOrCreateSnapshotKey("", Path("snap.bin.key"));
  ASSERT_TRUE(box.ok()) << box.status();
  SnapshotFile file(Path("snap.bin"), *box);
  v1::ConfigSnapshot original = testing::SampleSnapshot();
  ASSERT_TRUE(file.Save(original).ok());

  std::string on_disk = Slurp(Path("snap.bin"));
  EXPECT_EQ(on_disk.rfind("v1:", 0), 0u);
  EXPECT_EQ(on_disk.find("sk-provider-"), std::string::npos);
  EXPECT_EQ(on_disk.find("api.openai.com"), std::string::npos);
  auto perms = std::filesystem::status(Path("snap.bin")).permissions();
  EXPECT_EQ(perms & std::filesystem::perms::others_read,
            std::filesystem::perms::none);

  // A second process start reuses the generated key file.
  auto box2 = LoadOrCreateSnapshotKey("", Path("snap.bin.key"));
  ASSERT_TRUE(box2.ok());
  auto loaded = SnapshotFile(Path("snap.bin"), *box2).Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->SerializeAsString(), original.SerializeAsString());
}

TEST_F(SnapshotFileTest, MissingFileIsNotFoundAndWrongKeyIsDataLoss) {
  auto box = SecretBox::FromKeyMaterial(std::string(64, 'a'));
  ASSERT_TRUE(box.ok());
  SnapshotFile file(Path("snap.bin"), *box);
  EXPECT_EQ(file.Load().status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(file.Save(testing::SampleSnapshot()).ok());
  auto other = SecretBox::FromKeyMaterial(std::string(64, 'b'));
  EXPECT_EQ(SnapshotFile(Path("snap.bin"), *other).Load().status().code(),
            absl::StatusCode::kDataLoss);
}

TEST_F(SnapshotFileTest, SubscriberPersistsAppliedPushesAndNacksBadDeltas) {
  auto box = SecretBox::FromKeyMaterial(std::string(64, 'c'));
  SnapshotFile file(Path("snap.bin"), *box);
  SnapshotHolder holder;
  ConfigSubscriber subscriber({}, holder, &file);

  v1::StreamConfigResponse delta_first;
  delta_first.set_revision(3);
  delta_first.mutable_delta()->set_base_revision(2);
  EXPECT_FALSE(subscriber.Apply(delta_first).ok());
  EXPECT_FALSE(holder.loaded());

  v1::StreamConfigResponse push;
  push.set_revision(7);
  *push.mutable_snapshot() = testing::SampleSnapshot();
  ASSERT_TRUE(subscriber.Apply(push).ok());
  ASSERT_TRUE(holder.loaded());
  EXPECT_EQ(holder.Get()->revision(), 7);
  EXPECT_EQ(subscriber.applied_revision(), 7);
  auto loaded = file.Load();
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->revision(), 7);

  v1::StreamConfigResponse wrong_base;
  wrong_base.set_revision(9);
  wrong_base.mutable_delta()->set_base_revision(5);
  EXPECT_FALSE(subscriber.Apply(wrong_base).ok());
  EXPECT_EQ(holder.Get()->revision(), 7);  // the old config stays

  v1::StreamConfigResponse delta;
  delta.set_revision(8);
  delta.mutable_delta()->set_base_revision(7);
  delta.mutable_delta()->add_deleted_model_ids("md_emb");
  ASSERT_TRUE(subscriber.Apply(delta).ok());
  EXPECT_EQ(holder.Get()->revision(), 8);
  EXPECT_EQ(holder.Get()->FindAlias("emb"), nullptr);
}

}  // namespace
}  // namespace llmproxy::dataplane
