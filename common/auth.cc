#include "common/auth.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/auth_context.h>
#include <grpcpp/server_context.h>
#include <openssl/sha.h>

#include <cctype>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/access.h"
#include "common/text.h"

namespace careops {
namespace {

constexpr std::string_view kHashPrefix = "sha256:";

bool IsStoredHash(std::string_view field) {
  if (field.size() != kHashPrefix.size() + 64 || field.substr(0, kHashPrefix.size()) != kHashPrefix) return false;
  for (char c : field.substr(kHashPrefix.size())) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// "svc-claims" from "spiffe://careops/svc-claims"; "" when the URI is not a
// careops service in `trust_domain`.
std::string ServiceOfSpiffeId(std::string_view uri, std::string_view trust_domain) {
  const std::string prefix = absl::StrCat("spiffe://", Abs(trust_domain), "/");
  if (uri.size() <= prefix.size() || uri.substr(0, prefix.size()) != prefix) return "";
  std::string_view name = uri.substr(prefix.size());
  if (name.size() <= 4 || name.substr(0, 4) != "svc-") return "";
  for (char c : name) {
    if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '-')) {
      return "";
    }
  }
  return std::string(name);
}

}  // namespace

std::string Authenticator::HashToken(std::string_view token) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest);
  static const char kHex[] = "0123456789abcdef";
  std::string out(kHashPrefix);
  for (unsigned char b : digest) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

absl::StatusOr<Authenticator> Authenticator::FromText(std::string_view text) { return Parse(text, false); }

absl::StatusOr<Authenticator> Authenticator::Parse(std::string_view text, bool hashes_only) {
  Authenticator a;
  auto& tokens = a.tokens_;
  int line_no = 0;
  for (std::string_view line : SplitAny(text, "\n", false)) {
    ++line_no;
    line = StripSpace(line);
    if (line.empty() || line.front() == '#') continue;
    std::vector<std::string_view> parts = SplitAny(line, " \t", true);
    if (parts.size() != 4) {
      return absl::InvalidArgumentError(
          absl::StrCat("token file line ", line_no, ": want 'sha256:<hex> user role team', got ", parts.size(),
                       " fields"));
    }
    // Only hashes: whoever reads the file (a mounted Secret, a backup) learns no
    // token it could present.
    const bool hashed = IsStoredHash(parts[0]);
    if (hashes_only && !hashed) {
      return absl::InvalidArgumentError(absl::StrCat(
          "token file line ", line_no,
          ": the token must be stored as sha256:<64 lower-case hex digits> (printf %s TOKEN | sha256sum)"));
    }
    if (!tokens.emplace(hashed ? std::string(parts[0]) : HashToken(parts[0]), Principal{std::string(parts[1]), std::string(parts[2]), std::string(parts[3])}).second) {
      return absl::InvalidArgumentError(absl::StrCat("token file line ", line_no, ": duplicate token"));
    }
  }
  return a;
}

absl::StatusOr<Authenticator> Authenticator::FromFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("token_file: cannot read '", path, "'"));
  std::stringstream ss;
  ss << in.rdbuf();
  auto a = Parse(ss.str(), true);
  if (!a.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", a.status().message()));
  return a;
}

absl::StatusOr<Authenticator> Authenticator::Create(const AuthOptions& options, const Clock* clock) {
  Authenticator a;
  if (!options.token_file.empty()) {
    auto loaded = FromFile(options.token_file);
    if (!loaded.ok()) return loaded.status();
    a = *std::move(loaded);
  }
  auto jwt = JwtVerifier::Create(options.jwt);
  if (!jwt.ok()) return jwt.status();
  if (options.jwt.enabled()) a.jwt_ = *std::move(jwt);
  a.options_ = options;
  if (clock != nullptr) a.clock_ = clock;
  return a;
}

absl::StatusOr<Principal> Authenticator::Lookup(std::string_view token) const {
  if (jwt_.has_value() && JwtVerifier::LooksLikeJwt(token)) return jwt_->Verify(token, clock_->Now());
  auto it = tokens_.find(HashToken(token));
  if (it == tokens_.end()) return absl::UnauthenticatedError("authorization: unknown bearer token");
  if (options_.mutual_tls && it->second.role == kServiceRole) {
    return absl::UnauthenticatedError(
        "authorization: a service is identified by its client certificate under mutual TLS, not a token");
  }
  return it->second;
}

absl::StatusOr<Principal> Authenticator::ServiceFromCertificate(const grpc::AuthContext& peer) const {
  std::string service;
  for (const grpc::string_ref& uri : peer.FindPropertyValues(GRPC_PEER_URI_PROPERTY_NAME)) {
    std::string name = ServiceOfSpiffeId(std::string_view(uri.data(), uri.size()), options_.trust_domain);
    if (name.empty()) continue;
    if (!service.empty() && service != name) {
      return absl::UnauthenticatedError("certificate: names more than one careops service");
    }
    service = std::move(name);
  }
  if (service.empty()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "authorization: metadata 'authorization: Bearer <token>' is required (the client certificate names no "
        "service spiffe://", options_.trust_domain, "/svc-*)"));
  }
  return Principal{service, std::string(kServiceRole), "platform"};
}

absl::StatusOr<Principal> Authenticator::Authenticate(const grpc::ServerContextBase& ctx) const {
  std::shared_ptr<const grpc::AuthContext> peer = ctx.auth_context();
  bool over_tls = false;
  if (peer != nullptr) {
    for (const grpc::string_ref& type : peer->FindPropertyValues(GRPC_TRANSPORT_SECURITY_TYPE_PROPERTY_NAME)) {
      over_tls |= type == GRPC_TLS_TRANSPORT_SECURITY_TYPE || type == GRPC_SSL_TRANSPORT_SECURITY_TYPE;
    }
  }
  if (options_.mutual_tls && !over_tls) {
    return absl::UnauthenticatedError("transport: this service takes calls over mutual TLS only");
  }
  const auto& md = ctx.client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) {
    // A TLS server here requires and verifies a client certificate (common/tls.h).
    if (over_tls) return ServiceFromCertificate(*peer);
    return absl::UnauthenticatedError("authorization: metadata 'authorization: Bearer <token>' is required");
  }
  std::string_view value = StripSpace(std::string_view(it->second.data(), it->second.size()));
  // RFC 7235: the scheme is case-insensitive ("bearer", "BEARER").
  constexpr std::string_view kScheme = "bearer";
  bool bearer = value.size() > kScheme.size() && (value[kScheme.size()] == ' ' || value[kScheme.size()] == '\t');
  for (size_t i = 0; bearer && i < kScheme.size(); ++i) {
    bearer = std::tolower(static_cast<unsigned char>(value[i])) == kScheme[i];
  }
  if (!bearer) return absl::UnauthenticatedError("authorization: must be 'Bearer <token>'");
  return Lookup(StripSpace(value.substr(kScheme.size())));
}

}  // namespace careops
