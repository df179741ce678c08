#include "services/claims/claim_rules.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "common/status.h"
#include "common/text.h"

namespace careops::claims {
namespace {

using S = ClaimStatus;
using A = ClaimAction;

struct Transition {
  ClaimAction action;
  ClaimStatus from;
  ClaimStatus to;
};

// The whole life cycle. Anything not listed is illegal.
constexpr Transition kTransitions[] = {
    {A::kAssign, S::kSubmitted, S::kAssigned},
    {A::kAssign, S::kAssigned, S::kAssigned},
    {A::kStartReview, S::kAssigned, S::kInReview},
    {A::kRequestInfo, S::kInReview, S::kPendingInfo},
    {A::kProvideInfo, S::kPendingInfo, S::kInReview},
    {A::kApprove, S::kInReview, S::kApprovalPending},
    {A::kPartiallyApprove, S::kInReview, S::kApprovalPending},
    {A::kDeny, S::kInReview, S::kDenied},
    {A::kEscalate, S::kAssigned, S::kSubmitted},
    {A::kEscalate, S::kInReview, S::kInReview},
    {A::kSettle, S::kApproved, S::kSettled},
    {A::kSettle, S::kPartiallyApproved, S::kSettled},
    {A::kClose, S::kSettled, S::kClosed},
    {A::kClose, S::kDenied, S::kClosed},
    {A::kClose, S::kRejected, S::kClosed},
    {A::kReopen, S::kDenied, S::kInReview},
    {A::kReopen, S::kRejected, S::kInReview},
    {A::kReopen, S::kApproved, S::kInReview},
    {A::kReopen, S::kPartiallyApproved, S::kInReview},
    {A::kReopen, S::kClosed, S::kInReview},
    {A::kConfirmApproval, S::kApprovalPending, S::kApproved},
    {A::kRefuseApproval, S::kApprovalPending, S::kInReview},
    {A::kConfirmReopen, S::kReopenPending, S::kInReview},
    {A::kRefuseReopen, S::kReopenPending, S::kApproved},
};

constexpr std::pair<ClaimStatus, std::string_view> kStatusNames[] = {
    {S::kSubmitted, "SUBMITTED"}, {S::kAssigned, "ASSIGNED"},
    {S::kInReview, "IN_REVIEW"},  {S::kPendingInfo, "PENDING_INFO"},
    {S::kApproved, "APPROVED"},   {S::kPartiallyApproved, "PARTIALLY_APPROVED"},
    {S::kDenied, "DENIED"},       {S::kSettled, "SETTLED"},
    {S::kClosed, "CLOSED"},       {S::kRejected, "REJECTED"},
    {S::kApprovalPending, "APPROVAL_PENDING"}, {S::kReopenPending, "REOPEN_PENDING"},
};

constexpr std::pair<InvestigationStatus, std::string_view> kInvestigationNames[] = {
    {InvestigationStatus::kFlagged, "FLAGGED"},
    {InvestigationStatus::kOpen, "OPEN"},
    {InvestigationStatus::kFindingsRecorded, "FINDINGS_RECORDED"},
    {InvestigationStatus::kClosed, "CLOSED"},
};

// "PHP=5000000": a known currency and a non-negative amount in minor units.
bool ParseCurrencyAmount(std::string_view item, std::string* currency, int64_t* minor) {
  size_t eq = item.find('=');
  if (eq == std::string_view::npos || !IsKnownCurrency(item.substr(0, eq))) return false;
  if (!ParseInt(item.substr(eq + 1), minor) || *minor < 0) return false;
  *currency = std::string(item.substr(0, eq));
  return true;
}

template <typename Enum, size_t N>
std::string_view NameIn(const std::pair<Enum, std::string_view> (&names)[N], Enum value) {
  for (const auto& [v, name] : names) {
    if (v == value) return name;
  }
  return "UNKNOWN";
}

template <typename Enum, size_t N>
std::optional<Enum> ParseIn(const std::pair<Enum, std::string_view> (&names)[N], std::string_view name) {
  for (const auto& [v, n] : names) {
    if (n == name) return v;
  }
  return std::nullopt;
}

}  // namespace

std::string_view ClaimStatusName(ClaimStatus s) { return NameIn(kStatusNames, s); }
std::optional<ClaimStatus> ParseClaimStatus(std::string_view name) { return ParseIn(kStatusNames, name); }
std::string_view InvestigationStatusName(InvestigationStatus s) { return NameIn(kInvestigationNames, s); }
std::optional<InvestigationStatus> ParseInvestigationStatus(std::string_view name) {
  return ParseIn(kInvestigationNames, name);
}

std::string_view ClaimActionName(ClaimAction a) {
  switch (a) {
    case A::kAssign: return "assign";
    case A::kStartReview: return "start_review";
    case A::kRequestInfo: return "request_information";
    case A::kProvideInfo: return "provide_information";
    case A::kApprove: return "approve";
    case A::kPartiallyApprove: return "partially_approve";
    case A::kDeny: return "deny";
    case A::kEscalate: return "escalate";
    case A::kSettle: return "settle";
    case A::kClose: return "close";
    case A::kReopen: return "reopen";
    case A::kConfirmApproval: return "approval_confirmed";
    case A::kRefuseApproval: return "approval_refused";
    case A::kConfirmReopen: return "reopen_confirmed";
    case A::kRefuseReopen: return "reopen_refused";
  }
  return "unknown";
}

absl::StatusOr<ClaimStatus> NextStatus(ClaimStatus from, ClaimAction action) {
  std::vector<std::string> accepted;
  for (const Transition& t : kTransitions) {
    if (t.action != action) continue;
    if (t.from == from) return t.to;
    accepted.emplace_back(ClaimStatusName(t.from));
  }
  if (AwaitsMembership(from)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "claim is ", Abs(ClaimStatusName(from)), " (waiting for membership to confirm ",
        from == S::kApprovalPending ? "the utilisation" : "the utilisation was given back",
        "; it settles by itself, read it again shortly); ", Abs(ClaimActionName(action)), " needs ",
        absl::StrJoin(accepted, " or ")));
  }
  return absl::FailedPreconditionError(absl::StrCat("claim is ", Abs(ClaimStatusName(from)), "; ",
                                                    Abs(ClaimActionName(action)), " needs ",
                                                    absl::StrJoin(accepted, " or ")));
}

