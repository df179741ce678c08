#include "common/config.h"

#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status.h"
#include "common/text.h"

namespace careops {

EnvLookup EnvFromProcess() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

EnvLookup EnvFromMap(std::map<std::string, std::string> values) {
  return [values = std::move(values)](const std::string& name) -> std::optional<std::string> {
    auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

FlagSet::FlagSet(std::string service) : service_(std::move(service)) {}

std::string FlagSet::EnvName(const std::string& flag) const {
  return absl::AsciiStrToUpper(absl::StrCat("CAREOPS_", service_, "_", flag));
}

void FlagSet::String(std::string name, std::string* target, std::string help, bool required) {
  flags_.push_back({name, std::move(help), *target, required, [target](const std::string& v) {
                      *target = v;
                      return std::string();
                    }});
}

void FlagSet::Int(std::string name, int64_t* target, int64_t min, int64_t max, std::string help) {
  flags_.push_back({name, std::move(help), absl::StrCat(*target), false,
                    [target, min, max](const std::string& v) -> std::string {
                      int64_t parsed;
                      if (!absl::SimpleAtoi(v, &parsed) || parsed < min || parsed > max) {
                        return absl::StrCat("must be an integer between ", min, " and ", max);
                      }
                      *target = parsed;
                      return "";
                    }});
}

void FlagSet::Port(std::string name, int* target, std::string help) {
  flags_.push_back({name, std::move(help), absl::StrCat(*target), false,
                    [target](const std::string& v) -> std::string {
                      int parsed;
                      if (!absl::SimpleAtoi(v, &parsed) || parsed < 0 || parsed > 65535) {
                        return "must be a port number between 0 and 65535 (0 picks a free port)";
                      }
                      *target = parsed;
                      return "";
                    }});
}

void FlagSet::Duration(std::string name, absl::Duration* target, std::string help) {
  flags_.push_back({name, std::move(help), absl::FormatDuration(*target), false,
                    [target](const std::string& v) -> std::string {
                      absl::Duration d;
                      if (!absl::ParseDuration(v, &d) || d < absl::ZeroDuration()) {
                        return "must be a non-negative duration such as 500ms, 10s or 2m";
                      }
                      *target = d;
                      return "";
                    }});
}

void FlagSet::Bool(std::string name, bool* target, std::string help) {
  flags_.push_back({name, std::move(help), *target ? "true" : "false", false,
                    [target](const std::string& v) -> std::string {
                      if (v == "true" || v == "1" || v.empty()) {
                        *target = true;
                      } else if (v == "false" || v == "0") {
                        *target = false;
                      } else {
                        return "must be true or false";
                      }
                      return "";
                    }});
}

absl::Status FlagSet::Parse(int argc, const char* const* argv, const EnvLookup& env) {
  std::map<std::string, std::string> given;
  std::vector<std::string> errors;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      help_requested_ = true;
      continue;
    }
    if (!ConsumePrefix(&arg, "--")) {
      errors.push_back(absl::StrCat("unexpected argument '", std::string(arg), "'"));
      continue;
    }
    std::string name, value;
    if (auto eq = arg.find('='); eq != std::string_view::npos) {
      name = std::string(arg.substr(0, eq));
      value = std::string(arg.substr(eq + 1));
    } else {
      name = std::string(arg);
      if (i + 1 < argc && std::string_view(argv[i + 1]).rfind("--", 0) != 0) value = argv[++i];
    }
    given[name] = value;
  }
  for (const auto& [name, value] : given) {
    bool known = false;
    for (const Flag& f : flags_) known |= (f.name == name);
    if (!known) errors.push_back(absl::StrCat("unknown flag --", name));
  }
  for (const Flag& f : flags_) {
    std::optional<std::string> value;
    std::string source;
    if (auto it = given.find(f.name); it != given.end()) {
      value = it->second;
      source = absl::StrCat("--", f.name);
    } else if (auto e = env(EnvName(f.name)); e.has_value()) {
      value = *e;
      source = EnvName(f.name);
    }
    if (!value.has_value() || (f.required && value->empty())) {
      if (f.required) {
        errors.push_back(absl::StrCat("--", f.name, " (or ", EnvName(f.name), ") is required: ", f.help));
      }
      continue;
    }
    if (std::string rule = f.set(*value); !rule.empty()) {
      errors.push_back(absl::StrCat(source, "='", *value, "': ", rule));
    }
  }
  if (errors.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(errors, "; "));
}

std::string FlagSet::Usage() const {
  std::string out;
  for (const Flag& f : flags_) {
    absl::StrAppend(&out, "  --", f.name, " (env ", EnvName(f.name), ", ",
                    f.required ? "required" : absl::StrCat("default '", f.default_text, "'"), ")\n      ",
                    f.help, "\n");
  }
  return out;
}

absl::Status ParseMysqlDsn(const std::string& text, MysqlDsn* out) {
  std::string_view rest = text;
  MysqlDsn dsn;
  if (!ConsumePrefix(&rest, "mysql://")) {
    return absl::InvalidArgumentError("mysql_dsn: must start with mysql://");
  }
  auto at = rest.rfind('@');
  if (at == std::string_view::npos) {
    return absl::InvalidArgumentError("mysql_dsn: must name a user as mysql://user:password@host/schema");
  }
  std::string_view creds = rest.substr(0, at);
  rest.remove_prefix(at + 1);
  auto colon = creds.find(':');
  dsn.user = std::string(creds.substr(0, colon));
  if (colon != std::string_view::npos) dsn.password = std::string(creds.substr(colon + 1));
  if (dsn.user.empty()) return absl::InvalidArgumentError("mysql_dsn: user must not be empty");
  auto q = rest.find('?');
  std::string_view query;
  if (q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  auto slash = rest.find('/');
  if (slash == std::string_view::npos || slash + 1 == rest.size()) {
    return absl::InvalidArgumentError("mysql_dsn: must end with /<schema>");
  }
  dsn.schema = std::string(rest.substr(slash + 1));
  std::string_view hostport = rest.substr(0, slash);
  auto pc = hostport.rfind(':');
  if (pc != std::string_view::npos) {
    if (!ParseInt(hostport.substr(pc + 1), &dsn.port) || dsn.port <= 0 || dsn.port > 65535) {
      return absl::InvalidArgumentError("mysql_dsn: port must be between 1 and 65535");
    }
    hostport = hostport.substr(0, pc);
  }
  if (!hostport.empty()) dsn.host = std::string(hostport);
  for (std::string_view kv : SplitAny(query, "&", true)) {
    auto eq = kv.find('=');
    std::string key(kv.substr(0, eq));
    std::string value(eq == std::string_view::npos ? "" : kv.substr(eq + 1));
    if (key == "socket") {
      dsn.socket = value;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("mysql_dsn: unknown option '", key, "'"));
    }
  }
  for (char c : dsn.schema) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') {
      return absl::InvalidArgumentError("mysql_dsn: schema may hold only letters, digits and _");
    }
  }
  *out = std::move(dsn);
  return absl::OkStatus();
}

