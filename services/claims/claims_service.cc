#include "services/claims/claims_service.h"

#include <map>
#include <tuple>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "common/enum_codec.h"
#include "common/failpoint.h"
#include "common/log.h"
#include "common/mysql/mutation_runner.h"
#include "common/paging.h"
#include "common/proto_time.h"
#include "common/status.h"
#include "common/text.h"
#include "common/validation.h"
#include "services/claims/claims_outbox.h"

namespace careops::claims {
namespace {

constexpr size_t kMaxReason = 1024;
constexpr size_t kMaxCodes = 50;

// ---- Transitions -------------------------------------------------------------------

// The change `action` makes to `current`: its next status (FAILED_PRECONDITION
// naming the current one when the action is illegal there) and its history line.
absl::StatusOr<ClaimChange> Step(const Claim& current, ClaimAction action, const Principal& caller,
                                 const std::string& reason, std::string details, absl::Time now) {
  CAREOPS_ASSIGN_OR_RETURN(ClaimStatus to, NextStatus(current, action));
  ClaimChange change{current, ClaimEvent{.at = now,
                                         .action = std::string(ClaimActionName(action)),
                                         .from_status = current.status,
                                         .to_status = to,
                                         .actor_user = caller.user,
                                         .actor_role = caller.role,
                                         .reason = reason,
                                         .details = std::move(details)}};
  change.claim.status = to;
  return change;
}

// The first failed check, in order; OK when all passed.
absl::Status FirstError(std::initializer_list<absl::Status> checks) {
  for (const absl::Status& s : checks) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace

v1::ClaimEventAction EventActionOf(std::string_view action) {
  return EnumFromShortName<v1::ClaimEventAction>(absl::AsciiStrToUpper(Abs(action)));
}

v1::Claim ToProto(const Claim& c) {
  v1::Claim out;
  out.set_claim_id(c.claim_id);
  out.set_type(EnumFromShortName<v1::ClaimType>(c.type));
  out.set_member_id(c.member_id);
  out.set_account_id(c.account_id);
  out.set_plan_id(c.plan_id);
  out.set_benefit_code(c.benefit_code);
  out.set_benefit_category(c.benefit_category);
  *out.mutable_service_date() = careops::ToProto(c.service_date);
  out.set_provider_id(c.provider_id);
  *out.mutable_amount_claimed() = careops::ToProto(c.amount_claimed);
  *out.mutable_amount_approved() = careops::ToProto(c.amount_approved);
  out.set_channel(EnumFromShortName<v1::Channel>(c.channel));
  for (const auto& s : c.diagnosis_codes) out.add_diagnosis_codes(s);
  for (const auto& s : c.procedure_codes) out.add_procedure_codes(s);
  for (const auto& s : c.attachment_refs) out.add_attachment_refs(s);
  out.set_status(EnumFromShortName<v1::ClaimStatus>(ClaimStatusName(c.status)));
  for (const auto& r : c.rejection_reasons) {
    auto* reason = out.add_rejection_reasons();
    reason->set_code(r.code);
    reason->set_message(r.message);
  }
  out.set_possible_duplicate(c.possible_duplicate);
  out.set_duplicate_of_claim_id(c.duplicate_of);
  out.set_assignee(c.assignee);
  out.set_routed_role(c.routed_role);
  out.set_submitted_by(c.submitted_by);
  *out.mutable_submit_time() = ToProtoTimestamp(c.submitted_at);
  *out.mutable_update_time() = ToProtoTimestamp(c.updated_at);
  if (c.decided_at) *out.mutable_decision_time() = ToProtoTimestamp(*c.decided_at);
  if (c.settled_at) *out.mutable_settle_time() = ToProtoTimestamp(*c.settled_at);
  out.set_payment_reference(c.payment_reference);
  *out.mutable_decision_due_time() = ToProtoTimestamp(c.decision_due_at);
  if (c.settlement_due_at) *out.mutable_settlement_due_time() = ToProtoTimestamp(*c.settlement_due_at);
  out.set_decision_breached(c.decision_breached);
  out.set_settlement_breached(c.settlement_breached);
  out.set_etag(mysql::EtagOf(c.version));
  out.set_utilization_reference(c.utilization_ref);
  *out.mutable_payable_amount() = careops::ToProto(c.payable);
  out.set_copay_basis_points(c.copay_basis_points);
  if (c.per_visit_cap) *out.mutable_per_visit_cap() = careops::ToProto(*c.per_visit_cap);
  *out.mutable_plan_share() = careops::ToProto(PlanShare(c));
  *out.mutable_member_share() = careops::ToProto(MemberShare(c));
  out.set_original_claim_id(c.original_claim_id);
  if (!c.clawback_refs.empty()) out.set_clawback_reference(c.clawback_refs.front());
  for (const auto& ref : c.clawback_refs) out.add_clawback_references(ref);
  return out;
}

v1::Investigation ToProto(const Investigation& v) {
  v1::Investigation out;
  out.set_investigation_id(v.investigation_id);
  out.set_claim_id(v.claim_id);
  out.set_category(EnumFromShortName<v1::NonConformanceCategory>(v.category));
  out.set_notes(v.notes);
  out.set_status(EnumFromShortName<v1::InvestigationStatus>(InvestigationStatusName(v.status)));
  out.set_flagged_by(v.flagged_by);
  out.set_investigator(v.investigator);
  out.set_findings(v.findings);
  out.set_remedial_action(v.remedial_action);
  *out.mutable_flag_time() = ToProtoTimestamp(v.flagged_at);
  *out.mutable_update_time() = ToProtoTimestamp(v.updated_at);
  if (v.closed_at) *out.mutable_close_time() = ToProtoTimestamp(*v.closed_at);
  out.set_etag(mysql::EtagOf(v.version));
  return out;
}

ClaimsServiceImpl::ClaimsServiceImpl(ClaimStore& store, MembershipClient& membership,
                                     outbox::IntentDeliverer& intents, const RpcKit& rpc, ClaimsMetrics& metrics,
                                     ClaimsServiceOptions options)
    : store_(store),
      membership_(membership),
      intents_(intents),
      rpc_(rpc),
      metrics_(metrics),
      clock_(rpc.clock()),
      options_(std::move(options)),
      ids_(rpc.clock()) {}

// ---- Submit, get, list -------------------------------------------------------------

void ClaimsServiceImpl::Bind(PooledService& s) {
  s.Unary("SubmitClaim", this, &ClaimsServiceImpl::SubmitClaim)
   .Unary("GetClaim", this, &ClaimsServiceImpl::GetClaim)
   .Unary("ListClaims", this, &ClaimsServiceImpl::ListClaims)
   .Unary("AssignClaim", this, &ClaimsServiceImpl::AssignClaim)
   .Unary("StartReview", this, &ClaimsServiceImpl::StartReview)
   .Unary("RequestInformation", this, &ClaimsServiceImpl::RequestInformation)
   .Unary("ProvideInformation", this, &ClaimsServiceImpl::ProvideInformation)
   .Unary("ApproveClaim", this, &ClaimsServiceImpl::ApproveClaim)
   .Unary("DenyClaim", this, &ClaimsServiceImpl::DenyClaim)
   .Unary("EscalateClaim", this, &ClaimsServiceImpl::EscalateClaim)
   .Unary("SettleClaim", this, &ClaimsServiceImpl::SettleClaim)
   .Unary("CloseClaim", this, &ClaimsServiceImpl::CloseClaim)
   .Unary("ReopenClaim", this, &ClaimsServiceImpl::ReopenClaim)
   .Unary("GetClaimHistory", this, &ClaimsServiceImpl::GetClaimHistory)
   .Unary("RunBreachScan", this, &ClaimsServiceImpl::RunBreachScan)
   .Unary("FlagNonConformance", this, &ClaimsServiceImpl::FlagNonConformance)
   .Unary("OpenInvestigation", this, &ClaimsServiceImpl::OpenInvestigation)
   .Unary("RecordFindings", this, &ClaimsServiceImpl::RecordFindings)
   .Unary("CloseInvestigation", this, &ClaimsServiceImpl::CloseInvestigation)
   .Unary("ListInvestigations", this, &ClaimsServiceImpl::ListInvestigations)
   .ServerStream("StreamBordereau", this, &ClaimsServiceImpl::StreamBordereau)
   .Unary("ReconcileUtilization", this, &ClaimsServiceImpl::ReconcileUtilization);
}

grpc::Status ClaimsServiceImpl::SubmitClaim(grpc::ServerContextBase* ctx, const v1::SubmitClaimRequest* req,
                                            v1::Claim* resp) {
  // The wrapper checks request_id, and the request log answers a replay, before
  // membership is asked anything: a retried submission never depends on the peer.
  return rpc_.Write(ctx, __func__, req->request_id(), *req, resp, [&](const Mutation& m) -> absl::Status {
    CAREOPS_ASSIGN_OR_RETURN(bool replayed, store_.AnswerIfReplayed(m));
    if (replayed) return absl::OkStatus();
    if (req->type() == v1::CLAIM_TYPE_UNSPECIFIED || !v1::ClaimType_IsValid(req->type())) {
      return InvalidArgument("type", "is required: CLAIM, PRE_AUTHORIZATION or ADJUSTMENT");
    }
    if (req->channel() == v1::CHANNEL_UNSPECIFIED || !v1::Channel_IsValid(req->channel())) {
      return InvalidArgument("channel", "is required: PORTAL, HOTLINE, EMAIL or PROVIDER");
    }
    if (req->type() == v1::CLAIM_TYPE_ADJUSTMENT) return SubmitAdjustment(m, *req, resp);
    if (!req->original_claim_id().empty()) {
      return InvalidArgument("original_claim_id", "is only for type ADJUSTMENT (the settled claim it corrects)");
    }
    CAREOPS_RETURN_IF_ERROR(RequireId(req->member_id(), "member_id", 64));
    CAREOPS_RETURN_IF_ERROR(RequireId(req->benefit_code(), "benefit_code", 64));
    CAREOPS_RETURN_IF_ERROR(RequireId(req->provider_id(), "provider_id", 128));
    if (!req->has_service_date()) return InvalidArgument("service_date", "is required");
    CAREOPS_ASSIGN_OR_RETURN(absl::CivilDay service_date, FromProto(req->service_date(), "service_date"));
    const absl::Time now = m.now;
    const absl::CivilDay today = options_.tat.calendar.DayOf(now);  // the business's date, not UTC's
    if (req->type() == v1::CLAIM_TYPE_CLAIM && service_date > today) {
      return InvalidArgument("service_date", "must not be in the future for a claim (use PRE_AUTHORIZATION)");
    }
    if (!req->has_amount_claimed()) return InvalidArgument("amount_claimed", "is required");
    Money amount = FromProto(req->amount_claimed());
    CAREOPS_RETURN_IF_ERROR(ValidateMoney(amount, "amount_claimed"));
    if (amount.minor() == 0) return InvalidArgument("amount_claimed.amount_minor", "must be greater than zero");
    CAREOPS_RETURN_IF_ERROR(ValidateIdList(req->diagnosis_codes(), "diagnosis_codes", kMaxCodes, 32));
    CAREOPS_RETURN_IF_ERROR(ValidateIdList(req->procedure_codes(), "procedure_codes", kMaxCodes, 32));
    CAREOPS_RETURN_IF_ERROR(ValidateIdList(req->attachment_refs(), "attachment_refs", kMaxCodes, 256));

    CAREOPS_ASSIGN_OR_RETURN(Eligibility eligibility,
                             membership_.CheckEligibility({req->member_id(), req->benefit_code(), service_date}));
    // A member membership knows has a plan currency; a claim in another is bad input.
    if (!eligibility.plan_currency.empty() && eligibility.plan_currency != amount.currency()) {
      return InvalidArgument("amount_claimed.currency_code",
                             absl::StrCat("must be the plan's currency ", eligibility.plan_currency));
    }
    CAREOPS_ASSIGN_OR_RETURN(Money payable, PayableAmount(amount, {.copay_basis_points = eligibility.copay_basis_points,
                                                                   .per_visit_cap = eligibility.per_visit_cap,
                                                                   .remaining_limit = eligibility.remaining_limit}));
    Claim claim;
    claim.claim_id = ids_.Next();
    claim.type = EnumShortName(req->type());
    claim.member_id = req->member_id();
    claim.account_id = eligibility.account_id;
    claim.plan_id = eligibility.plan_id;
    claim.benefit_code = req->benefit_code();
    claim.benefit_category = eligibility.benefit_category;
    claim.service_date = service_date;
    claim.provider_id = req->provider_id();
    claim.amount_claimed = amount;
    claim.amount_approved = Money(amount.currency(), 0);
    claim.copay_basis_points = eligibility.copay_basis_points;
    claim.per_visit_cap = eligibility.per_visit_cap;
    claim.payable = payable;
    claim.channel = EnumShortName(req->channel());
    claim.diagnosis_codes.assign(req->diagnosis_codes().begin(), req->diagnosis_codes().end());
    claim.procedure_codes.assign(req->procedure_codes().begin(), req->procedure_codes().end());
    claim.attachment_refs.assign(req->attachment_refs().begin(), req->attachment_refs().end());
    claim.status = eligibility.eligible ? ClaimStatus::kSubmitted : ClaimStatus::kRejected;
    for (const auto& r : eligibility.reasons) claim.rejection_reasons.push_back({r.code, r.message});
    if (!eligibility.eligible && claim.rejection_reasons.empty()) {
      claim.rejection_reasons.push_back({"NOT_ELIGIBLE", "membership reported the member not eligible"});
    }
    claim.routed_role = RouteOnSubmit(options_.authority, options_.auto_route, amount);
    claim.submitted_by = m.caller.user;
    claim.submitted_at = now;
    claim.updated_at = now;
    claim.decision_due_at = options_.tat.DecisionDue(now);
    if (!eligibility.eligible) claim.decided_at = now;
    claim.version = 1;

    ClaimEvent event{.at = now,
                     .action = kEventSubmit,
                     .from_status = ClaimStatus::kSubmitted,
                     .to_status = claim.status,
                     .actor_user = m.caller.user,
                     .actor_role = m.caller.role,
                     .reason = "",
                     .details = eligibility.eligible
                                    ? absl::StrCat("eligible; payable ", payable.ToString(), "; routed to ",
                                                   claim.routed_role)
                                    : absl::StrCat("rejected at screening: ", claim.rejection_reasons.front().code)};
    bool stored = false;
    CAREOPS_RETURN_IF_ERROR(store_.CreateClaim(m, claim, event, [&](const Claim& c) {
      stored = true;
      *resp = ToProto(c);
    }));
    if (stored) {
      metrics_.Submitted(claim.channel, claim.type);
      if (!eligibility.eligible) metrics_.Decided(ClaimStatus::kRejected);
    }
    return absl::OkStatus();
  });
}

absl::Status ClaimsServiceImpl::SubmitAdjustment(const Mutation& m, const v1::SubmitClaimRequest& req,
                                                v1::Claim* resp) {
  CAREOPS_RETURN_IF_ERROR(RequireId(req.original_claim_id(), "original_claim_id", 26));
  CAREOPS_RETURN_IF_ERROR(OptionalId(req.member_id(), "member_id", 64));
  CAREOPS_RETURN_IF_ERROR(OptionalId(req.benefit_code(), "benefit_code", 64));
  CAREOPS_RETURN_IF_ERROR(OptionalId(req.provider_id(), "provider_id", 128));
  std::optional<absl::CivilDay> service_date;
  if (req.has_service_date()) {
    CAREOPS_ASSIGN_OR_RETURN(service_date, FromProto(req.service_date(), "service_date"));
  }
  if (!req.has_amount_claimed()) return InvalidArgument("amount_claimed", "is required");
  const Money amount = FromProto(req.amount_claimed());
  CAREOPS_RETURN_IF_ERROR(ValidateMoney(amount, "amount_claimed", /*allow_negative=*/true));
  if (amount.minor() == 0) {
    return InvalidArgument("amount_claimed.amount_minor",
                           "must not be zero: positive when the plan pays more, negative to claw back");
  }
  CAREOPS_RETURN_IF_ERROR(ValidateIdList(req.diagnosis_codes(), "diagnosis_codes", kMaxCodes, 32));
  CAREOPS_RETURN_IF_ERROR(ValidateIdList(req.procedure_codes(), "procedure_codes", kMaxCodes, 32));
  CAREOPS_RETURN_IF_ERROR(ValidateIdList(req.attachment_refs(), "attachment_refs", kMaxCodes, 256));
  const absl::Time now = m.now;
  // Runs with the original locked: its adjustments are judged one at a time.
  auto make = [&](const Claim& original,
                  const std::vector<Claim>& adjustments) -> absl::StatusOr<std::pair<Claim, ClaimEvent>> {
    // What the adjustment is about comes from the original; a client that
    // repeats it must repeat it exactly.
    for (const auto& [field, given, theirs] :
         {std::tuple<const char*, const std::string&, const std::string&>{"member_id", req.member_id(),
                                                                          original.member_id},
          {"benefit_code", req.benefit_code(), original.benefit_code},
          {"provider_id", req.provider_id(), original.provider_id}}) {
      if (!given.empty() && given != theirs) {
        return InvalidArgument(field, absl::StrCat("must be the original claim's (", theirs, ") or unset"));
      }
    }
    if (service_date && *service_date != original.service_date) {
      return InvalidArgument("service_date", "must be the original claim's or unset");
    }
    const AdjustmentBook book = BookOf(original, adjustments);
    CAREOPS_RETURN_IF_ERROR(CheckAdjustment(original, book, amount));
    Claim c;
    c.claim_id = ids_.Next();
    c.type = kTypeAdjustment;
    c.original_claim_id = original.claim_id;
    c.member_id = original.member_id;
    c.account_id = original.account_id;
    c.plan_id = original.plan_id;
    c.benefit_code = original.benefit_code;
    c.benefit_category = original.benefit_category;
    c.service_date = original.service_date;
    c.provider_id = original.provider_id;
    c.amount_claimed = amount;
    c.amount_approved = Money(amount.currency(), 0);
    c.copay_basis_points = original.copay_basis_points;
    c.per_visit_cap = original.per_visit_cap;
    c.payable = amount;  // the correction is what the plan pays (or recovers)
    c.channel = EnumShortName(req.channel());
    c.diagnosis_codes.assign(req.diagnosis_codes().begin(), req.diagnosis_codes().end());
    c.procedure_codes.assign(req.procedure_codes().begin(), req.procedure_codes().end());
    c.attachment_refs.assign(req.attachment_refs().begin(), req.attachment_refs().end());
    c.status = ClaimStatus::kSubmitted;
    c.routed_role = RouteOnSubmit(options_.authority, options_.auto_route, AuthorityAmount(c));
    c.submitted_by = m.caller.user;
    c.submitted_at = now;
    c.updated_at = now;
    c.decision_due_at = options_.tat.DecisionDue(now);
    c.version = 1;
    ClaimEvent event{.at = now,
                     .action = kEventSubmit,
                     .from_status = ClaimStatus::kSubmitted,
                     .to_status = ClaimStatus::kSubmitted,
                     .actor_user = m.caller.user,
                     .actor_role = m.caller.role,
                     .reason = "",
                     .details = absl::StrCat("adjustment of ", original.claim_id, " by ", amount.ToString(),
                                             " (paid net before it ", book.paid_net.ToString(), "); routed to ",
                                             c.routed_role)};
    return std::make_pair(std::move(c), std::move(event));
  };
  bool stored = false;
  absl::Status s = store_.CreateAdjustment(m, req.original_claim_id(), make, [&](const Claim& c) {
    stored = true;
    *resp = ToProto(c);
  });
  if (absl::IsNotFound(s)) {
    return absl::NotFoundError(absl::StrCat("original_claim_id: no claim '", req.original_claim_id(), "'"));
  }
  CAREOPS_RETURN_IF_ERROR(s);
  if (stored) metrics_.Submitted(EnumShortName(req.channel()), kTypeAdjustment);
  return absl::OkStatus();
}

grpc::Status ClaimsServiceImpl::GetClaim(grpc::ServerContextBase* ctx, const v1::GetClaimRequest* req, v1::Claim* resp) {
  return rpc_.Read(ctx, __func__, [&](const Call&) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(RequireId(req->claim_id(), "claim_id", 26));
    CAREOPS_ASSIGN_OR_RETURN(Claim c, store_.GetClaim(req->claim_id()));
    *resp = ToProto(c);
    return absl::OkStatus();
  });
}

grpc::Status ClaimsServiceImpl::ListClaims(grpc::ServerContextBase* ctx, const v1::ListClaimsRequest* req,
                                           v1::ListClaimsResponse* resp) {
  return rpc_.Read(ctx, __func__, [&](const Call&) -> absl::Status {
    CAREOPS_ASSIGN_OR_RETURN(PageRequest page, ParsePageRequest(*req, req->page_size(), req->page_token()));
    ClaimFilter filter;
    if (req->status() != v1::CLAIM_STATUS_UNSPECIFIED) {
      filter.status = ParseClaimStatus(EnumShortName(req->status()));
      if (!filter.status) return InvalidArgument("status", "is not a claim status");
    }
    CAREOPS_RETURN_IF_ERROR(OptionalId(req->assignee(), "assignee", 128));
    CAREOPS_RETURN_IF_ERROR(OptionalId(req->member_id(), "member_id", 64));
    CAREOPS_RETURN_IF_ERROR(OptionalId(req->account_id(), "account_id", 64));
    filter.assignee = req->assignee();
    filter.member_id = req->member_id();
    filter.account_id = req->account_id();
    if (req->channel() != v1::CHANNEL_UNSPECIFIED) {
      if (!v1::Channel_IsValid(req->channel())) return InvalidArgument("channel", "is not a claim channel");
      filter.channel = EnumShortName(req->channel());
    }
    filter.breached_only = req->breached_only();
    CAREOPS_RETURN_IF_ERROR(OptionalId(req->routed_role(), "routed_role", 64));
    if (!req->routed_role().empty() && !options_.authority.Contains(req->routed_role())) {
      return InvalidArgument("routed_role", absl::StrCat(Quote(req->routed_role()), " is not a role of the authority chain"));
    }
    filter.routed_role = req->routed_role();
    if (req->has_submitted_from()) {
      CAREOPS_ASSIGN_OR_RETURN(filter.submitted_from, FromProto(req->submitted_from(), "submitted_from"));
    }
    if (req->has_submitted_before()) {
      CAREOPS_ASSIGN_OR_RETURN(filter.submitted_before, FromProto(req->submitted_before(), "submitted_before"));
    }
    if (filter.submitted_from && filter.submitted_before && *filter.submitted_before <= *filter.submitted_from) {
      return InvalidArgument("submitted_before", "must be after submitted_from");
    }
    CAREOPS_ASSIGN_OR_RETURN(mysql::KeysetPage<Claim> rows, store_.ListClaims(filter, page));
    for (const Claim& c : rows.items) *resp->add_claims() = ToProto(c);
    if (rows.more) resp->set_next_page_token(NextPageToken(*req, rows.items.back().claim_id));
    return absl::OkStatus();
  });
}

// ---- Transitions -------------------------------------------------------------------

grpc::Status ClaimsServiceImpl::Transition(grpc::ServerContextBase* ctx, std::string_view method,
                                           const google::protobuf::Message& request, v1::Claim* response,
                                           const std::string& request_id, const std::string& claim_id,
                                           const std::string& etag, const absl::Status& input, const Decide& decide,
                                           const AfterCommit& after) {
  return rpc_.Write(ctx, method, request_id, request, response, [&](const Mutation& m) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(input);
    CAREOPS_RETURN_IF_ERROR(RequireId(claim_id, "claim_id", 26));
    CAREOPS_ASSIGN_OR_RETURN(mysql::ExpectedVersion expected, mysql::ExpectedVersion::FromEtag(etag));
    std::optional<Claim> stored;
    CAREOPS_RETURN_IF_ERROR(store_.TransitionClaim(
        m, claim_id, expected, [&](const Claim& current) { return decide(m.caller, current, m.now); },
        [&](const Claim& c) {
          stored = c;
          *response = ToProto(c);
        }));
    // Counted only when this call made the change (not for a replayed request_id).
    if (stored && after) after(*stored, m.now);
    return absl::OkStatus();
  });
}

grpc::Status ClaimsServiceImpl::AssignClaim(grpc::ServerContextBase* ctx, const v1::AssignClaimRequest* req,
                                            v1::Claim* resp) {
  const absl::Status input =
      FirstError({RequireId(req->assignee(), "assignee", 128), OptionalText(req->reason(), "reason", kMaxReason, TextKind::kMultiLine)});
  return Transition(ctx, __func__, *req, resp, req->request_id(), req->claim_id(), req->etag(), input,
                         [&](const Principal& caller, const Claim& cur, absl::Time now) -> absl::StatusOr<ClaimChange> {
                           CAREOPS_ASSIGN_OR_RETURN(ClaimChange change,
                                                    Step(cur, ClaimAction::kAssign, caller, req->reason(),
                                                         absl::StrCat("assigned to ", req->assignee()), now));
                           change.claim.assignee = req->assignee();
                           return change;
                         });
}

grpc::Status ClaimsServiceImpl::StartReview(grpc::ServerContextBase* ctx, const v1::TransitionRequest* req,
                                            v1::Claim* resp) {
  const absl::Status input = OptionalText(req->reason(), "reason", kMaxReason, TextKind::kMultiLine);
  return Transition(ctx, __func__, *req, resp, req->request_id(), req->claim_id(), req->etag(), input,
                         [&](const Principal& caller, const Claim& cur, absl::Time now) -> absl::StatusOr<ClaimChange> {
                           CAREOPS_ASSIGN_OR_RETURN(ClaimChange change, Step(cur, ClaimAction::kStartReview, caller,
                                                                             req->reason(), "", now));
                           if (change.claim.assignee.empty()) change.claim.assignee = caller.user;
                           return change;
                         });
}

grpc::Status ClaimsServiceImpl::RequestInformation(grpc::ServerContextBase* ctx, const v1::TransitionRequest* req,
                                                   v1::Claim* resp) {
  const absl::Status input = RequireText(req->reason(), "reason", kMaxReason, TextKind::kMultiLine);
  return Transition(ctx, __func__, *req, resp, req->request_id(), req->claim_id(), req->etag(), input,
                         [&](const Principal& caller, const Claim& cur, absl::Time now) -> absl::StatusOr<ClaimChange> {
                           CAREOPS_ASSIGN_OR_RETURN(ClaimChange change, Step(cur, ClaimAction::kRequestInfo, caller,
                                                                             req->reason(), "", now));
                           CAREOPS_RETURN_IF_ERROR(
                               CheckDecisionRank(options_.authority, caller.role, cur, ClaimAction::kRequestInfo));
                           return change;
                         });
}

grpc::Status ClaimsServiceImpl::ProvideInformation(grpc::ServerContextBase* ctx, const v1::ProvideInformationRequest* req,
                                                   v1::Claim* resp) {
  const absl::Status input = FirstError(
      {OptionalText(req->reason(), "reason", kMaxReason, TextKind::kMultiLine), ValidateIdList(req->attachment_refs(), "attachment_refs", kMaxCodes, 256)});
  return Transition(ctx, __func__, *req, resp, req->request_id(), req->claim_id(), req->etag(), input,
      [&](const Principal& caller, const Claim& cur, absl::Time now) -> absl::StatusOr<ClaimChange> {
        CAREOPS_ASSIGN_OR_RETURN(ClaimChange change,
                                 Step(cur, ClaimAction::kProvideInfo, caller, req->reason(),
                                      absl::StrCat(req->attachment_refs_size(), " attachment(s) added"), now));
        for (const auto& a : req->attachment_refs()) change.claim.attachment_refs.push_back(a);
        if (change.claim.attachment_refs.size() > kMaxCodes) {
          return InvalidArgument("attachment_refs", absl::StrCat("a claim holds at most ", kMaxCodes, " attachments"));
        }
        return change;
      });
}

ClaimsServiceImpl::AfterCommit ClaimsServiceImpl::CountDecision(const bool& late) {
  return [this, &late](const Claim& c, absl::Time now) {
    metrics_.Decided(c.status);
    metrics_.Turnaround("decision", now - c.submitted_at);
    if (late) metrics_.Breaches("decision", 1);
  };
}

grpc::Status ClaimsServiceImpl::ApproveClaim(grpc::ServerContextBase* ctx, const v1::ApproveClaimRequest* req,
                                             v1::Claim* resp) {
  const absl::Status input =
      FirstError({OptionalText(req->reason(), "reason", kMaxReason, TextKind::kMultiLine),
                  req->has_approved_amount() ? ValidateMoney(FromProto(req->approved_amount()), "approved_amount")
                                             : absl::OkStatus()});
  auto decide = [&](const Principal& caller, const Claim& cur, absl::Time now) -> absl::StatusOr<ClaimChange> {
    std::optional<Money> requested;
    if (req->has_approved_amount()) requested = FromProto(req->approved_amount());
    CAREOPS_ASSIGN_OR_RETURN(ClaimChange change, Step(cur, ClaimAction::kApprove, caller, req->reason(), "", now));
    CAREOPS_RETURN_IF_ERROR(CheckApprovalAuthority(options_.authority, caller.role, cur));
    CAREOPS_RETURN_IF_ERROR(CheckMakerChecker(options_.maker_checker, caller.user, cur));
    CAREOPS_ASSIGN_OR_RETURN(Money amount, AmountToApprove(cur, requested));
    // The approval belongs to the approver's rank: reopening it needs as much.
    if (options_.authority.Rank(caller.role) > options_.authority.Rank(cur.routed_role)) {
      change.claim.routed_role = caller.role;
    }
    if (IsAdjustment(cur) && amount.is_negative()) return ApproveClawback(std::move(change), cur);
    if (amount.minor() < cur.payable.minor()) {
      change.event.action = std::string(ClaimActionName(ClaimAction::kPartiallyApprove));
    }
    // The claim waits for membership to count the utilisation; the intent is
    // keyed by the reference, so a redelivery never counts twice.
    int seq = cur.utilization_seq + 1;
    std::string ref = UtilizationReference(cur.claim_id, seq);
    change.event.details = absl::StrCat("approving ", amount.ToString(), "; utilisation ", ref,
                                        " to be recorded in membership");
    Claim& c = change.claim;
    c.amount_approved = amount;
    c.utilization_ref = ref;
    c.utilization_seq = seq;
    change.intent = RecordUtilizationIntent(c, cur.version + 1);
    return change;
  };
  // Decisions count when membership confirms (claims_outbox.cc).
  grpc::Status s = Transition(ctx, __func__, *req, resp, req->request_id(), req->claim_id(), req->etag(), input,
                              decide);
  if (!s.ok()) return s;
  return ToClientStatus(AwaitMembership(ctx, resp), __func__);
}

absl::StatusOr<ClaimChange> ClaimsServiceImpl::ApproveClawback(ClaimChange change, const Claim& cur) {
  Claim& c = change.claim;
  if (cur.clawback_refs.empty()) {
    // The family cannot change meanwhile: this is its only undecided adjustment
    // (CheckAdjustment), and a decided one is never reopened.
    CAREOPS_ASSIGN_OR_RETURN(Claim original, store_.GetClaim(cur.original_claim_id));
    CAREOPS_ASSIGN_OR_RETURN(std::vector<Claim> adjustments, store_.ListAdjustments(cur.original_claim_id));
    CAREOPS_ASSIGN_OR_RETURN(Clawback plan, PlanClawback(BookOf(original, adjustments), cur.amount_claimed));
    c.clawback_refs = plan.give_back_refs;
    c.clawback_rest_minor = plan.rest.minor();
    c.clawback_given = 0;
    c.clawback_rest_recorded = false;
  }
  // Otherwise membership holds part of it already (claims_outbox.h): approving
  // again goes on from there.
  c.amount_approved = cur.amount_claimed;
  if (!c.clawback_rest_recorded) {
    c.utilization_ref.clear();
    if (c.clawback_rest_minor > 0) {
      c.utilization_seq = cur.utilization_seq + 1;
      c.utilization_ref = UtilizationReference(cur.claim_id, c.utilization_seq);
    }
  }
  const Money rest(cur.amount_claimed.currency(), c.clawback_rest_minor);
  change.event.details = absl::StrCat(
      "approving ", cur.amount_claimed.ToString(), "; ",
      rest.minor() > 0 ? absl::StrCat(rest.ToString(), " to be recorded in membership as ", c.utilization_ref,
                                      ", then ")
                       : "",
      "utilisation ", absl::StrJoin(c.clawback_refs, ", "), " to be given back");
  change.intent = ClawbackIntent(c, cur.version + 1);
  return change;
}

absl::Status ClaimsServiceImpl::AwaitMembership(grpc::ServerContextBase* ctx, v1::Claim* resp) {
  std::string key = IntentKeyFor(*resp);
  if (key.empty()) return absl::OkStatus();
  // A crash here: the claim is pending with its intent, nothing is delivered yet.
  CAREOPS_RETURN_IF_ERROR(Failpoint("claims.after_intent_commit"));
  // Answer a little before the caller's deadline, with whatever is known then.
  const auto left = ctx->deadline() - std::chrono::system_clock::now() - std::chrono::milliseconds(50);
  absl::Time deadline = absl::Now() + options_.settle_wait;
  if (left < absl::ToChronoNanoseconds(options_.settle_wait)) deadline = absl::Now() + absl::FromChrono(left);
  const bool approving = resp->status() == v1::CLAIM_STATUS_APPROVAL_PENDING;
  // A claw-back is a chain of intents (claims_outbox.h): followed to its end,
  // remembering a refusal on the way (the chain may undo itself after one).
  std::string refusal;
  for (;;) {
    absl::StatusOr<outbox::IntentRecord> intent = intents_.DeliverNow(key, deadline);
    if (!intent.ok()) {
      // Committed and pending: the background relay settles it.
      log::Warn("outbox delivery after commit failed", {{"intent", key}, {"error", intent.status().ToString()}});
      return absl::OkStatus();
    }
    if (intent->state == outbox::IntentState::kPending) return absl::OkStatus();
    v1::Claim settled;
    if (settled.ParseFromString(intent->result)) *resp = settled;
    if (intent->state != outbox::IntentState::kDelivered) refusal = intent->last_error;
    const std::string next = IntentKeyFor(*resp);
    if (next.empty() || next == key) break;
    key = next;
  }
  if (refusal.empty()) return absl::OkStatus();
  if (approving && resp->type() == v1::CLAIM_TYPE_ADJUSTMENT && resp->amount_claimed().amount_minor() < 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "membership refused the claw-back; nothing of it was applied and the adjustment is back IN_REVIEW"
        " (a claw-back records its rest before giving records back, so the rest needs room in the member's"
        " annual limit: when there is none, claw back whole records and adjust by the rest after): ",
        refusal));
  }
  return absl::FailedPreconditionError(
      approving ? absl::StrCat("membership refused the utilisation; the claim is back IN_REVIEW: ", refusal)
                : absl::StrCat("membership refused to give the utilisation back; the approval stands: ", refusal));
}

