// Caller identity: who is calling, proved by a certificate or a signed token.
//
// Every careops RPC except health and reflection needs a caller. The
// Authenticator decides who it is, in this order:
//
//   1. `authorization: Bearer <token>` metadata, when present, names a person:
//      - a JWT from the platform's identity provider (common/auth_jwt.h), when
//        JWT keys are configured: user, role and team from its claims;
//      - otherwise a development token, looked up by its SHA-256 in the token
//        file. The file stores only hashes, one caller per line:
//
//          # sha256(token)                                                         user        role        team
//          sha256:5e7d...e1a2                                                      ana.reyes   specialist  claims-a
//
//        (`printf %s TOKEN | sha256sum` gives the hex; tools/dev-tokens holds the
//        development callers.)
//   2. Without a bearer token, the verified client certificate of a mutual-TLS
//      connection names a service: its URI SAN spiffe://<trust domain>/svc-<name>
//      (e.g. spiffe://careops/svc-claims) becomes the service caller `svc-claims`
//      with role "service" (common/access.h admits services by that identity).
//
// With mutual TLS on (`mutual_tls`), a service identity comes only from a
// certificate: a bearer token that resolves to the service role is refused, so a
// leaked development service token cannot impersonate a service, and a call that
// did not arrive over TLS (the plaintext health port) is refused outright.
// Without mutual TLS (tests and a laptop, --insecure_plaintext) service callers
// present their development token as before.
//
// Every refusal is UNAUTHENTICATED with a message saying what was wrong (never
// the token). Handlers read the caller only through Authenticate().
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/auth_jwt.h"
#include "common/clock.h"

namespace grpc {
class AuthContext;
class ServerContextBase;
}  // namespace grpc

namespace careops {

struct Principal {
  std::string user;
  std::string role;
  std::string team;
};

struct AuthOptions {
  std::string token_file;  // hashed development tokens; empty: none
  bool mutual_tls = false;
  std::string trust_domain = "careops";  // of the SPIFFE ids in service certificates
  JwtOptions jwt;
};

class Authenticator {
 public:
  Authenticator() = default;

  // Loads the token file and the JWT keys. NOT_FOUND for a file that cannot be
  // read, INVALID_ARGUMENT naming the bad line or key. `clock` (not owned; the
  // system clock when null) judges JWT expiry.
  static absl::StatusOr<Authenticator> Create(const AuthOptions& options, const Clock* clock = nullptr);
  // Reads and parses a token file; NOT_FOUND when it cannot be read,
  // INVALID_ARGUMENT naming the bad line (a token not stored as sha256:<64 hex
  // digits> is one: the file holds hashes only).
  static absl::StatusOr<Authenticator> FromFile(const std::string& path);
  // An in-memory caller table for unit tests, in the file's format, whose
  // tokens may also be written in the clear (hashed as they are loaded, so the
  // Authenticator holds hashes either way); INVALID_ARGUMENT names the bad line.
  static absl::StatusOr<Authenticator> FromText(std::string_view text);

  // The caller behind `ctx` (see above).
  absl::StatusOr<Principal> Authenticate(const grpc::ServerContextBase& ctx) const;
  // The person or development caller behind a bearer token alone.
  absl::StatusOr<Principal> Lookup(std::string_view token) const;
  // The service a verified peer certificate names; UNAUTHENTICATED when it names
  // none (or more than one) in the trust domain.
  absl::StatusOr<Principal> ServiceFromCertificate(const grpc::AuthContext& peer) const;

  // "sha256:<hex>" of a token, as the token file stores it.
  static std::string HashToken(std::string_view token);
  // How many development callers the token file holds.
  size_t token_count() const { return tokens_.size(); }

 private:
  static absl::StatusOr<Authenticator> Parse(std::string_view text, bool hashes_only);

  std::map<std::string, Principal, std::less<>> tokens_;  // by HashToken()
  AuthOptions options_;
  std::optional<JwtVerifier> jwt_;
  const Clock* clock_ = &SystemClock::Instance();
};

}  // namespace careops
