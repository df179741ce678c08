#include "services/collections/collections_rules.h"

#include <gtest/gtest.h>

namespace careops::collections {
namespace {

using absl::CivilDay;

OpenItem Item(std::string id, CivilDay due, int64_t fee, int64_t interest, int64_t principal) {
  OpenItem item;
  item.installment_id = id;
  item.number = id;
  item.due_date = due;
  item.outstanding = {fee, interest, principal};
  return item;
}

TEST(AllocateOldestFirst, PaysOldestDueFirstAndFeesInterestPrincipalWithin) {
  std::vector<OpenItem> items = {Item("b", CivilDay(2026, 2, 1), 0, 0, 1000),
                                 Item("a", CivilDay(2026, 1, 1), 50, 20, 1000)};
  auto lines = AllocateOldestFirst(items, 1100, ComponentOrder());
  ASSERT_TRUE(lines.ok()) << lines.status();
  std::vector<AllocationLine> want = {{"a", Component::kFee, 50},
                                      {"a", Component::kInterest, 20},
                                      {"a", Component::kPrincipal, 1000},
                                      {"b", Component::kPrincipal, 30}};
  EXPECT_EQ(*lines, want);
}

TEST(AllocateOldestFirst, ConfiguredOrderIsFollowed) {
  auto order = ComponentOrder::Parse("principal, interest, fee");
  ASSERT_TRUE(order.ok());
  auto lines = AllocateOldestFirst({Item("a", CivilDay(2026, 1, 1), 50, 20, 100)}, 110, *order);
  ASSERT_TRUE(lines.ok());
  std::vector<AllocationLine> want = {{"a", Component::kPrincipal, 100}, {"a", Component::kInterest, 10}};
  EXPECT_EQ(*lines, want);
}

TEST(AllocateOldestFirst, OneMinorUnitRemainderStaysOwed) {
  auto lines = AllocateOldestFirst({Item("a", CivilDay(2026, 1, 1), 0, 0, 10001)}, 10000, ComponentOrder());
  ASSERT_TRUE(lines.ok());
  ASSERT_EQ(lines->size(), 1u);
  EXPECT_EQ((*lines)[0].amount_minor, 10000);
}

TEST(AllocateOldestFirst, OverAllocationIsRefused) {
  auto lines = AllocateOldestFirst({Item("a", CivilDay(2026, 1, 1), 0, 0, 100)}, 101, ComponentOrder());
  EXPECT_EQ(lines.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(lines.status().message().find("amount"), std::string::npos);
  EXPECT_EQ(AllocateOldestFirst({}, 0, ComponentOrder()).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(AllocateOldestFirst, TiesOnDueDateGoByNumber) {
  auto lines = AllocateOldestFirst({Item("2", CivilDay(2026, 1, 1), 0, 0, 100), Item("1", CivilDay(2026, 1, 1), 0, 0, 100)},
                                   150, ComponentOrder());
  ASSERT_TRUE(lines.ok());
  std::vector<AllocationLine> want = {{"1", Component::kPrincipal, 100}, {"2", Component::kPrincipal, 50}};
  EXPECT_EQ(*lines, want);
}

TEST(AllocateAsRequested, SpreadsOverNamedInstallments) {
  std::vector<OpenItem> items = {Item("a", CivilDay(2026, 1, 1), 10, 0, 100), Item("b", CivilDay(2026, 2, 1), 0, 0, 100),
                                 Item("c", CivilDay(2026, 3, 1), 0, 0, 100)};
  auto lines = AllocateAsRequested(items, {{"c", 100}, {"a", 20}}, 120, ComponentOrder());
  ASSERT_TRUE(lines.ok()) << lines.status();
  std::vector<AllocationLine> want = {
      {"c", Component::kPrincipal, 100}, {"a", Component::kFee, 10}, {"a", Component::kPrincipal, 10}};
  EXPECT_EQ(*lines, want);
}

TEST(AllocateAsRequested, RefusesMoreThanOwedUnknownRepeatedAndWrongSum) {
  std::vector<OpenItem> items = {Item("a", CivilDay(2026, 1, 1), 0, 0, 100)};
  auto over = AllocateAsRequested(items, {{"a", 101}}, 101, ComponentOrder());
  EXPECT_EQ(over.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(over.status().message().find("allocations[0].amount"), std::string::npos);
  EXPECT_NE(AllocateAsRequested(items, {{"x", 1}}, 1, ComponentOrder()).status().message().find("installment_id"),
            std::string::npos);
  EXPECT_NE(AllocateAsRequested(items, {{"a", 1}, {"a", 1}}, 2, ComponentOrder()).status().message().find("more than once"),
            std::string::npos);
  EXPECT_NE(AllocateAsRequested(items, {{"a", 50}}, 60, ComponentOrder()).status().message().find("add up to"),
            std::string::npos);
}

TEST(ComponentOrder, RejectsMissingOrRepeatedComponents) {
  EXPECT_FALSE(ComponentOrder::Parse("fee,fee,principal").ok());
  EXPECT_FALSE(ComponentOrder::Parse("fee,interest").ok());
  EXPECT_FALSE(ComponentOrder::Parse("fee,interest,tax").ok());
}

TEST(Aging, GraceIsSubtracted) {
  CivilDay due(2026, 1, 10);
  EXPECT_EQ(DaysPastDue(due, due, 5, {}), 0);
  EXPECT_EQ(DaysPastDue(due, due + 5, 5, {}), 0);
  EXPECT_EQ(DaysPastDue(due, due + 6, 5, {}), 1);
  EXPECT_EQ(DaysPastDue(due, due + 40, 0, {}), 40);
  EXPECT_EQ(DaysPastDue(due, due - 3, 0, {}), 0);
}

TEST(Aging, OverlappingPausesCountEachDayOnce) {
  CivilDay due(2026, 1, 1);
  // Promise to pay days 11..20, dispute days 16..25: 15 distinct days.
  std::vector<PauseSpan> pauses = {{due + 11, due + 21}, {due + 16, due + 26}};
  EXPECT_EQ(PausedDays(due, due + 40, pauses), 15);
  EXPECT_EQ(DaysPastDue(due, due + 40, 0, pauses), 25);
}

TEST(Aging, BackdatedAndOpenPausesAreClippedToTheOverduePeriod) {
  CivilDay due(2026, 1, 1);
  // Starts before the due date and is still open: only (due, as_of] counts.
  EXPECT_EQ(PausedDays(due, due + 10, {{due - 5, std::nullopt}}), 10);
  EXPECT_EQ(DaysPastDue(due, due + 10, 0, {{due - 5, std::nullopt}}), 0);
  // Resumed early: the end moved in gives the days back to the count.
  EXPECT_EQ(DaysPastDue(due, due + 30, 0, {{due + 1, due + 6}}), 25);
}

TEST(AgingBuckets, DefaultParsesAndPlacesDays) {
  auto b = AgingBuckets::Parse(AgingBuckets::DefaultText());
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->For(0).name, "current");
  EXPECT_EQ(b->For(1).name, "1-30");
  EXPECT_EQ(b->For(30).name, "1-30");
  EXPECT_EQ(b->For(31).name, "31-60");
  EXPECT_EQ(b->For(120).name, "91-120");
  EXPECT_EQ(b->For(5000).name, "120+");
}

TEST(AgingBuckets, GapsOverlapsAndBoundedLastAreRefused) {
  auto gap = AgingBuckets::Parse("current:0-0,1-30:1-30,40+:40-");
  EXPECT_EQ(gap.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(gap.status().message().find("31..39"), std::string::npos);
  auto overlap = AgingBuckets::Parse("current:0-0,a:1-30,b:30-");
  EXPECT_NE(overlap.status().message().find("overlaps"), std::string::npos);
  EXPECT_FALSE(AgingBuckets::Parse("current:0-0,a:1-30").ok());
  EXPECT_FALSE(AgingBuckets::Parse("late:1-").ok());
  EXPECT_FALSE(AgingBuckets::Parse("current:0-,a:1-").ok());
  EXPECT_FALSE(AgingBuckets::Parse("x:0-0,x:1-").ok());
  EXPECT_FALSE(AgingBuckets::Parse("junk").ok());
}

TEST(AgeLedger, AnchorsOnTheOldestItemWithABalanceAndAgesEachInstallment) {
  auto buckets = *AgingBuckets::Parse(AgingBuckets::DefaultText());
  std::vector<OpenItem> items = {Item("feb", CivilDay(2026, 2, 1), 0, 0, 100), Item("jan", CivilDay(2026, 1, 1), 0, 0, 0),
                                 Item("mar", CivilDay(2026, 3, 10), 0, 0, 100)};
  LedgerAging a = AgeLedger(items, {}, CivilDay(2026, 3, 5), 0, buckets);
  ASSERT_TRUE(a.anchor);
  EXPECT_EQ(a.anchor->installment_id, "feb");  // jan is paid
  EXPECT_EQ(a.days_past_due, 32);
  EXPECT_EQ(a.bucket, "31-60");
  EXPECT_EQ(a.outstanding_minor, 200);
  EXPECT_EQ(a.past_due_minor, 100);
  ASSERT_EQ(a.installments.size(), 2u);
  EXPECT_EQ(a.installments[1].installment_id, "mar");
  EXPECT_EQ(a.installments[1].bucket, "current");
  LedgerAging none = AgeLedger({}, {}, CivilDay(2026, 3, 5), 0, buckets);
  EXPECT_FALSE(none.anchor);
  EXPECT_EQ(none.bucket, "current");
}

// ---- Match scoring ------------------------------------------------------------

MatchLedger Acme() {
  MatchLedger l{"01LEDGERACME0000000000000", "Acme Trading, Inc.", "PHP", "ACC-1", {}};
  l.open_items = {Item("i1", CivilDay(2026, 3, 1), 0, 0, 150000), Item("i2", CivilDay(2026, 4, 1), 0, 0, 150000)};
  l.open_items[0].number = "INS-0001";
  l.open_items[1].number = "INS-0002";
  return l;
}

DepositLine Line(std::string payer, std::string ref, int64_t amount, CivilDay date) {
  return {std::move(payer), std::move(ref), "PHP", amount, date};
}

TEST(ScoreMatch, EveryRuleAddsItsPointsWithItsReason) {
  MatchScore s = ScoreMatch(Line("ACME TRADING INC", "payment for INS-0002", 150000, CivilDay(2026, 4, 3)), Acme());
  EXPECT_TRUE(s.reference_matches);
  EXPECT_EQ(s.installment_id, "i2");
  EXPECT_EQ(s.score, 40 + 25 + 20 + 15);
  ASSERT_EQ(s.reasons.size(), 4u);
  EXPECT_EQ(s.reasons[0], "reference names installment INS-0002 (+40)");
  EXPECT_EQ(s.reasons[1], "payer is the account name (+25)");
  EXPECT_EQ(s.reasons[2], "amount equals installment INS-0001's balance (+20)");
  EXPECT_EQ(s.reasons[3], "deposit date is 2 day(s) from installment INS-0002's due date (+15)");
}

TEST(ScoreMatch, TheLedgerIdInTheReferenceMatches) {
  MatchScore s = ScoreMatch(Line("someone", "ref 01ledgeracme0000000000000.", 1, CivilDay(2026, 6, 1)), Acme());
  EXPECT_TRUE(s.reference_matches);
  EXPECT_EQ(s.score, 40);
}

TEST(ScoreMatch, AWordInsideAnotherWordOrAShortNumberIsNoReference) {
  MatchLedger l = Acme();
  EXPECT_FALSE(ScoreMatch(Line("x", "XINS-0002", 1, CivilDay(2026, 6, 1)), l).reference_matches);
  EXPECT_FALSE(ScoreMatch(Line("x", "INS-00021", 1, CivilDay(2026, 6, 1)), l).reference_matches);
  l.open_items[0].number = "1";
  EXPECT_FALSE(ScoreMatch(Line("x", "Ref 1", 1, CivilDay(2026, 6, 1)), l).reference_matches);
  EXPECT_TRUE(MentionsWord("(ins-0002)", "INS-0002"));
}

TEST(ScoreMatch, PartialNameTotalDueAndFarDates) {
  // "Acme" is in "Acme Trading, Inc.": resembles; 3,000.00 is the total due.
  MatchScore s = ScoreMatch(Line("Acme", "", 300000, CivilDay(2026, 5, 20)), Acme());
  EXPECT_FALSE(s.reference_matches);
  EXPECT_EQ(s.score, 15 + 20);
  EXPECT_EQ(s.reasons.back(), "amount equals the total due (+20)");
  // Eight days from the nearest due date is not near.
  EXPECT_EQ(ScoreMatch(Line("Other", "", 1, CivilDay(2026, 3, 9)), Acme()).score, 0);
  EXPECT_EQ(ScoreMatch(Line("Other", "", 1, CivilDay(2026, 3, 8)), Acme()).score, 15);
}

int PayerPoints(std::string_view payer, std::string_view account) {
  MatchLedger l{"L", std::string(account), "PHP", "ACC", {}};
  return ScoreMatch(Line(std::string(payer), "", 1, CivilDay(2026, 6, 1)), l).score;
}

TEST(ScoreMatch, ThePayerIsTheAccountWhateverTheOrderAccentsAndLegalForm) {
  EXPECT_EQ(PayerPoints("ACME TRADING", "Acme Trading, Inc."), 25);
  EXPECT_EQ(PayerPoints("The Acme Trading Co. Ltd", "ACME TRADING CORPORATION"), 25);
  EXPECT_EQ(PayerPoints("DELA CRUZ, JUAN", "Juan dela Cruz"), 25);
  EXPECT_EQ(PayerPoints("PENA JOSE MARIA", "Jos\xC3\xA9 Mar\xC3\xAD" "a Pe\xC3\xB1" "a"), 25);  // José María Peña
  EXPECT_EQ(PayerPoints("M\xC3\x9CLLER GMBH", "Muller"), 25);                           // MÜLLER GMBH
  // A name in another script compares with itself, and is not every other name.
  EXPECT_EQ(PayerPoints("\xE5\xB1\xB1\xE7\x94\xB0", "\xE5\xB1\xB1\xE7\x94\xB0"), 25);  // 山田
  EXPECT_EQ(PayerPoints("\xE5\xB1\xB1\xE7\x94\xB0", "Acme"), 0);
  // A name made only of legal forms is still compared by them.
  EXPECT_EQ(PayerPoints("Company Inc", "Company Inc"), 25);
}

TEST(ScoreMatch, APayerThatResemblesTheAccountScores15) {
  EXPECT_EQ(PayerPoints("J DELA CRUZ", "Juan dela Cruz"), 15);         // an initial
  EXPECT_EQ(PayerPoints("ACME TRDING", "Acme Trading, Inc."), 15);     // one slip in a long word
  EXPECT_EQ(PayerPoints("ACEM TRADING", "Acme Trading"), 15);          // two letters swapped
  EXPECT_EQ(PayerPoints("ACME TRAD", "Acme Trading"), 15);             // an abbreviation
  EXPECT_EQ(PayerPoints("INTERNATONAL SHIPPNG", "International Shipping"), 15);
  EXPECT_EQ(PayerPoints("Acme", "Acme Trading"), 15);                  // part of the name
  EXPECT_EQ(PayerPoints("Acme Trading Manila Branch", "Acme Trading"), 15);
}

TEST(ScoreMatch, ANameThatOnlySharesInitialsOrNearWordsDoesNotResemble) {
  EXPECT_EQ(PayerPoints("J D C", "Juan dela Cruz"), 0);      // initials only
  EXPECT_EQ(PayerPoints("ACNE TOOLS", "Acme Trading"), 0);   // one near word, one other
  EXPECT_EQ(PayerPoints("ABC", "ABD"), 0);                   // no slip allowed under 4 letters
  EXPECT_EQ(PayerPoints("TR", "Trading"), 0);                // an abbreviation needs 3 letters
  EXPECT_EQ(PayerPoints("Juan Juan", "Juan Cruz"), 0);       // each word stands for its own
  EXPECT_EQ(PayerPoints("", "Acme"), 0);
  EXPECT_EQ(PayerPoints("Inc", "Acme Inc"), 0);              // a legal form is no name
}

TEST(ScoreMatch, AnotherCurrencyScoresNothing) {
  DepositLine line = Line("Acme Trading Inc", "INS-0001", 150000, CivilDay(2026, 3, 1));
  line.currency = "USD";
  MatchScore s = ScoreMatch(line, Acme());
  EXPECT_EQ(s.score, 0);
  EXPECT_FALSE(s.reference_matches);
  ASSERT_EQ(s.reasons.size(), 1u);
  EXPECT_EQ(s.reasons[0], "currency USD is not the ledger's PHP");
}

TEST(ShouldAutoPost, OnlyAMatchingReferenceAboveTheThresholdAndNoTie) {
  MatchScore ref{85, true, {}, ""}, no_ref{85, false, {}, ""}, lower{60, false, {}, ""};
  EXPECT_TRUE(ShouldAutoPost({ref, lower}, 80));
  EXPECT_FALSE(ShouldAutoPost({ref, lower}, 85));  // above, not equal
  EXPECT_FALSE(ShouldAutoPost({no_ref}, 10));      // score alone is not enough
  EXPECT_FALSE(ShouldAutoPost({ref, no_ref}, 10)); // a tie is for a clerk
  EXPECT_FALSE(ShouldAutoPost({}, 0));
  EXPECT_FALSE(ShouldAutoPost({ref}, kMatchMaxScore));  // the default threshold: never
}

}  // namespace
}  // namespace careops::collections
