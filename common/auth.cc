#include "common/auth.h"

#include <grpcpp/server_context.h>

#include <cctype>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/text.h"

namespace careops {

absl::StatusOr<Authenticator> Authenticator::FromText(std::string_view text) {
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
          absl::StrCat("token file line ", line_no, ": want 'token user role team', got ", parts.size(),
                       " fields"));
    }
    if (!tokens.emplace(std::string(parts[0]), Principal{std::string(parts[1]), std::string(parts[2]), std::string(parts[3])}).second) {
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
  auto a = FromText(ss.str());
  if (!a.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", a.status().message()));
  return a;
}

absl::StatusOr<Principal> Authenticator::Lookup(std::string_view token) const {
  auto it = tokens_.find(token);
  if (it == tokens_.end()) return absl::UnauthenticatedError("authorization: unknown bearer token");
  return it->second;
}

absl::StatusOr<Principal> Authenticator::Authenticate(const grpc::ServerContextBase& ctx) const {
  const auto& md = ctx.client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) {
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