absl::StatusOr<ClaimStatus> NextStatus(const Claim& claim, ClaimAction action) {
  if (action == A::kReopen && IsAdjustment(claim)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "claim is an ADJUSTMENT (", Abs(ClaimStatusName(claim.status)),
        "); an adjustment is not reopened: submit another adjustment (SubmitClaim type ADJUSTMENT,"
        " original_claim_id ", claim.original_claim_id, ")"));
  }
  if (action == A::kReopen && claim.settled_at.has_value() &&
      (claim.status == S::kClosed || claim.status == S::kSettled)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "claim is ", Abs(ClaimStatusName(claim.status)),
        " after settlement (payment made); it cannot be reopened: correct it with an adjustment"
        " (SubmitClaim type ADJUSTMENT, original_claim_id ", claim.claim_id, ")"));
  }
  if (action == A::kDeny && ClawbackPartlyHeld(claim)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "claim is an ADJUSTMENT whose claw-back membership holds in part (", claim.clawback_given, " of ",
        claim.clawback_refs.size(), " record(s) given back",
        claim.clawback_rest_recorded ? ", the rest recorded" : "",
        "); it is not denied: approve it again to finish the claw-back"));
  }
  CAREOPS_ASSIGN_OR_RETURN(ClaimStatus to, NextStatus(claim.status, action));
  if (action == A::kReopen && AwaitsSettlement(claim.status) && !claim.utilization_ref.empty()) {
    return S::kReopenPending;
  }
  if (to == S::kApproved && claim.amount_approved.minor() < claim.payable.minor()) {
    return S::kPartiallyApproved;
  }
  return to;
}

