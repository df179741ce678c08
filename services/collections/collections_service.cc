#include "services/collections/collections_service.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "common/money.h"
#include "common/proto_time.h"
#include "common/status.h"
#include "common/log.h"
#include "common/validation.h"
#include "common/enum_codec.h"
#include "absl/strings/str_join.h"

namespace careops::collections {
namespace {

constexpr int kMaxBatchRows = 5000;

// An amount in the ledger's currency, zero or more; unset means zero.
absl::Status ValidateComponent(const common::v1::Money& m, bool set, const std::string& currency,
                               const std::string& field) {
  if (!set) return absl::OkStatus();
  if (m.currency_code() != currency) {
    return InvalidArgument(absl::StrCat(field, ".currency_code"), absl::StrCat("must be the ledger's ", currency));
  }
  return ValidateMoney(FromProto(m), field);  // not negative, within the Money bound
}

absl::Status ValidateContact(const v1::Contact& c, const std::string& field) {
  CAREOPS_RETURN_IF_ERROR(OptionalId(c.billing_email(), absl::StrCat(field, ".billing_email"), 254));
  if (!c.billing_email().empty() && c.billing_email().find('@') == std::string::npos) {
    return InvalidArgument(absl::StrCat(field, ".billing_email"), "must be an email address");
  }
  CAREOPS_RETURN_IF_ERROR(OptionalId(c.mobile(), absl::StrCat(field, ".mobile"), 32));
  CAREOPS_RETURN_IF_ERROR(OptionalText(c.postal_address(), absl::StrCat(field, ".postal_address"), 500, TextKind::kMultiLine));
  if (!v1::Channel_IsValid(c.preferred_channel())) {
    return InvalidArgument(absl::StrCat(field, ".preferred_channel"), "is not a known channel");
  }
  return absl::OkStatus();
}

// The allocations a clerk asked for (PostPayment, PostUnpostedPayment), each in
// the ledger's currency; INVALID_ARGUMENT naming allocations[i] otherwise.
absl::StatusOr<std::vector<RequestedAllocation>> RequestedAllocations(
    const google::protobuf::RepeatedPtrField<v1::Allocation>& allocations, const std::string& currency) {
  std::vector<RequestedAllocation> requested;
  for (int i = 0; i < allocations.size(); ++i) {
    const v1::Allocation& a = allocations.Get(i);
    const std::string field = absl::StrCat("allocations[", i, "]");
    CAREOPS_RETURN_IF_ERROR(RequireId(a.installment_id(), field + ".installment_id", 26));
    if (a.amount().currency_code() != currency) {
      return InvalidArgument(field + ".amount.currency_code", absl::StrCat("must be the ledger's ", currency));
    }
    requested.push_back({a.installment_id(), a.amount().amount_minor()});
  }
  return requested;
}

absl::StatusOr<std::string> LedgerCurrency(CollectionsStore& store, const std::string& ledger_id) {
  CAREOPS_RETURN_IF_ERROR(RequireId(ledger_id, "ledger_id", 26));
  CAREOPS_ASSIGN_OR_RETURN(v1::Ledger ledger, store.GetLedger(ledger_id));
  return ledger.currency_code();
}

// Where a notice goes: the preferred channel when the ledger has its address,
// else the first of email, SMS and letter it has an address for.
std::pair<v1::Channel, std::string> NoticeChannel(const v1::Contact& c) {
  auto address = [&](v1::Channel ch) -> std::string {
    switch (ch) {
      case v1::CHANNEL_EMAIL: return c.billing_email();
      case v1::CHANNEL_SMS: return c.mobile();
      case v1::CHANNEL_LETTER: return c.postal_address();
      default: return "";
    }
  };
  if (!address(c.preferred_channel()).empty()) return {c.preferred_channel(), address(c.preferred_channel())};
  for (v1::Channel ch : {v1::CHANNEL_EMAIL, v1::CHANNEL_SMS, v1::CHANNEL_LETTER}) {
    if (!address(ch).empty()) return {ch, address(ch)};
  }
  return {v1::CHANNEL_LETTER, ""};
}

std::map<std::string, std::string> SampleFields() {
  std::map<std::string, std::string> fields;
  for (const std::string& f : NoticeTemplateFields()) fields[f] = "x";
  return fields;
}

// Totals per bucket and currency from the very rows given, so they always
// equal them; configured bucket order.
void AgingTotals(const std::vector<AgingReportEntry>& entries, const AgingBuckets& buckets,
                 google::protobuf::RepeatedPtrField<v1::BucketTotal>* out) {
  std::map<std::pair<std::string, std::string>, std::pair<int32_t, int64_t>> totals;
  for (const AgingReportEntry& e : entries) {
    auto& t = totals[{e.bucket, e.currency}];
    t.first += 1;
    t.second += e.outstanding_minor;
  }
  for (const Bucket& b : buckets.buckets()) {
    for (const auto& [key, t] : totals) {
      if (key.first != b.name) continue;
      v1::BucketTotal* total = out->Add();
      total->set_bucket(b.name);
      total->set_accounts(t.first);
      *total->mutable_outstanding() = ToProto(Money(key.second, t.second));
    }
  }
}

DepositLine LineOf(const v1::UnpostedPayment& u) {
  DepositLine line{u.payer_name(), u.reference_text(), u.amount().currency_code(), u.amount().amount_minor(), {}};
  line.deposit_date = FromProto(u.deposit_date(), "deposit_date").value_or(absl::CivilDay());
  return line;
}

struct RankedCandidate {
  const MatchLedger* ledger;
  MatchScore score;
};

// Best first: score, then ledger id, so the order is the same on every call.
std::vector<RankedCandidate> RankCandidates(const v1::UnpostedPayment& u, const std::vector<MatchLedger>& ledgers) {
  const DepositLine line = LineOf(u);
  std::vector<RankedCandidate> out;
  for (const MatchLedger& l : ledgers) out.push_back({&l, ScoreMatch(line, l)});
  std::sort(out.begin(), out.end(), [](const RankedCandidate& a, const RankedCandidate& b) {
    if (a.score.score != b.score.score) return a.score.score > b.score.score;
    return a.ledger->ledger_id < b.ledger->ledger_id;
  });
  return out;
}

v1::DifferenceKind KindProto(DifferenceKind k) {
  return EnumFromShortName<v1::DifferenceKind>(std::string(DifferenceKindName(k)));
}

// A stored report as the contract shows it; totals summed from its rows.
absl::Status RenderReport(const ReconciliationRecord& rec, bool with_rows, v1::ReconciliationReport* out) {
  out->Clear();
  out->set_report_id(rec.report_id);
  out->set_statement_reference(rec.statement_reference);
  *out->mutable_period_start() = ToProto(rec.period_start);
  *out->mutable_period_end() = ToProto(rec.period_end);
  out->set_ledgers(rec.ledgers);
  out->set_difference_count(rec.difference_count);
  out->set_created_by(rec.created_by);
  *out->mutable_create_time() = ToProtoTimestamp(rec.created_at);
  if (!with_rows) return absl::OkStatus();
  for (const Difference& d : rec.differences) {
    v1::ReconciliationDifference* row = out->add_differences();
    row->set_ledger_id(d.ledger_id);
    row->set_kind(KindProto(d.kind));
    row->set_subject(d.subject);
    row->set_reference(d.reference);
    *row->mutable_statement_amount() = ToProto(Money(d.currency, d.statement_minor));
    *row->mutable_ledger_amount() = ToProto(Money(d.currency, d.ledger_minor));
    *row->mutable_difference() = ToProto(Money(d.currency, d.difference_minor()));
    if (d.statement_date) *row->mutable_statement_date() = ToProto(*d.statement_date);
    if (d.ledger_date) *row->mutable_ledger_date() = ToProto(*d.ledger_date);
  }
  CAREOPS_ASSIGN_OR_RETURN(std::vector<DifferenceTotal> totals, TotalDifferences(rec.differences));
  for (const DifferenceTotal& t : totals) {
    v1::DifferenceTotal* total = out->add_totals();
    total->set_kind(KindProto(t.kind));
    total->set_count(t.count);
    *total->mutable_statement_amount() = ToProto(Money(t.currency, t.statement_minor));
    *total->mutable_ledger_amount() = ToProto(Money(t.currency, t.ledger_minor));
    *total->mutable_difference() = ToProto(Money(t.currency, t.difference_minor));
  }
  return absl::OkStatus();
}

// An amount for the CSV: the number only (the currency has its own column).
std::string CsvAmount(const std::string& currency, int64_t minor) {
  const std::string text = Money(currency, minor).ToString();
  return text.substr(text.find(' ') + 1);
}

}  // namespace

absl::Status ValidateNoticeTemplates(const std::map<RungKind, std::string>& templates) {
  for (const auto& [kind, text] : templates) {
    CAREOPS_RETURN_IF_ERROR(RenderTemplate(text, SampleFields(), "notice_templates").status());
  }
  return absl::OkStatus();
}

absl::Status ValidateInstallment(const v1::Installment& row, const std::string& currency, const std::string& field) {
  CAREOPS_RETURN_IF_ERROR(RequireId(row.number(), absl::StrCat(field, ".number"), 64));
  if (row.kind() == v1::INSTALLMENT_KIND_UNSPECIFIED || !v1::InstallmentKind_IsValid(row.kind())) {
    return InvalidArgument(absl::StrCat(field, ".kind"),
                           "is required: REGULAR, BALLOON, RETENTION, FEE or INTEREST");
  }
  if (!row.has_due_date()) return InvalidArgument(absl::StrCat(field, ".due_date"), "is required");
  CAREOPS_RETURN_IF_ERROR(FromProto(row.due_date(), absl::StrCat(field, ".due_date")).status());
  CAREOPS_RETURN_IF_ERROR(ValidateComponent(row.principal(), row.has_principal(), currency, field + ".principal"));
  CAREOPS_RETURN_IF_ERROR(ValidateComponent(row.interest(), row.has_interest(), currency, field + ".interest"));
  CAREOPS_RETURN_IF_ERROR(ValidateComponent(row.fee(), row.has_fee(), currency, field + ".fee"));
  int64_t total = row.principal().amount_minor() + row.interest().amount_minor() + row.fee().amount_minor();
  if (total <= 0) {
    return InvalidArgument(field, "must ask for something: principal, interest or fee above zero");
  }
  return absl::OkStatus();
}

CollectionsServiceImpl::CollectionsServiceImpl(CollectionsStore& store, MembershipClient& membership,
                                               outbox::IntentDeliverer& intents, const RpcKit& rpc,
                                               CollectionsOptions options)
    : store_(store),
      membership_(membership),
      intents_(intents),
      rpc_(rpc),
      options_(std::move(options)),
      ids_(rpc.clock()) {}

void CollectionsServiceImpl::Bind(PooledService& s) {
  s.Unary("OpenLedger", this, &CollectionsServiceImpl::OpenLedger)
   .Unary("GetLedger", this, &CollectionsServiceImpl::GetLedger)
   .Unary("AddInstallment", this, &CollectionsServiceImpl::AddInstallment)
   .Unary("BatchAddInstallments", this, &CollectionsServiceImpl::BatchAddInstallments)
   .Unary("UpdateContact", this, &CollectionsServiceImpl::UpdateContact)
   .Unary("ListContactHistory", this, &CollectionsServiceImpl::ListContactHistory)
   .Unary("PostPayment", this, &CollectionsServiceImpl::PostPayment)
   .Unary("ReversePayment", this, &CollectionsServiceImpl::ReversePayment)
   .Unary("IngestBankReturns", this, &CollectionsServiceImpl::IngestBankReturns)
   .Unary("ListPayments", this, &CollectionsServiceImpl::ListPayments)
   .Unary("GetAging", this, &CollectionsServiceImpl::GetAging)
   .Unary("AddPause", this, &CollectionsServiceImpl::AddPause)
   .Unary("EndPause", this, &CollectionsServiceImpl::EndPause)
   .Unary("RunAging", this, &CollectionsServiceImpl::RunAging)
   .Unary("GetAgingHistory", this, &CollectionsServiceImpl::GetAgingHistory)
   .Unary("GetAgingReport", this, &CollectionsServiceImpl::GetAgingReport)
   .Unary("RunDunning", this, &CollectionsServiceImpl::RunDunning)
   .Unary("ListNotices", this, &CollectionsServiceImpl::ListNotices)
   .Unary("GetNotice", this, &CollectionsServiceImpl::GetNotice)
   .Unary("ListPrepaymentEligible", this, &CollectionsServiceImpl::ListPrepaymentEligible)
   .Unary("GetAccountCollectionsSummary", this, &CollectionsServiceImpl::GetAccountCollectionsSummary)
   .Unary("GetMonthlyCollectionsSummary", this, &CollectionsServiceImpl::GetMonthlyCollectionsSummary)
   .Unary("IngestUnpostedPayments", this, &CollectionsServiceImpl::IngestUnpostedPayments)
   .Unary("ListUnpostedPayments", this, &CollectionsServiceImpl::ListUnpostedPayments)
   .Unary("ListMatchCandidates", this, &CollectionsServiceImpl::ListMatchCandidates)
   .Unary("PostUnpostedPayment", this, &CollectionsServiceImpl::PostUnpostedPayment)
   .Unary("ReconcileLedgers", this, &CollectionsServiceImpl::ReconcileLedgers)
   .Unary("GetReconciliationReport", this, &CollectionsServiceImpl::GetReconciliationReport)
   .Unary("ListReconciliationReports", this, &CollectionsServiceImpl::ListReconciliationReports)
   .Unary("ExportReconciliationReport", this, &CollectionsServiceImpl::ExportReconciliationReport);
}

grpc::Status CollectionsServiceImpl::OpenLedger(grpc::ServerContextBase* ctx, const v1::OpenLedgerRequest* req,
                                                v1::Ledger* resp) {
  return rpc_.Write(ctx, __func__, req->request_id(), *req, resp, [&](const Mutation& m) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(RequireId(req->account_id(), "account_id", 64));
    if (!IsKnownCurrency(req->currency_code())) {
      return InvalidArgument("currency_code", "must be a known ISO-4217 code");
    }
    // Asked before the transaction: no call to membership while one is open.
    absl::StatusOr<AccountInfo> account = membership_.GetClientAccount(req->account_id());
    if (absl::IsNotFound(account.status())) {
      return absl::FailedPreconditionError(
          absl::StrCat("account_id: membership has no client account ", Quote(req->account_id())));
    }
    CAREOPS_RETURN_IF_ERROR(account.status());
    if (account->cancelled) {
      return absl::FailedPreconditionError(absl::StrCat("account_id: account ", Quote(req->account_id()), " is cancelled"));
    }
    v1::Ledger ledger;
    ledger.set_ledger_id(ids_.Next());
    ledger.set_account_id(account->account_id);
    ledger.set_account_name(account->name);
    ledger.set_currency_code(req->currency_code());
    ledger.mutable_contact()->set_billing_email(account->contact_email);
    if (!account->contact_email.empty()) ledger.mutable_contact()->set_preferred_channel(v1::CHANNEL_EMAIL);
    return store_.OpenLedger(m, ledger, "membership account contact", [&](const v1::Ledger& l) { *resp = l; });
  });
}

