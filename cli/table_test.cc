#include "cli/table.h"

#include "gtest/gtest.h"

namespace llmproxy::cli {
namespace {

TEST(Table, AlignsColumnsToTheWidestCell) {
  Table t({"ID", "NAME"});
  t.AddRow({"cn_1", "a"});
  t.AddRow({"cn_22", "bbb"});
  EXPECT_EQ(t.Render(),
            "ID     NAME\n"
            "cn_1   a\n"
            "cn_22  bbb\n");
}

TEST(Table, CountsEllipsisAsOneColumn) {
  Table t({"KEY", "X"});
  t.AddRow(
      {"sk-\xE2\x80\xA6"
       "abcd",
       "1"});  // "sk-…abcd", 8 columns
  t.AddRow({"12345678", "2"});
  EXPECT_EQ(t.Render(),
            "KEY       X\n"
            "sk-\xE2\x80\xA6"
            "abcd  1\n"
            "12345678  2\n");
}

TEST(Table, EmptyCellsPrintAsDash) {
  Table t({"A", "B", "C"});
  t.AddRow({"x", ""});
  EXPECT_EQ(t.Render(), "A  B  C\nx  -  -\n");
}

TEST(Table, ControlCharactersCannotBreakLines) {
  Table t({"NAME"});
  t.AddRow({"evil\nID  forged"});
  EXPECT_EQ(t.Render(), "NAME\nevil ID  forged\n");
}

TEST(Table, NoTrailingSpaces) {
  Table t({"LONGHEADER", "B"});
  t.AddRow({"x", "y"});
  EXPECT_EQ(t.Render().find(" \n"), std::string::npos) << t.Render();
}

TEST(DetailView, AlignsValues) {
  DetailView v;
  v.Add("id", "cn_1");
  v.Add("provider", "openai");
  v.Add("region", "");
  EXPECT_EQ(v.Render(),
            "id:        cn_1\n"
            "provider:  openai\n"
            "region:    -\n");
}

TEST(DisplayWidth, CountsCodePoints) {
  EXPECT_EQ(DisplayWidth("abc"), 3u);
  EXPECT_EQ(DisplayWidth("\xE2\x80\xA6"), 1u);
  EXPECT_EQ(DisplayWidth(""), 0u);
}

}  // namespace
}  // namespace llmproxy::cli
