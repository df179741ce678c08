// The dunning ladder, as pure rules: which notices a ledger gets on a day, what
// each asks for, and when one is resolved or lapses. No gRPC, no database: the
// store loads a ledger under its lock, DecideDunning() decides, the store writes
// what was decided (dunning in mysql_collections_store.cc).
//
// The ladder is configuration (DunningLadder::Parse): pre-due reminders N days
// before a due date, then notices at D days past due (first, second, third, then
// the Notice of Cancellation with its grace). Each notice rung may carry a fee
// (minor units of the ledger's currency) and an annual interest rate in basis
// points; interest = outstanding principal x rate / 365 x days past due, one
// rounding (Money::Scale). Both become explicit installments due on the issue
// date, so a notice is resolved only when everything it asked for is paid: the
// installments it covered and its own fee and interest.
//
// Never skipping a rung: a ledger's ladder notices of one episode are issued in
// order, at most one per run; the next is due when the days past due reached its
// day AND at least its spacing (at least one day) passed since the previous was
// issued. A run that is late issues the next rung, not the most severe one that
// matches. An episode ends when the ledger is current (0 days past due) and none
// of its notices is still ISSUED; the next past-due spell starts a new one.
//
// Determinism: the decision depends only on the ledger's data and `as_of`, so a
// re-run of a day decides nothing new (the rung was issued; the reminder's
// subject exists) and a replay of a past day cannot issue before a later notice.
//
// Reminders: a REGULAR installment with principal owed and due after as_of gets
// the reminder of the smallest lead that still covers the days to its due date,
// once (a late run sends the nearer reminder, not the missed earlier one). A
// BALLOON or RETENTION balance still owed gets the balance reminders the same
// way at their lead times; one paid in full gets none.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "services/collections/collections_rules.h"

namespace careops::collections {

enum class RungKind { kReminder, kFirst, kSecond, kThird, kCancellation, kBalanceReminder };
// "REMINDER", "FIRST_NOTICE", "SECOND_NOTICE", "THIRD_NOTICE",
// "NOTICE_OF_CANCELLATION", "BALANCE_REMINDER": the NoticeRung short names,
// stored and exported.
std::string_view RungKindName(RungKind kind);
std::optional<RungKind> ParseRungKind(std::string_view name);
// "Payment reminder", "First notice", ..., "Notice of Cancellation".
std::string RungTitle(RungKind kind);

struct Rung {
  RungKind kind = RungKind::kFirst;
  // Reminders: days before the due date; notices: days past due.
  int64_t day = 0;
  int64_t fee_minor = 0;
  int64_t rate_bp = 0;       // annual interest rate, basis points
  int64_t spacing_days = 1;  // at least this long after the previous rung was issued
  int64_t grace_days = 0;    // Notice of Cancellation: days until it lapses
  // "reminder-7", "first", "second", "third", "noc".
  std::string name() const;
};

class DunningLadder {
 public:
  // Comma-separated rungs, each name:day then optional key=value fields:
  //   reminder:7,reminder:1,first:10,second:30:fee=50000:rate_bp=1200:spacing=7,
  //   third:60:fee=100000:rate_bp=1200,noc:90:grace=15
  // INVALID_ARGUMENT naming dunning_ladder for an unknown rung or field, a day
  // below 1, a repeated reminder lead or notice, notices out of order (first,
  // second, third, noc) or days not increasing, a grace outside noc, noc
  // without a grace, negative amounts, or no notice at all.
  static absl::StatusOr<DunningLadder> Parse(std::string_view text);
  static std::string DefaultText();
  const std::vector<Rung>& reminders() const { return reminders_; }  // largest lead first
  // Maturing balloon / remaining and retention balances: largest lead first.
  const std::vector<Rung>& balance_reminders() const { return balance_reminders_; }
  const std::vector<Rung>& notices() const { return notices_; }      // ladder order