grpc::Status CollectionsServiceImpl::GetLedger(grpc::ServerContextBase* ctx, const v1::GetLedgerRequest* req,
                                               v1::Ledger* resp) {
  return rpc_.Read(ctx, __func__, [&](const Call&) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(RequireId(req->ledger_id(), "ledger_id", 26));
    CAREOPS_ASSIGN_OR_RETURN(*resp, store_.GetLedger(req->ledger_id()));
    return absl::OkStatus();
  });
}

grpc::Status CollectionsServiceImpl::AddInstallment(grpc::ServerContextBase* ctx, const v1::AddInstallmentRequest* req,
                                                    v1::Installment* resp) {
  return rpc_.Write(ctx, __func__, req->request_id(), *req, resp, [&](const Mutation& m) -> absl::Status {
    const v1::Installment& in = req->installment();
    CAREOPS_ASSIGN_OR_RETURN(std::string currency, LedgerCurrency(store_, in.ledger_id()));
    CAREOPS_RETURN_IF_ERROR(ValidateInstallment(in, currency, "installment"));
    v1::Installment row = in;
    row.set_installment_id(ids_.Next());
    return store_.AddInstallments(
        m, in.ledger_id(), {row}, [&](const std::vector<std::optional<std::string>>& existing) -> absl::Status {
          if (existing[0]) {
            return absl::AlreadyExistsError(absl::StrCat("installment.number: ", Quote(in.number()),
                                                         " is already installment ", *existing[0]));
          }
          // Balances as stored: a new installment owes all of it.
          *resp = row;
          int64_t total = row.principal().amount_minor() + row.interest().amount_minor() + row.fee().amount_minor();
          *resp->mutable_principal() = ToProto(Money(currency, row.principal().amount_minor()));
          *resp->mutable_interest() = ToProto(Money(currency, row.interest().amount_minor()));
          *resp->mutable_fee() = ToProto(Money(currency, row.fee().amount_minor()));
          *resp->mutable_amount() = ToProto(Money(currency, total));
          *resp->mutable_paid() = ToProto(Money(currency, 0));
          *resp->mutable_balance() = ToProto(Money(currency, total));
          return absl::OkStatus();
        });
  });
}