bool AwaitsMembership(ClaimStatus s) { return s == S::kApprovalPending || s == S::kReopenPending; }

bool StampDecision(Claim& c, absl::Time now) {
  bool newly_late = !c.decision_breached && now > c.decision_due_at;
  c.decided_at = now;
  c.decision_breached = c.decision_breached || newly_late;
  return newly_late;
}

bool AwaitsDecision(ClaimStatus s) {
  return s == S::kSubmitted || s == S::kAssigned || s == S::kInReview || s == S::kPendingInfo;
}
bool AwaitsSettlement(ClaimStatus s) { return s == S::kApproved || s == S::kPartiallyApproved; }
bool IsOpen(ClaimStatus s) { return s != S::kClosed; }

// ---- Authority chain -----------------------------------------------------------

absl::StatusOr<AuthorityChain> AuthorityChain::Parse(std::string_view text) {
  AuthorityChain chain;
  for (std::string_view part : SplitAny(text, ";", true)) {
    part = StripSpace(part);
    size_t colon = part.find(':');
    if (colon == std::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("authority chain: '", Abs(part), "' must be role:CUR=minor,... or role:unlimited"));
    }
    AuthorityLevel level;
    level.role = std::string(StripSpace(part.substr(0, colon)));
    std::string_view limits = StripSpace(part.substr(colon + 1));
    if (level.role.empty()) return absl::InvalidArgumentError("authority chain: empty role name");
    if (chain.Contains(level.role)) {
      return absl::InvalidArgumentError(absl::StrCat("authority chain: role '", level.role, "' listed twice"));
    }
    if (limits == "unlimited") {
      level.unlimited = true;
    } else {
      for (std::string_view item : SplitAny(limits, ",", true)) {
        item = StripSpace(item);
        std::string currency;
        int64_t minor = 0;
        if (!ParseCurrencyAmount(item, &currency, &minor)) {
          return absl::InvalidArgumentError(absl::StrCat("authority chain: limit '", Abs(item), "' of role '",
                                                         level.role, "' must be CUR=minor_units"));
        }
        level.limits[currency] = minor;
      }
    }
    chain.levels_.push_back(std::move(level));
  }
  if (chain.levels_.empty()) return absl::InvalidArgumentError("authority chain: no roles");
  return chain;
}

std::string AuthorityChain::DefaultText() {
  return "specialist:PHP=5000000,USD=5000000;officer:PHP=20000000,USD=20000000;"
         "assistant_manager:PHP=100000000,USD=100000000;manager:unlimited";
}

std::optional<int> AuthorityChain::Rank(std::string_view role) const {
  for (size_t i = 0; i < levels_.size(); ++i) {
    if (levels_[i].role == role) return static_cast<int>(i);
  }
  return std::nullopt;
}

bool AuthorityChain::MayApprove(std::string_view role, const Money& amount) const {
  std::optional<int> rank = Rank(role);
  if (!rank) return false;
  const AuthorityLevel& level = levels_[*rank];
  if (level.unlimited) return true;
  auto it = level.limits.find(amount.currency());
  return it != level.limits.end() && amount.minor() <= it->second;
}

const std::string& AuthorityChain::LowestRoleFor(const Money& amount) const {
  for (const AuthorityLevel& level : levels_) {
    if (MayApprove(level.role, amount)) return level.role;
  }
  return levels_.back().role;
}

absl::StatusOr<std::string> AuthorityChain::NextRole(std::string_view role) const {
  std::optional<int> rank = Rank(role);
  if (!rank) {
    return absl::FailedPreconditionError(absl::StrCat("role '", Abs(role), "' is not in the authority chain"));
  }
  if (*rank + 1 >= static_cast<int>(levels_.size())) {
    return absl::FailedPreconditionError(
        absl::StrCat("claim is already with ", Abs(role), ", the top of the authority chain"));
  }
  return levels_[*rank + 1].role;
}

