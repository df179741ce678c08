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

}  // namespace
}  // namespace careops::collections
