#include "common/tls.h"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <fstream>
#include <sstream>

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

// OpenSSL parses the PEM so that a wrong or empty file stops the start with a
// message naming the flag, instead of failing every handshake later.
bool HoldsCertificate(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())),
                                                &BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr),
                                                   &X509_free);
  return cert != nullptr;
}

bool HoldsPrivateKey(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())),
                                                &BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  return key != nullptr;
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
  // The chain alone is not enough: the certificate must name the host dialled.
  options.set_certificate_verifier(std::make_shared<grpc::experimental::HostNameCertificateVerifier>());
  return grpc::experimental::TlsCredentials(options);
}

}  // namespace careops