std::string AuthorityChain::LimitText(std::string_view role, std::string_view currency) const {
  std::optional<int> rank = Rank(role);
  if (!rank) return "none";
  const AuthorityLevel& level = levels_[*rank];
  if (level.unlimited) return "unlimited";
  auto it = level.limits.find(currency);
  if (it == level.limits.end()) return absl::StrCat("none in ", Abs(currency));
  return Money(std::string(currency), it->second).ToString();
}

absl::Status CheckApprovalAuthority(const AuthorityChain& chain, std::string_view role, const Claim& claim) {
  const Money amount = AuthorityAmount(claim);
  std::optional<int> rank = chain.Rank(role);
  if (!rank) {
    return absl::PermissionDeniedError(
        absl::StrCat("role '", Abs(role), "' is not in the authority chain and may not approve claims"));
  }
  std::optional<int> routed = chain.Rank(claim.routed_role);
  if (routed && *rank < *routed) {
    return absl::PermissionDeniedError(absl::StrCat("claim is routed to ", claim.routed_role, "; ", Abs(role),
                                                    " ranks below it and may not approve it"));
  }
  if (!chain.MayApprove(role, amount)) {
    return absl::PermissionDeniedError(absl::StrCat("the claim's amount claimed ", amount.ToString(),
                                                    " exceeds the ", Abs(role), " limit (",
                                                    chain.LimitText(role, amount.currency()),
                                                    "), also for a partial approval; escalate the claim"));
  }
  return absl::OkStatus();
}

// ---- What a claim pays -----------------------------------------------------------

absl::StatusOr<Money> PayableAmount(const Money& claimed, const PlanTerms& terms) {
  for (const std::optional<Money>* term : {&terms.per_visit_cap, &terms.remaining_limit}) {
    if (*term && (*term)->currency() != claimed.currency()) {
      return InvalidArgument("amount_claimed.currency_code",
                             absl::StrCat("must be the plan's currency ", (*term)->currency()));
    }
  }
  CAREOPS_ASSIGN_OR_RETURN(Money copay, claimed.ApplyBasisPoints(terms.copay_basis_points));
  CAREOPS_ASSIGN_OR_RETURN(Money payable, claimed.Subtract(copay));
  for (const std::optional<Money>* term : {&terms.per_visit_cap, &terms.remaining_limit}) {
    if (*term && (*term)->minor() < payable.minor()) payable = **term;
  }
  if (payable.is_negative()) payable = Money(claimed.currency(), 0);
  return payable;
}

Money PlanShare(const Claim& c) {
  const std::string& currency = c.amount_claimed.currency();
  switch (c.status) {
    case S::kApproved:
    case S::kPartiallyApproved:
    case S::kSettled:
    case S::kApprovalPending:
    case S::kReopenPending:
      return c.amount_approved;
    case S::kClosed:
      return c.decided_at && c.amount_approved.minor() > 0 ? c.amount_approved : Money(currency, 0);
    case S::kDenied:
    case S::kRejected:
      return Money(currency, 0);
    default:
      return c.payable;
  }
}

Money MemberShare(const Claim& c) {
  // An adjustment corrects what the plan pays; the member's share was the original's.
  if (IsAdjustment(c)) return Money(c.amount_claimed.currency(), 0);
  absl::StatusOr<Money> rest = c.amount_claimed.Subtract(PlanShare(c));
  return rest.ok() ? *rest : Money(c.amount_claimed.currency(), 0);
}

absl::StatusOr<Money> AmountToApprove(const Claim& c, const std::optional<Money>& requested) {
  if (IsAdjustment(c)) {
    if (requested && *requested != c.amount_claimed) {
      return InvalidArgument("approved_amount.amount_minor",
                             absl::StrCat("an adjustment is approved for its whole amount ",
                                          c.amount_claimed.ToString(), " (leave approved_amount unset)"));
    }
    return c.amount_claimed;
  }
  if (c.payable.minor() <= 0) {
    return absl::FailedPreconditionError(
        "nothing is payable on this claim (co-pay, cap or remaining limit); deny it instead of approving it");
  }
  if (!requested) return c.payable;
  if (requested->currency() != c.amount_claimed.currency()) {
    return InvalidArgument("approved_amount.currency_code",
                           absl::StrCat("must be the claim's currency ", c.amount_claimed.currency()));
  }
  if (requested->minor() <= 0 || requested->minor() > c.payable.minor()) {
    return InvalidArgument("approved_amount.amount_minor",
                           absl::StrCat("must be more than zero and at most the payable amount (",
                                        c.payable.ToString(), " of ", c.amount_claimed.ToString(), " claimed)"));
  }
  return *requested;
}