std::string FormatMysqlDsn(const MysqlDsn& dsn) {
  std::string out = absl::StrCat("mysql://", dsn.user, ":", dsn.password, "@", dsn.host, ":",
                                 dsn.port, "/", dsn.schema);
  if (!dsn.socket.empty()) absl::StrAppend(&out, "?socket=", dsn.socket);
  return out;
}

ServiceConfig DefaultServiceConfig(const std::string& service) {
  static const std::vector<std::string> kOrder = {"membership", "claims", "collections",
                                                  "retention", "reporting"};
  ServiceConfig c;
  c.service = service;
  for (size_t i = 0; i < kOrder.size(); ++i) {
    if (kOrder[i] == service) {
      c.grpc_port = 50051 + static_cast<int>(i);
      c.metrics_port = 9101 + static_cast<int>(i);
    }
  }
  return c;
}

void RegisterTlsFlags(FlagSet& flags, TlsFiles& tls) {
  flags.String("tls_cert", &tls.cert, "PEM certificate chain (a service's: server, and client to peers)");
  flags.String("tls_key", &tls.key, "PEM private key of --tls_cert");
  flags.String("tls_ca", &tls.ca,
               "PEM CA bundle that the other side's certificate must chain to (mutual TLS: both ways)");
  flags.String("tls_crl_dir", &tls.crl_dir,
               "directory of the CA's revocation lists, hashed names (<hash>.r0); a revoked certificate is refused");
  flags.Duration("tls_refresh", &tls.refresh, "how often the TLS files are re-read (renewed certificates)");
}