grpc::Status CollectionsServiceImpl::BatchAddInstallments(grpc::ServerContextBase* ctx,
                                                          const v1::BatchAddInstallmentsRequest* req,
                                                          v1::BatchAddInstallmentsResponse* resp) {
  return rpc_.Write(ctx, __func__, req->request_id(), *req, resp, [&](const Mutation& m) -> absl::Status {
    if (req->installments_size() == 0) return InvalidArgument("installments", "must have at least one row");
    if (req->installments_size() > kMaxBatchRows) {
      return InvalidArgument("installments", absl::StrCat("must have at most ", kMaxBatchRows, " rows"));
    }
    CAREOPS_ASSIGN_OR_RETURN(std::string currency, LedgerCurrency(store_, req->ledger_id()));
    std::vector<v1::BatchRowResult> results(req->installments_size());
    std::vector<v1::Installment> rows;
    std::vector<int> row_of;  // index in `rows` -> request row
    std::map<std::string, int> numbers;
    for (int i = 0; i < req->installments_size(); ++i) {
      results[i].set_row(i);
      absl::Status valid = ValidateInstallment(req->installments(i), currency, absl::StrCat("installments[", i, "]"));
      if (valid.ok() && numbers.count(req->installments(i).number()) > 0) {
        valid = InvalidArgument(absl::StrCat("installments[", i, "].number"),
                                absl::StrCat("repeats row ", numbers[req->installments(i).number()]));
      }
      if (!valid.ok()) {
        results[i].set_outcome(v1::ROW_OUTCOME_INVALID);
        results[i].set_error(std::string(valid.message()));
        continue;
      }
      numbers[req->installments(i).number()] = i;
      v1::Installment row = req->installments(i);
      row.set_ledger_id(req->ledger_id());
      row.set_installment_id(ids_.Next());
      rows.push_back(std::move(row));
      row_of.push_back(i);
    }
    return store_.AddInstallments(
        m, req->ledger_id(), rows, [&](const std::vector<std::optional<std::string>>& existing) -> absl::Status {
          resp->Clear();
          for (size_t k = 0; k < rows.size(); ++k) {
            v1::BatchRowResult& r = results[row_of[k]];
            r.set_outcome(existing[k] ? v1::ROW_OUTCOME_DUPLICATE : v1::ROW_OUTCOME_CREATED);
            r.set_installment_id(existing[k] ? *existing[k] : rows[k].installment_id());
          }
          for (v1::BatchRowResult& r : results) {
            if (r.outcome() == v1::ROW_OUTCOME_CREATED) resp->set_created(resp->created() + 1);
            if (r.outcome() == v1::ROW_OUTCOME_DUPLICATE) resp->set_duplicates(resp->duplicates() + 1);
            if (r.outcome() == v1::ROW_OUTCOME_INVALID) resp->set_invalid(resp->invalid() + 1);
            *resp->add_results() = r;
          }
          return absl::OkStatus();
        });
  });
}

grpc::Status CollectionsServiceImpl::UpdateContact(grpc::ServerContextBase* ctx, const v1::UpdateContactRequest* req,
                                                   v1::Ledger* resp) {
  return rpc_.Write(ctx, __func__, req->request_id(), *req, resp, [&](const Mutation& m) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(RequireId(req->ledger_id(), "ledger_id", 26));
    CAREOPS_RETURN_IF_ERROR(ValidateContact(req->contact(), "contact"));
    CAREOPS_RETURN_IF_ERROR(RequireText(req->source(), "source", 200));
    CAREOPS_ASSIGN_OR_RETURN(mysql::ExpectedVersion expected, mysql::ExpectedVersion::FromEtag(req->etag()));
    return store_.UpdateContact(m, req->ledger_id(), expected, req->contact(), req->source(),
                                [&](const v1::Ledger& l) { *resp = l; });
  });
}

grpc::Status CollectionsServiceImpl::ListContactHistory(grpc::ServerContextBase* ctx,
                                                        const v1::ListContactHistoryRequest* req,
                                                        v1::ListContactHistoryResponse* resp) {
  return rpc_.Read(ctx, __func__, [&](const Call&) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(RequireId(req->ledger_id(), "ledger_id", 26));
    CAREOPS_ASSIGN_OR_RETURN(std::vector<v1::ContactChange> changes, store_.ListContactHistory(req->ledger_id()));
    for (v1::ContactChange& c : changes) *resp->add_changes() = std::move(c);
    return absl::OkStatus();
  });
}

grpc::Status CollectionsServiceImpl::PostPayment(grpc::ServerContextBase* ctx, const v1::PostPaymentRequest* req,
                                                 v1::Payment* resp) {
  return rpc_.Write(ctx, __func__, req->request_id(), *req, resp, [&](const Mutation& m) -> absl::Status {
    CAREOPS_ASSIGN_OR_RETURN(std::string currency, LedgerCurrency(store_, req->ledger_id()));
    if (!req->has_amount()) return InvalidArgument("amount", "is required");
    if (req->amount().currency_code() != currency) {
      return InvalidArgument("amount.currency_code", absl::StrCat("must be the ledger's ", currency));
    }
    if (req->amount().amount_minor() <= 0) return InvalidArgument("amount.amount_minor", "must be greater than zero");
    if (!req->has_payment_date()) return InvalidArgument("payment_date", "is required");
    CAREOPS_RETURN_IF_ERROR(FromProto(req->payment_date(), "payment_date").status());
    if (req->method() == v1::PAYMENT_METHOD_UNSPECIFIED || !v1::PaymentMethod_IsValid(req->method())) {
      return InvalidArgument("method", "is required: AUTO_DEBIT, CHECK, BANK_TRANSFER, CASH or CARD");
    }
    if (req->method() != v1::PAYMENT_METHOD_CASH) {
      CAREOPS_RETURN_IF_ERROR(RequireId(req->reference(), "reference", 128));
    } else {
      CAREOPS_RETURN_IF_ERROR(OptionalId(req->reference(), "reference", 128));
    }
    CAREOPS_ASSIGN_OR_RETURN(std::vector<RequestedAllocation> requested,
                             RequestedAllocations(req->allocations(), currency));
    v1::Payment payment;
    payment.set_payment_id(ids_.Next());
    payment.set_ledger_id(req->ledger_id());
    *payment.mutable_amount() = req->amount();
    *payment.mutable_payment_date() = req->payment_date();
    payment.set_method(req->method());
    payment.set_reference(req->reference());
    return store_.PostPayment(m, payment, requested, options_.allocation_order,
                              [&](const v1::Payment& p) { *resp = p; });
  });
}

grpc::Status CollectionsServiceImpl::ReversePayment(grpc::ServerContextBase* ctx, const v1::ReversePaymentRequest* req,
                                                    v1::Payment* resp) {
  return rpc_.Write(ctx, __func__, req->request_id(), *req, resp, [&](const Mutation& m) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(RequireId(req->payment_id(), "payment_id", 26));
    CAREOPS_RETURN_IF_ERROR(RequireText(req->reason(), "reason", 500, TextKind::kMultiLine));
    CAREOPS_ASSIGN_OR_RETURN(mysql::ExpectedVersion expected, mysql::ExpectedVersion::FromEtag(req->etag()));
    return store_.ReversePayment(m, req->payment_id(), expected, req->unapply_only(), req->reason(),
                                 [&](const v1::Payment& p) { *resp = p; });
  });
}

