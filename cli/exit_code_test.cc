#include "cli/exit_code.h"

#include "gtest/gtest.h"

namespace llmproxy::cli {
namespace {

TEST(ExitCodeFor, IsTenPlusTheStatusCode) {
  EXPECT_EQ(ExitCodeFor(absl::OkStatus()), 0);
  EXPECT_EQ(ExitCodeFor(absl::NotFoundError("x")), 15);
  EXPECT_EQ(ExitCodeFor(absl::AlreadyExistsError("x")), 16);
  EXPECT_EQ(ExitCodeFor(absl::FailedPreconditionError("x")), 19);
  EXPECT_EQ(ExitCodeFor(absl::AbortedError("x")), 20);
  EXPECT_EQ(ExitCodeFor(absl::UnavailableError("x")), 24);
  EXPECT_EQ(ExitCodeFor(absl::UnauthenticatedError("x")), 26);
}

TEST(FormatError, OneLineWithTheCodeName) {
  EXPECT_EQ(
      FormatError(absl::AlreadyExistsError("connection name \"x\" is taken")),
      "error: ALREADY_EXISTS: connection name \"x\" is taken");
  EXPECT_EQ(FormatError(absl::InternalError("a\nb")), "error: INTERNAL: a b");
}

TEST(FromGrpc, KeepsCodeAndMessage) {
  absl::Status s =
      FromGrpc(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "bad token"));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(s.message(), "bad token");
}

TEST(ExitCodeHelp, ListsTheCodesScriptsCheck) {
  std::string help = ExitCodeHelp();
  EXPECT_NE(help.find("15  NOT_FOUND"), std::string::npos);
  EXPECT_NE(help.find("26  UNAUTHENTICATED"), std::string::npos);
}

}  // namespace
}  // namespace llmproxy::cli