void RegisterServiceFlags(FlagSet& flags, ServiceConfig& c) {
  flags.String("mysql_dsn", &c.mysql_dsn,
               "MySQL/MariaDB DSN, mysql://user:password@host:port/schema[?socket=path]", true);
  flags.String("listen_host", &c.listen_host, "address the gRPC and metrics servers bind");
  flags.Bool("migrate_only", &c.migrate_only,
             "apply the schema migrations, grant --runtime_db_role, and exit 0 (run as the DDL user)");
  flags.String("runtime_db_role", &c.runtime_db_role,
               "with --migrate_only: database role granted DML on every table (audit_log: SELECT, INSERT only)");
  flags.Port("grpc_port", &c.grpc_port, "gRPC port (application, health, reflection)");
  flags.Port("metrics_port", &c.metrics_port, "Prometheus /metrics HTTP port");
  flags.String("token_file", &c.token_file,
               "file of caller tokens: one 'token user role team' per line", true);
  flags.String("service_token", &c.service_token,
               "this service's bearer token for calls to peers (plaintext mode only; under TLS its certificate)");
  RegisterTlsFlags(flags, c.tls);
  flags.String("tls_trust_domain", &c.tls_trust_domain,
               "SPIFFE trust domain: a client certificate with URI SAN spiffe://<domain>/svc-<name> is service svc-<name>");
  flags.Bool("insecure_plaintext", &c.insecure_plaintext,
             "serve and call peers WITHOUT TLS (tests and development only); required when no --tls_* is given");
  flags.Port("health_port", &c.health_port,
             "plaintext port for health probes only (application calls on it are refused); 0 = none");
  flags.String("jwt_public_keys", &c.jwt_public_keys,
               "comma-separated PEM public keys (RSA or P-256) that people's JWTs must be signed with; empty = no JWTs");
  flags.String("jwt_issuer", &c.jwt.issuer, "the 'iss' every JWT must carry");
  flags.String("jwt_audience", &c.jwt.audience, "the 'aud' every JWT must hold");
  flags.Int("db_pool_size", &c.db_pool_size, 1, 1024, "maximum open database connections");
  flags.Duration("drain_timeout", &c.drain_timeout, "time in-flight RPCs get to finish on SIGTERM");
  flags.Duration("shutdown_delay", &c.shutdown_delay,
                 "after SIGTERM, how long readiness reports NOT_SERVING before draining starts "
                 "(set ~5s under Kubernetes so load balancers notice first)");
  flags.Duration("health_interval", &c.health_interval, "how often the database is probed for health");
  flags.Duration("peer_deadline", &c.peer_deadline, "deadline of each call to another service");
  flags.Int("max_message_bytes", &c.max_message_bytes, 1024, 1 << 30, "largest gRPC message accepted");
  flags.Bool("log_ok_rpcs", &c.log_ok_rpcs, "log every successful RPC too (errors are always logged)");
  flags.Duration("gauge_refresh", &c.gauge_refresh, "how often state gauges are re-read from the database");
  flags.Int("admission_queue", &c.admission_queue, 0, 100000,
            "calls that may wait for a worker (workers = db_pool_size); more are answered RESOURCE_EXHAUSTED");
  flags.String("access_roles", &c.access_roles,
               "replace the person roles of methods: Method=role,role;Method=role (see the service's *_access.cc)");
  flags.String("tat_holidays", &c.tat_holidays,
               "dates that are not business days for TAT targets: YYYY-MM-DD,YYYY-MM-DD,...");
  flags.String("business_tz", &c.business_tz,
               "IANA time zone of the business, e.g. Asia/Manila: 'today', business days and holidays are its dates");
  flags.String("test_clock_start", &c.test_clock_start,
               "TESTS ONLY: the clock starts at this RFC 3339 instant (e.g. 2026-06-01T23:00:00Z) and runs on "
               "from there; empty uses the system clock");
  flags.Duration("request_log_retention", &c.request_log_retention,
                 "how long answers of mutating RPCs are kept for request_id replays (at least 1h)");
}