grpc::Status ClaimsServiceImpl::DenyClaim(grpc::ServerContextBase* ctx, const v1::TransitionRequest* req,
                                          v1::Claim* resp) {
  const absl::Status input = RequireText(req->reason(), "reason", kMaxReason, TextKind::kMultiLine);
  bool late = false;
  return Transition(ctx, __func__, *req, resp, req->request_id(), req->claim_id(), req->etag(), input,
      [&](const Principal& caller, const Claim& cur, absl::Time now) -> absl::StatusOr<ClaimChange> {
        CAREOPS_ASSIGN_OR_RETURN(ClaimChange change, Step(cur, ClaimAction::kDeny, caller, req->reason(), "", now));
        CAREOPS_RETURN_IF_ERROR(CheckDecisionRank(options_.authority, caller.role, cur, ClaimAction::kDeny));
        // The denial belongs to the denier's rank: reopening it needs as much.
        if (options_.authority.Rank(caller.role) > options_.authority.Rank(cur.routed_role)) {
          change.claim.routed_role = caller.role;
        }
        late = StampDecision(change.claim, now);
        return change;
      },
      CountDecision(late));
}

grpc::Status ClaimsServiceImpl::EscalateClaim(grpc::ServerContextBase* ctx, const v1::TransitionRequest* req,
                                              v1::Claim* resp) {
  const absl::Status input = RequireText(req->reason(), "reason", kMaxReason, TextKind::kMultiLine);
  return Transition(ctx, __func__, *req, resp, req->request_id(), req->claim_id(), req->etag(), input,
      [&](const Principal& caller, const Claim& cur, absl::Time now) -> absl::StatusOr<ClaimChange> {
        CAREOPS_ASSIGN_OR_RETURN(ClaimChange change, Step(cur, ClaimAction::kEscalate, caller, req->reason(), "", now));
        CAREOPS_ASSIGN_OR_RETURN(std::string next_role, options_.authority.NextRole(cur.routed_role));
        change.event.details = absl::StrCat("escalated from ", cur.routed_role, " to ", next_role);
        change.claim.routed_role = next_role;
        // The next role's queue picks it up: an assigned claim goes back to
        // SUBMITTED there rather than staying ASSIGNED to no one.
        change.claim.assignee.clear();
        return change;
      },
      [&](const Claim& c, absl::Time) { metrics_.Escalated(c.routed_role); });
}

