// ClaimStore on MySQL/MariaDB (schema services/claims/schema), through the
// common connection pool. SQL lives in named constants in the .cc, every
// statement is prepared and parameterised, and Connector/C++ exceptions become
// statuses inside mysql::RunInTransaction / mysql::RunMutation.
#pragma once

#include "common/mysql/pool.h"
#include "services/claims/claim_store.h"

namespace careops::claims {

class MysqlClaimStore final : public ClaimStore {
 public:
  explicit MysqlClaimStore(mysql::ConnectionPool& pool) : pool_(pool) {}

  absl::StatusOr<bool> AnswerIfReplayed(const MutationContext& m) override;
  absl::Status CreateClaim(const MutationContext& m, Claim claim, const ClaimEvent& event,
                           const RenderClaim& render) override;
  absl::StatusOr<Claim> GetClaim(const std::string& claim_id) override;
  absl::Status CreateAdjustment(const Mutation& m, const std::string& original_id, const AdjustmentMaker& make,
                                const RenderClaim& render) override;
  absl::StatusOr<std::vector<Claim>> ListAdjustments(const std::string& original_id) override;
  absl::StatusOr<mysql::KeysetPage<Claim>> ListClaims(const ClaimFilter& filter, const PageRequest& page) override;
  absl::Status TransitionClaim(const MutationContext& m, const std::string& claim_id, mysql::ExpectedVersion expected,
                               const ClaimDecider& decide, const RenderClaim& render) override;
  absl::StatusOr<std::vector<ClaimEvent>> GetHistory(const std::string& claim_id) override;
  absl::StatusOr<BreachScanResult> MarkBreaches(const BreachScanQuery& q) override;
  absl::StatusOr<std::map<ClaimStatus, int64_t>> CountByStatus() override;
  absl::Status ScanBordereau(const BordereauQuery& query,
                             const std::function<absl::Status(const Claim&)>& row) override;
  absl::Status CreateInvestigation(const MutationContext& m, const Investigation& investigation,
                                   const RenderInvestigation& render) override;
  absl::Status TransitionInvestigation(const MutationContext& m, const std::string& investigation_id,
                                       mysql::ExpectedVersion expected, const InvestigationDecider& decide,
                                       const RenderInvestigation& render) override;
  absl::StatusOr<mysql::KeysetPage<Investigation>> ListInvestigations(bool open_only, const std::string& claim_id,
                                                                      const PageRequest& page) override;

  // For the outbox completion handlers: locks the claim on `conn`, inside the
  // relay's completion transaction, and stores what `decide` returns with its
  // history line and audit entry (nullopt: leave the claim as it is), through
  // the versioned write without an etag (the relay's own follow-up). Returns
  // the claim as stored. May throw sql::SQLException (the relay catches).
  using SettleDecider = std::function<absl::StatusOr<std::optional<ClaimChange>>(const Claim& current)>;
  absl::StatusOr<Claim> SettleInTransaction(mysql::Connection& conn, const Mutation& m, const std::string& claim_id,
                                            const SettleDecider& decide);

 private:
  mysql::ConnectionPool& pool_;
};

}  // namespace careops::claims
