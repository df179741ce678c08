#include "services/membership/membership_service.h"

#include <set>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/failpoint.h"
#include "common/migrations.h"
#include "common/money.h"
#include "common/mysql/mutation_runner.h"
#include "common/paging.h"
#include "common/proto_time.h"
#include "common/status.h"
#include "common/text.h"
#include "common/validation.h"

namespace careops::membership {
namespace {

constexpr int kMaxBatchRows = 5000;

// Moves a page's items into the response and sets next_page_token (empty on the
// last page) from the last item's key, bound to the request's filters.
template <typename T>
void FillPage(Page<T>& page, const google::protobuf::Message& request, const std::string& (T::*key)() const,
              google::protobuf::RepeatedPtrField<T>* items, std::string* next_page_token) {
  for (T& item : page.items) *items->Add() = std::move(item);
  next_page_token->clear();
  if (!page.more || items->empty()) return;
  *next_page_token = NextPageToken(request, ((*items->rbegin()).*key)());
}

// Counts a movement's decision once, on the call that made it (not on replays).
void CountDecision(MembershipMetrics& metrics, const MovementDecision& decision, const v1::Movement& mv) {
  if (!decision.decided_now) return;
  metrics.MovementDecided(mv.type(), mv.status() == v1::MOVEMENT_STATUS_APPLIED,
                          FromProto(mv.decide_time()) - FromProto(mv.request_time()), mv.tat_met());
}

absl::Status ValidateEnrollee(const std::string& plan_id, const std::string& external_ref, const v1::Person& person,
                              bool has_date, const common::v1::Date& date, std::string_view prefix,
                              absl::CivilDay today) {
  CAREOPS_RETURN_IF_ERROR(RequireId(plan_id, absl::StrCat(Abs(prefix), "plan_id"), 64));
  CAREOPS_RETURN_IF_ERROR(ValidateExternalRef(external_ref, absl::StrCat(Abs(prefix), "external_ref")));
  CAREOPS_RETURN_IF_ERROR(ValidatePerson(person, absl::StrCat(Abs(prefix), "person"), today));
  return RequireDate(has_date, date, absl::StrCat(Abs(prefix), "effective_date")).status();
}

}  // namespace

MembershipServiceImpl::MembershipServiceImpl(MembershipStore& store, const RpcKit& rpc, MembershipMetrics& metrics,
                                             MembershipServiceOptions options)
    : store_(store), rpc_(rpc), metrics_(metrics), options_(std::move(options)), ids_(rpc.clock()) {}

// ================================================================ accounts

void MembershipServiceImpl::Bind(PooledService& s) {
  s.Unary("CreateClientAccount", this, &MembershipServiceImpl::CreateClientAccount)
   .Unary("GetClientAccount", this, &MembershipServiceImpl::GetClientAccount)
   .Unary("ListClientAccounts", this, &MembershipServiceImpl::ListClientAccounts)
   .Unary("UpdateClientAccount", this, &MembershipServiceImpl::UpdateClientAccount)
   .Unary("SuspendClientAccount", this, &MembershipServiceImpl::SuspendClientAccount)
   .Unary("ReinstateClientAccount", this, &MembershipServiceImpl::ReinstateClientAccount)
   .Unary("CancelClientAccount", this, &MembershipServiceImpl::CancelClientAccount)
   .Unary("WithdrawScheduledStatusChange", this, &MembershipServiceImpl::WithdrawScheduledStatusChange)
   .Unary("GetAccountSummary", this, &MembershipServiceImpl::GetAccountSummary)
   .Unary("CreatePlan", this, &MembershipServiceImpl::CreatePlan)
   .Unary("GetPlan", this, &MembershipServiceImpl::GetPlan)
   .Unary("ListPlans", this, &MembershipServiceImpl::ListPlans)
   .Unary("RevisePlan", this, &MembershipServiceImpl::RevisePlan)
   .Unary("EnrollMember", this, &MembershipServiceImpl::EnrollMember)
   .Unary("GetMember", this, &MembershipServiceImpl::GetMember)
   .Unary("ListMembers", this, &MembershipServiceImpl::ListMembers)
   .Unary("BatchEnrollMembers", this, &MembershipServiceImpl::BatchEnrollMembers)
   .Unary("RequestMovement", this, &MembershipServiceImpl::RequestMovement)
   .Unary("GetMovement", this, &MembershipServiceImpl::GetMovement)
   .Unary("ApplyMovement", this, &MembershipServiceImpl::ApplyMovement)
   .Unary("RejectMovement", this, &MembershipServiceImpl::RejectMovement)
   .Unary("ListMovements", this, &MembershipServiceImpl::ListMovements)
   .Unary("CheckEligibility", this, &MembershipServiceImpl::CheckEligibility)
   .Unary("RecordUtilization", this, &MembershipServiceImpl::RecordUtilization)
   .Unary("ReverseUtilization", this, &MembershipServiceImpl::ReverseUtilization)
   .Unary("GetUtilization", this, &MembershipServiceImpl::GetUtilization)
   .Unary("ListUtilizations", this, &MembershipServiceImpl::ListUtilizations);
}

grpc::Status MembershipServiceImpl::CreateClientAccount(grpc::ServerContextBase* ctx,
                                                        const v1::CreateClientAccountRequest* req,
                                                        v1::ClientAccount* resp) {
  return rpc_.Write(ctx, __func__, req->request_id(), *req, resp, [&](const Mutation& m) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(ValidateNewAccount(req->account(), "account"));
    v1::ClientAccount a;
    a.set_account_id(ids_.Next());
    a.set_name(std::string(StripSpace(req->account().name())));
    a.set_type(req->account().type());
    a.set_status(v1::CLIENT_ACCOUNT_STATUS_ACTIVE);
    a.set_account_officer(req->account().account_officer());
    a.set_contact_email(req->account().contact_email());
    *a.mutable_start_date() = req->account().start_date();
    *a.mutable_status_effective_date() = req->account().start_date();
    CAREOPS_ASSIGN_OR_RETURN(*resp, store_.CreateAccount(m, a));
    return absl::OkStatus();
  });
}

