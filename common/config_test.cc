#include "common/config.h"

#include <gtest/gtest.h>

namespace careops {
namespace {

absl::Status ParseArgs(FlagSet& flags, std::vector<const char*> args, std::map<std::string, std::string> env = {}) {
  args.insert(args.begin(), "prog");
  return flags.Parse(static_cast<int>(args.size()), args.data(), EnvFromMap(std::move(env)));
}

TEST(ConfigTest, DefaultPortsFollowServiceOrder) {
  EXPECT_EQ(DefaultServiceConfig("membership").grpc_port, 50051);
  EXPECT_EQ(DefaultServiceConfig("reporting").grpc_port, 50055);
  EXPECT_EQ(DefaultServiceConfig("claims").metrics_port, 9102);
}

TEST(ConfigTest, FlagBeatsEnvBeatsDefault) {
  ServiceConfig c = DefaultServiceConfig("claims");
  FlagSet flags("claims");
  RegisterServiceFlags(flags, c);
  ASSERT_TRUE(ParseArgs(flags, {"--grpc_port=6000", "--token_file", "/t"},
                        {{"CAREOPS_CLAIMS_GRPC_PORT", "7000"},
                         {"CAREOPS_CLAIMS_METRICS_PORT", "7001"},
                         {"CAREOPS_CLAIMS_MYSQL_DSN", "mysql://u:p@db:3307/careops_claims"}})
                  .ok());
  EXPECT_EQ(c.grpc_port, 6000);
  EXPECT_EQ(c.metrics_port, 7001);
  EXPECT_EQ(c.token_file, "/t");
  EXPECT_EQ(c.mysql_dsn, "mysql://u:p@db:3307/careops_claims");
  EXPECT_EQ(c.drain_timeout, absl::Seconds(10));
}

TEST(ConfigTest, ReportsEveryBadValueWithItsRule) {
  ServiceConfig c = DefaultServiceConfig("claims");
  FlagSet flags("claims");
  RegisterServiceFlags(flags, c);
  absl::Status s = ParseArgs(flags, {"--grpc_port=70000", "--drain_timeout=soon", "--bogus=1"});
  ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  std::string m(s.message());
  EXPECT_NE(m.find("--grpc_port='70000': must be a port number"), std::string::npos) << m;
  EXPECT_NE(m.find("--drain_timeout='soon': must be a non-negative duration"), std::string::npos) << m;
  EXPECT_NE(m.find("unknown flag --bogus"), std::string::npos) << m;
  EXPECT_NE(m.find("--mysql_dsn (or CAREOPS_CLAIMS_MYSQL_DSN) is required"), std::string::npos) << m;
  EXPECT_NE(m.find("--token_file (or CAREOPS_CLAIMS_TOKEN_FILE) is required"), std::string::npos) << m;
}

TEST(ConfigTest, EnvValueErrorNamesTheVariable) {
  ServiceConfig c = DefaultServiceConfig("membership");
  FlagSet flags("membership");
  RegisterServiceFlags(flags, c);
  absl::Status s = ParseArgs(flags, {}, {{"CAREOPS_MEMBERSHIP_DB_POOL_SIZE", "0"}});
  EXPECT_NE(s.message().find("CAREOPS_MEMBERSHIP_DB_POOL_SIZE='0': must be an integer between 1 and 1024"),
            std::string::npos)
      << s.message();
}

TEST(ConfigTest, ParsesDsnForms) {
  MysqlDsn d;
  ASSERT_TRUE(ParseMysqlDsn("mysql://svc:s3cr:et@10.0.0.5:3307/careops_claims", &d).ok());
  EXPECT_EQ(d.user, "svc");
  EXPECT_EQ(d.password, "s3cr:et");
  EXPECT_EQ(d.host, "10.0.0.5");
  EXPECT_EQ(d.port, 3307);
  EXPECT_EQ(d.schema, "careops_claims");
  ASSERT_TRUE(ParseMysqlDsn("mysql://root@localhost/x?socket=/run/m.sock", &d).ok());
  EXPECT_EQ(d.socket, "/run/m.sock");
  EXPECT_EQ(d.port, 3306);
  MysqlDsn back;
  ASSERT_TRUE(ParseMysqlDsn(FormatMysqlDsn(d), &back).ok());
  EXPECT_EQ(back.socket, d.socket);
}

TEST(ConfigTest, RejectsBadDsnsNamingTheRule) {
  MysqlDsn d;
  EXPECT_NE(ParseMysqlDsn("postgres://u@h/s", &d).message().find("must start with mysql://"), std::string::npos);
  EXPECT_NE(ParseMysqlDsn("mysql://h/s", &d).message().find("must name a user"), std::string::npos);
  EXPECT_NE(ParseMysqlDsn("mysql://u@h:99999/s", &d).message().find("port"), std::string::npos);
  EXPECT_NE(ParseMysqlDsn("mysql://u@h", &d).message().find("/<schema>"), std::string::npos);
  EXPECT_NE(ParseMysqlDsn("mysql://u@h/a;drop", &d).message().find("schema may hold only"), std::string::npos);
  EXPECT_NE(ParseMysqlDsn("mysql://u@h/s?ssl=1", &d).message().find("unknown option"), std::string::npos);
}

absl::Status ParseService(ServiceConfig& c, std::vector<const char*> args) {
  FlagSet flags(c.service);
  RegisterServiceFlags(flags, c);
  args.insert(args.begin(), {"prog", "--mysql_dsn=mysql://u:p@db:3307/careops_claims", "--token_file=/t"});
  return ParseServiceConfig(flags, c, static_cast<int>(args.size()), args.data(), EnvFromMap({}));
}

absl::Status ParsePlaintext(ServiceConfig& c, std::vector<const char*> args) {
  args.push_back("--insecure_plaintext");
  return ParseService(c, std::move(args));
}

TEST(ConfigTest, PlaintextOnlyWhenSaidExplicitly) {
  ServiceConfig none = DefaultServiceConfig("claims");
  absl::Status s = ParseService(none, {});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("--tls_cert, --tls_key and --tls_ca are required"), std::string::npos) << s;
  ServiceConfig plain = DefaultServiceConfig("claims");
  EXPECT_TRUE(ParseService(plain, {"--insecure_plaintext"}).ok());
  ServiceConfig both = DefaultServiceConfig("claims");
  s = ParseService(both, {"--insecure_plaintext", "--tls_cert=/c", "--tls_key=/k", "--tls_ca=/a"});
  EXPECT_NE(s.message().find("--insecure_plaintext: contradicts"), std::string::npos) << s;
  ServiceConfig partial = DefaultServiceConfig("claims");
  s = ParseService(partial, {"--tls_cert=/c"});
  EXPECT_NE(s.message().find("give all three"), std::string::npos) << s;
  ServiceConfig missing = DefaultServiceConfig("claims");
  s = ParseService(missing, {"--tls_cert=/nonexistent/c", "--tls_key=/k", "--tls_ca=/a"});
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(s.message().find("--tls_cert: cannot read '/nonexistent/c'"), std::string::npos) << s;
  // Migrations serve nothing: no transport to choose.
  ServiceConfig migrate = DefaultServiceConfig("claims");
  EXPECT_TRUE(ParseService(migrate, {"--migrate_only"}).ok());
}

TEST(ConfigTest, JwtKeysNeedIssuerAndAudience) {
  ServiceConfig c = DefaultServiceConfig("claims");
  absl::Status s = ParsePlaintext(c, {"--jwt_public_keys=/a.pem, /b.pem"});
  EXPECT_NE(s.message().find("--jwt_issuer and --jwt_audience"), std::string::npos) << s;
  ServiceConfig ok = DefaultServiceConfig("claims");
  ASSERT_TRUE(ParsePlaintext(ok, {"--jwt_public_keys=/a.pem, /b.pem", "--jwt_issuer=i", "--jwt_audience=a"}).ok());
  EXPECT_EQ(ok.jwt.public_key_files, (std::vector<std::string>{"/a.pem", "/b.pem"}));
}

TEST(ConfigTest, RequestLogRetentionDefaultsToThirtyDaysAndRefusesLessThanAnHour) {
  ServiceConfig c = DefaultServiceConfig("claims");
  ASSERT_TRUE(ParsePlaintext(c, {}).ok());
  EXPECT_EQ(c.request_log_retention, absl::Hours(720));
  ServiceConfig week = DefaultServiceConfig("claims");
  ASSERT_TRUE(ParsePlaintext(week, {"--request_log_retention=168h"}).ok());
  EXPECT_EQ(week.request_log_retention, absl::Hours(168));
  ServiceConfig short_one = DefaultServiceConfig("claims");
  absl::Status s = ParsePlaintext(short_one, {"--request_log_retention=10m"});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("--request_log_retention='10m': must be at least 1h"), std::string::npos) << s;
}