grpc::Status CollectionsServiceImpl::IngestBankReturns(grpc::ServerContextBase* ctx,
                                                       const v1::IngestBankReturnsRequest* req,
                                                       v1::IngestBankReturnsResponse* resp) {
  return rpc_.Write(ctx, __func__, req->request_id(), *req, resp, [&](const Mutation& m) -> absl::Status {
    if (req->rows_size() == 0) return InvalidArgument("rows", "must have at least one row");
    if (req->rows_size() > kMaxBatchRows) {
      return InvalidArgument("rows", absl::StrCat("must have at most ", kMaxBatchRows, " rows"));
    }
    if (req->has_bounce_fee()) {
      CAREOPS_RETURN_IF_ERROR(ValidateMoney(FromProto(req->bounce_fee()), "bounce_fee"));
    }
    std::vector<v1::BankReturnResult> results(req->rows_size());
    std::vector<BankReturn> rows;
    std::vector<int> row_of;
    std::map<std::string, int> references;
    for (int i = 0; i < req->rows_size(); ++i) {
      const v1::BankReturnRow& r = req->rows(i);
      const std::string f = absl::StrCat("rows[", i, "]");
      results[i].set_row(i);
      absl::Status valid = [&]() -> absl::Status {
        CAREOPS_RETURN_IF_ERROR(RequireId(r.ledger_id(), f + ".ledger_id", 26));
        CAREOPS_RETURN_IF_ERROR(RequireId(r.bank_reference(), f + ".bank_reference", 128));
        if (references.count(r.bank_reference()) > 0) {
          return InvalidArgument(f + ".bank_reference", absl::StrCat("repeats row ", references[r.bank_reference()]));
        }
        if (r.kind() == v1::RETURN_KIND_UNSPECIFIED || !v1::ReturnKind_IsValid(r.kind())) {
          return InvalidArgument(f + ".kind", "is required: FAILED_DEBIT or BOUNCED_CHECK");
        }
        if (r.reason() == v1::RETURN_REASON_UNSPECIFIED || !v1::ReturnReason_IsValid(r.reason())) {
          return InvalidArgument(f + ".reason",
                                 "is required: INSUFFICIENT_FUNDS, ACCOUNT_CLOSED, STOP_PAYMENT or SIGNATURE_MISMATCH");
        }
        if (r.amount().amount_minor() <= 0) return InvalidArgument(f + ".amount.amount_minor", "must be greater than zero");
        if (!r.has_return_date()) return InvalidArgument(f + ".return_date", "is required");
        CAREOPS_RETURN_IF_ERROR(FromProto(r.return_date(), f + ".return_date").status());
        if (r.kind() == v1::RETURN_KIND_BOUNCED_CHECK) {
          CAREOPS_RETURN_IF_ERROR(RequireId(r.payment_reference(), f + ".payment_reference", 128));
        }
        return OptionalId(r.payment_reference(), f + ".payment_reference", 128);
      }();
      if (!valid.ok()) {
        results[i].set_outcome(v1::RETURN_OUTCOME_INVALID);
        results[i].set_error(std::string(valid.message()));
        continue;
      }
      references[r.bank_reference()] = i;
      BankReturn row{r, "", 0};
      if (r.kind() == v1::RETURN_KIND_BOUNCED_CHECK && req->bounce_fee().amount_minor() > 0) {
        if (req->bounce_fee().currency_code() != r.amount().currency_code()) {
          results[i].set_outcome(v1::RETURN_OUTCOME_INVALID);
          results[i].set_error(f + ".amount.currency_code: must be the bounce fee's currency");
          continue;
        }
        row.fee_installment_id = ids_.Next();
        row.fee_minor = req->bounce_fee().amount_minor();
      }
      rows.push_back(std::move(row));
      row_of.push_back(i);
    }
    return store_.IngestBankReturns(m, rows, [&](const std::vector<BankReturnOutcome>& outcomes) {
      resp->Clear();
      for (size_t k = 0; k < rows.size(); ++k) {
        v1::BankReturnResult& r = results[row_of[k]];
        r.set_outcome(outcomes[k].outcome);
        r.set_reversed_payment_id(outcomes[k].reversed_payment_id);
        r.set_fee_installment_id(outcomes[k].fee_installment_id);
        r.set_error(outcomes[k].error);
      }
      for (const v1::BankReturnResult& r : results) {
        if (r.outcome() == v1::RETURN_OUTCOME_APPLIED) resp->set_applied(resp->applied() + 1);
        if (r.outcome() == v1::RETURN_OUTCOME_DUPLICATE) resp->set_duplicates(resp->duplicates() + 1);
        if (r.outcome() == v1::RETURN_OUTCOME_INVALID) resp->set_invalid(resp->invalid() + 1);
        *resp->add_results() = r;
      }
    });
  });
}

grpc::Status CollectionsServiceImpl::ListPayments(grpc::ServerContextBase* ctx, const v1::ListPaymentsRequest* req,
                                                  v1::ListPaymentsResponse* resp) {
  return rpc_.Read(ctx, __func__, [&](const Call&) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(RequireId(req->ledger_id(), "ledger_id", 26));
    CAREOPS_ASSIGN_OR_RETURN(std::vector<v1::Payment> payments, store_.ListPayments(req->ledger_id()));
    for (v1::Payment& p : payments) *resp->add_payments() = std::move(p);
    return absl::OkStatus();
  });
}

grpc::Status CollectionsServiceImpl::GetAging(grpc::ServerContextBase* ctx, const v1::GetAgingRequest* req,
                                              v1::Aging* resp) {
  return rpc_.Read(ctx, __func__, [&](const Call& call) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(RequireId(req->ledger_id(), "ledger_id", 26));
    absl::CivilDay as_of = options_.calendar.DayOf(call.now);  // the business's date, not UTC's
    if (req->has_as_of()) {
      CAREOPS_ASSIGN_OR_RETURN(as_of, FromProto(req->as_of(), "as_of"));
    }
    CAREOPS_ASSIGN_OR_RETURN(AgingInputs in, store_.GetAgingInputs(req->ledger_id(), as_of));
    LedgerAging a = AgeLedger(in.open_items, in.pauses, as_of, options_.grace_days, options_.buckets);
    resp->set_ledger_id(req->ledger_id());
    *resp->mutable_as_of() = ToProto(as_of);
    if (a.anchor) {
      resp->set_anchor_installment_id(a.anchor->installment_id);
      *resp->mutable_anchor_due_date() = ToProto(a.anchor->due_date);
    }
    resp->set_days_past_due(static_cast<int32_t>(a.days_past_due));
    resp->set_paused_days(static_cast<int32_t>(a.paused_days));
    resp->set_bucket(a.bucket);
    *resp->mutable_outstanding() = ToProto(Money(in.currency, a.outstanding_minor));
    *resp->mutable_past_due() = ToProto(Money(in.currency, a.past_due_minor));
    return absl::OkStatus();
  });
}

absl::StatusOr<AgingRunResult> CollectionsServiceImpl::AgeAll(absl::CivilDay as_of) {
  return store_.RunAging(as_of, TruncateToMicros(rpc_.clock().Now()), [&](const AgingInputs& in) {
    return AgeLedger(in.open_items, in.pauses, as_of, options_.grace_days, options_.buckets);
  });
}

grpc::Status CollectionsServiceImpl::RunAging(grpc::ServerContextBase* ctx, const v1::RunAgingRequest* req,
                                              v1::RunAgingResponse* resp) {
  return rpc_.Read(ctx, __func__, [&](const Call& call) -> absl::Status {
    absl::CivilDay as_of = options_.calendar.DayOf(call.now);  // the business's date, not UTC's
    if (req->has_as_of()) {
      CAREOPS_ASSIGN_OR_RETURN(as_of, FromProto(req->as_of(), "as_of"));
    }
    CAREOPS_ASSIGN_OR_RETURN(AgingRunResult result, AgeAll(as_of));
    *resp->mutable_as_of() = ToProto(as_of);
    resp->set_ledgers_aged(result.ledgers_aged);
    resp->set_bucket_changes(result.bucket_changes);
    return absl::OkStatus();
  });
}

grpc::Status CollectionsServiceImpl::GetAgingHistory(grpc::ServerContextBase* ctx, const v1::GetAgingHistoryRequest* req,
                                                     v1::GetAgingHistoryResponse* resp) {
  return rpc_.Read(ctx, __func__, [&](const Call&) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(RequireId(req->ledger_id(), "ledger_id", 26));
    CAREOPS_ASSIGN_OR_RETURN(std::vector<v1::AgingChange> changes, store_.GetAgingHistory(req->ledger_id()));
    for (v1::AgingChange& c : changes) *resp->add_changes() = std::move(c);
    return absl::OkStatus();
  });
}