grpc::Status ClaimsServiceImpl::SettleClaim(grpc::ServerContextBase* ctx, const v1::SettleClaimRequest* req,
                                            v1::Claim* resp) {
  const absl::Status input = FirstError(
      {RequireId(req->payment_reference(), "payment_reference", 128),
       OptionalText(req->reason(), "reason", kMaxReason, TextKind::kMultiLine)});
  bool late = false;  // settled after the due time and not yet marked by a scan
  return Transition(ctx, __func__, *req, resp, req->request_id(), req->claim_id(), req->etag(), input,
      [&](const Principal& caller, const Claim& cur, absl::Time now) -> absl::StatusOr<ClaimChange> {
        CAREOPS_ASSIGN_OR_RETURN(ClaimChange change, Step(cur, ClaimAction::kSettle, caller, req->reason(),
                                                          absl::StrCat("payment ", req->payment_reference()), now));
        Claim& c = change.claim;
        late = !c.settlement_breached && c.settlement_due_at && now > *c.settlement_due_at;
        c.settlement_breached = c.settlement_breached || late;
        c.settled_at = now;
        c.payment_reference = req->payment_reference();
        return change;
      },
      [&](const Claim& c, absl::Time now) {
        if (c.decided_at) metrics_.Turnaround("settlement", now - *c.decided_at);
        if (late) metrics_.Breaches("settlement", 1);
      });
}

