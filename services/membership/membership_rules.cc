#include "services/membership/membership_rules.h"

#include <algorithm>
#include <iterator>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/proto_time.h"
#include "common/status.h"
#include "common/text.h"
#include "common/validation.h"

namespace careops::membership {
namespace {

std::string DayText(absl::CivilDay d) { return ToSqlDate(d); }

std::string MinorText(const std::string& currency, int64_t minor) { return Money(currency, minor).ToString(); }

}  // namespace

bool CoveredOn(absl::CivilDay effective_date, std::optional<absl::CivilDay> termination_date,
               absl::CivilDay day) {
  if (day < effective_date) return false;
  return !termination_date.has_value() || day < *termination_date;
}

namespace {

absl::CivilDay Day(const common::v1::Date& d) { return absl::CivilDay(d.year(), d.month(), d.day()); }

std::optional<absl::CivilDay> EndOf(const v1::CoveragePeriod& p) {
  if (!p.has_end_date()) return std::nullopt;
  return Day(p.end_date());
}

}  // namespace

Coverage CoverageOf(const v1::Member& member) {
  if (!member.coverage().empty()) return member.coverage();
  Coverage out;
  v1::CoveragePeriod* p = out.Add();
  *p->mutable_effective_date() = member.effective_date();
  if (member.has_termination_date()) *p->mutable_end_date() = member.termination_date();
  p->set_plan_id(member.plan_id());
  return out;
}

const v1::CoveragePeriod* PeriodAsOf(const Coverage& coverage, absl::CivilDay day) {
  if (coverage.empty()) return nullptr;
  const v1::CoveragePeriod* out = &coverage[0];
  for (const v1::CoveragePeriod& p : coverage) {
    if (Day(p.effective_date()) <= day) out = &p;
  }
  return out;
}

bool CoveredOn(const v1::CoveragePeriod& period, absl::CivilDay day) {
  return CoveredOn(Day(period.effective_date()), EndOf(period), day);
}

v1::Member WithCoverage(v1::Member member, Coverage coverage) {
  if (coverage.empty()) return member;
  const v1::CoveragePeriod& last = *coverage.rbegin();
  *member.mutable_effective_date() = coverage[0].effective_date();
  if (last.has_end_date()) {
    *member.mutable_termination_date() = last.end_date();
    member.set_status(v1::MEMBER_STATUS_TERMINATED);
  } else {
    member.clear_termination_date();
    member.set_status(v1::MEMBER_STATUS_ACTIVE);
  }
  member.set_plan_id(last.plan_id());
  *member.mutable_coverage() = std::move(coverage);
  return member;
}

v1::Member MemberAsOf(v1::Member member, absl::CivilDay today) {
  member.clear_scheduled_plan_change();
  const bool ended = member.has_termination_date() && Day(member.termination_date()) <= today;
  member.set_status(ended ? v1::MEMBER_STATUS_TERMINATED : v1::MEMBER_STATUS_ACTIVE);
  const v1::CoveragePeriod* now = PeriodAsOf(member.coverage(), today);
  if (now == nullptr) return member;
  member.set_plan_id(now->plan_id());
  for (const v1::CoveragePeriod& p : member.coverage()) {
    if (Day(p.effective_date()) <= today || p.plan_id() == now->plan_id()) continue;
    v1::ScheduledPlanChange* next = member.mutable_scheduled_plan_change();
    next->set_plan_id(p.plan_id());
    next->set_plan_version(p.plan_version());
    *next->mutable_effective_date() = p.effective_date();
    break;
  }
  return member;
}

absl::CivilDay WaitingPeriodEnd(absl::CivilDay effective_date, int waiting_period_days) {
  return effective_date + waiting_period_days;
}

int64_t RemainingLimit(const BenefitTerms& b, std::string_view currency, int64_t used_minor) {
  if (b.unlimited) return 0;
  absl::StatusOr<Money> left =
      Money(std::string(currency), b.annual_limit_minor).Subtract(Money(std::string(currency), used_minor));
  return left.ok() && left->minor() > 0 ? left->minor() : 0;
}

absl::StatusOr<int64_t> UsedAfterRecording(const EligibilityFacts& f, int64_t amount_minor) {
  absl::StatusOr<Money> used = Money(f.currency, f.used_minor).Add(Money(f.currency, amount_minor));
  if (!used.ok()) {
    if (used.status().code() != absl::StatusCode::kFailedPrecondition) return used.status();
    return absl::FailedPreconditionError(absl::StrCat("amount: the member's utilisation of ",
                                                      f.benefit ? f.benefit->code : "this benefit",
                                                      " this year would exceed 10^15 minor units"));
  }
  return used->minor();
}

EligibilityDecision DecideEligibility(const EligibilityFacts& f, absl::CivilDay service_date,
                                      int64_t amount_minor) {
  EligibilityDecision d;
  auto add = [&](v1::EligibilityReasonCode code, std::string message) {
    d.reasons.push_back({code, std::move(message)});
  };
  if (!f.member_found) {
    add(v1::MEMBER_NOT_FOUND, "no member has this member_id");
    return d;
  }
  if (!CoveredOn(f.period_start, f.period_end, service_date)) {
    if (service_date < f.period_start) {
      add(v1::MEMBER_NOT_ACTIVE, absl::StrCat("coverage starts on ", DayText(f.period_start),
                                              ", after the service date ", DayText(service_date)));
    } else {
      add(v1::MEMBER_NOT_ACTIVE, absl::StrCat("coverage ended on ", DayText(*f.period_end),
                                              ", on or before the service date ", DayText(service_date)));
    }
  }
  if (f.account_status == v1::CLIENT_ACCOUNT_STATUS_SUSPENDED &&
      service_date >= f.account_status_effective_date) {
    add(v1::ACCOUNT_SUSPENDED,
        absl::StrCat("the client account is suspended since ", DayText(f.account_status_effective_date)));
  }
  if (f.account_status == v1::CLIENT_ACCOUNT_STATUS_CANCELLED &&
      service_date >= f.account_status_effective_date) {
    add(v1::ACCOUNT_CANCELLED,
        absl::StrCat("the client account was cancelled as of ", DayText(f.account_status_effective_date)));
  }
  if (!f.benefit.has_value()) {
    add(v1::BENEFIT_NOT_IN_PLAN, "the member's plan has no such benefit");
  } else {
    const BenefitTerms& b = *f.benefit;
    d.unlimited = b.unlimited;
    d.remaining_minor = RemainingLimit(b, f.currency, f.used_minor);
    absl::CivilDay served = WaitingPeriodEnd(f.coverage_start, b.waiting_period_days);
    if (b.waiting_period_days > 0 && service_date < served) {
      add(v1::WAITING_PERIOD_NOT_SERVED,
          absl::StrCat("benefit ", b.code, " has a waiting period of ", b.waiting_period_days,
                       " days; usable from ", DayText(served)));
    }
    if (!b.unlimited && (d.remaining_minor == 0 || amount_minor > d.remaining_minor)) {
      add(v1::ANNUAL_LIMIT_EXHAUSTED,
          absl::StrCat("annual limit of ", MinorText(f.currency, b.annual_limit_minor), " for ", b.code,
                       " has ", MinorText(f.currency, d.remaining_minor), " left in ",
                       service_date.year(), amount_minor > 0
                           ? absl::StrCat(", less than ", MinorText(f.currency, amount_minor))
                           : std::string()));
    }
    if (b.per_visit_cap_minor > 0 && amount_minor > b.per_visit_cap_minor) {
      add(v1::PER_VISIT_CAP_EXCEEDED,
          absl::StrCat("per-visit cap of ", MinorText(f.currency, b.per_visit_cap_minor), " for ", b.code,
                       " is less than ", MinorText(f.currency, amount_minor)));
    }
  }
  d.eligible = d.reasons.empty();
  return d;
}

std::string_view ActionName(AccountAction action) {
  switch (action) {
    case AccountAction::kSuspend: return "suspend";
    case AccountAction::kReinstate: return "reinstate";
    case AccountAction::kCancel: return "cancel";
  }
  return "unknown";
}

std::vector<StatusChange> InForceOrder(std::vector<StatusChange> history) {
  std::stable_sort(history.begin(), history.end(), [](const StatusChange& a, const StatusChange& b) {
    if (a.effective_date != b.effective_date) return a.effective_date < b.effective_date;
    return a.seq < b.seq;
  });
  return history;
}

v1::ClientAccount AccountAsOf(v1::ClientAccount account, const std::vector<StatusChange>& history,
                              absl::CivilDay today) {
  account.clear_scheduled_status_changes();
  if (history.empty()) return account;  // nothing recorded: the columns are all there is
  account.set_status(v1::CLIENT_ACCOUNT_STATUS_ACTIVE);
  *account.mutable_status_effective_date() = account.start_date();
  account.set_status_reason("");
  for (const StatusChange& h : InForceOrder(history)) {
    if (h.effective_date <= today) {
      account.set_status(h.status);
      *account.mutable_status_effective_date() = ToProto(h.effective_date);
      account.set_status_reason(h.reason);
      continue;
    }
    v1::ScheduledStatusChange* next = account.add_scheduled_status_changes();
    next->set_status(h.status);
    *next->mutable_effective_date() = ToProto(h.effective_date);
    next->set_reason(h.reason);
  }
  return account;
}

absl::StatusOr<v1::ClientAccountStatus> NextAccountStatus(v1::ClientAccountStatus from, AccountAction action) {
  using v1::CLIENT_ACCOUNT_STATUS_ACTIVE;
  using v1::CLIENT_ACCOUNT_STATUS_CANCELLED;
  using v1::CLIENT_ACCOUNT_STATUS_SUSPENDED;
  switch (action) {
    case AccountAction::kSuspend:
      if (from == CLIENT_ACCOUNT_STATUS_ACTIVE) return CLIENT_ACCOUNT_STATUS_SUSPENDED;
      break;
    case AccountAction::kReinstate:
      if (from == CLIENT_ACCOUNT_STATUS_SUSPENDED) return CLIENT_ACCOUNT_STATUS_ACTIVE;
      break;
    case AccountAction::kCancel:
      if (from == CLIENT_ACCOUNT_STATUS_ACTIVE || from == CLIENT_ACCOUNT_STATUS_SUSPENDED) {
        return CLIENT_ACCOUNT_STATUS_CANCELLED;
      }
      break;
  }
  return absl::FailedPreconditionError(absl::StrCat("cannot ", Abs(ActionName(action)), " an account that is ",
                                                    EnumLabel(from)));
}

absl::StatusOr<TatTargets> ParseTatTargets(std::string_view text) {
  static const std::map<std::string_view, v1::MovementType> kByName = {
      {"enrollment", v1::MOVEMENT_TYPE_ENROLLMENT},
      {"termination", v1::MOVEMENT_TYPE_TERMINATION},
      {"plan_change", v1::MOVEMENT_TYPE_PLAN_CHANGE},
      {"reinstatement", v1::MOVEMENT_TYPE_REINSTATEMENT},
      {"detail_change", v1::MOVEMENT_TYPE_DETAIL_CHANGE},
  };
  TatTargets out;
  for (std::string_view item : SplitAny(text, ",", true)) {
    item = StripSpace(item);
    size_t colon = item.find(':');
    int days = 0;
    auto it = kByName.find(colon == std::string_view::npos ? item : item.substr(0, colon));
    if (colon == std::string_view::npos || it == kByName.end() || !ParseInt(item.substr(colon + 1), &days) ||
        days < 0 || days > 60) {
      return absl::InvalidArgumentError(absl::StrCat(
          "movement_tat: '", Abs(item),
          "' must be <type>:<business days 0..60>, type one of enrollment, termination, plan_change, "
          "reinstatement, detail_change"));
    }
    out[it->second] = days;
  }
  return out;
}

int TatBusinessDays(const TatTargets& targets, v1::MovementType type) {
  auto it = targets.find(type);
  return it == targets.end() ? kDefaultTatBusinessDays : it->second;
}

bool TatMet(absl::Time due, absl::Time decided) { return decided <= due; }

bool Overdue(v1::MovementStatus status, absl::Time due, absl::Time as_of) {
  return status == v1::MOVEMENT_STATUS_PENDING && as_of > due;
}

// ---------------------------------------------------------------- decisions on locked rows

namespace {

absl::CivilDay DayOf(const common::v1::Date& d) { return absl::CivilDay(d.year(), d.month(), d.day()); }

}  // namespace

std::optional<absl::CivilDay> CancellationDate(const v1::ClientAccount& stored) {
  if (stored.status() != v1::CLIENT_ACCOUNT_STATUS_CANCELLED) return std::nullopt;
  return DayOf(stored.status_effective_date());
}

absl::Status RequireOpenAccount(const v1::ClientAccount& account, absl::CivilDay today, std::string_view field) {
  const std::optional<absl::CivilDay> cancelled = CancellationDate(account);
  if (!cancelled || *cancelled > today) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat(Abs(field), ": client account ", Quote(account.account_id()), " is cancelled"));
}

