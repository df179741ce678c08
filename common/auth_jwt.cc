#include "common/auth_jwt.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/pem.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/access.h"
#include "common/auth.h"
#include "common/text.h"

namespace careops {
namespace {

namespace pb = google::protobuf;

absl::Status Refuse(std::string_view why) { return absl::UnauthenticatedError(absl::StrCat("jwt: ", Abs(why))); }

bool IsBase64Url(std::string_view s) {
  for (char c : s) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
  }
  return !s.empty();
}

bool DecodeJson(std::string_view part, pb::Struct* out) {
  std::string json;
  if (!absl::WebSafeBase64Unescape(Abs(part), &json)) return false;
  pb::util::JsonParseOptions options;
  return pb::util::JsonStringToMessage(json, out, options).ok();
}

const pb::Value* Field(const pb::Struct& s, const std::string& name) {
  auto it = s.fields().find(name);
  return it == s.fields().end() ? nullptr : &it->second;
}

std::string StringField(const pb::Struct& s, const std::string& name) {
  const pb::Value* v = Field(s, name);
  return v != nullptr && v->kind_case() == pb::Value::kStringValue ? v->string_value() : std::string();
}

// JWS ES256 signatures are r||s (32 bytes each); OpenSSL verifies DER.
std::string EcdsaRawToDer(const std::string& raw) {
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(ECDSA_SIG_new(), &ECDSA_SIG_free);
  BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), 32, nullptr);
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + 32, 32, nullptr);
  if (r == nullptr || s == nullptr || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return "";
  }
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) return "";
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

bool VerifySha256(EVP_PKEY* key, std::string_view signed_part, const std::string& signature) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1) return false;
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                          reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size()) == 1;
}

std::string KeyIdOf(const std::string& path) {
  std::string name = path.substr(path.find_last_of('/') + 1);
  if (name.size() > 4 && name.substr(name.size() - 4) == ".pem") name.resize(name.size() - 4);
  return name;
}

}  // namespace

bool JwtVerifier::LooksLikeJwt(std::string_view token) {
  std::vector<std::string_view> parts = SplitAny(token, ".", false);
  return parts.size() == 3 && IsBase64Url(parts[0]) && IsBase64Url(parts[1]) && IsBase64Url(parts[2]);
}

absl::StatusOr<JwtVerifier> JwtVerifier::Create(const JwtOptions& options) {
  JwtVerifier v;
  v.options_ = options;
  if (!options.enabled()) return v;
  if (options.issuer.empty()) return absl::InvalidArgumentError("--jwt_issuer: required with --jwt_public_keys");
  if (options.audience.empty()) return absl::InvalidArgumentError("--jwt_audience: required with --jwt_public_keys");
  for (const std::string& path : options.public_key_files) {
    std::ifstream in(path);
    if (!in) return absl::NotFoundError(absl::StrCat("--jwt_public_keys: cannot read '", path, "'"));
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string pem = ss.str();
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())),
                                                  &BIO_free);
    std::shared_ptr<EVP_PKEY> key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
    if (key == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("--jwt_public_keys: '", path, "' holds no PEM public key"));
    }
    const int type = EVP_PKEY_base_id(key.get());
    if (type == EVP_PKEY_EC) {
      // ES256 is P-256 only; another curve would need another algorithm name.
      if (EVP_PKEY_bits(key.get()) != 256) {
        return absl::InvalidArgumentError(absl::StrCat("--jwt_public_keys: '", path, "': EC keys must be P-256 (ES256)"));
      }
    } else if (type != EVP_PKEY_RSA) {
      return absl::InvalidArgumentError(absl::StrCat("--jwt_public_keys: '", path, "': want an RSA or P-256 key"));
    }
    v.keys_.push_back({KeyIdOf(path), std::move(key), type == EVP_PKEY_EC});
  }
  return v;
}

absl::StatusOr<Principal> JwtVerifier::Verify(std::string_view token, absl::Time now) const {
  if (!options_.enabled()) return Refuse("this service accepts no JWTs (no --jwt_public_keys)");
  if (!LooksLikeJwt(token)) return Refuse("not a JWS compact token");
  std::vector<std::string_view> parts = SplitAny(token, ".", false);
  pb::Struct header, claims;
  if (!DecodeJson(parts[0], &header)) return Refuse("header is not base64url JSON");
  if (!DecodeJson(parts[1], &claims)) return Refuse("payload is not base64url JSON");
  const std::string alg = StringField(header, "alg");
  if (alg != "RS256" && alg != "ES256") return Refuse("alg must be RS256 or ES256");
  const bool ec = alg == "ES256";
  std::string signature;
  if (!absl::WebSafeBase64Unescape(Abs(parts[2]), &signature)) return Refuse("signature is not base64url");
  if (ec) {
    if (signature.size() != 64) return Refuse("bad signature");
    signature = EcdsaRawToDer(signature);
  }
  const std::string kid = StringField(header, "kid");
  const std::string_view signed_part = token.substr(0, parts[0].size() + 1 + parts[1].size());
  bool verified = false;
  for (const Key& key : keys_) {
    if (key.ec != ec || (!kid.empty() && key.id != kid)) continue;
    if (VerifySha256(key.pkey.get(), signed_part, signature)) {
      verified = true;
      break;
    }
  }
  if (!verified) return Refuse("bad signature");

  if (StringField(claims, "iss") != options_.issuer) return Refuse("wrong issuer");
  bool audience = false;
  if (const pb::Value* aud = Field(claims, "aud"); aud != nullptr) {
    if (aud->kind_case() == pb::Value::kStringValue) audience = aud->string_value() == options_.audience;
    if (aud->kind_case() == pb::Value::kListValue) {
      for (const pb::Value& a : aud->list_value().values()) audience |= a.string_value() == options_.audience;
    }
  }
  if (!audience) return Refuse("wrong audience");
  const pb::Value* exp = Field(claims, "exp");
  if (exp == nullptr || exp->kind_case() != pb::Value::kNumberValue) return Refuse("exp is required");
  if (absl::FromUnixSeconds(static_cast<int64_t>(std::floor(exp->number_value()))) + options_.leeway <= now) {
    return Refuse("expired");
  }
  if (const pb::Value* nbf = Field(claims, "nbf"); nbf != nullptr) {
    if (nbf->kind_case() != pb::Value::kNumberValue) return Refuse("nbf must be a number");
    if (absl::FromUnixSeconds(static_cast<int64_t>(std::ceil(nbf->number_value()))) - options_.leeway > now) {
      return Refuse("not valid yet (nbf)");
    }
  }
  Principal p{StringField(claims, "sub"), StringField(claims, "role"), StringField(claims, "team")};
  if (p.user.empty()) return Refuse("claim 'sub' (the user) is required");
  if (p.role.empty()) return Refuse("claim 'role' is required");
  if (p.team.empty()) return Refuse("claim 'team' is required");
  if (p.role == kServiceRole) return Refuse("a service is identified by its certificate, not a token");
  return p;
}

}  // namespace careops