grpc::Status ClaimsServiceImpl::CloseClaim(grpc::ServerContextBase* ctx, const v1::TransitionRequest* req,
                                           v1::Claim* resp) {
  const absl::Status input = OptionalText(req->reason(), "reason", kMaxReason, TextKind::kMultiLine);
  return Transition(ctx, __func__, *req, resp, req->request_id(), req->claim_id(), req->etag(), input,
                         [&](const Principal& caller, const Claim& cur, absl::Time now) {
                           return Step(cur, ClaimAction::kClose, caller, req->reason(), "", now);
                         });
}

grpc::Status ClaimsServiceImpl::ReopenClaim(grpc::ServerContextBase* ctx, const v1::TransitionRequest* req,
                                            v1::Claim* resp) {
  const absl::Status input = RequireText(req->reason(), "reason", kMaxReason, TextKind::kMultiLine);
  grpc::Status s = Transition(
      ctx, __func__, *req, resp, req->request_id(), req->claim_id(), req->etag(), input,
      [&](const Principal& caller, const Claim& cur, absl::Time now) -> absl::StatusOr<ClaimChange> {
        CAREOPS_ASSIGN_OR_RETURN(ClaimChange change, Step(cur, ClaimAction::kReopen, caller, req->reason(), "", now));
        CAREOPS_RETURN_IF_ERROR(CheckDecisionRank(options_.authority, caller.role, cur, ClaimAction::kReopen));
        // An approval that was never paid gives its utilisation back first: the
        // claim waits REOPEN_PENDING for membership (claims_outbox.cc).
        if (change.claim.status == ClaimStatus::kReopenPending) {
          change.event.details = absl::StrCat("utilisation ", cur.utilization_ref, " to be given back in membership");
          change.intent = ReverseUtilizationIntent(cur, cur.version + 1, req->reason());
          return change;
        }
        Claim& c = change.claim;
        c.amount_approved = Money(cur.amount_claimed.currency(), 0);
        c.decided_at.reset();
        c.settlement_due_at.reset();
        c.settlement_breached = false;
        c.utilization_ref.clear();
        c.rejection_reasons.clear();
        // A reopened claim gets a fresh decision target.
        c.decision_due_at = options_.tat.DecisionDue(now);
        c.decision_breached = false;
        return change;
      });
  if (!s.ok()) return s;
  return ToClientStatus(AwaitMembership(ctx, resp), __func__);
}