grpc::Status MembershipServiceImpl::GetClientAccount(grpc::ServerContextBase* ctx, const v1::GetClientAccountRequest* req,
                                                     v1::ClientAccount* resp) {
  return rpc_.Read(ctx, __func__, [&](const Call& call) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(RequireId(req->account_id(), "account_id", 64));
    CAREOPS_ASSIGN_OR_RETURN(*resp, store_.GetAccount(req->account_id(), options_.calendar.DayOf(call.now)));
    return absl::OkStatus();
  });
}

grpc::Status MembershipServiceImpl::ListClientAccounts(grpc::ServerContextBase* ctx,
                                                       const v1::ListClientAccountsRequest* req,
                                                       v1::ListClientAccountsResponse* resp) {
  return rpc_.Read(ctx, __func__, [&](const Call& call) -> absl::Status {
    CAREOPS_ASSIGN_OR_RETURN(PageRequest page, ParsePageRequest(*req, req->page_size(), req->page_token()));
    if (!v1::ClientAccountType_IsValid(req->type())) return InvalidArgument("type", "is not a known account type");
    if (!v1::ClientAccountStatus_IsValid(req->status())) {
      return InvalidArgument("status", "is not a known account status");
    }
    CAREOPS_RETURN_IF_ERROR(OptionalId(req->account_officer(), "account_officer", 128));
    AccountFilter filter{req->type(), req->status(), req->account_officer(), options_.calendar.DayOf(call.now)};
    CAREOPS_ASSIGN_OR_RETURN(Page<v1::ClientAccount> result, store_.ListAccounts(filter, page));
    FillPage(result, *req, &v1::ClientAccount::account_id, resp->mutable_accounts(), resp->mutable_next_page_token());
    return absl::OkStatus();
  });
}

