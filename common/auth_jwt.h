// People's identity from the platform's identity provider: a signed JWT.
//
// An internal app forwards its user's token as `authorization: Bearer <jwt>`.
// The verifier accepts it only when all of these hold, and otherwise answers
// UNAUTHENTICATED with the reason (never the token):
//   - it is a JWS compact token whose header `alg` is RS256 or ES256 (never
//     `none` or an HMAC: the services hold public keys only);
//   - its signature verifies with one of the configured public keys (PEM files;
//     when the header names a `kid`, only the key of that id, i.e. the file name
//     without ".pem", is tried);
//   - `iss` equals the configured issuer and `aud` (a string or a list) holds the
//     configured audience;
//   - `exp` is present and still ahead of `now` (minus `leeway` for clock skew),
//     and `nbf`, if present, is not ahead of it;
//   - `sub` (the user), `role` and `team` are non-empty strings, and `role` is not
//     the service role: services are identified by their certificate only.
//
// `now` comes from the caller (the runtime's injected clock), so tests set it.
#pragma once

#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace careops {

struct Principal;

struct JwtOptions {
  std::vector<std::string> public_key_files;  // PEM (RSA or EC P-256); empty: no JWT is accepted
  std::string issuer;
  std::string audience;
  absl::Duration leeway = absl::Seconds(30);

  bool enabled() const { return !public_key_files.empty(); }
};

class JwtVerifier {
 public:
  // Reads the keys; NOT_FOUND for an unreadable file, INVALID_ARGUMENT for a file
  // without a PEM public key, a key neither RSA nor P-256, or a missing issuer or
  // audience.
  static absl::StatusOr<JwtVerifier> Create(const JwtOptions& options);

  absl::StatusOr<Principal> Verify(std::string_view token, absl::Time now) const;

  // Whether `token` has the shape of a JWS compact token (three dot-separated
  // base64url parts), i.e. whether it is this verifier's to judge.
  static bool LooksLikeJwt(std::string_view token);

 private:
  struct Key {
    std::string id;
    std::shared_ptr<EVP_PKEY> pkey;
    bool ec = false;
  };
  JwtOptions options_;
  std::vector<Key> keys_;
};

}  // namespace careops