grpc::Status ClaimsServiceImpl::GetClaimHistory(grpc::ServerContextBase* ctx, const v1::GetClaimHistoryRequest* req,
                                                v1::GetClaimHistoryResponse* resp) {
  return rpc_.Read(ctx, __func__, [&](const Call&) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(RequireId(req->claim_id(), "claim_id", 26));
    CAREOPS_ASSIGN_OR_RETURN(std::vector<ClaimEvent> events, store_.GetHistory(req->claim_id()));
    for (const ClaimEvent& e : events) {
      auto* out = resp->add_events();
      *out->mutable_time() = ToProtoTimestamp(e.at);
      out->set_action(e.action);
      out->set_kind(EventActionOf(e.action));
      out->set_from_status(EnumFromShortName<v1::ClaimStatus>(ClaimStatusName(e.from_status)));
      out->set_to_status(EnumFromShortName<v1::ClaimStatus>(ClaimStatusName(e.to_status)));
      out->set_actor(e.actor_user);
      out->set_actor_role(e.actor_role);
      out->set_reason(e.reason);
      out->set_details(e.details);
    }
    return absl::OkStatus();
  });
}

// ---- TAT breaches ----------------------------------------------------------------

absl::StatusOr<BreachScanResult> ClaimsServiceImpl::ScanBreaches(const BreachScanQuery& query) {
  CAREOPS_ASSIGN_OR_RETURN(BreachScanResult result, store_.MarkBreaches(query));
  if (!query.preview) {
    metrics_.Breaches("decision", result.decision_breaches);
    metrics_.Breaches("settlement", result.settlement_breaches);
  }
  return result;
}