grpc::Status MembershipServiceImpl::UpdateClientAccount(grpc::ServerContextBase* ctx,
                                                        const v1::UpdateClientAccountRequest* req,
                                                        v1::ClientAccount* resp) {
  return rpc_.Write(ctx, __func__, req->request_id(), *req, resp, [&](const Mutation& m) -> absl::Status {
    const v1::ClientAccount& in = req->account();
    CAREOPS_RETURN_IF_ERROR(RequireId(in.account_id(), "account.account_id", 64));
    CAREOPS_RETURN_IF_ERROR(ParseEtag(in.etag(), "account.etag").status());
    if (req->update_mask().paths().empty()) {
      return InvalidArgument("update_mask", "must name at least one of name, account_officer, contact_email");
    }
    std::set<std::string> paths;
    for (const std::string& path : req->update_mask().paths()) {
      CAREOPS_RETURN_IF_ERROR(ValidateAccountField(in, path, "account"));
      paths.insert(path);
    }
    CAREOPS_ASSIGN_OR_RETURN(
        *resp, store_.UpdateAccount(m, in.account_id(),
                                    in.etag(), [&](v1::ClientAccount& a) {
                                      if (paths.count("name")) a.set_name(std::string(StripSpace(in.name())));
                                      if (paths.count("account_officer")) a.set_account_officer(in.account_officer());
                                      if (paths.count("contact_email")) a.set_contact_email(in.contact_email());
                                      return absl::OkStatus();
                                    },
                                    options_.calendar.DayOf(m.now)));
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::ClientAccount> MembershipServiceImpl::Transition(
    const Mutation& m, const std::string& account_id, const std::string& etag, const std::string& reason,
    bool has_date, const common::v1::Date& date, AccountAction action) {
  CAREOPS_RETURN_IF_ERROR(RequireId(account_id, "account_id", 64));
  CAREOPS_RETURN_IF_ERROR(ParseEtag(etag).status());
  CAREOPS_RETURN_IF_ERROR(RequireText(reason, "reason", 1024, TextKind::kMultiLine));
  CAREOPS_ASSIGN_OR_RETURN(absl::CivilDay day, RequireDate(has_date, date, "effective_date"));
  AccountTransition t{account_id, etag, action, reason, day, options_.calendar.DayOf(m.now)};
  return store_.TransitionAccount(m, t);
}

grpc::Status MembershipServiceImpl::SuspendClientAccount(grpc::ServerContextBase* ctx,
                                                         const v1::SuspendClientAccountRequest* req,
                                                         v1::ClientAccount* resp) {
  return rpc_.Write(ctx, __func__, req->request_id(), *req, resp, [&](const Mutation& m) -> absl::Status {
    CAREOPS_ASSIGN_OR_RETURN(*resp, Transition(m, req->account_id(),
                                               req->etag(), req->reason(), req->has_effective_date(),
                                               req->effective_date(), AccountAction::kSuspend));
    return absl::OkStatus();
  });
}

grpc::Status MembershipServiceImpl::ReinstateClientAccount(grpc::ServerContextBase* ctx,
                                                           const v1::ReinstateClientAccountRequest* req,
                                                           v1::ClientAccount* resp) {
  return rpc_.Write(ctx, __func__, req->request_id(), *req, resp, [&](const Mutation& m) -> absl::Status {
    CAREOPS_ASSIGN_OR_RETURN(*resp, Transition(m, req->account_id(), req->etag(), req->reason(),
                                               req->has_effective_date(), req->effective_date(),
                                               AccountAction::kReinstate));
    return absl::OkStatus();
  });
}

grpc::Status MembershipServiceImpl::CancelClientAccount(grpc::ServerContextBase* ctx,
                                                        const v1::CancelClientAccountRequest* req,
                                                        v1::ClientAccount* resp) {
  return rpc_.Write(ctx, __func__, req->request_id(), *req, resp, [&](const Mutation& m) -> absl::Status {
    CAREOPS_ASSIGN_OR_RETURN(*resp, Transition(m, req->account_id(),
                                               req->etag(), req->reason(), req->has_effective_date(),
                                               req->effective_date(), AccountAction::kCancel));
    return absl::OkStatus();
  });
}

grpc::Status MembershipServiceImpl::WithdrawScheduledStatusChange(grpc::ServerContextBase* ctx,
                                                                  const v1::WithdrawScheduledStatusChangeRequest* req,
                                                                  v1::ClientAccount* resp) {
  return rpc_.Write(ctx, __func__, req->request_id(), *req, resp, [&](const Mutation& m) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(RequireId(req->account_id(), "account_id", 64));
    CAREOPS_RETURN_IF_ERROR(ParseEtag(req->etag()).status());
    if (req->status() == v1::CLIENT_ACCOUNT_STATUS_UNSPECIFIED || !v1::ClientAccountStatus_IsValid(req->status())) {
      return InvalidArgument("status", "must be the scheduled change's status: ACTIVE, SUSPENDED or CANCELLED");
    }
    CAREOPS_ASSIGN_OR_RETURN(absl::CivilDay day,
                             RequireDate(req->has_effective_date(), req->effective_date(), "effective_date"));
    CAREOPS_RETURN_IF_ERROR(RequireText(req->reason(), "reason", 1024, TextKind::kMultiLine));
    StatusWithdrawal w{req->account_id(), req->etag(), req->status(), day, req->reason(),
                       options_.calendar.DayOf(m.now)};
    CAREOPS_ASSIGN_OR_RETURN(*resp, store_.WithdrawStatusChange(m, w));
    return absl::OkStatus();
  });
}

grpc::Status MembershipServiceImpl::GetAccountSummary(grpc::ServerContextBase* ctx,
                                                      const v1::GetAccountSummaryRequest* req,
                                                      v1::AccountSummary* resp) {
  return rpc_.Read(ctx, __func__, [&](const Call& call) -> absl::Status {
    CAREOPS_ASSIGN_OR_RETURN(absl::CivilDay start,
                             RequireDate(req->has_period_start(), req->period_start(), "period_start"));
    CAREOPS_ASSIGN_OR_RETURN(absl::CivilDay end, RequireDate(req->has_period_end(), req->period_end(), "period_end"));
    if (end < start) return InvalidArgument("period_end", "must not be before period_start");
    CAREOPS_RETURN_IF_ERROR(OptionalId(req->account_id(), "account_id", 64));
    CAREOPS_ASSIGN_OR_RETURN(*resp, store_.Summarize(req->account_id(), start, end, options_.calendar.DayOf(call.now)));
    return absl::OkStatus();
  });
}

// ================================================================ plans

grpc::Status MembershipServiceImpl::CreatePlan(grpc::ServerContextBase* ctx, const v1::CreatePlanRequest* req,
                                               v1::Plan* resp) {
  return rpc_.Write(ctx, __func__, req->request_id(), *req, resp, [&](const Mutation& m) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(ValidateNewPlan(req->plan(), "plan"));
    v1::Plan plan = req->plan();
    plan.set_plan_id(ids_.Next());
    plan.set_version(1);
    plan.clear_supersedes_plan_id();
    plan.set_status(v1::PLAN_STATUS_ACTIVE);
    plan.clear_etag();
    plan.clear_create_time();
    CAREOPS_ASSIGN_OR_RETURN(*resp, store_.CreatePlan(m, plan, options_.calendar.DayOf(m.now)));
    return absl::OkStatus();
  });
}

grpc::Status MembershipServiceImpl::GetPlan(grpc::ServerContextBase* ctx, const v1::GetPlanRequest* req, v1::Plan* resp) {
  return rpc_.Read(ctx, __func__, [&](const Call& call) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(RequireId(req->plan_id(), "plan_id", 64));
    CAREOPS_ASSIGN_OR_RETURN(*resp, store_.GetPlan(req->plan_id()));
    return absl::OkStatus();
  });
}