grpc::Status CollectionsServiceImpl::GetAgingReport(grpc::ServerContextBase* ctx, const v1::GetAgingReportRequest* req,
                                                    v1::AgingReport* resp) {
  return rpc_.Read(ctx, __func__, [&](const Call&) -> absl::Status {
    if (!req->has_as_of()) return InvalidArgument("as_of", "is required");
    CAREOPS_ASSIGN_OR_RETURN(absl::CivilDay as_of, FromProto(req->as_of(), "as_of"));
    CAREOPS_ASSIGN_OR_RETURN(std::vector<AgingReportEntry> entries, store_.AgingReport(as_of));
    *resp->mutable_as_of() = ToProto(as_of);
    for (const AgingReportEntry& e : entries) {
      v1::AgingReportRow* row = resp->add_rows();
      row->set_ledger_id(e.ledger_id);
      row->set_account_id(e.account_id);
      row->set_bucket(e.bucket);
      *row->mutable_since() = ToProto(e.since);
      *row->mutable_outstanding() = ToProto(Money(e.currency, e.outstanding_minor));
    }
    AgingTotals(entries, options_.buckets, resp->mutable_totals());
    return absl::OkStatus();
  });
}

grpc::Status CollectionsServiceImpl::AddPause(grpc::ServerContextBase* ctx, const v1::AddPauseRequest* req,
                                              v1::Pause* resp) {
  return rpc_.Write(ctx, __func__, req->request_id(), *req, resp, [&](const Mutation& m) -> absl::Status {
    const v1::Pause& in = req->pause();
    CAREOPS_RETURN_IF_ERROR(RequireId(in.ledger_id(), "pause.ledger_id", 26));
    if (in.kind() == v1::PAUSE_KIND_UNSPECIFIED || !v1::PauseKind_IsValid(in.kind())) {
      return InvalidArgument("pause.kind", "is required: PROMISE_TO_PAY or DISPUTE");
    }
    if (!in.has_start_date()) return InvalidArgument("pause.start_date", "is required");
    CAREOPS_ASSIGN_OR_RETURN(absl::CivilDay start, FromProto(in.start_date(), "pause.start_date"));
    if (in.has_end_date()) {
      CAREOPS_ASSIGN_OR_RETURN(absl::CivilDay end, FromProto(in.end_date(), "pause.end_date"));
      if (end <= start) return InvalidArgument("pause.end_date", "must be after start_date");
    }
    CAREOPS_RETURN_IF_ERROR(OptionalText(in.note(), "pause.note", 500, TextKind::kMultiLine));
    v1::Pause pause = in;
    pause.set_pause_id(ids_.Next());
    return store_.AddPause(m, pause, [&](const v1::Pause& p) { *resp = p; });
  });
}

grpc::Status CollectionsServiceImpl::EndPause(grpc::ServerContextBase* ctx, const v1::EndPauseRequest* req,
                                              v1::Pause* resp) {
  return rpc_.Write(ctx, __func__, req->request_id(), *req, resp, [&](const Mutation& m) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(RequireId(req->pause_id(), "pause_id", 26));
    if (!req->has_end_date()) return InvalidArgument("end_date", "is required");
    CAREOPS_ASSIGN_OR_RETURN(absl::CivilDay end, FromProto(req->end_date(), "end_date"));
    CAREOPS_ASSIGN_OR_RETURN(mysql::ExpectedVersion expected, mysql::ExpectedVersion::FromEtag(req->etag()));
    return store_.EndPause(m, req->pause_id(), expected, end, [&](const v1::Pause& p) { *resp = p; });
  });
}

absl::StatusOr<DunningPlan> CollectionsServiceImpl::PlanDunning(const DunningLedger& ledger, absl::CivilDay as_of) {
  CAREOPS_ASSIGN_OR_RETURN(DunningDecision decision, DecideDunning(ledger.inputs, options_.ladder, as_of,
                                                                   options_.grace_days, ledger.currency));
  DunningPlan plan;
  plan.close_episode = decision.close_episode;
  auto record = [&](const std::string& id) -> const NoticeRecord& {
    for (const NoticeRecord& n : ledger.inputs.notices) {
      if (n.notice_id == id) return n;
    }
    return ledger.inputs.notices.front();  // the decision only names loaded notices
  };
  for (const std::string& id : decision.resolve) {
    plan.transitions.push_back(PaidTransition(record(id), ledger.account_id, as_of));
  }
  for (const std::string& id : decision.lapse) {
    plan.transitions.push_back(LapseTransition(record(id), ledger.account_id, as_of));
  }
  const auto money = [&](int64_t minor) { return Money(ledger.currency, minor).ToString(); };
  for (NoticeDraft& draft : decision.issue) {
    NoticeToIssue n;
    n.notice_id = ids_.Next();
    if (draft.fee_minor > 0) n.fee_installment_id = ids_.Next();
    if (draft.interest_minor > 0) n.interest_installment_id = ids_.Next();
    std::tie(n.channel, n.recipient) = NoticeChannel(ledger.contact);
    n.delivery = n.channel == v1::CHANNEL_EMAIL ? v1::DELIVERY_STATE_PENDING : v1::DELIVERY_STATE_AWAITING_CHANNEL;
    std::vector<std::string> numbers;
    for (const OpenItem& item : draft.covered) numbers.push_back(item.number);
    std::map<std::string, std::string> fields = {
        {"account_name", ledger.account_name},
        {"rung_title", RungTitle(draft.rung.kind)},
        {"as_of", ToSqlDate(as_of)},
        {"days_past_due", absl::StrCat(draft.days_past_due)},
        {"outstanding", money(draft.outstanding_minor)},
        {"fee", money(draft.fee_minor)},
        {"interest", money(draft.interest_minor)},
        {"total", money(draft.total_minor())},
        {"installments", absl::StrJoin(numbers, ", ")},
        {"due_date", draft.due_date ? ToSqlDate(*draft.due_date) : ""},
        {"grace_until", draft.grace_until ? ToSqlDate(*draft.grace_until) : ""},
    };
    auto configured = options_.templates.find(draft.rung.kind);
    const std::string_view text =
        configured != options_.templates.end() ? configured->second : DefaultNoticeTemplate(draft.rung.kind);
    CAREOPS_ASSIGN_OR_RETURN(n.text, RenderTemplate(text, fields, "notice_templates"));
    if (draft.rung.kind == RungKind::kCancellation) {
      n.account_intent = AccountIntent(n.notice_id, ledger.account_id, AccountChange::kSuspend, as_of,
                                       absl::StrCat("collections: notice of cancellation ", n.notice_id, ", ",
                                                    draft.days_past_due, " days past due"));
    }
    n.draft = std::move(draft);
    plan.issue.push_back(std::move(n));
  }
  return plan;
}

absl::StatusOr<DunningRunResult> CollectionsServiceImpl::DunAll(absl::CivilDay as_of, absl::Time deliver_by) {
  CAREOPS_ASSIGN_OR_RETURN(DunningRunResult result,
                           store_.RunDunning(as_of, TruncateToMicros(rpc_.clock().Now()),
                                             [&](const DunningLedger& l) { return PlanDunning(l, as_of); }));
  // Committed: membership is told now, with no transaction open; what does not
  // get through is retried by the relay job.
  for (const std::string& key : result.intent_keys) {
    absl::StatusOr<outbox::IntentRecord> r = intents_.DeliverNow(key, deliver_by);
    if (!r.ok()) log::Warn("dunning intent not delivered now", {{"intent", key}, {"error", r.status().ToString()}});
  }
  return result;
}

grpc::Status CollectionsServiceImpl::RunDunning(grpc::ServerContextBase* ctx, const v1::RunDunningRequest* req,
                                                v1::RunDunningResponse* resp) {
  return rpc_.Read(ctx, __func__, [&](const Call& call) -> absl::Status {
    absl::CivilDay as_of = options_.calendar.DayOf(call.now);  // the business's date, not UTC's
    if (req->has_as_of()) {
      CAREOPS_ASSIGN_OR_RETURN(as_of, FromProto(req->as_of(), "as_of"));
    }
    // Deliver until a little before the caller's deadline (at most 5 s).
    absl::Time deliver_by = absl::Now() + absl::Seconds(5);
    const auto left = ctx->deadline() - std::chrono::system_clock::now() - std::chrono::milliseconds(100);
    if (left < std::chrono::seconds(5)) deliver_by = absl::Now() + absl::FromChrono(left);
    CAREOPS_ASSIGN_OR_RETURN(DunningRunResult result, DunAll(as_of, deliver_by));
    *resp->mutable_as_of() = ToProto(as_of);
    resp->set_ledgers(result.ledgers);
    resp->set_notices_issued(result.issued);
    resp->set_notices_resolved(result.resolved);
    resp->set_notices_lapsed(result.lapsed);
    for (const std::string& id : result.issued_ids) resp->add_issued_notice_ids(id);
    return absl::OkStatus();
  });
}

