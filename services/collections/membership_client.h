// What collections needs from membership, behind a small interface so the
// adapter can be tested with a fake: the client account a ledger is opened for.
//
// Status contract (the gRPC implementation maps membership's answers to these):
//   NOT_FOUND     no account has the id
//   UNAVAILABLE   membership is down or did not answer within the deadline
//   INTERNAL      anything else (a bug or a misconfiguration, e.g. access denied)
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/peer.h"

namespace careops::collections {

struct AccountInfo {
  std::string account_id, name, contact_email;
  bool cancelled = false;
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
