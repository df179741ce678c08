// Ledger reconciliation: what billing finance's statement says of a ledger,
// compared with what the ledger says, as a list of differences. Pure: the store
// loads both sides, these decide, the store keeps the report.
//
// A statement row names a ledger and gives its expected balance, its expected
// payments (each with the bank or check reference it was posted with), or
// both. Payments are matched by reference:
//   MISSING_IN_LEDGER     the statement's payment is not POSTED in the ledger
//                         (or the ledger itself is unknown)
//   MISSING_IN_STATEMENT  a POSTED payment dated in the statement's period that
//                         the statement does not list (only for rows that list
//                         payments)
//   AMOUNT_DIFFERS        the balance, or a matched payment's amount
//   DATE_DIFFERS          a matched payment's date
// Every difference carries both sides' amounts (0 for a missing side) and
// difference = statement - ledger.
//
// Totals are computed from the rows themselves, per kind and currency, with
// checked Money arithmetic: they equal the rows by construction, and a sum
// beyond the Money bound is INVALID_ARGUMENT rather than a wrapped number.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"

namespace careops::collections {

enum class DifferenceKind { kMissingInLedger, kMissingInStatement, kAmountDiffers, kDateDiffers };
// "MISSING_IN_LEDGER", ... (stored, and the proto enum's short names).
std::string_view DifferenceKindName(DifferenceKind k);
std::optional<DifferenceKind> ParseDifferenceKind(std::string_view name);
inline constexpr DifferenceKind kDifferenceKinds[] = {DifferenceKind::kMissingInLedger,
                                                      DifferenceKind::kMissingInStatement,
                                                      DifferenceKind::kAmountDiffers, DifferenceKind::kDateDiffers};

struct DatedAmount {
  std::string reference;
  int64_t amount_minor = 0;
  absl::CivilDay date;
};

struct StatementLedger {
  std::string ledger_id;
  std::optional<int64_t> expected_balance_minor;
  std::vector<DatedAmount> expected_payments;  // empty: payments not compared
};

// The ledger's side; `known` false when the ledger does not exist.
struct LedgerSide {
  bool known = true;
  std::string currency;
  int64_t outstanding_minor = 0;  // owed at the end of the statement's period_end
  std::vector<DatedAmount> posted_payments;  // every POSTED payment with a reference
};

struct Difference {
  std::string ledger_id;
  DifferenceKind kind;
  std::string subject;  // "BALANCE" or "PAYMENT"
  std::string reference;
  std::string currency;
  int64_t statement_minor = 0, ledger_minor = 0;
  std::optional<absl::CivilDay> statement_date, ledger_date;
  int64_t difference_minor() const { return statement_minor - ledger_minor; }
  friend bool operator==(const Difference&, const Difference&) = default;
};

// The differences of one ledger over [period_start, period_end]; `currency`
// is the statement's for an unknown ledger. Statement order, then the
// ledger's extra payments by date and reference.
std::vector<Difference> ReconcileLedger(const StatementLedger& statement, const LedgerSide& ledger,
                                        const std::string& currency, absl::CivilDay period_start,
                                        absl::CivilDay period_end);

struct DifferenceTotal {
  DifferenceKind kind;
  std::string currency;
  int count = 0;
  int64_t statement_minor = 0, ledger_minor = 0, difference_minor = 0;
};

// Per kind (in kDifferenceKinds order) and currency (alphabetical), summed
// with Money's checked arithmetic; INVALID_ARGUMENT naming `totals` when a sum
// leaves the Money bound.
absl::StatusOr<std::vector<DifferenceTotal>> TotalDifferences(const std::vector<Difference>& rows);

// One CSV field (RFC 4180): quoted when it holds a comma, a quote, CR or LF,
// quotes doubled; a text that a spreadsheet would run as a formula (= + - @ at
// the start) gets a leading apostrophe.
std::string CsvField(std::string_view text, bool is_text = true);

}  // namespace careops::collections
