#include "services/collections/reconciliation_rules.h"

#include <gtest/gtest.h>

#include "common/money.h"

namespace careops::collections {
namespace {

using absl::CivilDay;

const CivilDay kStart(2026, 3, 1), kEnd(2026, 3, 31);

LedgerSide Ledger() {
  LedgerSide l;
  l.currency = "PHP";
  l.outstanding_minor = 50000;
  l.posted_payments = {{"CHK-1", 10000, CivilDay(2026, 3, 2)},
                       {"CHK-2", 20000, CivilDay(2026, 3, 9)},
                       {"CHK-3", 30000, CivilDay(2026, 3, 20)},
                       {"CHK-0", 5000, CivilDay(2026, 2, 20)}};  // before the period
  return l;
}

TEST(ReconcileLedger, AgreeingStatementHasNoDifferences) {
  StatementLedger s{"L1", 50000, {{"CHK-1", 10000, CivilDay(2026, 3, 2)},
                                  {"CHK-2", 20000, CivilDay(2026, 3, 9)},
                                  {"CHK-3", 30000, CivilDay(2026, 3, 20)}}};
  EXPECT_TRUE(ReconcileLedger(s, Ledger(), "PHP", kStart, kEnd).empty());
}

TEST(ReconcileLedger, EveryKindWithBothSides) {
  StatementLedger s{"L1", 45000, {{"CHK-1", 10000, CivilDay(2026, 3, 3)},    // date differs
                                  {"CHK-2", 25000, CivilDay(2026, 3, 9)},    // amount differs
                                  {"CHK-9", 7000, CivilDay(2026, 3, 10)}}};  // not in the ledger
  std::vector<Difference> d = ReconcileLedger(s, Ledger(), "PHP", kStart, kEnd);
  ASSERT_EQ(d.size(), 5u);
  EXPECT_EQ(d[0].kind, DifferenceKind::kAmountDiffers);
  EXPECT_EQ(d[0].subject, "BALANCE");
  EXPECT_EQ(d[0].difference_minor(), -5000);
  EXPECT_EQ(d[1].kind, DifferenceKind::kDateDiffers);
  EXPECT_EQ(d[1].reference, "CHK-1");
  EXPECT_EQ(d[1].ledger_date, CivilDay(2026, 3, 2));
  EXPECT_EQ(d[1].difference_minor(), 0);
  EXPECT_EQ(d[2].kind, DifferenceKind::kAmountDiffers);
  EXPECT_EQ(d[2].reference, "CHK-2");
  EXPECT_EQ(d[2].difference_minor(), 5000);
  EXPECT_EQ(d[3].kind, DifferenceKind::kMissingInLedger);
  EXPECT_EQ(d[3].statement_minor, 7000);
  EXPECT_EQ(d[3].ledger_minor, 0);
  // CHK-3 is in the period and not listed; CHK-0 is before the period.
  EXPECT_EQ(d[4].kind, DifferenceKind::kMissingInStatement);
  EXPECT_EQ(d[4].reference, "CHK-3");
  EXPECT_EQ(d[4].difference_minor(), -30000);
}

TEST(ReconcileLedger, ABalanceOnlyRowDoesNotComparePaymentsAndAnUnknownLedgerIsMissing) {
  StatementLedger balance_only{"L1", 50000, {}};
  EXPECT_TRUE(ReconcileLedger(balance_only, Ledger(), "PHP", kStart, kEnd).empty());
  LedgerSide unknown;
  unknown.known = false;
  StatementLedger s{"L404", 1000, {{"X-1", 1000, CivilDay(2026, 3, 5)}}};
  std::vector<Difference> d = ReconcileLedger(s, unknown, "PHP", kStart, kEnd);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].kind, DifferenceKind::kMissingInLedger);
  EXPECT_EQ(d[0].subject, "BALANCE");
  EXPECT_EQ(d[1].subject, "PAYMENT");
  EXPECT_EQ(d[1].currency, "PHP");
}

TEST(TotalDifferences, TotalsEqualTheRowsPerKindAndCurrency) {
  StatementLedger s{"L1", 45000, {{"CHK-1", 10000, CivilDay(2026, 3, 3)},
                                  {"CHK-2", 25000, CivilDay(2026, 3, 9)},
                                  {"CHK-9", 7000, CivilDay(2026, 3, 10)}}};
  std::vector<Difference> rows = ReconcileLedger(s, Ledger(), "PHP", kStart, kEnd);
  rows.push_back({"L2", DifferenceKind::kAmountDiffers, "BALANCE", "", "USD", 100, 40, {}, {}});
  absl::StatusOr<std::vector<DifferenceTotal>> totals = TotalDifferences(rows);
  ASSERT_TRUE(totals.ok()) << totals.status();
  int count = 0;
  for (const DifferenceTotal& t : *totals) {
    int64_t statement = 0, ledger = 0, difference = 0;
    int n = 0;
    for (const Difference& d : rows) {
      if (d.kind != t.kind || d.currency != t.currency) continue;
      ++n;
      statement += d.statement_minor;
      ledger += d.ledger_minor;
      difference += d.difference_minor();
    }
    EXPECT_EQ(t.count, n);
    EXPECT_EQ(t.statement_minor, statement);
    EXPECT_EQ(t.ledger_minor, ledger);
    EXPECT_EQ(t.difference_minor, difference);
    count += t.count;
  }
  EXPECT_EQ(count, static_cast<int>(rows.size()));
  // Kind order, then currency: AMOUNT_DIFFERS PHP before AMOUNT_DIFFERS USD.
  ASSERT_EQ(totals->size(), 5u);
  EXPECT_EQ((*totals)[0].kind, DifferenceKind::kMissingInLedger);
  EXPECT_EQ((*totals)[2].kind, DifferenceKind::kAmountDiffers);
  EXPECT_EQ((*totals)[2].currency, "PHP");
  EXPECT_EQ((*totals)[2].count, 2);
  EXPECT_EQ((*totals)[3].currency, "USD");
}

TEST(TotalDifferences, ASumBeyondTheMoneyBoundIsRefusedNotWrapped) {
  std::vector<Difference> rows(2, {"L1", DifferenceKind::kMissingInLedger, "PAYMENT", "R", "PHP", kMaxMoneyMinor, 0,
                                   {}, {}});
  absl::StatusOr<std::vector<DifferenceTotal>> totals = TotalDifferences(rows);
  EXPECT_EQ(totals.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(totals.status().message().find("totals"), std::string::npos);
}

TEST(CsvField, QuotesCommasQuotesAndLineBreaksAndDisarmsFormulas) {
  EXPECT_EQ(CsvField("plain"), "plain");
  EXPECT_EQ(CsvField("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvField("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvField("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(CsvField("=SUM(A1)"), "'=SUM(A1)");
  EXPECT_EQ(CsvField("-12.50", false), "-12.50");
  EXPECT_EQ(CsvField(""), "");
}

}  // namespace
}  // namespace careops::collections
