// Caller identity.
//
// Every careops RPC except health and reflection needs a caller. A caller sends
// `authorization: Bearer <token>` metadata; the Authenticator maps the token to a
// Principal (user, role, team) from a token file given by config, one caller per
// line:
//
//   # token                user            role        team
//   dev-specialist-token   ana.reyes       specialist  claims-a
//   svc-claims-token       svc-claims      service     platform
//
// This serves development and tests; mTLS replaces it in a later issue behind the
// same Authenticate() call. Handlers read the caller only through Authenticate().
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace grpc {
class ServerContextBase;
}

namespace careops {

struct Principal {
  std::string user;
  std::string role;
  std::string team;
};

class Authenticator {
 public:
  Authenticator() = default;

  // Parses a token file's text; INVALID_ARGUMENT names the bad line.
  static absl::StatusOr<Authenticator> FromText(std::string_view text);
  // Reads and parses a token file; NOT_FOUND when it cannot be read.
  static absl::StatusOr<Authenticator> FromFile(const std::string& path);

  // The caller behind `ctx`: UNAUTHENTICATED when the authorization metadata is
  // missing, not a Bearer token, or an unknown token.
  absl::StatusOr<Principal> Authenticate(const grpc::ServerContextBase& ctx) const;
  // Same check on the token alone.
  absl::StatusOr<Principal> Lookup(std::string_view token) const;

 private:
  std::map<std::string, Principal, std::less<>> tokens_;
};

}  // namespace careops