absl::Status RequireBeforeCancellation(const v1::ClientAccount& account, absl::CivilDay day, std::string_view field) {
  const std::optional<absl::CivilDay> cancelled = CancellationDate(account);
  if (!cancelled || day < *cancelled) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(Abs(field), ": client account ", Quote(account.account_id()),
                                                    " is cancelled from ", ToSqlDate(*cancelled),
                                                    "; nothing can take effect on or after that day"));
}

absl::Status RequireProperCoverage(const Coverage& coverage) {
  std::optional<absl::CivilDay> previous_end;
  for (int i = 0; i < coverage.size(); ++i) {
    const absl::CivilDay start = DayOf(coverage[i].effective_date());
    const std::optional<absl::CivilDay> end = EndOf(coverage[i]);
    if (end && *end <= start) {
      return absl::InternalError(absl::StrCat("coverage[", i, "]: a period from ", ToSqlDate(start), " ending on ",
                                              ToSqlDate(*end), " would cover nothing"));
    }
    if (i > 0 && (!previous_end || start < *previous_end)) {
      return absl::InternalError(
          absl::StrCat("coverage[", i, "]: the period from ", ToSqlDate(start), " overlaps the one before it"));
    }
    previous_end = end;
  }
  return absl::OkStatus();
}

Coverage CutCoverage(Coverage coverage, absl::CivilDay cancel_date, std::vector<CoverageCut>* cuts) {
  Coverage out;
  bool first = true;
  std::optional<absl::CivilDay> before_end;  // the end the period before had, before this cut
  for (v1::CoveragePeriod& p : coverage) {
    const absl::CivilDay start = DayOf(p.effective_date());
    const std::optional<absl::CivilDay> end = EndOf(p);
    if (end && *end <= cancel_date) {
      *out.Add() = std::move(p);
    } else if (start >= cancel_date) {
      // It would only begin once the account no longer covers anyone.
      if (cuts) cuts->push_back({start, end, p.plan_id(), first ? std::nullopt : before_end});
    } else {
      if (cuts) cuts->push_back({start, end, "", std::nullopt});
      *p.mutable_end_date() = ToProto(cancel_date);
      *out.Add() = std::move(p);
    }
    first = false;
    before_end = end;
  }
  return out;
}