absl::Status ClaimsServiceImpl::ScanAllBreaches(absl::Time now, const Principal& actor) {
  BreachScanQuery query{.as_of = now, .now = now, .actor = actor, .page = {.after_id = "", .limit = kMaxPageSize}};
  for (;;) {
    CAREOPS_ASSIGN_OR_RETURN(BreachScanResult page, ScanBreaches(query));
    if (!page.more || page.claims.empty()) return absl::OkStatus();
    query.page.after_id = page.claims.back().claim_id;
  }
}

grpc::Status ClaimsServiceImpl::RunBreachScan(grpc::ServerContextBase* ctx, const v1::RunBreachScanRequest* req,
                                              v1::RunBreachScanResponse* resp) {
  return rpc_.Read(ctx, __func__, [&](const Call& call) -> absl::Status {
    CAREOPS_ASSIGN_OR_RETURN(PageRequest page, ParsePageRequest(*req, req->page_size(), req->page_token()));
    CAREOPS_RETURN_IF_ERROR(OptionalId(req->account_id(), "account_id", 64));
    BreachScanQuery query{.as_of = call.now, .now = call.now, .actor = call.caller,
                          .account_id = req->account_id(), .preview = false, .page = page};
    if (req->has_as_of()) {
      CAREOPS_ASSIGN_OR_RETURN(query.as_of, FromProto(req->as_of(), "as_of"));
    }
    // A scan "as of" a moment still to come marks nothing: it shows what would be late then.
    query.preview = query.as_of > call.now;
    CAREOPS_ASSIGN_OR_RETURN(BreachScanResult result, ScanBreaches(query));
    resp->set_decision_breaches(result.decision_breaches);
    resp->set_settlement_breaches(result.settlement_breaches);
    resp->set_preview(query.preview);
    for (const BreachMark& mark : result.claims) {
      v1::BreachedClaim* out = resp->add_claims();
      out->set_claim_id(mark.claim_id);
      out->set_account_id(mark.account_id);
      out->set_decision_breached(mark.decision);
      out->set_settlement_breached(mark.settlement);
    }
    if (result.more && !result.claims.empty()) {
      resp->set_next_page_token(NextPageToken(*req, result.claims.back().claim_id));
    }
    return absl::OkStatus();
  });
}

