#include "common/tls.h"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"

namespace careops {
namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path, const std::string& flag) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("--", flag, ": cannot read '", path, "'"));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;

BioPtr MemoryBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
}

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;

// Every certificate of a PEM bundle, in order.
std::vector<X509Ptr> Certificates(const std::string& pem) {
  std::vector<X509Ptr> certs;
  BioPtr bio = MemoryBio(pem);
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) certs.emplace_back(cert, &X509_free);
  return certs;
}

// OpenSSL parses the PEM so that a wrong or empty file stops the start with a
// message naming the flag, instead of failing every handshake later.
bool HoldsCertificate(const std::string& pem) { return !Certificates(pem).empty(); }

bool HoldsPrivateKey(const std::string& pem) {
  BioPtr bio = MemoryBio(pem);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  return key != nullptr;
}

// True when some file of `dir` named as OpenSSL's hashed lookup finds it
// (<8 hex>.r<n>) holds a PEM CRL signed by a certificate of the CA bundle:
// without one, every handshake would fail (or, worse, pass unchecked) later.
bool HoldsCrlOfCa(const std::string& dir, const std::string& ca_pem) {
  const std::vector<X509Ptr> ca_certs = Certificates(ca_pem);
  static const std::regex kHashedName("[0-9a-f]{8}\\.r[0-9]+");
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    if (!std::regex_match(entry.path().filename().string(), kHashedName)) continue;
    auto pem = ReadPem(entry.path().string(), "tls_crl_dir");
    if (!pem.ok()) continue;
    BioPtr bio = MemoryBio(*pem);
    std::unique_ptr<X509_CRL, decltype(&X509_CRL_free)> crl(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr),
                                                            &X509_CRL_free);
    if (crl == nullptr) continue;
    for (const X509Ptr& ca : ca_certs) {
      // get0: the key stays the certificate's; nothing to free.
      EVP_PKEY* key = X509_get0_pubkey(ca.get());
      if (key != nullptr && X509_CRL_verify(crl.get(), key) == 1) return true;
    }
  }
  return false;
}

std::shared_ptr<grpc::experimental::FileWatcherCertificateProvider> WatchFiles(const TlsFiles& files) {
  const auto seconds = static_cast<unsigned int>(std::max<int64_t>(1, absl::ToInt64Seconds(files.refresh)));
  return std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(files.key, files.cert, files.ca,
                                                                              seconds);
}

}  // namespace

absl::Status ValidateTlsFiles(const TlsFiles& files, const std::string& flag_prefix) {
  if (!files.enabled()) return absl::OkStatus();
  const std::string cert_flag = flag_prefix + "_cert", key_flag = flag_prefix + "_key",
                    ca_flag = flag_prefix + "_ca";
  if (files.cert.empty() || files.key.empty() || files.ca.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--", cert_flag, ", --", key_flag, " and --", ca_flag,
                                                   ": give all three (mutual TLS) or none"));
  }
  auto cert = ReadPem(files.cert, cert_flag);
  if (!cert.ok()) return cert.status();
  if (!HoldsCertificate(*cert)) {
    return absl::InvalidArgumentError(absl::StrCat("--", cert_flag, ": '", files.cert, "' holds no PEM certificate"));
  }
  auto key = ReadPem(files.key, key_flag);
  if (!key.ok()) return key.status();
  if (!HoldsPrivateKey(*key)) {
    return absl::InvalidArgumentError(absl::StrCat("--", key_flag, ": '", files.key, "' holds no PEM private key"));
  }
  auto ca = ReadPem(files.ca, ca_flag);
  if (!ca.ok()) return ca.status();
  if (!HoldsCertificate(*ca)) {
    return absl::InvalidArgumentError(absl::StrCat("--", ca_flag, ": '", files.ca, "' holds no PEM certificate"));
  }
  if (!files.crl_dir.empty() && !HoldsCrlOfCa(files.crl_dir, *ca)) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag_prefix, "_crl_dir: '", files.crl_dir,
                                                   "' holds no CRL signed by the CA of --", ca_flag,
                                                   " under a hashed name (<hash>.r0; see openssl rehash)"));
  }
  if (files.refresh < absl::Seconds(1)) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag_prefix, "_refresh: must be at least 1s"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(const TlsFiles& files) {
  if (!files.enabled()) return grpc::InsecureServerCredentials();
  if (absl::Status s = ValidateTlsFiles(files); !s.ok()) return s;
  grpc::experimental::TlsServerCredentialsOptions options(WatchFiles(files));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  // Mutual TLS: no connection without a client certificate that chains to the CA.
  options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  if (!files.crl_dir.empty()) options.set_crl_directory(files.crl_dir);
  return grpc::experimental::TlsServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentialsFor(const TlsFiles& files) {
  if (!files.enabled()) return grpc::InsecureChannelCredentials();
  if (absl::Status s = ValidateTlsFiles(files); !s.ok()) return s;
  return MutualTlsChannelCredentials(files);
}

std::shared_ptr<grpc::ChannelCredentials> MutualTlsChannelCredentials(const TlsFiles& files) {
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(WatchFiles(files));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(true);
  if (!files.crl_dir.empty()) options.set_crl_directory(files.crl_dir);
  // The chain alone is not enough: the certificate must name the host dialled.
  options.set_certificate_verifier(std::make_shared<grpc::experimental::HostNameCertificateVerifier>());
  return grpc::experimental::TlsCredentials(options);
}

}  // namespace careops