v1::Member CancelMemberCoverage(v1::Member member, absl::CivilDay cancel_date, std::vector<CoverageCut>* cuts) {
  Coverage coverage = CutCoverage(CoverageOf(member), cancel_date, cuts);
  if (!coverage.empty()) return WithCoverage(std::move(member), std::move(coverage));
  member.clear_coverage();
  *member.mutable_termination_date() = ToProto(cancel_date);
  member.set_status(v1::MEMBER_STATUS_TERMINATED);
  return member;
}

Coverage UncutCoverage(Coverage coverage, absl::CivilDay cancel_date, const CoverageCuts& cuts) {
  auto set_end = [](v1::CoveragePeriod& p, std::optional<absl::CivilDay> end) {
    if (end) {
      *p.mutable_end_date() = ToProto(*end);
    } else {
      p.clear_end_date();
    }
  };
  for (v1::CoveragePeriod& p : coverage) {
    const absl::CivilDay start = DayOf(p.effective_date());
    const std::optional<absl::CivilDay> end = EndOf(p);
    // std::max: a period a cancellation made before V007 left covering nothing.
    if (end != std::max(start, cancel_date)) continue;  // not (or no longer) the cancellation's end
    auto cut = cuts.find(start);
    if (cut != cuts.end()) {
      if (cut->second.removed_plan_id.empty()) set_end(p, cut->second.previous_end);
      continue;
    }
    // Split off a cut period after the cancellation: the end of the period it came from.
    auto from = cuts.lower_bound(start);
    if (start < cancel_date && from != cuts.begin()) set_end(p, std::prev(from)->second.previous_end);
  }
  for (const auto& [start, cut] : cuts) {
    if (cut.removed_plan_id.empty()) continue;
    const bool follows = coverage.empty() ? !cut.follows_end.has_value()
                                          : (cut.follows_end.has_value() && EndOf(*coverage.rbegin()) == cut.follows_end &&
                                             *cut.follows_end <= start);
    if (!follows) continue;
    v1::CoveragePeriod* back = coverage.Add();
    *back->mutable_effective_date() = ToProto(start);
    if (cut.previous_end) *back->mutable_end_date() = ToProto(*cut.previous_end);
    back->set_plan_id(cut.removed_plan_id);
  }
  return coverage;
}