grpc::Status CollectionsServiceImpl::ListNotices(grpc::ServerContextBase* ctx, const v1::ListNoticesRequest* req,
                                                 v1::ListNoticesResponse* resp) {
  return rpc_.Read(ctx, __func__, [&](const Call&) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(RequireId(req->ledger_id(), "ledger_id", 26));
    CAREOPS_ASSIGN_OR_RETURN(std::vector<v1::Notice> notices, store_.ListNotices(req->ledger_id()));
    for (v1::Notice& n : notices) *resp->add_notices() = std::move(n);
    return absl::OkStatus();
  });
}

grpc::Status CollectionsServiceImpl::GetNotice(grpc::ServerContextBase* ctx, const v1::GetNoticeRequest* req,
                                               v1::Notice* resp) {
  return rpc_.Read(ctx, __func__, [&](const Call&) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(RequireId(req->notice_id(), "notice_id", 26));
    CAREOPS_ASSIGN_OR_RETURN(*resp, store_.GetNotice(req->notice_id()));
    return absl::OkStatus();
  });
}

grpc::Status CollectionsServiceImpl::GetAccountCollectionsSummary(grpc::ServerContextBase* ctx,
                                                                  const v1::GetAccountCollectionsSummaryRequest* req,
                                                                  v1::AccountCollectionsSummary* resp) {
  return rpc_.Read(ctx, __func__, [&](const Call& call) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(RequireId(req->account_id(), "account_id", 64));
    absl::CivilDay as_of = options_.calendar.DayOf(call.now);  // the business's date, not UTC's
    if (req->has_as_of()) {
      CAREOPS_ASSIGN_OR_RETURN(as_of, FromProto(req->as_of(), "as_of"));
    }
    CAREOPS_ASSIGN_OR_RETURN(std::string ledger_id, store_.LedgerOfAccount(req->account_id()));
    CAREOPS_ASSIGN_OR_RETURN(AgingInputs in, store_.GetAgingInputs(ledger_id, as_of));
    const LedgerAging a = AgeLedger(in.open_items, in.pauses, as_of, options_.grace_days, options_.buckets);
    resp->set_account_id(req->account_id());
    resp->set_ledger_id(ledger_id);
    *resp->mutable_as_of() = ToProto(as_of);
    resp->set_days_past_due(static_cast<int32_t>(a.days_past_due));
    resp->set_bucket(a.bucket);
    *resp->mutable_outstanding() = ToProto(Money(in.currency, a.outstanding_minor));
    for (const Bucket& b : options_.buckets.buckets()) {
      v1::BucketAmount* amount = resp->add_outstanding_by_bucket();
      amount->set_bucket(b.name);
      int64_t sum = 0;
      for (const InstallmentAging& i : a.installments) {
        if (i.bucket != b.name) continue;
        amount->set_installments(amount->installments() + 1);
        sum += i.balance_minor;
      }
      *amount->mutable_outstanding() = ToProto(Money(in.currency, sum));
    }
    CAREOPS_ASSIGN_OR_RETURN(std::vector<v1::Notice> notices, store_.ListNotices(ledger_id));
    std::map<int, int32_t> by_rung;
    for (const v1::Notice& n : notices) {
      ++by_rung[n.rung()];
      if (n.sequence() == 0) continue;
      resp->set_notices_issued(resp->notices_issued() + 1);
      resp->set_last_notice_rung(n.rung());  // issue order: the last one wins
      *resp->mutable_last_notice_date() = n.issued_on();
    }
    for (const auto& [rung, count] : by_rung) {
      v1::NoticeCount* c = resp->add_notices_by_rung();
      c->set_rung(static_cast<v1::NoticeRung>(rung));
      c->set_count(count);
    }
    CAREOPS_ASSIGN_OR_RETURN(std::vector<v1::Payment> payments, store_.ListPayments(ledger_id));
    std::optional<absl::CivilDay> last;
    for (const v1::Payment& p : payments) {
      if (p.status() != v1::PAYMENT_STATUS_POSTED) continue;
      CAREOPS_ASSIGN_OR_RETURN(absl::CivilDay paid_on, FromProto(p.payment_date(), "payment_date"));
      if (last && paid_on < *last) continue;
      last = paid_on;
      *resp->mutable_last_payment_date() = p.payment_date();
      *resp->mutable_last_payment_amount() = p.amount();
    }
    return absl::OkStatus();
  });
}

