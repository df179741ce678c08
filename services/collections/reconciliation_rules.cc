#include "services/collections/reconciliation_rules.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/money.h"
#include "common/status.h"

namespace careops::collections {

std::string_view DifferenceKindName(DifferenceKind k) {
  switch (k) {
    case DifferenceKind::kMissingInLedger:
      return "MISSING_IN_LEDGER";
    case DifferenceKind::kMissingInStatement:
      return "MISSING_IN_STATEMENT";
    case DifferenceKind::kAmountDiffers:
      return "AMOUNT_DIFFERS";
    case DifferenceKind::kDateDiffers:
      return "DATE_DIFFERS";
  }
  return "AMOUNT_DIFFERS";
}

std::optional<DifferenceKind> ParseDifferenceKind(std::string_view name) {
  for (DifferenceKind k : kDifferenceKinds) {
    if (DifferenceKindName(k) == name) return k;
  }
  return std::nullopt;
}

std::vector<Difference> ReconcileLedger(const StatementLedger& statement, const LedgerSide& ledger,
                                        const std::string& currency, absl::CivilDay period_start,
                                        absl::CivilDay period_end) {
  std::vector<Difference> out;
  const std::string cur = ledger.known ? ledger.currency : currency;
  auto diff = [&](DifferenceKind kind, std::string subject, std::string reference) -> Difference& {
    out.push_back({statement.ledger_id, kind, std::move(subject), std::move(reference), cur, 0, 0, {}, {}});
    return out.back();
  };
  if (!ledger.known) {
    if (statement.expected_balance_minor) {
      diff(DifferenceKind::kMissingInLedger, "BALANCE", "").statement_minor = *statement.expected_balance_minor;
    }
    for (const DatedAmount& p : statement.expected_payments) {
      Difference& d = diff(DifferenceKind::kMissingInLedger, "PAYMENT", p.reference);
      d.statement_minor = p.amount_minor;
      d.statement_date = p.date;
    }
    return out;
  }
  if (statement.expected_balance_minor && *statement.expected_balance_minor != ledger.outstanding_minor) {
    Difference& d = diff(DifferenceKind::kAmountDiffers, "BALANCE", "");
    d.statement_minor = *statement.expected_balance_minor;
    d.ledger_minor = ledger.outstanding_minor;
  }
  if (statement.expected_payments.empty()) return out;
  std::map<std::string, const DatedAmount*> posted;
  for (const DatedAmount& p : ledger.posted_payments) posted[p.reference] = &p;
  std::set<std::string> listed;
  for (const DatedAmount& p : statement.expected_payments) {
    listed.insert(p.reference);
    auto it = posted.find(p.reference);
    if (it == posted.end()) {
      Difference& d = diff(DifferenceKind::kMissingInLedger, "PAYMENT", p.reference);
      d.statement_minor = p.amount_minor;
      d.statement_date = p.date;
      continue;
    }
    const DatedAmount& l = *it->second;
    if (l.amount_minor != p.amount_minor) {
      Difference& d = diff(DifferenceKind::kAmountDiffers, "PAYMENT", p.reference);
      d.statement_minor = p.amount_minor;
      d.ledger_minor = l.amount_minor;
      d.statement_date = p.date;
      d.ledger_date = l.date;
    }
    if (l.date != p.date) {
      // Dates only: the amounts agree (or differ in their own row), so both are shown equal here.
      Difference& d = diff(DifferenceKind::kDateDiffers, "PAYMENT", p.reference);
      d.statement_minor = p.amount_minor;
      d.ledger_minor = p.amount_minor;
      d.statement_date = p.date;
      d.ledger_date = l.date;
    }
  }
  std::vector<const DatedAmount*> extra;
  for (const DatedAmount& l : ledger.posted_payments) {
    if (l.date >= period_start && l.date <= period_end && listed.count(l.reference) == 0) extra.push_back(&l);
  }
  std::sort(extra.begin(), extra.end(), [](const DatedAmount* a, const DatedAmount* b) {
    return a->date != b->date ? a->date < b->date : a->reference < b->reference;
  });
  for (const DatedAmount* l : extra) {
    Difference& d = diff(DifferenceKind::kMissingInStatement, "PAYMENT", l->reference);
    d.ledger_minor = l->amount_minor;
    d.ledger_date = l->date;
  }
  return out;
}

absl::StatusOr<std::vector<DifferenceTotal>> TotalDifferences(const std::vector<Difference>& rows) {
  struct Sums {
    int count = 0;
    Money statement, ledger, difference;
  };
  std::map<std::pair<int, std::string>, Sums> sums;
  for (const Difference& d : rows) {
    auto [it, fresh] = sums.try_emplace({static_cast<int>(d.kind), d.currency});
    Sums& s = it->second;
    if (fresh) s = {0, Money(d.currency, 0), Money(d.currency, 0), Money(d.currency, 0)};
    s.count += 1;
    absl::StatusOr<Money> statement = s.statement.Add(Money(d.currency, d.statement_minor));
    absl::StatusOr<Money> ledger = s.ledger.Add(Money(d.currency, d.ledger_minor));
    absl::StatusOr<Money> difference =
        statement.ok() && ledger.ok() ? s.difference.Add(Money(d.currency, d.difference_minor()))
                                      : absl::StatusOr<Money>(absl::InvalidArgumentError("overflow"));
    if (!statement.ok() || !ledger.ok() || !difference.ok()) {
      return InvalidArgument("totals", absl::StrCat("the ", std::string(DifferenceKindName(d.kind)), " amounts in ", d.currency,
                                                    " add up beyond the Money bound"));
    }
    s.statement = *statement;
    s.ledger = *ledger;
    s.difference = *difference;
  }
  std::vector<DifferenceTotal> out;
  for (DifferenceKind k : kDifferenceKinds) {
    for (const auto& [key, s] : sums) {
      if (key.first != static_cast<int>(k)) continue;
      out.push_back({k, key.second, s.count, s.statement.minor(), s.ledger.minor(), s.difference.minor()});
    }
  }
  return out;
}

std::string CsvField(std::string_view text, bool is_text) {
  std::string value(text);
  if (is_text && !value.empty() && (value[0] == '=' || value[0] == '+' || value[0] == '-' || value[0] == '@')) {
    value.insert(value.begin(), '\'');
  }
  if (value.find_first_of(",\"\r\n") == std::string::npos) return value;
  std::string out = "\"";
  for (char c : value) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

}  // namespace careops::collections