absl::Status DecideEnrolable(const v1::ClientAccount& account, std::optional<v1::PlanStatus> plan_status,
                             const v1::Member& member, absl::CivilDay today, std::string_view prefix) {
  CAREOPS_RETURN_IF_ERROR(RequireOpenAccount(account, today, "account_id"));
  CAREOPS_RETURN_IF_ERROR(ValidateNotBeforeStart(DayOf(member.effective_date()), DayOf(account.start_date()),
                                                 absl::StrCat(Abs(prefix), "effective_date")));
  CAREOPS_RETURN_IF_ERROR(RequireBeforeCancellation(account, DayOf(member.effective_date()),
                                                    absl::StrCat(Abs(prefix), "effective_date")));
  if (!plan_status.has_value()) {
    return absl::FailedPreconditionError(absl::StrCat(Abs(prefix), "plan_id: ", Quote(member.plan_id()),
                                                      " is not a plan of account ", Quote(account.account_id())));
  }
  if (*plan_status != v1::PLAN_STATUS_ACTIVE) {
    return absl::FailedPreconditionError(absl::StrCat(Abs(prefix), "plan_id: plan ", Quote(member.plan_id()),
                                                      " is superseded; enrol on its newest version"));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Plan> DecidePlanRevision(const v1::Plan& current, const v1::Plan& next) {
  if (current.status() != v1::PLAN_STATUS_ACTIVE) {
    return absl::FailedPreconditionError(absl::StrCat("plan_id: plan ", Quote(current.plan_id()),
                                                      " is already superseded; revise its newest version"));
  }
  CAREOPS_RETURN_IF_ERROR(ValidateBenefits(next.benefits(), current.currency_code(), "benefits"));
  v1::Plan plan = next;
  plan.set_account_id(current.account_id());
  plan.set_currency_code(current.currency_code());
  if (plan.name().empty()) plan.set_name(current.name());
  plan.set_version(current.version() + 1);
  plan.set_supersedes_plan_id(current.plan_id());
  plan.set_status(v1::PLAN_STATUS_ACTIVE);
  return plan;
}

namespace {

// Whether `to` can follow `from` in a status history (some action leads there).
bool Follows(v1::ClientAccountStatus from, v1::ClientAccountStatus to) {
  for (AccountAction a : {AccountAction::kSuspend, AccountAction::kReinstate, AccountAction::kCancel}) {
    absl::StatusOr<v1::ClientAccountStatus> next = NextAccountStatus(from, a);
    if (next.ok() && *next == to) return true;
  }
  return false;
}

// `account` with the status columns of `last` (the last change of its history).
v1::ClientAccount WithLastChange(v1::ClientAccount account, const StatusChange* last) {
  if (last == nullptr) {
    account.set_status(v1::CLIENT_ACCOUNT_STATUS_ACTIVE);
    *account.mutable_status_effective_date() = account.start_date();
    account.set_status_reason("");
    return account;
  }
  account.set_status(last->status);
  *account.mutable_status_effective_date() = ToProto(last->effective_date);
  account.set_status_reason(last->reason);
  return account;
}

}  // namespace

absl::StatusOr<AccountTransitionDecision> DecideAccountTransition(const v1::ClientAccount& account,
                                                                  const std::vector<StatusChange>& history,
                                                                  AccountAction action, absl::CivilDay effective_date,
                                                                  const std::string& reason, absl::CivilDay today) {
  const std::vector<StatusChange> ordered = InForceOrder(history);
  const v1::ClientAccount in_force = AccountAsOf(account, ordered, today);
  // A cancellation in force is final, whatever the date asked for.
  if (in_force.status() == v1::CLIENT_ACCOUNT_STATUS_CANCELLED) {
    CAREOPS_RETURN_IF_ERROR(NextAccountStatus(in_force.status(), action).status());
  }
  CAREOPS_RETURN_IF_ERROR(ValidateTransitionDate(effective_date, DayOf(account.start_date()),
                                                 DayOf(in_force.status_effective_date()), "effective_date"));
  // The status on the transition's date (changes of that day first), and those after it.
  v1::ClientAccountStatus on_the_day = ordered.empty() ? account.status() : v1::CLIENT_ACCOUNT_STATUS_ACTIVE;
  std::vector<const StatusChange*> later;
  for (const StatusChange& h : ordered) {
    if (h.effective_date <= effective_date) {
      on_the_day = h.status;
    } else {
      later.push_back(&h);
    }
  }
  CAREOPS_ASSIGN_OR_RETURN(const v1::ClientAccountStatus next, NextAccountStatus(on_the_day, action));
  v1::ClientAccountStatus from = next;
  for (const StatusChange* h : later) {
    if (!Follows(from, h->status)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "effective_date: the change to ", EnumLabel(h->status), " scheduled from ", ToSqlDate(h->effective_date),
          " cannot follow an account that is ", EnumLabel(next), " from ", ToSqlDate(effective_date),
          "; withdraw it first (WithdrawScheduledStatusChange)"));
    }
    from = h->status;
  }
  AccountTransitionDecision out;
  out.change = {effective_date, next, reason, 0};
  out.from = on_the_day;
  out.account = WithLastChange(account, later.empty() ? &out.change : later.back());
  return out;
}