grpc::Status MembershipServiceImpl::ListPlans(grpc::ServerContextBase* ctx, const v1::ListPlansRequest* req,
                                              v1::ListPlansResponse* resp) {
  return rpc_.Read(ctx, __func__, [&](const Call& call) -> absl::Status {
    CAREOPS_ASSIGN_OR_RETURN(PageRequest page, ParsePageRequest(*req, req->page_size(), req->page_token()));
    if (!v1::PlanStatus_IsValid(req->status())) return InvalidArgument("status", "is not a known plan status");
    CAREOPS_RETURN_IF_ERROR(OptionalId(req->account_id(), "account_id", 64));
    CAREOPS_ASSIGN_OR_RETURN(Page<v1::Plan> result, store_.ListPlans({req->account_id(), req->status()}, page));
    FillPage(result, *req, &v1::Plan::plan_id, resp->mutable_plans(), resp->mutable_next_page_token());
    return absl::OkStatus();
  });
}

grpc::Status MembershipServiceImpl::RevisePlan(grpc::ServerContextBase* ctx, const v1::RevisePlanRequest* req,
                                               v1::Plan* resp) {
  return rpc_.Write(ctx, __func__, req->request_id(), *req, resp, [&](const Mutation& m) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(RequireId(req->plan_id(), "plan_id", 64));
    CAREOPS_RETURN_IF_ERROR(ParseEtag(req->etag()).status());
    CAREOPS_RETURN_IF_ERROR(OptionalText(req->name(), "name", 200));
    if (req->benefits().empty()) return InvalidArgument("benefits", "must list at least one benefit");
    v1::Plan next;
    next.set_plan_id(ids_.Next());
    next.set_name(req->name());
    *next.mutable_benefits() = req->benefits();
    CAREOPS_ASSIGN_OR_RETURN(
        *resp, store_.RevisePlan(m, req->plan_id(), req->etag(), next, options_.calendar.DayOf(m.now)));
    return absl::OkStatus();
  });
}

// ================================================================ members

