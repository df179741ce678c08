// Configuration: command-line flags with environment-variable fallbacks.
//
// Each flag `--name=value` (or `--name value`) falls back to the environment
// variable CAREOPS_<SERVICE>_<NAME> (upper-cased), then to its default. Parse()
// validates every value and reports all bad ones at once, each naming the flag,
// its env variable and the rule, so an operator fixes a deployment in one go.
//
//   FlagSet flags("claims");
//   std::string membership_addr = "localhost:50051";
//   flags.String("membership_addr", &membership_addr, "membership gRPC address");
//   ServiceConfig config = DefaultServiceConfig("claims");
//   RegisterServiceFlags(flags, config);
//   if (auto s = flags.Parse(argc, argv, EnvFromProcess()); !s.ok()) { ... exit(2) }
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/auth_jwt.h"
#include "common/business_days.h"
#include "common/tls.h"

namespace careops {

// Looks up an environment variable; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup EnvFromProcess();
EnvLookup EnvFromMap(std::map<std::string, std::string> values);

class FlagSet {
 public:
  explicit FlagSet(std::string service);

  void String(std::string name, std::string* target, std::string help, bool required = false);
  void Int(std::string name, int64_t* target, int64_t min, int64_t max, std::string help);
  void Port(std::string name, int* target, std::string help);
  void Duration(std::string name, absl::Duration* target, std::string help);
  void Bool(std::string name, bool* target, std::string help);

  // INVALID_ARGUMENT listing every bad or unknown flag and every missing required one.
  absl::Status Parse(int argc, const char* const* argv, const EnvLookup& env);
  // "--name (env CAREOPS_X_NAME, default ...): help" per flag.
  std::string Usage() const;
  std::string EnvName(const std::string& flag) const;
  bool help_requested() const { return help_requested_; }

 private:
  struct Flag {
    std::string name, help, default_text;
    bool required = false;
    // Parses and stores the value; returns the rule it broke or "".
    std::function<std::string(const std::string&)> set;
  };
  std::string service_;
  std::vector<Flag> flags_;
  bool help_requested_ = false;
};

// Where a MySQL server is and how to log in. Text form:
//   mysql://user:password@host:port/schema
//   mysql://user:password@localhost/schema?socket=/path/to/mysqld.sock
struct MysqlDsn {
  std::string user, password, host = "127.0.0.1", schema, socket;
  int port = 3306;
};
absl::Status ParseMysqlDsn(const std::string& text, MysqlDsn* out);
std::string FormatMysqlDsn(const MysqlDsn& dsn);

// The settings every careops service has.
struct ServiceConfig {
  std::string service;        // "membership"
  std::string mysql_dsn;      // required
  std::string listen_host = "0.0.0.0";
  // Apply the migrations (as a DDL user), grant runtime_db_role the runtime's DML,
  // and exit 0 without serving: a Kubernetes init container or Job.
  bool migrate_only = false;
  std::string runtime_db_role;
  int grpc_port = 0;
  int metrics_port = 0;
  std::string token_file;     // bearer tokens of callers; required
  std::string service_token;  // this service's own token, sent to peers in plaintext mode only
  // Mutual TLS (common/tls.h): the server's certificate, also presented to peers;
  // the CA that clients' and peers' certificates must chain to. Required unless
  // insecure_plaintext says, explicitly, that this process speaks plaintext.
  TlsFiles tls;
  bool insecure_plaintext = false;
  std::string tls_trust_domain = "careops";  // spiffe://<this>/svc-<name> names a service
  // A plaintext port that answers only the standard health service, for
  // probes that cannot speak TLS (the kubelet's gRPC probe); 0 = none. Any
  // application call arriving on it is refused (common/auth.h).
  int health_port = 0;
  // People's JWTs (common/auth_jwt.h); comma-separated PEM public key files.
  std::string jwt_public_keys;
  JwtOptions jwt;  // from jwt_public_keys, jwt_issuer, jwt_audience, by ParseServiceConfig
  int64_t db_pool_size = 16;
  absl::Duration drain_timeout = absl::Seconds(10);
  // After SIGTERM: readiness NOT_SERVING for this long before draining starts, so
  // load balancers stop routing first (Kubernetes: ~5s; 0 for tests and dev).
  absl::Duration shutdown_delay = absl::ZeroDuration();
  absl::Duration health_interval = absl::Seconds(1);
  absl::Duration peer_deadline = absl::Seconds(3);
  int64_t max_message_bytes = 16 << 20;
  bool log_ok_rpcs = true;    // one log line per successful RPC (errors are always logged)
  absl::Duration gauge_refresh = absl::Seconds(15);  // state gauges re-read from the database
  int64_t admission_queue = 64;  // calls that may wait for one of db_pool_size workers (common/worker_pool.h)
  std::string access_roles;   // per-method person-role overrides (common/access.h)
  std::string tat_holidays;   // "YYYY-MM-DD,..." not counted as business days for TAT targets
  // IANA time zone of the business (e.g. "Asia/Manila"): "today", business days
  // and holidays are its local dates (common/business_days.h).
  std::string business_tz = "UTC";
  BusinessCalendar calendar;  // from tat_holidays and business_tz, by ParseServiceConfig
  // For tests only: the service's clock reads this RFC 3339 instant at start and
  // runs on at the wall clock's pace ("" = the system clock). Lets a test submit
  // "at 07:00 in Manila" whatever the time of day it runs at.
  std::string test_clock_start;
  std::optional<absl::Time> clock_start;  // parsed from test_clock_start
  // Answers of mutating RPCs are kept this long for replays, then purged
  // (common/mysql/mutation_runner.h); at least an hour.
  absl::Duration request_log_retention = absl::Hours(24 * 30);
  MysqlDsn dsn;               // parsed from mysql_dsn by Parse
};

// --tls_cert, --tls_key, --tls_ca and --tls_refresh into `tls` (common/tls.h):
// a service's own files, or a command-line tool's client certificate.
void RegisterTlsFlags(FlagSet& flags, TlsFiles& tls);

// Ports 50051..50055 / 9101..9105 in the order membership, claims, collections,
// retention, reporting.
ServiceConfig DefaultServiceConfig(const std::string& service);
void RegisterServiceFlags(FlagSet& flags, ServiceConfig& config);
// Parses flags, then the DSN, the business time zone and TAT calendar and the
// test clock; on error the status names every bad setting.
absl::Status ParseServiceConfig(FlagSet& flags, ServiceConfig& config, int argc,
                                const char* const* argv, const EnvLookup& env);

}  // namespace careops