absl::StatusOr<WithdrawalDecision> DecideWithdrawal(const v1::ClientAccount& account,
                                                    const std::vector<StatusChange>& history,
                                                    v1::ClientAccountStatus status, absl::CivilDay effective_date,
                                                    absl::CivilDay today) {
  const std::vector<StatusChange> ordered = InForceOrder(history);
  // The last change to `status` on that day (the one a later change would follow).
  int found = -1;
  for (int i = 0; i < static_cast<int>(ordered.size()); ++i) {
    if (ordered[i].effective_date == effective_date && ordered[i].status == status) found = i;
  }
  if (found < 0) {
    return absl::NotFoundError(absl::StrCat("effective_date: no change to ", EnumLabel(status),
                                            " is scheduled from ", ToSqlDate(effective_date)));
  }
  if (effective_date <= today) {
    return absl::FailedPreconditionError(
        absl::StrCat("effective_date: the change to ", EnumLabel(status), " from ", ToSqlDate(effective_date),
                     " is in force already; make a new transition instead"));
  }
  WithdrawalDecision out;
  out.withdrawn.assign(ordered.begin() + found, ordered.end());
  out.account = WithLastChange(account, found == 0 ? nullptr : &ordered[found - 1]);
  return out;
}

absl::StatusOr<bool> MovementNeedsDecision(const v1::Movement& movement, v1::MovementStatus target) {
  if (movement.status() == target) return false;
  if (movement.status() != v1::MOVEMENT_STATUS_PENDING) {
    return absl::FailedPreconditionError(absl::StrCat("movement ", Quote(movement.movement_id()), " is already ",
                                                      EnumLabel(movement.status())));
  }
  return true;
}

v1::Movement DecidedMovement(v1::Movement mv, v1::MovementStatus target, const std::string& decided_by,
                             const std::string& rejection_reason, absl::Time now) {
  mv.set_status(target);
  mv.set_decided_by(decided_by);
  *mv.mutable_decide_time() = ToProtoTimestamp(now);
  mv.set_rejection_reason(rejection_reason);
  mv.set_tat_met(TatMet(FromProto(mv.due_time()), now));
  mv.set_overdue(false);
  return mv;
}

v1::Member MemberFromEnrollment(const v1::Movement& mv, const std::string& member_id) {
  v1::Member member;
  member.set_member_id(member_id);
  member.set_account_id(mv.account_id());
  member.set_plan_id(mv.enrollment().plan_id());
  member.set_external_ref(mv.enrollment().external_ref());
  member.set_status(v1::MEMBER_STATUS_ACTIVE);
  *member.mutable_person() = mv.enrollment().person();
  *member.mutable_effective_date() = mv.effective_date();
  Coverage coverage = CoverageOf(member);
  return WithCoverage(std::move(member), std::move(coverage));
}

