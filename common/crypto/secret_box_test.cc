#include "common/crypto/secret_box.h"

#include <gtest/gtest.h>

#include "common/crypto/random.h"
#include "common/crypto/sha256.h"

namespace llmproxy {
namespace {

SecretBox TestBox() {
  return *SecretBox::FromKeyMaterial(std::string(64, 'a'));
}

TEST(SecretBox, OpensWhatItSealed) {
  SecretBox box = TestBox();
  std::string sealed = box.Seal("sk-proj-secret-value");
  auto opened = box.Open(sealed);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, "sk-proj-secret-value");
}

TEST(SecretBox, SealedTextContainsNoPlaintextAndDiffersEachTime) {
  SecretBox box = TestBox();
  std::string a = box.Seal("sk-proj-secret-value");
  std::string b = box.Seal("sk-proj-secret-value");
  EXPECT_NE(a, b);
  EXPECT_EQ(a.find("secret"), std::string::npos);
  EXPECT_EQ(a.rfind("v1:", 0), 0u);
}

TEST(SecretBox, RefusesTamperedText) {
  SecretBox box = TestBox();
  std::string sealed = box.Seal("sk-proj-secret-value");
  sealed[10] = sealed[10] == 'A' ? 'B' : 'A';
  EXPECT_EQ(box.Open(sealed).status().code(), absl::StatusCode::kDataLoss);
}

TEST(SecretBox, RefusesTextSealedWithAnotherKey) {
  SecretBox other = *SecretBox::FromKeyMaterial(std::string(64, 'b'));
  EXPECT_EQ(TestBox().Open(other.Seal("x")).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(SecretBox, AcceptsBase64KeyMaterial) {
  // 32 zero bytes in base64.
  auto box = SecretBox::FromKeyMaterial(
      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
  ASSERT_TRUE(box.ok()) << box.status();
  EXPECT_EQ(*box->Open(box->Seal("")), "");
}

TEST(SecretBox, RejectsShortKeyMaterialWithoutEchoingIt) {
  auto box = SecretBox::FromKeyMaterial("hunter2-not-a-key");
  ASSERT_EQ(box.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(box.status().message()).find("hunter2"),
            std::string::npos);
}

TEST(Sha256Hex, MatchesKnownVector) {
  EXPECT_EQ(Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Random, AlphanumericHasRequestedLengthAndAlphabet) {
  std::string s = RandomAlphanumeric(48);
  ASSERT_EQ(s.size(), 48u);
  for (char c : s) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)));
  EXPECT_NE(s, RandomAlphanumeric(48));
  EXPECT_EQ(RandomHex(6).size(), 12u);
}

TEST(Base64, RoundTripsEveryPaddingLength) {
  for (std::string s : {"", "a", "ab", "abc", "abcd"}) {
    EXPECT_EQ(*Base64Decode(Base64Encode(s)), s);
  }
  EXPECT_FALSE(Base64Decode("abc").ok());
}

}  // namespace
}  // namespace llmproxy
