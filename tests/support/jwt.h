// Test-only JWT issuer: fresh RSA and P-256 keys made with OpenSSL in the test
// process (no network, no files unless asked) and tokens signed the way an
// identity provider signs them (RS256, ES256), so tests can present valid,
// expired, wrongly signed and wrong-audience tokens.
#pragma once

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace careops::testing {

struct JwtKey {
  std::shared_ptr<EVP_PKEY> key;
  bool ec = false;

  // A new RSA-2048 (RS256) or P-256 (ES256) key pair.
  static JwtKey Rsa() { return {std::shared_ptr<EVP_PKEY>(EVP_RSA_gen(2048), &EVP_PKEY_free), false}; }
  static JwtKey Ec() {
    return {std::shared_ptr<EVP_PKEY>(EVP_EC_gen("P-256"), &EVP_PKEY_free), true};
  }

  std::string PublicPem() const {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
    PEM_write_bio_PUBKEY(bio.get(), key.get());
    char* data = nullptr;
    long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<size_t>(n));
  }
  void WritePublicPem(const std::string& path) const { std::ofstream(path) << PublicPem(); }

  // header.payload.signature over the given JSON texts.
  std::string Sign(const std::string& claims_json, const std::string& kid = "") const {
    std::string header = absl::StrCat(R"({"alg":")", ec ? "ES256" : "RS256", R"(","typ":"JWT")",
                                      kid.empty() ? "" : absl::StrCat(R"(,"kid":")", kid, "\""), "}");
    std::string input = absl::StrCat(absl::WebSafeBase64Escape(header), ".", absl::WebSafeBase64Escape(claims_json));
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get());
    size_t len = 0;
    EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size());
    std::string sig(len, '\0');
    EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                   reinterpret_cast<const unsigned char*>(input.data()), input.size());
    sig.resize(len);
    if (ec) sig = DerToRaw(sig);
    return absl::StrCat(input, ".", absl::WebSafeBase64Escape(sig));
  }

 private:
  static std::string DerToRaw(const std::string& der) {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
    std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())),
                                                              &ECDSA_SIG_free);
    std::string raw(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), reinterpret_cast<unsigned char*>(raw.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
    return raw;
  }
};

// Claims of a person's token: sub, role, team, iss, aud and exp (unix seconds).
inline std::string PersonClaims(const std::string& user, const std::string& role, const std::string& team,
                                const std::string& issuer, const std::string& audience, int64_t exp) {
  return absl::StrCat(R"({"sub":")", user, R"(","role":")", role, R"(","team":")", team, R"(","iss":")", issuer,
                      R"(","aud":")", audience, R"(","exp":)", exp, "}");
}

}  // namespace careops::testing