grpc::Status ClaimsServiceImpl::ReconcileUtilization(grpc::ServerContextBase* ctx,
                                                     const v1::ReconcileUtilizationRequest* req,
                                                     v1::ReconcileUtilizationResponse* resp) {
  return rpc_.Read(ctx, __func__, [&](const Call& call) -> absl::Status {
    absl::Time as_of = call.now;
    if (req->has_as_of()) {
      CAREOPS_ASSIGN_OR_RETURN(as_of, FromProto(req->as_of(), "as_of"));
    }
    CAREOPS_ASSIGN_OR_RETURN(*resp, Reconcile(as_of, call.caller));
    return absl::OkStatus();
  });
}

// ---- Non-conformance ------------------------------------------------------------------

grpc::Status ClaimsServiceImpl::FlagNonConformance(grpc::ServerContextBase* ctx, const v1::FlagNonConformanceRequest* req,
                                                   v1::Investigation* resp) {
  return rpc_.Write(ctx, __func__, req->request_id(), *req, resp, [&](const Mutation& m) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(RequireId(req->claim_id(), "claim_id", 26));
    if (req->category() == v1::NON_CONFORMANCE_CATEGORY_UNSPECIFIED ||
        !v1::NonConformanceCategory_IsValid(req->category())) {
      return InvalidArgument("category", "is required: one of the NonConformanceCategory values");
    }
    CAREOPS_RETURN_IF_ERROR(RequireText(req->notes(), "notes", 4000, TextKind::kMultiLine));
    const absl::Time now = m.now;
    Investigation v;
    v.investigation_id = ids_.Next();
    v.claim_id = req->claim_id();
    v.category = EnumShortName(req->category());
    v.notes = req->notes();
    v.status = InvestigationStatus::kFlagged;
    v.flagged_by = m.caller.user;
    v.flagged_at = now;
    v.updated_at = now;
    return store_.CreateInvestigation(m, v, [&](const Investigation& stored) { *resp = ToProto(stored); });
  });
}

grpc::Status ClaimsServiceImpl::InvestigationTransition(
    grpc::ServerContextBase* ctx, std::string_view method, const google::protobuf::Message& request,
    v1::Investigation* response, const std::string& request_id, const std::string& investigation_id,
    const std::string& etag, const absl::Status& input, InvestigationAction action,
    const std::function<void(const Principal&, Investigation&)>& apply) {
  return rpc_.Write(ctx, method, request_id, request, response, [&](const Mutation& m) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(input);
    CAREOPS_RETURN_IF_ERROR(RequireId(investigation_id, "investigation_id", 26));
    CAREOPS_ASSIGN_OR_RETURN(mysql::ExpectedVersion expected, mysql::ExpectedVersion::FromEtag(etag));
    const absl::Time now = m.now;
    const Principal& caller = m.caller;
    return store_.TransitionInvestigation(
        m, investigation_id, expected,
        [&](const Investigation& cur) -> absl::StatusOr<InvestigationChange> {
          CAREOPS_ASSIGN_OR_RETURN(InvestigationStatus to, NextInvestigationStatus(cur.status, action));
          InvestigationChange change{cur, std::string(InvestigationActionName(action))};
          change.investigation.status = to;
          if (to == InvestigationStatus::kClosed) change.investigation.closed_at = now;
          apply(caller, change.investigation);
          return change;
        },
        [&](const Investigation& v) { *response = ToProto(v); });
  });
}

