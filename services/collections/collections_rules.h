// The pure rules of collections: how a payment is allocated to what a ledger
// owes, and how far behind a ledger is (days past due and its bucket). No gRPC,
// no database: the store and the adapter call these, the unit tests pin them.
//
// Allocation. Open items are installments with an outstanding balance per
// component (fee, interest, principal). A payment pays the oldest due item first
// (ties by installment number), and within an item its components in the
// configured ComponentOrder (fees, then interest, then principal by default).
// Nothing is rounded: every minor unit is either allocated or still owed.
// Allocating more than is owed is INVALID_ARGUMENT (over-allocation is refused,
// never turned into a silent credit).
//
// Aging. Days past due count from the oldest installment with a balance:
//   dpd = max(0, (as_of - due) - grace - paused)
// where `paused` is the number of days in the overdue period (due, as_of] that
// any pause covers (overlapping pauses count each day once; a pause is
// [start, end), open when it has no end). Buckets are configuration and must
// cover 0.. without gaps or overlaps, the last one open-ended.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"

namespace careops::collections {

enum class Component { kFee = 0, kInterest = 1, kPrincipal = 2 };
inline constexpr int kComponents = 3;
// "FEE", "INTEREST", "PRINCIPAL" (stored in the allocations table).
std::string_view ComponentName(Component c);
std::optional<Component> ParseComponent(std::string_view name);

// The order an installment's components are paid in.
class ComponentOrder {
 public:
  ComponentOrder() = default;  // fee, interest, principal
  // "fee,interest,principal" (each exactly once, any order); INVALID_ARGUMENT
  // naming allocation_order otherwise.
  static absl::StatusOr<ComponentOrder> Parse(std::string_view text);
  const std::array<Component, kComponents>& order() const { return order_; }

 private:
  std::array<Component, kComponents> order_ = {Component::kFee, Component::kInterest, Component::kPrincipal};
};

// An installment with something still owed.
struct OpenItem {
  std::string installment_id;
  std::string number;
  std::string kind = "REGULAR";  // the InstallmentKind short name
  absl::CivilDay due_date;
  std::array<int64_t, kComponents> outstanding{};  // by Component, minor units, >= 0
  int64_t total() const { return outstanding[0] + outstanding[1] + outstanding[2]; }
};

struct AllocationLine {
  std::string installment_id;
  Component component;
  int64_t amount_minor;
  friend bool operator==(const AllocationLine&, const AllocationLine&) = default;
};

// What one item is asked to receive in an explicit spread.
struct RequestedAllocation {
  std::string installment_id;
  int64_t amount_minor;
};

// `amount_minor` (> 0) over `items`, oldest due first. INVALID_ARGUMENT naming
// `amount` when it exceeds what the items owe together.
absl::StatusOr<std::vector<AllocationLine>> AllocateOldestFirst(std::vector<OpenItem> items, int64_t amount_minor,
                                                                const ComponentOrder& order);

// An explicit spread: each requested amount (> 0) to its item, by component
// order. INVALID_ARGUMENT naming allocations[i] for an unknown or repeated
// installment, a non-positive amount or more than the item owes, and naming
// `allocations` when they do not add up to `amount_minor`.
absl::StatusOr<std::vector<AllocationLine>> AllocateAsRequested(const std::vector<OpenItem>& items,
                                                                const std::vector<RequestedAllocation>& requested,
                                                                int64_t amount_minor, const ComponentOrder& order);

// ---- Aging ------------------------------------------------------------------

struct PauseSpan {
  absl::CivilDay start;
  std::optional<absl::CivilDay> end;  // exclusive; nullopt: still paused
};

// Days in (due, as_of] covered by at least one pause.
int64_t PausedDays(absl::CivilDay due, absl::CivilDay as_of, const std::vector<PauseSpan>& pauses);

// See the header comment; 0 when nothing is due or it is not yet late.
int64_t DaysPastDue(absl::CivilDay due, absl::CivilDay as_of, int64_t grace_days,
                    const std::vector<PauseSpan>& pauses);

struct Bucket {
  std::string name;
  int64_t min_days;
  std::optional<int64_t> max_days;  // inclusive; nullopt: open-ended
};

class AgingBuckets {
 public:
  // "current:0-0,1-30:1-30,31-60:31-60,61-90:61-90,91-120:91-120,120+:121-".
  // INVALID_ARGUMENT naming aging_buckets for a malformed entry, a first bucket
  // not starting at 0, a gap or an overlap between neighbours, a bounded last
  // bucket, an open bucket before the last, or a repeated name.
  static absl::StatusOr<AgingBuckets> Parse(std::string_view text);
  static std::string DefaultText();
  // The bucket holding `days` (>= 0).
  const Bucket& For(int64_t days) const;
  const std::vector<Bucket>& buckets() const { return buckets_; }