absl::Status ValidateMovementDates(const v1::Movement& mv, const v1::Member& member) {
  if (mv.type() == v1::MOVEMENT_TYPE_ENROLLMENT) return absl::OkStatus();
  const Coverage coverage = CoverageOf(member);
  const absl::CivilDay effective = DayOf(mv.effective_date());
  const absl::CivilDay covered_from = DayOf(coverage[0].effective_date());
  const v1::CoveragePeriod& latest = *coverage.rbegin();
  const absl::CivilDay latest_start = DayOf(latest.effective_date());
  const std::optional<absl::CivilDay> ended = EndOf(latest);
  if (effective < covered_from) {
    return InvalidArgument("effective_date", absl::StrCat("must not be before the member's coverage starts (",
                                                          ToSqlDate(covered_from), ")"));
  }
  if (mv.type() == v1::MOVEMENT_TYPE_DETAIL_CHANGE) return absl::OkStatus();
  if (effective < latest_start) {
    return InvalidArgument("effective_date", absl::StrCat("must not be before the member's latest coverage period "
                                                          "starts (", ToSqlDate(latest_start), ")"));
  }
  if (mv.type() == v1::MOVEMENT_TYPE_TERMINATION && ended && *ended <= effective) {
    return absl::FailedPreconditionError(absl::StrCat("member_id: member ", Quote(member.member_id()),
                                                      " is already terminated as of ", ToSqlDate(*ended)));
  }
  if (mv.type() == v1::MOVEMENT_TYPE_TERMINATION && effective == latest_start && coverage.size() == 1) {
    return InvalidArgument("effective_date", absl::StrCat("must be after the member's coverage starts (",
                                                          ToSqlDate(latest_start),
                                                          "): a termination on its first day would cover nothing"));
  }
  if (mv.type() == v1::MOVEMENT_TYPE_PLAN_CHANGE && ended && *ended <= effective) {
    return absl::FailedPreconditionError(absl::StrCat("effective_date: the coverage of member ",
                                                      Quote(member.member_id()), " ends on ", ToSqlDate(*ended),
                                                      "; a plan change must take effect before that day"));
  }
  if (mv.type() == v1::MOVEMENT_TYPE_REINSTATEMENT) {
    if (!ended) {
      return absl::FailedPreconditionError(
          absl::StrCat("member_id: member ", Quote(member.member_id()), " is not terminated"));
    }
    if (effective < *ended) {
      return InvalidArgument("effective_date", absl::StrCat("must not be before the termination it undoes (",
                                                            ToSqlDate(*ended), ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Member> ApplyMovementToMember(const v1::Movement& mv, const v1::ClientAccount& account,
                                                 v1::Member member, std::optional<v1::PlanStatus> new_plan_status,
                                                 absl::CivilDay today) {
  if (!RequireOpenAccount(account, today, "account_id").ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("account_id: client account ", Quote(account.account_id()), " is cancelled; reject the movement"));
  }
  if (absl::Status s = RequireBeforeCancellation(account, DayOf(mv.effective_date()), "effective_date"); !s.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(s.message(), "; reject the movement"));
  }
  // Checked at request time too; the member may have changed since. A movement
  // already recorded is a state to fix (reject it), not bad input of this call.
  if (absl::Status dates = ValidateMovementDates(mv, member); !dates.ok()) {
    return absl::FailedPreconditionError(dates.message());
  }
  Coverage coverage = CoverageOf(member);
  v1::CoveragePeriod& latest = *coverage.rbegin();
  const absl::CivilDay effective = DayOf(mv.effective_date());
  switch (mv.type()) {
    case v1::MOVEMENT_TYPE_TERMINATION:
      if (DayOf(latest.effective_date()) == effective) {
        // Ended on its first day, the latest period (a plan change or a
        // reinstatement from that day) never takes effect: the coverage ends
        // with the period before it (ValidateMovementDates keeps the first).
        coverage.RemoveLast();
        break;
      }
      *latest.mutable_end_date() = mv.effective_date();
      break;
    case v1::MOVEMENT_TYPE_REINSTATEMENT:
      if (EndOf(latest) == effective) {
        latest.clear_end_date();  // reinstated on the day it ended: no gap, the period goes on
      } else {
        v1::CoveragePeriod next;
        *next.mutable_effective_date() = mv.effective_date();
        next.set_plan_id(latest.plan_id());
        next.set_plan_version(latest.plan_version());
        *coverage.Add() = std::move(next);
      }
      break;
    case v1::MOVEMENT_TYPE_PLAN_CHANGE: {
      if (!new_plan_status.has_value()) {
        return absl::FailedPreconditionError(
            absl::StrCat("new_plan_id: ", Quote(mv.new_plan_id()), " is not a plan of the account"));
      }
      if (*new_plan_status != v1::PLAN_STATUS_ACTIVE) {
        return absl::FailedPreconditionError(
            absl::StrCat("new_plan_id: plan ", Quote(mv.new_plan_id()), " is superseded"));
      }
      if (DayOf(latest.effective_date()) == effective) {
        latest.set_plan_id(mv.new_plan_id());
        latest.set_plan_version(0);  // the store reads versions with the periods
        break;
      }
      v1::CoveragePeriod next;
      *next.mutable_effective_date() = mv.effective_date();
      if (latest.has_end_date()) *next.mutable_end_date() = latest.end_date();
      next.set_plan_id(mv.new_plan_id());
      *latest.mutable_end_date() = mv.effective_date();
      *coverage.Add() = std::move(next);
      break;
    }
    case v1::MOVEMENT_TYPE_DETAIL_CHANGE:
      *member.mutable_person() = mv.person();
      break;
    default:
      return absl::InvalidArgumentError("type: an ENROLLMENT creates a member; it does not change one");
  }
  return WithCoverage(std::move(member), std::move(coverage));
}

std::string_view MemberActionOf(v1::MovementType type) {
  switch (type) {
    case v1::MOVEMENT_TYPE_ENROLLMENT: return "member.enroll";
    case v1::MOVEMENT_TYPE_TERMINATION: return "member.terminate";
    case v1::MOVEMENT_TYPE_REINSTATEMENT: return "member.reinstate";
    case v1::MOVEMENT_TYPE_PLAN_CHANGE: return "member.change_plan";
    case v1::MOVEMENT_TYPE_DETAIL_CHANGE: return "member.change_details";
    default: return "member.unknown";
  }
}

absl::Status RequireSameUtilization(const v1::Utilization& existing, const v1::RecordUtilizationRequest& r) {
  if (existing.member_id() == r.member_id() && existing.benefit_code() == r.benefit_code() &&
      existing.amount().amount_minor() == r.amount().amount_minor() &&
      existing.amount().currency_code() == r.amount().currency_code() &&
      DayOf(existing.service_date()) == DayOf(r.service_date())) {
    return absl::OkStatus();
  }
  return absl::AlreadyExistsError(
      absl::StrCat("source_reference: ", Quote(r.source_reference()),
                   " already recorded a different utilisation (member, benefit, amount or service date)"));
}

absl::StatusOr<int64_t> DecideUtilization(const EligibilityFacts& facts, absl::CivilDay service_date,
                                          int64_t amount_minor, std::string_view currency,
                                          std::string_view member_id) {
  if (!facts.member_found) return absl::NotFoundError(absl::StrCat("member_id: no member ", Quote(member_id)));
  if (facts.benefit && currency != facts.currency) {
    return absl::InvalidArgumentError(
        absl::StrCat("amount.currency_code: must be the plan's currency ", facts.currency));
  }
  EligibilityDecision d = DecideEligibility(facts, service_date, amount_minor);
  if (!d.eligible) {
    std::vector<std::string> why;
    for (const auto& reason : d.reasons) {
      why.push_back(absl::StrCat(v1::EligibilityReasonCode_Name(reason.code), ": ", reason.message));
    }
    return absl::FailedPreconditionError(absl::StrCat("utilisation refused: ", absl::StrJoin(why, "; ")));
  }
  return UsedAfterRecording(facts, amount_minor);
}

// ---------------------------------------------------------------- utilisation reversal

absl::StatusOr<ReversalDecision> DecideReversal(const ReversalFacts& record, const std::optional<Money>& requested) {
  const int64_t remaining = record.amount_minor - record.reversed_minor;
  int64_t give_back = remaining;
  if (requested) {
    if (requested->minor() <= 0) return InvalidArgument("amount.amount_minor", "must be more than zero");
    if (requested->currency() != record.currency) {
      return InvalidArgument("amount.currency_code", absl::StrCat("must be the record's currency ", record.currency));
    }
    if (requested->minor() > remaining) {
      return InvalidArgument("amount.amount_minor",
                             absl::StrCat("must be at most the record's remaining un-reversed amount ",
                                          Money(record.currency, remaining).ToString()));
    }
    give_back = requested->minor();
  }
  ReversalDecision d;
  d.give_back_minor = give_back;
  d.reversed_after_minor = record.reversed_minor + give_back;
  d.remaining_after_minor = remaining - give_back;
  d.wholly_reversed = d.remaining_after_minor == 0;
  return d;
}

// ---------------------------------------------------------------- utilisation ledger

void FillRunningBalances(UsedByBenefitYear used, const std::map<std::string, BenefitTerms>& terms,
                         const std::string& currency,
                         google::protobuf::RepeatedPtrField<v1::UtilizationLedgerEntry>* entries) {
  FillRunningBalances(
      std::move(used), [&](absl::CivilDay) -> const std::map<std::string, BenefitTerms>& { return terms; }, currency,
      entries);
}

void FillRunningBalances(UsedByBenefitYear used, const TermsOn& terms_on, const std::string& currency,
                         google::protobuf::RepeatedPtrField<v1::UtilizationLedgerEntry>* entries) {
  for (v1::UtilizationLedgerEntry& e : *entries) {
    const v1::Utilization& u = e.utilization();
    const std::map<std::string, BenefitTerms>& terms = terms_on(DayOf(u.service_date()));
    int64_t& so_far = used[{u.benefit_code(), u.service_date().year()}];
    const int64_t counted =
        u.reversed() ? 0 : u.amount().amount_minor() - u.reversed_amount().amount_minor();
    if (counted > 0) {
      absl::StatusOr<Money> sum = Money(currency, so_far).Add(Money(currency, counted));
      so_far = sum.ok() ? sum->minor() : kMaxMoneyMinor;
    }
    e.mutable_used_in_year()->set_currency_code(currency);
    e.mutable_used_in_year()->set_amount_minor(so_far);
    e.mutable_remaining_limit()->set_currency_code(currency);
    auto t = terms.find(u.benefit_code());
    if (t == terms.end()) continue;
    e.set_unlimited(t->second.unlimited);
    e.mutable_remaining_limit()->set_amount_minor(RemainingLimit(t->second, currency, so_far));
  }
}

// ---------------------------------------------------------------- validation

namespace {

bool ValidCode(std::string_view code) {
  if (code.empty() || code.size() > 32) return false;
  for (char c : code) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  }
  return true;
}

}  // namespace

absl::Status ValidateAccountField(const v1::ClientAccount& a, std::string_view path, std::string_view field) {
  std::string f = SubField(field, path);
  if (path == "name") return RequireText(a.name(), f, 200);
  if (path == "account_officer") return OptionalId(a.account_officer(), f, 128);
  if (path == "contact_email") {
    CAREOPS_RETURN_IF_ERROR(OptionalId(a.contact_email(), f, 254));
    if (!a.contact_email().empty() && a.contact_email().find('@') == std::string::npos) {
      return InvalidArgument(f, "must be an e-mail address");
    }
    return absl::OkStatus();
  }
  return InvalidArgument("update_mask", absl::StrCat("path ", Quote(path),
                                                     " is not updatable (name, account_officer, contact_email)"));
}

absl::Status ValidateNewAccount(const v1::ClientAccount& a, std::string_view field) {
  CAREOPS_RETURN_IF_ERROR(ValidateAccountField(a, "name", field));
  if (a.type() == v1::CLIENT_ACCOUNT_TYPE_UNSPECIFIED || !v1::ClientAccountType_IsValid(a.type())) {
    return InvalidArgument(SubField(field, "type"), "must be DIRECT_CLIENT, CORPORATE, BROKER or AGENT");
  }
  CAREOPS_RETURN_IF_ERROR(ValidateAccountField(a, "account_officer", field));
  CAREOPS_RETURN_IF_ERROR(ValidateAccountField(a, "contact_email", field));
  return RequireDate(a.has_start_date(), a.start_date(), SubField(field, "start_date")).status();
}

absl::Status ValidatePerson(const v1::Person& p, std::string_view field, absl::CivilDay today) {
  CAREOPS_RETURN_IF_ERROR(RequireText(p.given_name(), SubField(field, "given_name"), 100));
  CAREOPS_RETURN_IF_ERROR(RequireText(p.family_name(), SubField(field, "family_name"), 100));
  std::string birth_field = SubField(field, "birth_date");
  auto birth = RequireDate(p.has_birth_date(), p.birth_date(), birth_field);
  if (!birth.ok()) return birth.status();
  if (*birth > today) return InvalidArgument(birth_field, "must not be in the future");
  if (!(p.sex().empty() || p.sex() == "F" || p.sex() == "M" || p.sex() == "X")) {
    return InvalidArgument(SubField(field, "sex"), "must be empty, F, M or X");
  }
  CAREOPS_RETURN_IF_ERROR(OptionalId(p.email(), SubField(field, "email"), 254));
  if (!p.email().empty() && p.email().find('@') == std::string::npos) {
    return InvalidArgument(SubField(field, "email"), "must be an e-mail address");
  }
  return OptionalId(p.phone(), SubField(field, "phone"), 32);
}

absl::Status ValidateExternalRef(std::string_view ref, std::string_view field) {
  return RequireText(ref, field, 64);
}

absl::Status ValidateBenefits(const google::protobuf::RepeatedPtrField<v1::Benefit>& benefits,
                              std::string_view currency, std::string_view field) {
  if (benefits.empty()) return InvalidArgument(field, "must list at least one benefit");
  if (benefits.size() > 200) return InvalidArgument(field, "must list at most 200 benefits");
  std::set<std::string> codes;
  for (int i = 0; i < benefits.size(); ++i) {
    const v1::Benefit& b = benefits[i];
    std::string f = ItemField(field, i);
    if (!ValidCode(b.code())) {
      return InvalidArgument(SubField(f, "code"), "must be 1 to 32 of A-Z, 0-9, '_' or '-'");
    }
    if (!codes.insert(b.code()).second) {
      return InvalidArgument(SubField(f, "code"), absl::StrCat(Quote(b.code()), " appears twice in the plan"));
    }
    CAREOPS_RETURN_IF_ERROR(RequireText(b.category(), SubField(f, "category"), 64));
    if (b.unlimited()) {
      if (b.has_annual_limit()) return InvalidArgument(SubField(f, "annual_limit"), "must be unset when unlimited");
    } else {
      if (!b.has_annual_limit() || b.annual_limit().amount_minor() <= 0) {
        return InvalidArgument(SubField(f, "annual_limit"), "must be more than zero unless unlimited is set");
      }
      if (b.annual_limit().currency_code() != currency) {
        return InvalidArgument(SubField(f, "annual_limit.currency_code"),
                               absl::StrCat("must be the plan's currency ", Abs(currency)));
      }
      CAREOPS_RETURN_IF_ERROR(ValidateMoney(FromProto(b.annual_limit()), SubField(f, "annual_limit")));
    }
    if (b.has_per_visit_cap()) {
      if (b.per_visit_cap().amount_minor() < 0) {
        return InvalidArgument(SubField(f, "per_visit_cap.amount_minor"), "must not be negative");
      }
      if (b.per_visit_cap().amount_minor() > 0 && b.per_visit_cap().currency_code() != currency) {
        return InvalidArgument(SubField(f, "per_visit_cap.currency_code"),
                               absl::StrCat("must be the plan's currency ", Abs(currency)));
      }
      if (b.per_visit_cap().amount_minor() > kMaxMoneyMinor) {
        return InvalidArgument(SubField(f, "per_visit_cap.amount_minor"),
                               "must be at most 10^15 (1000000000000000) minor units");
      }
    }
    if (b.copay_basis_points() < 0 || b.copay_basis_points() > 10000) {
      return InvalidArgument(SubField(f, "copay_basis_points"), "must be between 0 and 10000");
    }
    if (b.waiting_period_days() < 0 || b.waiting_period_days() > 3650) {
      return InvalidArgument(SubField(f, "waiting_period_days"), "must be between 0 and 3650");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateNewPlan(const v1::Plan& plan, std::string_view field) {
  CAREOPS_RETURN_IF_ERROR(RequireId(plan.account_id(), SubField(field, "account_id"), 64));
  CAREOPS_RETURN_IF_ERROR(RequireText(plan.name(), SubField(field, "name"), 200));
  if (!IsKnownCurrency(plan.currency_code())) {
    return InvalidArgument(SubField(field, "currency_code"),
                           absl::StrCat("unknown ISO-4217 currency ", Quote(plan.currency_code())));
  }
  return ValidateBenefits(plan.benefits(), plan.currency_code(), SubField(field, "benefits"));
}

absl::Status ValidateNotBeforeStart(absl::CivilDay day, absl::CivilDay account_start, std::string_view field) {
  if (day < account_start) {
    return InvalidArgument(field, absl::StrCat("must not be before the account's start date ",
                                               ToSqlDate(account_start)));
  }
  return absl::OkStatus();
}

absl::Status ValidateTransitionDate(absl::CivilDay day, absl::CivilDay account_start, absl::CivilDay status_since,
                                    std::string_view field) {
  CAREOPS_RETURN_IF_ERROR(ValidateNotBeforeStart(day, account_start, field));
  if (day < status_since) {
    return InvalidArgument(field, absl::StrCat("must not be before the current status's effective date ",
                                               ToSqlDate(status_since)));
  }
  return absl::OkStatus();
}

BenefitTerms TermsFromProto(const v1::Benefit& b) {
  BenefitTerms t;
  t.code = b.code();
  t.category = b.category();
  t.unlimited = b.unlimited();
  t.annual_limit_minor = b.unlimited() ? 0 : b.annual_limit().amount_minor();
  t.per_visit_cap_minor = b.per_visit_cap().amount_minor();
  t.copay_basis_points = b.copay_basis_points();
  t.waiting_period_days = b.waiting_period_days();
  return t;
}

}  // namespace careops::membership