grpc::Status MembershipServiceImpl::EnrollMember(grpc::ServerContextBase* ctx, const v1::EnrollMemberRequest* req,
                                                 v1::Member* resp) {
  return rpc_.Write(ctx, __func__, req->request_id(), *req, resp, [&](const Mutation& m) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(RequireId(req->account_id(), "account_id", 64));
    CAREOPS_RETURN_IF_ERROR(ValidateEnrollee(req->plan_id(), req->external_ref(), req->person(),
                                             req->has_effective_date(), req->effective_date(), "", options_.calendar.DayOf(m.now)));
    v1::Member member;
    member.set_member_id(ids_.Next());
    member.set_account_id(req->account_id());
    member.set_plan_id(req->plan_id());
    member.set_external_ref(req->external_ref());
    member.set_status(v1::MEMBER_STATUS_ACTIVE);
    *member.mutable_person() = req->person();
    *member.mutable_effective_date() = req->effective_date();
    CAREOPS_ASSIGN_OR_RETURN(*resp, store_.EnrollMember(m, member, options_.calendar.DayOf(m.now)));
    *resp = MemberAsOf(std::move(*resp), options_.calendar.DayOf(m.now));
    return absl::OkStatus();
  });
}

grpc::Status MembershipServiceImpl::GetMember(grpc::ServerContextBase* ctx, const v1::GetMemberRequest* req,
                                              v1::Member* resp) {
  return rpc_.Read(ctx, __func__, [&](const Call& call) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(RequireId(req->member_id(), "member_id", 64));
    CAREOPS_ASSIGN_OR_RETURN(v1::Member member, store_.GetMember(req->member_id()));
    *resp = MemberAsOf(std::move(member), options_.calendar.DayOf(call.now));
    return absl::OkStatus();
  });
}

grpc::Status MembershipServiceImpl::ListMembers(grpc::ServerContextBase* ctx, const v1::ListMembersRequest* req,
                                                v1::ListMembersResponse* resp) {
  return rpc_.Read(ctx, __func__, [&](const Call& call) -> absl::Status {
    CAREOPS_ASSIGN_OR_RETURN(PageRequest page, ParsePageRequest(*req, req->page_size(), req->page_token()));
    if (!v1::MemberStatus_IsValid(req->status())) return InvalidArgument("status", "is not a known member status");
    CAREOPS_RETURN_IF_ERROR(OptionalId(req->account_id(), "account_id", 64));
    CAREOPS_RETURN_IF_ERROR(OptionalId(req->plan_id(), "plan_id", 64));
    if (!req->external_ref().empty()) {
      CAREOPS_RETURN_IF_ERROR(ValidateExternalRef(req->external_ref(), "external_ref"));
    }
    const absl::CivilDay today = options_.calendar.DayOf(call.now);
    CAREOPS_ASSIGN_OR_RETURN(
        Page<v1::Member> result,
        store_.ListMembers({req->account_id(), req->status(), req->plan_id(), req->external_ref(), today}, page));
    for (v1::Member& member : result.items) member = MemberAsOf(std::move(member), today);
    FillPage(result, *req, &v1::Member::member_id, resp->mutable_members(), resp->mutable_next_page_token());
    return absl::OkStatus();
  });
}

grpc::Status MembershipServiceImpl::BatchEnrollMembers(grpc::ServerContextBase* ctx,
                                                       const v1::BatchEnrollMembersRequest* req,
                                                       v1::BatchEnrollMembersResponse* resp) {
  return rpc_.Write(ctx, __func__, req->request_id(), *req, resp, [&](const Mutation& m) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(RequireId(req->account_id(), "account_id", 64));
    if (req->rows().empty() || req->rows_size() > kMaxBatchRows) {
      return InvalidArgument("rows", absl::StrCat("must have 1 to ", kMaxBatchRows, " rows"));
    }
    const absl::CivilDay today = options_.calendar.DayOf(m.now);
    std::vector<BatchRow> rows;
    rows.reserve(req->rows_size());
    for (int i = 0; i < req->rows_size(); ++i) {
      const v1::BatchEnrollRow& r = req->rows(i);
      absl::Status ok = ValidateEnrollee(r.plan_id(), r.external_ref(), r.person(), r.has_effective_date(),
                                         r.effective_date(), absl::StrCat("rows[", i, "]."), today);
      rows.push_back({r, ok.ok() ? std::string() : std::string(ok.message())});
    }
    CAREOPS_ASSIGN_OR_RETURN(*resp, store_.BatchEnroll(
                                        m, req->account_id(), rows, [this] { return ids_.Next(); }, today));
    return absl::OkStatus();
  });
}

// ================================================================ movements