TEST(ConfigTest, BusinessTimeZoneIsLoadedIntoTheCalendarAndABadOneIsABadFlag) {
  ServiceConfig utc = DefaultServiceConfig("claims");
  ASSERT_TRUE(ParsePlaintext(utc, {}).ok());
  EXPECT_EQ(utc.calendar.zone(), absl::UTCTimeZone());
  ServiceConfig manila = DefaultServiceConfig("claims");
  ASSERT_TRUE(ParsePlaintext(manila, {"--business_tz=Asia/Manila", "--tat_holidays=2026-06-12"}).ok());
  EXPECT_EQ(manila.calendar.zone().name(), "Asia/Manila");
  EXPECT_FALSE(manila.calendar.IsBusinessDay(absl::CivilDay(2026, 6, 12)));
  const absl::Time t = absl::FromCivil(absl::CivilSecond(2026, 6, 1, 23, 0, 0), absl::UTCTimeZone());
  EXPECT_EQ(manila.calendar.DayOf(t), absl::CivilDay(2026, 6, 2));
  ServiceConfig bad = DefaultServiceConfig("claims");
  absl::Status s = ParsePlaintext(bad, {"--business_tz=Mars/Olympus_Mons"});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("--business_tz='Mars/Olympus_Mons': must be an IANA time zone name"), std::string::npos)
      << s;
}

TEST(ConfigTest, TestClockStartIsAnRfc3339Instant) {
  ServiceConfig none = DefaultServiceConfig("claims");
  ASSERT_TRUE(ParsePlaintext(none, {}).ok());
  EXPECT_FALSE(none.clock_start.has_value());
  ServiceConfig set = DefaultServiceConfig("claims");
  ASSERT_TRUE(ParsePlaintext(set, {"--test_clock_start=2026-06-01T23:00:00Z"}).ok());
  ASSERT_TRUE(set.clock_start.has_value());
  EXPECT_EQ(*set.clock_start, absl::FromCivil(absl::CivilSecond(2026, 6, 1, 23, 0, 0), absl::UTCTimeZone()));
  ServiceConfig bad = DefaultServiceConfig("claims");
  EXPECT_NE(ParsePlaintext(bad, {"--test_clock_start=tomorrow"}).message().find("--test_clock_start='tomorrow'"),
            std::string::npos);
}

}  // namespace
}  // namespace careops
