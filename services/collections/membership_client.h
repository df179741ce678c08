// What collections needs from membership, behind a small interface so the
// adapter can be tested with a fake: the client account a ledger is opened for,
// and (for the dunning path, dunning_outbox.h) its status and etag.
//
// Status contract (the gRPC implementation maps membership's answers to these):
//   NOT_FOUND     no account has the id
//   UNAVAILABLE   membership is down or did not answer within the deadline
//   INTERNAL      anything else (a bug or a misconfiguration, e.g. access denied)
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "common/peer.h"

namespace careops::collections {

enum class AccountStatus { kActive, kSuspended, kCancelled };

struct AccountInfo {
  std::string account_id, name, contact_email;
  bool cancelled = false;
  AccountStatus status = AccountStatus::kActive;  // in force today
  std::string etag;  // what a transition must carry
  std::optional<absl::CivilDay> start_date, status_effective_date;  // status_effective_date: of `status`
  // The last transition made: the last of GetClientAccount's
  // scheduled_status_changes (a suspension or cancellation dated after today),
  // or the status in force when none is scheduled. Membership judges the next
  // transition from it and refuses one dated before it.
  AccountStatus last_status = AccountStatus::kActive;
  std::optional<absl::CivilDay> last_effective_date;
};

class MembershipClient {
 public:
  virtual ~MembershipClient() = default;
  virtual absl::StatusOr<AccountInfo> GetClientAccount(const std::string& account_id) = 0;
};

// PeerOptions for membership at `address`; GetClientAccount is retried on UNAVAILABLE.
PeerOptions MembershipPeerOptions(std::string address, std::string token, absl::Duration deadline);
std::unique_ptr<MembershipClient> NewGrpcMembershipClient(PeerOptions options);

}  // namespace careops::collections