absl::Status CheckDecisionRank(const AuthorityChain& chain, std::string_view role, const Claim& claim,
                               ClaimAction action) {
  std::optional<int> rank = chain.Rank(role);
  if (!rank) {
    return absl::PermissionDeniedError(absl::StrCat("role '", Abs(role), "' is not in the authority chain and may not ",
                                                    Abs(ClaimActionName(action)), " claims"));
  }
  std::optional<int> routed = chain.Rank(claim.routed_role);
  if (routed && *rank < *routed) {
    return absl::PermissionDeniedError(absl::StrCat(Abs(ClaimActionName(action)), " needs a rank of at least ",
                                                    claim.routed_role, " (the claim's routed role); ", Abs(role),
                                                    " ranks below it"));
  }
  return absl::OkStatus();
}

absl::Status CheckMakerChecker(bool enforced, std::string_view user, const Claim& claim) {
  if (!enforced || user != claim.submitted_by) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(
      "maker-checker: ", Abs(user), " submitted this claim and may not approve it; another approver must"));
}

absl::StatusOr<AutoRouteThresholds> ParseAutoRouteThresholds(std::string_view text) {
  AutoRouteThresholds out;
  for (std::string_view item : SplitAny(text, ",", true)) {
    item = StripSpace(item);
    std::string currency;
    int64_t minor = 0;
    if (!ParseCurrencyAmount(item, &currency, &minor)) {
      return absl::InvalidArgumentError(
          absl::StrCat("auto-route threshold '", Abs(item), "' must be CUR=minor_units"));
    }
    out[currency] = minor;
  }
  return out;
}

std::string RouteOnSubmit(const AuthorityChain& chain, const AutoRouteThresholds& thresholds,
                          const Money& amount) {
  auto it = thresholds.find(amount.currency());
  if (it != thresholds.end() && amount.minor() > it->second) return chain.LowestRoleFor(amount);
  return chain.lowest_role();
}

// ---- Adjustments ---------------------------------------------------------------

bool AdjustmentStands(const Claim& a) {
  return a.status == S::kApproved || a.status == S::kSettled || (a.status == S::kClosed && a.settled_at.has_value());
}

AdjustmentBook BookOf(const Claim& original, const std::vector<Claim>& adjustments) {
  const std::string& currency = original.amount_claimed.currency();
  AdjustmentBook book{.paid_net = original.amount_approved, .live = {}, .open_adjustment = ""};
  if (!original.utilization_ref.empty()) book.live.push_back({original.utilization_ref, original.amount_approved});
  for (const Claim& a : adjustments) {
    if (AwaitsDecision(a.status) || AwaitsMembership(a.status)) book.open_adjustment = a.claim_id;
    // What membership holds, whatever became of the claw-back after: the records
    // it gave back are gone, the rest it recorded is there.
    for (const std::string& given : ClawbackGivenBack(a)) {
      std::erase_if(book.live, [&](const LiveRecord& r) { return r.ref == given; });
    }
    if (ClawbackRestHeld(a)) {
      book.live.push_back({a.utilization_ref, Money(currency, a.clawback_rest_minor)});
    }
    if (!AdjustmentStands(a)) continue;
    absl::StatusOr<Money> net = book.paid_net.Add(a.amount_approved);
    if (net.ok()) book.paid_net = *net;
    if (!a.amount_approved.is_negative()) book.live.push_back({a.utilization_ref, a.amount_approved});
  }
  return book;
}

