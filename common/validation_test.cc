#include "common/validation.h"

#include <gtest/gtest.h>

#include <string>

namespace careops {
namespace {

using absl::StatusCode;

TEST(ValidationTest, LengthCountsCharactersNotBytes) {
  EXPECT_EQ(Utf8Length("Ana"), 3u);
  EXPECT_EQ(Utf8Length("Peña"), 4u);            // ñ is two bytes
  EXPECT_EQ(Utf8Length("山田太郎"), 4u);        // twelve bytes
  EXPECT_EQ(Utf8Length("\xF0\x9F\x98\x80"), 1u);  // one emoji, four bytes
  // 100 characters of three bytes each fit a 100-character limit.
  std::string kanji;
  for (int i = 0; i < 100; ++i) kanji += "山";
  EXPECT_TRUE(RequireText(kanji, "given_name", 100).ok());
  EXPECT_EQ(RequireText(kanji + "山", "given_name", 100).message(), "given_name: must be at most 100 characters");
}

TEST(ValidationTest, RefusesInvalidUtf8) {
  for (std::string bad : {std::string("\xFF"), std::string("a\xC3"), std::string("\xC0\xAF"),  // truncated, overlong
                          std::string("\xED\xA0\x80"),                                           // surrogate
                          std::string("\xF4\x90\x80\x80")}) {                                     // above U+10FFFF
    EXPECT_EQ(Utf8Length(bad), std::nullopt) << Quote(bad);
    absl::Status s = RequireText(bad, "name", 100);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(s.message(), "name: must be valid UTF-8 text");
    EXPECT_EQ(RequireId(bad, "member_id", 64).message(), "member_id: must be valid UTF-8 text");
  }
}

TEST(ValidationTest, SingleLineFieldsRefuseEveryControlCharacter) {
  for (std::string bad : {std::string("a\nb"), std::string("a\tb"), std::string("a\rb"), std::string("a\x7F"),
                          std::string("a\xC2\x85"),  // U+0085, a C1 control
                          std::string("a\0b", 3)}) {
    EXPECT_EQ(RequireId(bad, "provider_id", 128).message(),
              "provider_id: must not contain control characters or line breaks")
        << Quote(bad);
    EXPECT_EQ(RequireText(bad, "name", 128).code(), StatusCode::kInvalidArgument);
  }
}

TEST(ValidationTest, MultiLineTextAllowsLineBreaksAndTabsOnly) {
  EXPECT_TRUE(RequireText("line one\nline two\tindented", "notes", 4000, TextKind::kMultiLine).ok());
  EXPECT_EQ(RequireText("bell\a", "notes", 4000, TextKind::kMultiLine).message(),
            "notes: must not contain control characters other than line breaks and tabs");
  EXPECT_EQ(RequireText("esc\x1B[2J", "notes", 4000, TextKind::kMultiLine).code(), StatusCode::kInvalidArgument);
}

TEST(ValidationTest, BlankOrInvisibleNamesAreEmpty) {
  for (std::string blank : {std::string(""), std::string("   "), std::string("\xC2\xA0"),   // NBSP
                            std::string("\xE3\x80\x80"),                                   // ideographic space
                            std::string("\xE2\x80\x8B\xE2\x80\x8C\xE2\x80\x8D"),           // ZWSP, ZWNJ, ZWJ
                            std::string("\xE2\x81\xA0 \xEF\xBB\xBF")}) {                   // word joiner, BOM
    EXPECT_EQ(RequireText(blank, "person.given_name", 100).message(), "person.given_name: must not be empty")
        << Quote(blank);
    EXPECT_EQ(RequireId(blank, "member_id", 64).message(), "member_id: is required") << Quote(blank);
  }
  EXPECT_TRUE(RequireText(" Ana ", "person.given_name", 100).ok());
  EXPECT_TRUE(RequireText("\xE2\x80\x8B" "Ana", "person.given_name", 100).ok());
}

TEST(ValidationTest, OptionalFieldsMayBeEmptyButNotBlank) {
  EXPECT_TRUE(OptionalText("", "reason", 10).ok());
  EXPECT_TRUE(OptionalId("", "account_id", 10).ok());
  EXPECT_EQ(OptionalText("\xE3\x80\x80", "account_officer", 10).message(),
            "account_officer: must be empty or have a visible character");
  EXPECT_EQ(OptionalText("12345678901", "reason", 10).message(), "reason: must be at most 10 characters");
  EXPECT_EQ(OptionalId("a\nb", "account_id", 10).code(), StatusCode::kInvalidArgument);
}

TEST(ValidationTest, IdListsCheckCountAndEachItem) {
  google::protobuf::RepeatedPtrField<std::string> items;
  *items.Add() = "J45.9";
  *items.Add() = "E11";
  EXPECT_TRUE(ValidateIdList(items, "diagnosis_codes", 50, 32).ok());
  *items.Add() = "";
  EXPECT_EQ(ValidateIdList(items, "diagnosis_codes", 50, 32).message(), "diagnosis_codes[2]: is required");
  items.Mutable(2)->assign("A\nB");
  EXPECT_EQ(ValidateIdList(items, "diagnosis_codes", 50, 32).message(),
            "diagnosis_codes[2]: must not contain control characters or line breaks");
  items.Mutable(2)->assign(33, 'X');
  EXPECT_EQ(ValidateIdList(items, "diagnosis_codes", 50, 32).message(),
            "diagnosis_codes[2]: must be at most 32 characters");
  EXPECT_EQ(ValidateIdList(items, "diagnosis_codes", 2, 32).message(), "diagnosis_codes: must have at most 2 entries");
}

TEST(ValidationTest, QuoteShowsOnlyAShortPrefix) {
  EXPECT_EQ(Quote("abc"), "'abc'");
  EXPECT_EQ(Quote(""), "''");
  std::string exact(kQuotedChars, 'x');
  EXPECT_EQ(Quote(exact), "'" + exact + "'");
  std::string huge(1 << 20, 'x');
  EXPECT_EQ(Quote(huge), "'" + exact + "…'");
  // Cut on a character boundary, never inside a multi-byte character.
  std::string kanji;
  for (int i = 0; i < 40; ++i) kanji += "山";
  std::string first32;
  for (int i = 0; i < 32; ++i) first32 += "山";
  EXPECT_EQ(Quote(kanji), "'" + first32 + "…'");
  // Control characters and bad bytes cannot break a log line or the message's UTF-8.
  EXPECT_EQ(Quote("a\nb\xFF"), "'a\\x0Ab\\xFF'");
  EXPECT_TRUE(Utf8Length(Quote("\xC3\x28\xA0\xA1")).has_value());
}

TEST(ValidationTest, EtagIsRequiredAndMustBeOneThisServiceIssued) {
  EXPECT_EQ(*ParseEtag("7"), 7);
  EXPECT_EQ(ParseEtag("").status().message(), "etag: is required (send the etag from your last read)");
  EXPECT_EQ(ParseEtag("", "account.etag").status().message(),
            "account.etag: is required (send the etag from your last read)");
  EXPECT_EQ(ParseEtag("0").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseEtag("-3").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseEtag("W/\"x\"").status().message(), "etag: 'W/\"x\"' is not an etag this service issued");
  // A megabyte etag comes back as a short message.
  std::string huge(1 << 20, '9');
  absl::Status s = ParseEtag(huge).status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_LT(s.message().size(), 100u);
}

TEST(ValidationTest, FieldNames) {
  EXPECT_EQ(SubField("", "name"), "name");
  EXPECT_EQ(SubField("account", "name"), "account.name");
  EXPECT_EQ(ItemField("rows", 3), "rows[3]");
}

}  // namespace
}  // namespace careops