grpc::Status MembershipServiceImpl::RequestMovement(grpc::ServerContextBase* ctx, const v1::RequestMovementRequest* req,
                                                    v1::Movement* resp) {
  return rpc_.Write(ctx, __func__, req->request_id(), *req, resp, [&](const Mutation& m) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(RequireId(req->account_id(), "account_id", 64));
    if (req->type() == v1::MOVEMENT_TYPE_UNSPECIFIED || !v1::MovementType_IsValid(req->type())) {
      return InvalidArgument("type", "must be ENROLLMENT, TERMINATION, PLAN_CHANGE, REINSTATEMENT or DETAIL_CHANGE");
    }
    CAREOPS_RETURN_IF_ERROR(RequireDate(req->has_effective_date(), req->effective_date(), "effective_date").status());
    CAREOPS_RETURN_IF_ERROR(OptionalText(req->note(), "note", 1024, TextKind::kMultiLine));
    const absl::CivilDay today = options_.calendar.DayOf(m.now);
    v1::Movement mv;
    switch (req->type()) {
      case v1::MOVEMENT_TYPE_ENROLLMENT:
        if (!req->member_id().empty()) return InvalidArgument("member_id", "must be empty for an ENROLLMENT");
        if (!req->has_enrollment()) return InvalidArgument("enrollment", "is required for an ENROLLMENT");
        CAREOPS_RETURN_IF_ERROR(ValidateEnrollee(req->enrollment().plan_id(), req->enrollment().external_ref(),
                                                 req->enrollment().person(), true, req->effective_date(),
                                                 "enrollment.", today));
        *mv.mutable_enrollment() = req->enrollment();
        break;
      case v1::MOVEMENT_TYPE_PLAN_CHANGE:
        CAREOPS_RETURN_IF_ERROR(RequireId(req->member_id(), "member_id", 64));
        CAREOPS_RETURN_IF_ERROR(RequireId(req->new_plan_id(), "new_plan_id", 64));
        mv.set_new_plan_id(req->new_plan_id());
        break;
      case v1::MOVEMENT_TYPE_DETAIL_CHANGE:
        CAREOPS_RETURN_IF_ERROR(RequireId(req->member_id(), "member_id", 64));
        if (!req->has_person()) return InvalidArgument("person", "is required for a DETAIL_CHANGE");
        CAREOPS_RETURN_IF_ERROR(ValidatePerson(req->person(), "person", today));
        *mv.mutable_person() = req->person();
        break;
      default:
        CAREOPS_RETURN_IF_ERROR(RequireId(req->member_id(), "member_id", 64));
        break;
    }
    const absl::Time now = m.now;
    mv.set_movement_id(ids_.Next());
    mv.set_account_id(req->account_id());
    mv.set_member_id(req->member_id());
    mv.set_type(req->type());
    mv.set_status(v1::MOVEMENT_STATUS_PENDING);
    *mv.mutable_effective_date() = req->effective_date();
    mv.set_note(req->note());
    mv.set_requested_by(m.caller.user);
    *mv.mutable_request_time() = ToProtoTimestamp(now);
    *mv.mutable_due_time() = ToProtoTimestamp(options_.calendar.AddBusinessDays(now, TatBusinessDays(options_.movement_tat, req->type())));
    CAREOPS_ASSIGN_OR_RETURN(*resp, store_.CreateMovement(m, mv, today));
    // A replayed request returns the first answer, with the first call's movement id.
    if (resp->movement_id() == mv.movement_id()) metrics_.MovementRequested(req->type());
    return absl::OkStatus();
  });
}

grpc::Status MembershipServiceImpl::GetMovement(grpc::ServerContextBase* ctx, const v1::GetMovementRequest* req,
                                                v1::Movement* resp) {
  return rpc_.Read(ctx, __func__, [&](const Call& call) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(RequireId(req->movement_id(), "movement_id", 64));
    CAREOPS_ASSIGN_OR_RETURN(*resp, store_.GetMovement(req->movement_id(), call.now));
    return absl::OkStatus();
  });
}

grpc::Status MembershipServiceImpl::ApplyMovement(grpc::ServerContextBase* ctx, const v1::ApplyMovementRequest* req,
                                                  v1::Movement* resp) {
  return rpc_.Write(ctx, __func__, req->request_id(), *req, resp, [&](const Mutation& m) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(RequireId(req->movement_id(), "movement_id", 64));
    CAREOPS_RETURN_IF_ERROR(ParseEtag(req->etag()).status());
    MovementDecision decision;
    CAREOPS_ASSIGN_OR_RETURN(*resp, store_.ApplyMovement(m, req->movement_id(), req->etag(), ids_.Next(),
                                                         options_.calendar.DayOf(m.now), &decision));
    CountDecision(metrics_, decision, *resp);
    return absl::OkStatus();
  });
}

