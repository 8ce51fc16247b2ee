#include "common/secret_mask.h"

#include <gtest/gtest.h>

namespace llmproxy {
namespace {

TEST(MaskSecret, KeepsPrefixAndLastFourCharacters) {
  EXPECT_EQ(MaskSecret("sk-proj-1234567890abcd"), "sk-\u2026abcd");
}

TEST(MaskSecret, HidesShortSecretsEntirely) {
  EXPECT_EQ(MaskSecret("12345678"), "\u2026");
  EXPECT_EQ(MaskSecret(""), "\u2026");
}

}  // namespace
}  // namespace llmproxy