grpc::Status ClaimsServiceImpl::OpenInvestigation(grpc::ServerContextBase* ctx,
                                                  const v1::InvestigationTransitionRequest* req,
                                                  v1::Investigation* resp) {
  return InvestigationTransition(ctx, __func__, *req, resp, req->request_id(), req->investigation_id(),
                                      req->etag(), absl::OkStatus(), InvestigationAction::kOpen,
                                      [](const Principal& caller, Investigation& v) { v.investigator = caller.user; });
}

grpc::Status ClaimsServiceImpl::RecordFindings(grpc::ServerContextBase* ctx, const v1::RecordFindingsRequest* req,
                                               v1::Investigation* resp) {
  const absl::Status input = FirstError(
      {RequireText(req->findings(), "findings", 8000, TextKind::kMultiLine), RequireText(req->remedial_action(), "remedial_action", 8000, TextKind::kMultiLine)});
  return InvestigationTransition(ctx, __func__, *req, resp, req->request_id(), req->investigation_id(),
                                      req->etag(), input, InvestigationAction::kRecordFindings,
                                      [&](const Principal&, Investigation& v) {
                                        v.findings = req->findings();
                                        v.remedial_action = req->remedial_action();
                                      });
}

grpc::Status ClaimsServiceImpl::CloseInvestigation(grpc::ServerContextBase* ctx,
                                                   const v1::InvestigationTransitionRequest* req,
                                                   v1::Investigation* resp) {
  return InvestigationTransition(ctx, __func__, *req, resp, req->request_id(), req->investigation_id(),
                                      req->etag(), absl::OkStatus(), InvestigationAction::kClose,
                                      [](const Principal&, Investigation&) {});
}

grpc::Status ClaimsServiceImpl::ListInvestigations(grpc::ServerContextBase* ctx, const v1::ListInvestigationsRequest* req,
                                                   v1::ListInvestigationsResponse* resp) {
  return rpc_.Read(ctx, __func__, [&](const Call&) -> absl::Status {
    CAREOPS_ASSIGN_OR_RETURN(PageRequest page, ParsePageRequest(*req, req->page_size(), req->page_token()));
    CAREOPS_RETURN_IF_ERROR(OptionalId(req->claim_id(), "claim_id", 26));
    CAREOPS_ASSIGN_OR_RETURN(mysql::KeysetPage<Investigation> rows,
                             store_.ListInvestigations(req->open_only(), req->claim_id(), page));
    for (const Investigation& v : rows.items) *resp->add_investigations() = ToProto(v);
    if (rows.more) resp->set_next_page_token(NextPageToken(*req, rows.items.back().investigation_id));
    return absl::OkStatus();
  });
}

// ---- Bordereau ----------------------------------------------------------------------

grpc::Status ClaimsServiceImpl::StreamBordereau(grpc::ServerContextBase* ctx, const v1::StreamBordereauRequest* req,
                                                grpc::ServerWriter<v1::BordereauChunk>* writer) {
  return rpc_.Stream(ctx, __func__, [&](const Call&) -> absl::Status {
    if (req->year() < 2000 || req->year() > 9999) return InvalidArgument("year", "must be between 2000 and 9999");
    if (req->month() < 1 || req->month() > 12) return InvalidArgument("month", "must be between 1 and 12");
    CAREOPS_RETURN_IF_ERROR(OptionalId(req->account_id(), "account_id", 64));
    absl::CivilMonth month(req->year(), req->month());
    BordereauQuery query{absl::FromCivil(month, absl::UTCTimeZone()),
                         absl::FromCivil(month + 1, absl::UTCTimeZone()), req->account_id()};
    // Totals are summed from exactly the rows sent, so they always agree; a total
    // past the money bound ends the stream with FAILED_PRECONDITION.
    struct Total {
      int64_t count = 0;
      Money claimed, approved;
    };
    std::map<std::pair<std::string, std::string>, Total> totals;
    CAREOPS_RETURN_IF_ERROR(store_.ScanBordereau(query, [&](const Claim& c) -> absl::Status {
      v1::BordereauChunk chunk;
      auto* row = chunk.mutable_row();
      row->set_claim_id(c.claim_id);
      row->set_account_id(c.account_id);
      row->set_member_id(c.member_id);
      row->set_plan_id(c.plan_id);
      row->set_benefit_code(c.benefit_code);
      row->set_benefit_category(c.benefit_category);
      *row->mutable_service_date() = careops::ToProto(c.service_date);
      row->set_provider_id(c.provider_id);
      row->set_status(EnumFromShortName<v1::ClaimStatus>(ClaimStatusName(c.status)));
      *row->mutable_amount_claimed() = careops::ToProto(c.amount_claimed);
      *row->mutable_amount_approved() = careops::ToProto(c.amount_approved);
      if (c.decided_at) *row->mutable_decision_time() = ToProtoTimestamp(*c.decided_at);
      if (c.settled_at) *row->mutable_settle_time() = ToProtoTimestamp(*c.settled_at);
      row->set_payment_reference(c.payment_reference);
      row->set_type(EnumFromShortName<v1::ClaimType>(c.type));
      row->set_original_claim_id(c.original_claim_id);
      const std::string& currency = c.amount_claimed.currency();
      auto [it, fresh] = totals.try_emplace({c.benefit_category, currency});
      Total& t = it->second;
      if (fresh) t = Total{0, Money(currency, 0), Money(currency, 0)};
      ++t.count;
      absl::StatusOr<Money> claimed = t.claimed.Add(c.amount_claimed);
      absl::StatusOr<Money> approved = t.approved.Add(c.amount_approved);
      for (const absl::Status& sum : {claimed.status(), approved.status()}) {
        if (!sum.ok()) {
          return Annotate(sum, absl::StrCat("bordereau total of ", c.benefit_category,
                                            " (narrow it with account_id)"));
        }
      }
      t.claimed = *std::move(claimed);
      t.approved = *std::move(approved);
      if (!writer->Write(chunk)) return absl::CancelledError("the client went away during the bordereau");
      return absl::OkStatus();
    }));
    for (const auto& [key, t] : totals) {
      v1::BordereauChunk chunk;
      auto* total = chunk.mutable_total();
      total->set_benefit_category(key.first);
      total->set_currency_code(key.second);
      total->set_claim_count(t.count);
      *total->mutable_amount_claimed() = careops::ToProto(t.claimed);
      *total->mutable_amount_approved() = careops::ToProto(t.approved);
      if (!writer->Write(chunk)) return absl::CancelledError("the client went away during the bordereau");
    }
    return absl::OkStatus();
  });
}

}  // namespace careops::claims