grpc::Status MembershipServiceImpl::RejectMovement(grpc::ServerContextBase* ctx, const v1::RejectMovementRequest* req,
                                                   v1::Movement* resp) {
  return rpc_.Write(ctx, __func__, req->request_id(), *req, resp, [&](const Mutation& m) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(RequireId(req->movement_id(), "movement_id", 64));
    CAREOPS_RETURN_IF_ERROR(ParseEtag(req->etag()).status());
    CAREOPS_RETURN_IF_ERROR(RequireText(req->reason(), "reason", 1024, TextKind::kMultiLine));
    MovementDecision decision;
    CAREOPS_ASSIGN_OR_RETURN(*resp, store_.RejectMovement(m,
                                                          req->movement_id(), req->etag(), req->reason(), &decision));
    CountDecision(metrics_, decision, *resp);
    return absl::OkStatus();
  });
}

grpc::Status MembershipServiceImpl::ListMovements(grpc::ServerContextBase* ctx, const v1::ListMovementsRequest* req,
                                                  v1::ListMovementsResponse* resp) {
  return rpc_.Read(ctx, __func__, [&](const Call& call) -> absl::Status {
    CAREOPS_ASSIGN_OR_RETURN(PageRequest page, ParsePageRequest(*req, req->page_size(), req->page_token()));
    if (!v1::MovementStatus_IsValid(req->status())) return InvalidArgument("status", "is not a known movement status");
    if (!v1::MovementType_IsValid(req->type())) return InvalidArgument("type", "is not a known movement type");
    CAREOPS_RETURN_IF_ERROR(OptionalId(req->account_id(), "account_id", 64));
    MovementFilter filter;
    filter.account_id = req->account_id();
    filter.status = req->status();
    filter.type = req->type();
    filter.overdue_only = req->overdue_only();
    filter.as_of = call.now;
    if (req->has_as_of()) {
      CAREOPS_ASSIGN_OR_RETURN(filter.as_of, FromProto(req->as_of(), "as_of"));
    }
    CAREOPS_ASSIGN_OR_RETURN(Page<v1::Movement> result, store_.ListMovements(filter, page));
    FillPage(result, *req, &v1::Movement::movement_id, resp->mutable_movements(), resp->mutable_next_page_token());
    return absl::OkStatus();
  });
}

// ================================================================ eligibility and utilisation

grpc::Status MembershipServiceImpl::CheckEligibility(grpc::ServerContextBase* ctx, const v1::CheckEligibilityRequest* req,
                                                     v1::CheckEligibilityResponse* resp) {
  return rpc_.Read(ctx, __func__, [&](const Call& call) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(RequireId(req->member_id(), "member_id", 64));
    CAREOPS_RETURN_IF_ERROR(RequireId(req->benefit_code(), "benefit_code", 64));
    CAREOPS_ASSIGN_OR_RETURN(absl::CivilDay day,
                             RequireDate(req->has_service_date(), req->service_date(), "service_date"));
    int64_t amount = 0;
    if (req->has_amount()) {
      CAREOPS_RETURN_IF_ERROR(ValidateMoney(FromProto(req->amount()), "amount"));
      amount = req->amount().amount_minor();
    }
    std::string account_id, plan_id;
    CAREOPS_ASSIGN_OR_RETURN(EligibilityFacts facts,
                             store_.LoadEligibilityFacts(req->member_id(), req->benefit_code(), day, &account_id,
                                                         &plan_id));
    if (facts.member_found && facts.benefit && req->has_amount() && amount > 0 &&
        req->amount().currency_code() != facts.currency) {
      return InvalidArgument("amount.currency_code", absl::StrCat("must be the plan's currency ", facts.currency));
    }
    EligibilityDecision d = DecideEligibility(facts, day, amount);
    resp->set_eligible(d.eligible);
    for (const auto& r : d.reasons) {
      auto* out = resp->add_reasons();
      out->set_code(r.code);
      out->set_message(r.message);
    }
    resp->set_unlimited(d.unlimited);
    if (facts.member_found) {
      resp->mutable_remaining_limit()->set_currency_code(facts.currency);
      resp->mutable_remaining_limit()->set_amount_minor(d.remaining_minor);
      resp->set_account_id(account_id);
      resp->set_plan_id(plan_id);
    }
    if (facts.benefit) {
      resp->set_benefit_category(facts.benefit->category);
      resp->set_copay_basis_points(facts.benefit->copay_basis_points);
      if (facts.benefit->per_visit_cap_minor > 0) {
        resp->mutable_per_visit_cap()->set_currency_code(facts.currency);
        resp->mutable_per_visit_cap()->set_amount_minor(facts.benefit->per_visit_cap_minor);
      }
    }
    metrics_.EligibilityChecked(d.eligible);
    return absl::OkStatus();
  });
}