 private:
  std::vector<Rung> reminders_;
  std::vector<Rung> balance_reminders_;
  std::vector<Rung> notices_;
};

enum class NoticeState { kIssued, kResolved, kWithdrawn, kLapsed };
// "ISSUED", "RESOLVED", "WITHDRAWN", "LAPSED" (NoticeStatus short names).
std::string_view NoticeStateName(NoticeState s);
std::optional<NoticeState> ParseNoticeState(std::string_view name);

// A stored notice, as the decision needs it.
struct NoticeRecord {
  std::string notice_id;
  RungKind kind = RungKind::kFirst;
  int episode = 0;
  int sequence = 0;  // 1.. on the ladder; 0 for a reminder
  absl::CivilDay issued_on;
  NoticeState state = NoticeState::kIssued;
  std::optional<absl::CivilDay> grace_until;
  std::vector<std::string> covered;  // installment ids
  // A Notice of Cancellation's round of account changes: 0 as issued, one more
  // each time a given-back payment reopens it after it was WITHDRAWN (each
  // round's suspension, reinstatement and cancellation are new requests).
  int account_round = 0;
};

// A ledger under its lock on the day of the run.
struct DunningInputs {
  std::vector<OpenItem> open_items;  // installments with a balance
  std::vector<PauseSpan> pauses;
  int episode = 1;                      // the ledger's current episode
  // The day the current episode began (the run that closed the one before);
  // none for the first. A run dated before it (a back-fill, which sees the
  // balances of its day) issues no ladder notice: the earlier episode's
  // notices cover those days.
  std::optional<absl::CivilDay> episode_since;
  std::vector<NoticeRecord> notices;    // every ISSUED notice, and every notice of the current episode
  std::set<std::string> subjects_sent;  // NoticeSubject()s of the ledger's notices
};

// A notice to issue (the store gives it its id, fee/interest installments and text).
struct NoticeDraft {
  Rung rung;
  std::string subject;  // unique per ledger: what makes it issued once
  int episode = 0;
  int sequence = 0;
  int64_t days_past_due = 0;
  int64_t outstanding_minor = 0;  // the covered installments' balances
  int64_t fee_minor = 0;
  int64_t interest_minor = 0;
  int64_t total_minor() const { return outstanding_minor + fee_minor + interest_minor; }
  std::vector<OpenItem> covered;  // as they were when issued
  std::optional<absl::CivilDay> grace_until;
  std::optional<absl::CivilDay> due_date;  // a reminder: the due date it reminds of
};

struct DunningDecision {
  std::vector<std::string> resolve;   // ISSUED notices now fully paid (a NoC is withdrawn)
  std::vector<std::string> lapse;     // NoCs whose grace lapsed unpaid
  std::vector<NoticeDraft> issue;     // reminders, then at most one ladder rung
  bool close_episode = false;         // current and nothing left ISSUED: the next spell is a new episode
  int64_t days_past_due = 0;
};

// "ladder/<episode>/<sequence>", "reminder/<installment_id>/<lead>" or
// "balance/<installment_id>/<lead>".
std::string LadderSubject(int episode, int sequence);
std::string ReminderSubject(const std::string& installment_id, int64_t lead);
std::string BalanceReminderSubject(const std::string& installment_id, int64_t lead);

// The ISSUED notices among `notices` whose every covered installment is paid
// (absent from `open_items`).
std::vector<std::string> PaidNotices(const std::vector<NoticeRecord>& notices, const std::vector<OpenItem>& open_items);

// A payment given back (a bounced check, a reversal, an un-apply) makes what
// it paid owed again; a notice it had RESOLVED asked for that money, so it is
// reopened (ISSUED again) rather than the ladder starting over: the RESOLVED
// notices, and the WITHDRAWN Notices of Cancellation, among `notices` with a
// covered installment owing again. A reopened Notice of Cancellation goes on
// as if the payment had never been made: the account is suspended again and
// the notice lapses on its own grace date.
std::vector<std::string> ReopenedNotices(const std::vector<NoticeRecord>& notices,
                                         const std::vector<OpenItem>& open_items);

// Whether the ladder goes back to a reopened notice's episode: only when the
// ledger has moved on to a later episode that has no ladder notice yet, so
// the next rung follows the reopened one instead of a first notice again.
bool ResumeEpisode(int reopened_episode, int current_episode, int current_episode_notices);

// See the header comment. FAILED_PRECONDITION only when the interest or a total
// would leave the Money range.
absl::StatusOr<DunningDecision> DecideDunning(const DunningInputs& in, const DunningLadder& ladder,
                                              absl::CivilDay as_of, int64_t grace_days, const std::string& currency);

// Interest of `principal_minor` at `rate_bp` a year over `days`.
absl::StatusOr<int64_t> DunningInterest(const std::string& currency, int64_t principal_minor, int64_t rate_bp,
                                        int64_t days);

// The text of a notice: `text` with every {field} replaced by fields[field].
// INVALID_ARGUMENT naming `what` for a placeholder that is not in `fields`, or an
// unclosed brace (checked at start for configured templates).
absl::StatusOr<std::string> RenderTemplate(std::string_view text, const std::map<std::string, std::string>& fields,
                                           std::string_view what);

// The built-in template of a rung kind. Fields: account_name, rung_title,
// as_of, days_past_due, outstanding, fee, interest, total, installments,
// due_date (reminders), grace_until (NoC).
std::string_view DefaultNoticeTemplate(RungKind kind);
// Notice templates from a file (--notice_templates_file): sections headed by a
// line "[<rung kind>]" ("[FIRST_NOTICE]", "[NOTICE_OF_CANCELLATION]", ...), each
// holding the template text up to the next header, its last line break
// dropped; a rung kind without a section keeps its built-in template. Lines
// before the first header must be blank or start with '#'. INVALID_ARGUMENT
// naming notice_templates_file for an unknown or repeated rung kind or text
// before the first header. The placeholders are checked separately
// (ValidateNoticeTemplates).
absl::StatusOr<std::map<RungKind, std::string>> ParseNoticeTemplates(std::string_view text);

// The placeholder names every template may use.
const std::set<std::string>& NoticeTemplateFields();

}  // namespace careops::collections