grpc::Status CollectionsServiceImpl::GetMonthlyCollectionsSummary(grpc::ServerContextBase* ctx,
                                                                  const v1::GetMonthlyCollectionsSummaryRequest* req,
                                                                  v1::MonthlyCollectionsSummary* resp) {
  return rpc_.Read(ctx, __func__, [&](const Call&) -> absl::Status {
    if (req->year() < 2000 || req->year() > 2100) return InvalidArgument("year", "must be 2000..2100");
    if (req->month() < 1 || req->month() > 12) return InvalidArgument("month", "must be 1..12");
    const absl::CivilDay first(req->year(), req->month(), 1);
    const absl::CivilDay last = absl::CivilDay(absl::CivilMonth(first) + 1) - 1;
    CAREOPS_ASSIGN_OR_RETURN(auto figures, store_.PeriodFiguresByCurrency(first, last));
    resp->set_year(req->year());
    resp->set_month(req->month());
    *resp->mutable_month_end() = ToProto(last);
    for (const auto& [currency, f] : figures) {
      v1::CurrencyMonth* m = resp->add_currencies();
      m->set_currency_code(currency);
      *m->mutable_amount_due() = ToProto(Money(currency, f.due_minor));
      *m->mutable_collected() = ToProto(Money(currency, f.collected_minor));
      if (f.due_minor > 0) {
        CAREOPS_ASSIGN_OR_RETURN(Money ratio, Money(currency, 10000).Scale(f.collected_minor, f.due_minor));
        m->set_efficiency_bp(static_cast<int32_t>(std::min<int64_t>(ratio.minor(), 1'000'000'000)));
      }
    }
    CAREOPS_ASSIGN_OR_RETURN(std::vector<AgingReportEntry> entries, store_.AgingReport(last));
    AgingTotals(entries, options_.buckets, resp->mutable_aging_totals());
    return absl::OkStatus();
  });
}

grpc::Status CollectionsServiceImpl::ListPrepaymentEligible(grpc::ServerContextBase* ctx,
                                                            const v1::ListPrepaymentEligibleRequest* req,
                                                            v1::ListPrepaymentEligibleResponse* resp) {
  return rpc_.Read(ctx, __func__, [&](const Call& call) -> absl::Status {
    absl::CivilDay as_of = options_.calendar.DayOf(call.now);  // the business's date, not UTC's
    if (req->has_as_of()) {
      CAREOPS_ASSIGN_OR_RETURN(as_of, FromProto(req->as_of(), "as_of"));
    }
    if (req->within_days() < 0 || req->within_days() > 3650) {
      return InvalidArgument("within_days", "must be 0..3650 (0: 90)");
    }
    const int within = req->within_days() == 0 ? 90 : req->within_days();
    CAREOPS_ASSIGN_OR_RETURN(auto rows, store_.MaturingBalances(as_of + 1, as_of + within, kMaxBatchRows));
    std::map<std::string, bool> current;  // ledger -> 0 days past due on as_of
    *resp->mutable_as_of() = ToProto(as_of);
    for (auto& [currency, row] : rows) {
      auto it = current.find(row.ledger_id());
      if (it == current.end()) {
        CAREOPS_ASSIGN_OR_RETURN(AgingInputs in, store_.GetAgingInputs(row.ledger_id(), as_of));
        const LedgerAging a = AgeLedger(in.open_items, in.pauses, as_of, options_.grace_days, options_.buckets);
        it = current.emplace(row.ledger_id(), a.days_past_due == 0).first;
      }
      if (!it->second) continue;
      CAREOPS_ASSIGN_OR_RETURN(absl::CivilDay due, FromProto(row.due_date(), "due_date"));
      row.set_days_to_maturity(static_cast<int32_t>(due - as_of));
      *resp->add_balances() = std::move(row);
    }
    return absl::OkStatus();
  });
}

grpc::Status CollectionsServiceImpl::IngestUnpostedPayments(grpc::ServerContextBase* ctx,
                                                            const v1::IngestUnpostedPaymentsRequest* req,
                                                            v1::IngestUnpostedPaymentsResponse* resp) {
  return rpc_.Write(ctx, __func__, req->request_id(), *req, resp, [&](const Mutation& m) -> absl::Status {
    if (req->rows_size() == 0) return InvalidArgument("rows", "must have at least one row");
    if (req->rows_size() > kMaxBatchRows) {
      return InvalidArgument("rows", absl::StrCat("must have at most ", kMaxBatchRows, " rows"));
    }
    std::vector<v1::UnpostedRowResult> results(req->rows_size());
    std::vector<v1::UnpostedPayment> rows;
    std::vector<int> row_of;
    std::map<std::string, int> references;
    for (int i = 0; i < req->rows_size(); ++i) {
      const v1::UnpostedPayment& r = req->rows(i);
      const std::string f = absl::StrCat("rows[", i, "]");
      results[i].set_row(i);
      absl::Status valid = [&]() -> absl::Status {
        CAREOPS_RETURN_IF_ERROR(RequireId(r.bank_reference(), f + ".bank_reference", 128));
        if (references.count(r.bank_reference()) > 0) {
          return InvalidArgument(f + ".bank_reference", absl::StrCat("repeats row ", references[r.bank_reference()]));
        }
        CAREOPS_RETURN_IF_ERROR(OptionalText(r.payer_name(), f + ".payer_name", 200));
        CAREOPS_RETURN_IF_ERROR(OptionalText(r.reference_text(), f + ".reference_text", 500));
        if (!r.has_amount()) return InvalidArgument(f + ".amount", "is required");
        if (!IsKnownCurrency(r.amount().currency_code())) {
          return InvalidArgument(f + ".amount.currency_code", "must be a known ISO-4217 code");
        }
        if (r.amount().amount_minor() <= 0) {
          return InvalidArgument(f + ".amount.amount_minor", "must be greater than zero");
        }
        CAREOPS_RETURN_IF_ERROR(ValidateMoney(FromProto(r.amount()), f + ".amount"));
        if (!r.has_deposit_date()) return InvalidArgument(f + ".deposit_date", "is required");
        return FromProto(r.deposit_date(), f + ".deposit_date").status();
      }();
      if (!valid.ok()) {
        results[i].set_outcome(v1::UNPOSTED_OUTCOME_INVALID);
        results[i].set_error(std::string(valid.message()));
        continue;
      }
      references[r.bank_reference()] = i;
      v1::UnpostedPayment row;
      row.set_unposted_id(ids_.Next());
      row.set_bank_reference(r.bank_reference());
      row.set_payer_name(r.payer_name());
      row.set_reference_text(r.reference_text());
      *row.mutable_amount() = r.amount();
      *row.mutable_deposit_date() = r.deposit_date();
      rows.push_back(std::move(row));
      row_of.push_back(i);
    }
    AutoPostDecision decide;
    if (options_.unposted_auto_post_above < kMatchMaxScore) {
      decide = [&](const v1::UnpostedPayment& line, const std::vector<MatchLedger>& ledgers) -> std::optional<AutoPost> {
        std::vector<RankedCandidate> ranked = RankCandidates(line, ledgers);
        std::vector<MatchScore> scores;
        for (const RankedCandidate& c : ranked) scores.push_back(c.score);
        if (!ShouldAutoPost(scores, options_.unposted_auto_post_above)) return std::nullopt;
        return AutoPost{ranked[0].ledger->ledger_id, ids_.Next(), ranked[0].score.score};
      };
    }
    return store_.IngestUnposted(
        m, rows, options_.allocation_order, decide, [&](const std::vector<UnpostedIngestOutcome>& outcomes) {
          resp->Clear();
          for (size_t k = 0; k < rows.size(); ++k) {
            v1::UnpostedRowResult& r = results[row_of[k]];
            r.set_outcome(outcomes[k].outcome);
            r.set_unposted_id(outcomes[k].unposted_id);
            r.set_ledger_id(outcomes[k].ledger_id);
            r.set_payment_id(outcomes[k].payment_id);
          }
          for (const v1::UnpostedRowResult& r : results) {
            if (r.outcome() == v1::UNPOSTED_OUTCOME_RECORDED) resp->set_recorded(resp->recorded() + 1);
            if (r.outcome() == v1::UNPOSTED_OUTCOME_AUTO_POSTED) resp->set_auto_posted(resp->auto_posted() + 1);
            if (r.outcome() == v1::UNPOSTED_OUTCOME_DUPLICATE) resp->set_duplicates(resp->duplicates() + 1);
            if (r.outcome() == v1::UNPOSTED_OUTCOME_INVALID) resp->set_invalid(resp->invalid() + 1);
            *resp->add_results() = r;
          }
        });
  });
}

grpc::Status CollectionsServiceImpl::ListUnpostedPayments(grpc::ServerContextBase* ctx,
                                                          const v1::ListUnpostedPaymentsRequest* req,
                                                          v1::ListUnpostedPaymentsResponse* resp) {
  return rpc_.Read(ctx, __func__, [&](const Call&) -> absl::Status {
    CAREOPS_ASSIGN_OR_RETURN(std::vector<v1::UnpostedPayment> rows,
                             store_.ListUnposted(req->include_posted(), kMaxBatchRows));
    for (v1::UnpostedPayment& u : rows) *resp->add_payments() = std::move(u);
    return absl::OkStatus();
  });
}

grpc::Status CollectionsServiceImpl::ListMatchCandidates(grpc::ServerContextBase* ctx,
                                                         const v1::ListMatchCandidatesRequest* req,
                                                         v1::ListMatchCandidatesResponse* resp) {
  return rpc_.Read(ctx, __func__, [&](const Call&) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(RequireId(req->unposted_id(), "unposted_id", 26));
    if (req->max_candidates() < 0 || req->max_candidates() > 50) {
      return InvalidArgument("max_candidates", "must be 0..50 (0: 10)");
    }
    const int max = req->max_candidates() == 0 ? 10 : req->max_candidates();
    CAREOPS_ASSIGN_OR_RETURN(v1::UnpostedPayment line, store_.GetUnposted(req->unposted_id()));
    // Score more than are shown: the best may come from any of the searches.
    CAREOPS_ASSIGN_OR_RETURN(std::vector<MatchLedger> ledgers, store_.MatchCandidates(line, 50));
    std::vector<RankedCandidate> ranked = RankCandidates(line, ledgers);
    *resp->mutable_unposted() = line;
    for (const RankedCandidate& c : ranked) {
      if (resp->candidates_size() == max) break;
      v1::MatchCandidate* out = resp->add_candidates();
      out->set_ledger_id(c.ledger->ledger_id);
      out->set_account_id(c.ledger->account_id);
      out->set_account_name(c.ledger->account_name);
      out->set_score(c.score.score);
      out->set_reference_matches(c.score.reference_matches);
      for (const std::string& why : c.score.reasons) out->add_reasons(why);
      out->set_matched_installment_id(c.score.installment_id);
      int64_t outstanding = 0;
      for (const OpenItem& item : c.ledger->open_items) outstanding += item.total();
      *out->mutable_outstanding() = ToProto(Money(c.ledger->currency, outstanding));
    }
    return absl::OkStatus();
  });
}

grpc::Status CollectionsServiceImpl::PostUnpostedPayment(grpc::ServerContextBase* ctx,
                                                         const v1::PostUnpostedPaymentRequest* req,
                                                         v1::UnpostedPayment* resp) {
  return rpc_.Write(ctx, __func__, req->request_id(), *req, resp, [&](const Mutation& m) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(RequireId(req->unposted_id(), "unposted_id", 26));
    CAREOPS_ASSIGN_OR_RETURN(mysql::ExpectedVersion expected, mysql::ExpectedVersion::FromEtag(req->etag()));
    CAREOPS_ASSIGN_OR_RETURN(std::string currency, LedgerCurrency(store_, req->ledger_id()));
    if (!v1::PaymentMethod_IsValid(req->method())) return InvalidArgument("method", "is not a known method");
    CAREOPS_ASSIGN_OR_RETURN(std::vector<RequestedAllocation> requested,
                             RequestedAllocations(req->allocations(), currency));
    v1::Payment payment;
    payment.set_payment_id(ids_.Next());
    payment.set_ledger_id(req->ledger_id());
    payment.set_method(req->method() == v1::PAYMENT_METHOD_UNSPECIFIED ? v1::PAYMENT_METHOD_BANK_TRANSFER
                                                                        : req->method());
    return store_.PostUnposted(m, req->unposted_id(), expected, payment, requested, options_.allocation_order,
                               [&](const v1::UnpostedPayment& u) { *resp = u; });
  });
}

grpc::Status CollectionsServiceImpl::ReconcileLedgers(grpc::ServerContextBase* ctx, const v1::ReconcileLedgersRequest* req,
                                                      v1::ReconciliationReport* resp) {
  return rpc_.Write(ctx, __func__, req->request_id(), *req, resp, [&](const Mutation& m) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(RequireId(req->statement_reference(), "statement_reference", 128));
    if (!req->has_period_start()) return InvalidArgument("period_start", "is required");
    if (!req->has_period_end()) return InvalidArgument("period_end", "is required");
    ReconciliationRecord header;
    CAREOPS_ASSIGN_OR_RETURN(header.period_start, FromProto(req->period_start(), "period_start"));
    CAREOPS_ASSIGN_OR_RETURN(header.period_end, FromProto(req->period_end(), "period_end"));
    if (header.period_end < header.period_start) return InvalidArgument("period_end", "must not be before period_start");
    if (req->rows_size() == 0) return InvalidArgument("rows", "must have at least one row");
    if (req->rows_size() > kMaxBatchRows) {
      return InvalidArgument("rows", absl::StrCat("must have at most ", kMaxBatchRows, " rows"));
    }
    std::vector<StatementInput> rows;
    std::map<std::string, int> seen;
    for (int i = 0; i < req->rows_size(); ++i) {
      const v1::StatementRow& r = req->rows(i);
      const std::string f = absl::StrCat("rows[", i, "]");
      CAREOPS_RETURN_IF_ERROR(RequireId(r.ledger_id(), f + ".ledger_id", 26));
      if (!seen.emplace(r.ledger_id(), i).second) {
        return InvalidArgument(f + ".ledger_id", absl::StrCat("repeats row ", seen[r.ledger_id()]));
      }
      if (!r.has_expected_balance() && r.expected_payments_size() == 0) {
        return InvalidArgument(f, "must give expected_balance or expected_payments");
      }
      StatementInput in;
      in.ledger.ledger_id = r.ledger_id();
      auto currency_of = [&](const common::v1::Money& money, const std::string& field) -> absl::Status {
        if (!IsKnownCurrency(money.currency_code())) {
          return InvalidArgument(field + ".currency_code", "must be a known ISO-4217 code");
        }
        if (!in.currency.empty() && money.currency_code() != in.currency) {
          return InvalidArgument(field + ".currency_code", absl::StrCat("must be the row's ", in.currency));
        }
        in.currency = money.currency_code();
        return absl::OkStatus();
      };
      if (r.has_expected_balance()) {
        CAREOPS_RETURN_IF_ERROR(currency_of(r.expected_balance(), f + ".expected_balance"));
        CAREOPS_RETURN_IF_ERROR(ValidateMoney(FromProto(r.expected_balance()), f + ".expected_balance"));
        in.ledger.expected_balance_minor = r.expected_balance().amount_minor();
      }
      std::map<std::string, int> references;
      for (int k = 0; k < r.expected_payments_size(); ++k) {
        const v1::ExpectedPayment& p = r.expected_payments(k);
        const std::string pf = absl::StrCat(f, ".expected_payments[", k, "]");
        CAREOPS_RETURN_IF_ERROR(RequireId(p.reference(), pf + ".reference", 128));
        if (!references.emplace(p.reference(), k).second) {
          return InvalidArgument(pf + ".reference", absl::StrCat("repeats payment ", references[p.reference()]));
        }
        if (!p.has_amount()) return InvalidArgument(pf + ".amount", "is required");
        CAREOPS_RETURN_IF_ERROR(currency_of(p.amount(), pf + ".amount"));
        if (p.amount().amount_minor() <= 0) return InvalidArgument(pf + ".amount.amount_minor", "must be greater than zero");
        CAREOPS_RETURN_IF_ERROR(ValidateMoney(FromProto(p.amount()), pf + ".amount"));
        if (!p.has_payment_date()) return InvalidArgument(pf + ".payment_date", "is required");
        CAREOPS_ASSIGN_OR_RETURN(absl::CivilDay day, FromProto(p.payment_date(), pf + ".payment_date"));
        in.ledger.expected_payments.push_back({p.reference(), p.amount().amount_minor(), day});
      }
      rows.push_back(std::move(in));
    }
    header.report_id = ids_.Next();
    header.statement_reference = req->statement_reference();
    return store_.Reconcile(m, header, rows,
                            [&](const ReconciliationRecord& rec) { return RenderReport(rec, true, resp); });
  });
}