namespace {

// Plaintext is never what a service falls into by forgetting a flag: it needs
// TLS files or --insecure_plaintext, and not both. --migrate_only serves nothing.
absl::Status ParseTransportSecurity(ServiceConfig& config) {
  if (!config.migrate_only) {
    if (config.tls.enabled() && config.insecure_plaintext) {
      return absl::InvalidArgumentError("--insecure_plaintext: contradicts --tls_cert/--tls_key/--tls_ca");
    }
    if (!config.tls.enabled() && !config.insecure_plaintext) {
      return absl::InvalidArgumentError(
          "--tls_cert, --tls_key and --tls_ca are required (mutual TLS); --insecure_plaintext serves without TLS, "
          "for tests and development only");
    }
    CAREOPS_RETURN_IF_ERROR(ValidateTlsFiles(config.tls));
    if (config.health_port != 0 && config.health_port == config.grpc_port) {
      return absl::InvalidArgumentError("--health_port: must differ from --grpc_port");
    }
  }
  config.jwt.public_key_files.clear();
  for (std::string_view f : SplitAny(config.jwt_public_keys, ",", true)) {
    config.jwt.public_key_files.emplace_back(StripSpace(f));
  }
  if (config.jwt.enabled() && (config.jwt.issuer.empty() || config.jwt.audience.empty())) {
    return absl::InvalidArgumentError("--jwt_issuer and --jwt_audience: both required with --jwt_public_keys");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseServiceConfig(FlagSet& flags, ServiceConfig& config, int argc,
                                const char* const* argv, const EnvLookup& env) {
  absl::Status s = flags.Parse(argc, argv, env);
  if (!s.ok() || flags.help_requested()) return s;
  CAREOPS_RETURN_IF_ERROR(ParseMysqlDsn(config.mysql_dsn, &config.dsn));
  absl::TimeZone zone;
  if (config.business_tz.empty() || !absl::LoadTimeZone(config.business_tz, &zone)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--business_tz='", config.business_tz,
                     "': must be an IANA time zone name such as Asia/Manila or UTC (needs the tzdata package)"));
  }
  auto calendar = BusinessCalendar::FromHolidayList(config.tat_holidays, "tat_holidays", zone);
  if (!calendar.ok()) return calendar.status();
  config.calendar = std::move(calendar).value();
  config.clock_start.reset();
  if (!config.test_clock_start.empty()) {
    absl::Time start;
    std::string error;
    if (!absl::ParseTime(absl::RFC3339_full, config.test_clock_start, &start, &error)) {
      return absl::InvalidArgumentError(absl::StrCat("--test_clock_start='", config.test_clock_start,
                                                     "': must be an RFC 3339 instant such as 2026-06-01T23:00:00Z"));
    }
    config.clock_start = start;
  }
  CAREOPS_RETURN_IF_ERROR(ParseTransportSecurity(config));
  if (config.request_log_retention < absl::Hours(1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--request_log_retention='", absl::FormatDuration(config.request_log_retention),
                     "': must be at least 1h (a retry later than the retention applies its request again)"));
  }
  return absl::OkStatus();
}

}  // namespace careops
