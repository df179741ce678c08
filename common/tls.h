// TLS and mutual TLS for careops servers, peer channels and the command-line tools.
//
// Every process that speaks gRPC takes its key material from three PEM files:
//   cert  this process's certificate chain (server certificate, and its client
//         certificate towards peers),
//   key   its private key,
//   ca    the careops CA bundle: every client certificate a server accepts and
//         every server certificate a client accepts must chain to it.
// The files are watched (gRPC's FileWatcherCertificateProvider) and re-read every
// `refresh`, so a certificate that cert-manager renews in a mounted Secret is
// used by new connections without a restart.
//
// A server with TLS requires and verifies a client certificate on every
// connection (mutual TLS): a client without one never completes the handshake.
//
// What a certificate proves about its holder is common/auth.h's business (the
// SPIFFE URI SAN spiffe://<trust domain>/svc-<service> names a careops service).
//
// Revocation: with `crl_dir` (--tls_crl_dir) both sides also check the other's
// certificate against the CA's certificate revocation lists in that directory, in
// OpenSSL's hashed form (`<issuer hash>.r0`, as `openssl rehash` names them; a
// Kubernetes ConfigMap can carry them under those keys). A revoked certificate
// fails the handshake: UNAVAILABLE to a client, no connection at a server. The
// directory must hold a CRL signed by the CA (tools/dev certs writes an empty one,
// tools/dev revoke adds to it). gRPC reads the lists when it builds the
// credentials, so a new CRL applies after a restart (`kubectl rollout restart`),
// which is what an operator does when a key is compromised.
//
// Plaintext is never a default. A server or tool without TLS files serves or
// calls in plaintext only when told so explicitly (--insecure_plaintext, for
// tests and a laptop); ServiceConfig refuses to start otherwise.
//
// Errors: NOT_FOUND when a file cannot be read, INVALID_ARGUMENT when it holds no
// PEM certificate (or key), when only some of the files are given, or when
// crl_dir holds no CRL of the CA; each message names the flag.
#pragma once

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace careops {

struct TlsFiles {
  std::string cert;  // --tls_cert
  std::string key;   // --tls_key
  std::string ca;    // --tls_ca
  std::string crl_dir = {};  // --tls_crl_dir: hashed CRLs of the CA; empty: no revocation check
  absl::Duration refresh = absl::Seconds(30);

  bool enabled() const { return !cert.empty() || !key.empty() || !ca.empty() || !crl_dir.empty(); }
};

// OK when all three files are given, readable and hold PEM material (or none is
// given), and crl_dir, when given, holds a hashed CRL that the CA signed;
// `flag_prefix` names the flags in messages ("tls" -> "--tls_cert").
absl::Status ValidateTlsFiles(const TlsFiles& files, const std::string& flag_prefix = "tls");

// Mutual-TLS server credentials over `files` (validated first); insecure server
// credentials when `files` is empty.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(const TlsFiles& files);

// Client credentials: the server must present a certificate chaining to
// files.ca whose SAN names the host it was dialled as (DNS name or IP address);
// files.cert/key are presented as this client's certificate. Insecure
// credentials when `files` is empty.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentialsFor(const TlsFiles& files);

// The same for a process whose files were validated at start (a peer channel):
// mutual-TLS credentials without reading the files now. A file that has gone
// bad since fails the handshakes (UNAVAILABLE), never falls back to plaintext.
// `files` must be enabled().
std::shared_ptr<grpc::ChannelCredentials> MutualTlsChannelCredentials(const TlsFiles& files);

}  // namespace careops