grpc::Status CollectionsServiceImpl::GetReconciliationReport(grpc::ServerContextBase* ctx,
                                                             const v1::GetReconciliationReportRequest* req,
                                                             v1::ReconciliationReport* resp) {
  return rpc_.Read(ctx, __func__, [&](const Call&) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(RequireId(req->report_id(), "report_id", 26));
    CAREOPS_ASSIGN_OR_RETURN(ReconciliationRecord rec, store_.GetReconciliation(req->report_id()));
    return RenderReport(rec, true, resp);
  });
}

grpc::Status CollectionsServiceImpl::ListReconciliationReports(grpc::ServerContextBase* ctx,
                                                               const v1::ListReconciliationReportsRequest* req,
                                                               v1::ListReconciliationReportsResponse* resp) {
  return rpc_.Read(ctx, __func__, [&](const Call&) -> absl::Status {
    if (req->limit() < 0 || req->limit() > 200) return InvalidArgument("limit", "must be 0..200 (0: 20)");
    CAREOPS_ASSIGN_OR_RETURN(std::vector<ReconciliationRecord> recs,
                             store_.ListReconciliations(req->limit() == 0 ? 20 : req->limit()));
    for (const ReconciliationRecord& rec : recs) {
      CAREOPS_RETURN_IF_ERROR(RenderReport(rec, false, resp->add_reports()));
    }
    return absl::OkStatus();
  });
}

grpc::Status CollectionsServiceImpl::ExportReconciliationReport(grpc::ServerContextBase* ctx,
                                                                const v1::ExportReconciliationReportRequest* req,
                                                                v1::ReconciliationCsv* resp) {
  return rpc_.Read(ctx, __func__, [&](const Call&) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(RequireId(req->report_id(), "report_id", 26));
    CAREOPS_ASSIGN_OR_RETURN(ReconciliationRecord rec, store_.GetReconciliation(req->report_id()));
    std::string csv =
        "ledger_id,kind,subject,reference,currency,statement_amount,ledger_amount,difference,statement_date,"
        "ledger_date\r\n";
    for (const Difference& d : rec.differences) {
      absl::StrAppend(&csv, CsvField(d.ledger_id), ",", CsvField(DifferenceKindName(d.kind)), ",",
                      CsvField(d.subject), ",", CsvField(d.reference), ",", CsvField(d.currency), ",",
                      CsvAmount(d.currency, d.statement_minor), ",", CsvAmount(d.currency, d.ledger_minor), ",",
                      CsvAmount(d.currency, d.difference_minor()), ",",
                      d.statement_date ? ToSqlDate(*d.statement_date) : "", ",",
                      d.ledger_date ? ToSqlDate(*d.ledger_date) : "", "\r\n");
    }
    std::string safe;
    for (char c : rec.statement_reference) {
      safe.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ? c : '_');
    }
    resp->set_report_id(rec.report_id);
    resp->set_file_name(absl::StrCat("reconciliation-", safe, "-", rec.report_id, ".csv"));
    resp->set_csv(std::move(csv));
    return absl::OkStatus();
  });
}

}  // namespace careops::collections