 private:
  std::vector<Bucket> buckets_;
};

// A ledger on one day: the account (anchored on its oldest item with a
// balance) and every installment with a balance, each in its bucket. Items due
// on or after `as_of` are current.
struct InstallmentAging {
  std::string installment_id;
  int64_t days_past_due = 0;
  std::string bucket;
  int64_t balance_minor = 0;
};

struct LedgerAging {
  absl::CivilDay as_of;
  int64_t days_past_due = 0;
  std::string bucket;
  std::optional<OpenItem> anchor;
  int64_t paused_days = 0;
  int64_t outstanding_minor = 0;
  int64_t past_due_minor = 0;
  std::vector<InstallmentAging> installments;
};

LedgerAging AgeLedger(std::vector<OpenItem> open_items, const std::vector<PauseSpan>& pauses, absl::CivilDay as_of,
                      int64_t grace_days, const AgingBuckets& buckets);

// ---- Matching unposted payments ----------------------------------------------
//
// A deposit line with no ledger is scored against a candidate ledger, 0..100:
//   +40  the reference text names the ledger id or one of its installment
//        numbers (case-insensitive, as a whole word; numbers of at least 3
//        characters, so "1" does not match every "Ref 1")
//   +25  the payer is the account name: the same words in any order, compared
//        by letters and digits (case, punctuation and Latin accents ignored:
//        "PENA, JUAN" is "Juan Peña"), legal forms and joiners left out
//        ("ACME TRADING" is "Acme Trading, Inc.");
//   +15  or the payer resembles it: every word of the shorter name stands for
//        its own word of the other, as the word, a typing slip (one edit in a
//        word of 4+ letters, two in 8+), an abbreviation of 3+ letters or an
//        initial, and at least one is more than an initial ("J DELA CRUZ",
//        "ACME TRDING" and "ACME TRAD" resemble "Juan dela Cruz" and "Acme
//        Trading"; "J D C" and "ACNE TOOLS" do not)
//   +20  the amount equals an open installment's balance or the total due
//   +15  the deposit date is within `near_days` of an open installment's due date
// Another currency than the ledger's scores 0 with that reason. The reasons
// say which rule gave what, for the clerk who decides.
struct DepositLine {
  std::string payer_name, reference_text, currency;
  int64_t amount_minor = 0;
  absl::CivilDay deposit_date;
};

struct MatchLedger {
  std::string ledger_id, account_name, currency;
  std::string account_id;  // not scored: shown to the clerk
  std::vector<OpenItem> open_items;
};

struct MatchScore {
  int score = 0;
  bool reference_matches = false;
  std::vector<std::string> reasons;
  std::string installment_id;  // named by the reference, else the one the amount equals
};

inline constexpr int kMatchMaxScore = 100;
inline constexpr int64_t kMatchNearDays = 7;

MatchScore ScoreMatch(const DepositLine& line, const MatchLedger& ledger, int64_t near_days = kMatchNearDays);

// Whether `word` appears in `text` as a whole word (neighbours not letters or
// digits), case-insensitive.
bool MentionsWord(std::string_view text, std::string_view word);

// Auto-posting: only a candidate whose reference matches, scored strictly
// above `threshold`, and better than every other candidate (a tie is for a
// clerk). `ranked` is best first.
bool ShouldAutoPost(const std::vector<MatchScore>& ranked, int threshold);

}  // namespace careops::collections