absl::Status CheckAdjustment(const Claim& original, const AdjustmentBook& book, const Money& amount) {
  if (IsAdjustment(original)) {
    return absl::FailedPreconditionError(
        absl::StrCat("claim ", original.claim_id, " is an ADJUSTMENT; adjust its original claim ",
                     original.original_claim_id, " instead"));
  }
  const bool paid = original.settled_at.has_value() &&
                    (original.status == S::kSettled || original.status == S::kClosed);
  if (!paid) {
    return absl::FailedPreconditionError(absl::StrCat(
        "claim ", original.claim_id, " is ", Abs(ClaimStatusName(original.status)),
        "; an adjustment corrects a settled claim (SETTLED, or CLOSED after settlement); before settlement,"
        " reopen or decide the claim itself"));
  }
  if (amount.currency() != original.amount_claimed.currency()) {
    return InvalidArgument("amount_claimed.currency_code",
                           absl::StrCat("must be the original claim's currency ", original.amount_claimed.currency()));
  }
  if (!book.open_adjustment.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("adjustment ", book.open_adjustment, " of claim ",
                                                      original.claim_id,
                                                      " is not decided yet; decide it before submitting another"));
  }
  if (amount.is_negative()) {
    if (-amount.minor() > book.paid_net.minor()) {
      return absl::FailedPreconditionError(
          absl::StrCat("amount_claimed: claws back ", Money(amount.currency(), -amount.minor()).ToString(),
                       ", more than the ", book.paid_net.ToString(), " paid on claim ", original.claim_id,
                       " net of its earlier adjustments"));
    }
    return absl::OkStatus();
  }
  // The plan never pays more for the original than its rules allow.
  CAREOPS_ASSIGN_OR_RETURN(Money ceiling,
                           PayableAmount(original.amount_claimed, {.copay_basis_points = original.copay_basis_points,
                                                                   .per_visit_cap = original.per_visit_cap,
                                                                   .remaining_limit = std::nullopt}));
  CAREOPS_ASSIGN_OR_RETURN(Money after, book.paid_net.Add(amount));
  if (after.minor() > ceiling.minor()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "amount_claimed: ", amount.ToString(), " would make the plan pay ", after.ToString(), " for claim ",
        original.claim_id, ", more than its rules allow (", ceiling.ToString(),
        ": amount claimed less co-pay, at most the per-visit cap)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Clawback> PlanClawback(const AdjustmentBook& book, const Money& amount) {
  const int64_t back = -amount.minor();
  // The smallest record that covers it (the newest of equals): the least rest to
  // record, so the least room it needs in the annual limit while it lands.
  const LiveRecord* single = nullptr;
  for (auto it = book.live.rbegin(); it != book.live.rend(); ++it) {
    if (it->amount.minor() >= back && (single == nullptr || it->amount.minor() < single->amount.minor())) {
      single = &*it;
    }
  }
  if (single != nullptr) {
    return Clawback{.give_back_refs = {single->ref}, .rest = Money(amount.currency(), single->amount.minor() - back)};
  }
  // Else as few records as cover it: the largest first (the newest of equals).
  std::vector<const LiveRecord*> by_size;
  for (auto it = book.live.rbegin(); it != book.live.rend(); ++it) by_size.push_back(&*it);
  std::stable_sort(by_size.begin(), by_size.end(),
                   [](const LiveRecord* a, const LiveRecord* b) { return a->amount.minor() > b->amount.minor(); });
  Clawback plan{.give_back_refs = {}, .rest = Money(amount.currency(), 0)};
  int64_t covered = 0;
  for (const LiveRecord* r : by_size) {
    if (covered >= back || static_cast<int>(plan.give_back_refs.size()) == kMaxClawbackRecords) break;
    plan.give_back_refs.push_back(r->ref);
    covered += r->amount.minor();
  }
  if (covered < back) {
    return absl::FailedPreconditionError(absl::StrCat(
        "amount_claimed: claws back ", Money(amount.currency(), back).ToString(), "; the ",
        plan.give_back_refs.size(), " largest utilisation records of the claim cover only ",
        Money(amount.currency(), covered).ToString(), " (a claw-back gives back at most ", kMaxClawbackRecords,
        " records): claw back at most that, then adjust again for the difference"));
  }
  plan.rest = Money(amount.currency(), covered - back);
  return plan;
}