grpc::Status MembershipServiceImpl::RecordUtilization(grpc::ServerContextBase* ctx,
                                                      const v1::RecordUtilizationRequest* req,
                                                      v1::Utilization* resp) {
  // request_id is optional here: source_reference is the idempotency key.
  return rpc_.Write(ctx, __func__, req->request_id(), *req, resp, RpcKit::RequestIdPolicy::kOptional,
                    [&](const Mutation& m) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(RequireId(req->source_reference(), "source_reference", 64));
    CAREOPS_RETURN_IF_ERROR(RequireId(req->member_id(), "member_id", 64));
    CAREOPS_RETURN_IF_ERROR(RequireId(req->benefit_code(), "benefit_code", 64));
    if (!req->has_amount()) return InvalidArgument("amount", "is required");
    CAREOPS_RETURN_IF_ERROR(ValidateMoney(FromProto(req->amount()), "amount"));
    if (req->amount().amount_minor() == 0) return InvalidArgument("amount.amount_minor", "must be more than zero");
    CAREOPS_RETURN_IF_ERROR(RequireDate(req->has_service_date(), req->service_date(), "service_date").status());
    CAREOPS_ASSIGN_OR_RETURN(*resp, store_.RecordUtilization(
                                        m, *req, ids_.Next()));
    // Test builds only: committed, and yet the caller hears it timed out.
    return Failpoint("membership.utilization.after_commit");
  });
}

grpc::Status MembershipServiceImpl::ReverseUtilization(grpc::ServerContextBase* ctx,
                                                       const v1::ReverseUtilizationRequest* req,
                                                       v1::Utilization* resp) {
  // request_id is optional for a whole reversal (source_reference is its
  // idempotency key) but not for a partial one: two partial reversals of one
  // record are two requests, told apart only by their request_id.
  return rpc_.Write(ctx, __func__, req->request_id(), *req, resp, RpcKit::RequestIdPolicy::kOptional,
                    [&](const Mutation& m) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(RequireId(req->source_reference(), "source_reference", 64));
    CAREOPS_RETURN_IF_ERROR(OptionalText(req->reason(), "reason", 1024, TextKind::kMultiLine));
    if (req->has_amount()) {
      if (req->request_id().empty()) {
        return InvalidArgument("request_id", "is required for a partial reversal (with amount)");
      }
      CAREOPS_RETURN_IF_ERROR(ValidateMoney(FromProto(req->amount()), "amount"));
      if (req->amount().amount_minor() == 0) return InvalidArgument("amount.amount_minor", "must be more than zero");
    }
    CAREOPS_ASSIGN_OR_RETURN(*resp,
                             store_.ReverseUtilization(m, *req));
    return absl::OkStatus();
  });
}

grpc::Status MembershipServiceImpl::GetUtilization(grpc::ServerContextBase* ctx, const v1::GetUtilizationRequest* req,
                                                   v1::Utilization* resp) {
  return rpc_.Read(ctx, __func__, [&](const Call&) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(RequireId(req->source_reference(), "source_reference", 64));
    CAREOPS_ASSIGN_OR_RETURN(*resp, store_.GetUtilization(req->source_reference()));
    return absl::OkStatus();
  });
}

grpc::Status MembershipServiceImpl::ListUtilizations(grpc::ServerContextBase* ctx, const v1::ListUtilizationsRequest* req,
                                                     v1::ListUtilizationsResponse* resp) {
  return rpc_.Read(ctx, __func__, [&](const Call&) -> absl::Status {
    CAREOPS_ASSIGN_OR_RETURN(PageRequest page, ParsePageRequest(*req, req->page_size(), req->page_token()));
    CAREOPS_RETURN_IF_ERROR(RequireId(req->member_id(), "member_id", 64));
    CAREOPS_RETURN_IF_ERROR(OptionalId(req->benefit_code(), "benefit_code", 64));
    CAREOPS_ASSIGN_OR_RETURN(Page<v1::UtilizationLedgerEntry> result,
                             store_.ListUtilizations({req->member_id(), req->benefit_code()}, page));
    for (v1::UtilizationLedgerEntry& e : result.items) *resp->add_entries() = std::move(e);
    if (result.more && resp->entries_size() > 0) {
      resp->set_next_page_token(NextPageToken(*req, resp->entries().rbegin()->utilization().utilization_id()));
    }
    return absl::OkStatus();
  });
}

}  // namespace careops::membership