bool IsClawback(const Claim& c) { return IsAdjustment(c) && !c.clawback_refs.empty(); }

bool ClawbackPartlyHeld(const Claim& c) {
  return IsClawback(c) && (c.clawback_given > 0 || c.clawback_rest_recorded);
}

std::span<const std::string> ClawbackGivenBack(const Claim& c) {
  const size_t given = std::clamp<size_t>(c.clawback_given, 0, c.clawback_refs.size());
  return std::span<const std::string>(c.clawback_refs).first(given);
}

bool ClawbackRestHeld(const Claim& c) { return c.clawback_rest_recorded && c.clawback_rest_minor > 0; }

ClawbackStep NextClawbackStep(const Claim& c) {
  // The rest whenever it is owed: before any give-back, or (a claw-back from
  // before V006, one record) after its record was given back.
  if (c.clawback_rest_minor > 0 && !c.clawback_rest_recorded) return ClawbackStep::kRecordRest;
  if (c.clawback_given < static_cast<int>(c.clawback_refs.size())) return ClawbackStep::kGiveBack;
  return ClawbackStep::kDone;
}

std::string UtilizationReference(const std::string& claim_id, int seq) {
  return seq == 1 ? claim_id : absl::StrCat(claim_id, "/", seq);
}

Money AuthorityAmount(const Claim& c) {
  const Money& a = c.amount_claimed;
  return a.is_negative() ? Money(a.currency(), -a.minor()) : a;
}

// ---- TAT ---------------------------------------------------------------------

absl::Time TatTargets::DecisionDue(absl::Time from) const {
  return calendar.AddBusinessDays(from, decision_business_days);
}

absl::Time TatTargets::SettlementDue(absl::Time approved) const {
  return calendar.AddBusinessDays(approved, settlement_business_days);
}

// ---- Duplicates ----------------------------------------------------------------

bool CountsForDuplicates(ClaimStatus s) { return s != S::kRejected && s != S::kDenied; }

std::optional<std::string> FindLikelyDuplicate(const Claim& incoming, const std::vector<Claim>& candidates) {
  for (const Claim& c : candidates) {
    if (c.claim_id == incoming.claim_id || !CountsForDuplicates(c.status)) continue;
    if (c.member_id == incoming.member_id && c.benefit_code == incoming.benefit_code &&
        c.provider_id == incoming.provider_id && c.service_date == incoming.service_date &&
        c.amount_claimed == incoming.amount_claimed) {
      return c.claim_id;
    }
  }
  return std::nullopt;
}

// ---- Investigations ----------------------------------------------------------------

std::string_view InvestigationActionName(InvestigationAction a) {
  switch (a) {
    case InvestigationAction::kOpen: return "open";
    case InvestigationAction::kRecordFindings: return "record_findings";
    case InvestigationAction::kClose: return "close";
  }
  return "unknown";
}

absl::StatusOr<InvestigationStatus> NextInvestigationStatus(InvestigationStatus from, InvestigationAction a) {
  using I = InvestigationStatus;
  switch (a) {
    case InvestigationAction::kOpen:
      if (from == I::kFlagged) return I::kOpen;
      break;
    case InvestigationAction::kRecordFindings:
      if (from == I::kOpen || from == I::kFindingsRecorded) return I::kFindingsRecorded;
      break;
    case InvestigationAction::kClose:
      if (from == I::kFindingsRecorded) return I::kClosed;
      break;
  }
  return absl::FailedPreconditionError(absl::StrCat("investigation is ", Abs(InvestigationStatusName(from)),
                                                    "; ", Abs(InvestigationActionName(a)),
                                                    a == InvestigationAction::kOpen ? " needs FLAGGED"
                                                    : a == InvestigationAction::kClose
                                                        ? " needs FINDINGS_RECORDED (record findings first)"
                                                        : " needs OPEN or FINDINGS_RECORDED"));
}

}  // namespace careops::claims
