#include "tests/support/harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grpcpp/create_channel.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/mysql/pool.h"
#include "tools/health/health_check.h"

namespace careops::testing {
namespace {

std::string RandomSuffix() {
  static std::mt19937_64 rng(std::random_device{}() ^ static_cast<uint64_t>(getpid()));
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  uint64_t v = rng();
  for (int i = 0; i < 8; ++i) out.push_back(kHex[(v >> (i * 4)) & 15]);
  return out;
}

void RunOrDie(const std::string& cmd) {
  if (std::system(cmd.c_str()) != 0) {
    std::cerr << "test harness: command failed: " << cmd << "\n";
    std::abort();
  }
}

}  // namespace

MysqlDsn RootDsn() {
  const char* text = std::getenv("CAREOPS_TEST_MYSQL_ROOT_DSN");
  if (text == nullptr) {
    std::cerr << "CAREOPS_TEST_MYSQL_ROOT_DSN is not set: run the tests with `tools/dev test`\n";
    std::abort();
  }
  MysqlDsn dsn;
  if (!ParseMysqlDsn(text, &dsn).ok()) {
    std::cerr << "CAREOPS_TEST_MYSQL_ROOT_DSN is not a valid DSN: " << text << "\n";
    std::abort();
  }
  return dsn;
}

void RootExec(const MysqlDsn& root, const std::vector<std::string>& statements) {
  mysql::PoolOptions options;
  options.dsn = root;
  options.max_size = 1;
  mysql::ConnectionPool pool(options);
  absl::Status s = mysql::WithConnection(pool, [&](mysql::Connection& c) {
    for (const auto& stmt : statements) c.Execute(stmt);
    return absl::OkStatus();
  });
  if (!s.ok()) {
    std::cerr << "test harness: root SQL failed: " << s << "\n";
    std::abort();
  }
}

TestSchema::TestSchema(const std::string& hint, MysqlDsn root) : root_(std::move(root)) {
  std::string suffix = RandomSuffix();
  dsn_ = root_;
  dsn_.schema = absl::StrCat("t", suffix, "_", hint);
  dsn_.user = absl::StrCat("u", suffix);
  dsn_.password = absl::StrCat("p", RandomSuffix());
  RootExec(root_, {
                      absl::StrCat("CREATE DATABASE ", dsn_.schema, " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"),
                      absl::StrCat("CREATE USER '", dsn_.user, "'@'127.0.0.1' IDENTIFIED BY '", dsn_.password, "'"),
                      absl::StrCat("GRANT ALL ON ", dsn_.schema, ".* TO '", dsn_.user, "'@'127.0.0.1'"),
                  });
}

TestSchema::~TestSchema() {
  mysql::PoolOptions options;
  options.dsn = root_;
  options.max_size = 1;
  options.connect_timeout = absl::Seconds(1);
  mysql::ConnectionPool pool(options);
  // Best effort: a test that stopped its server leaves nothing to clean.
  (void)mysql::WithConnection(pool, [&](mysql::Connection& c) {
    c.Execute(absl::StrCat("DROP DATABASE IF EXISTS ", dsn_.schema));
    c.Execute(absl::StrCat("DROP USER IF EXISTS '", dsn_.user, "'@'127.0.0.1'"));
    return absl::OkStatus();
  });
}

PrivateMariaDb::PrivateMariaDb() : port_(FreePort()) {
  char tmpl[] = "/tmp/careops-privdb-XXXXXX";
  dir_ = mkdtemp(tmpl);
  Start();
}

PrivateMariaDb::~PrivateMariaDb() {
  Stop();
  RunOrDie(absl::StrCat("rm -rf '", dir_, "'"));
}

void PrivateMariaDb::Start() { RunOrDie(absl::StrCat(SourceDir(), "/tools/mariadb start '", dir_, "' ", port_)); }
void PrivateMariaDb::Stop() { RunOrDie(absl::StrCat(SourceDir(), "/tools/mariadb stop '", dir_, "'")); }

MysqlDsn PrivateMariaDb::root_dsn() const {
  MysqlDsn d;
  d.user = "root";
  d.host = "127.0.0.1";
  d.port = port_;
  d.schema = "mysql";
  return d;
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

std::string SourceDir() { return CAREOPS_SOURCE_DIR; }
std::string BinaryDir() { return CAREOPS_BINARY_DIR; }
std::string DevTokenFile() { return SourceDir() + "/tools/dev-tokens"; }

const std::vector<std::string>& DevTokens() {
  static const std::vector<std::string> tokens = {
      "dev-specialist", "dev-officer",  "dev-assistant-manager", "dev-manager",     "dev-account-officer",
      "dev-collector",  "dev-account-manager", "dev-analyst",    "dev-finance",     "svc-membership",
      "svc-claims",     "svc-collections", "svc-retention",     "svc-reporting"};
  return tokens;
}

Process::Process(const std::string& path, const std::vector<std::string>& args,
                 const std::map<std::string, std::string>& env) {
  char tmpl[] = "/tmp/careops-proc-XXXXXX";
  int fd = mkstemp(tmpl);
  log_path_ = tmpl;
  pid_ = fork();
  if (pid_ == 0) {
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(path.c_str()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(path.c_str(), argv.data());
    _exit(127);
  }
  close(fd);
}

Process::~Process() {
  if (running()) {
    kill(pid_, SIGKILL);
    Wait(absl::Seconds(10));
  }
  unlink(log_path_.c_str());
}

void Process::Signal(int sig) { kill(pid_, sig); }

bool Process::running() {
  if (status_ != -1) return false;
  int st;
  pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = st;
    return false;
  }
  return r == 0;
}

int Process::Wait(absl::Duration timeout) {
  absl::Time until = absl::Now() + timeout;
  while (running()) {
    if (absl::Now() > until) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return status_;
}

std::string Process::output() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

ServiceProcess::ServiceProcess(const std::string& service, const MysqlDsn& dsn,
                               const std::vector<std::string>& extra_args, std::map<std::string, std::string> env)
    : service_(service),
      dsn_(dsn),
      extra_args_(extra_args),
      env_(std::move(env)),
      grpc_port_(FreePort()),
      metrics_port_(FreePort()) {
  address_ = absl::StrCat("127.0.0.1:", grpc_port_);
  Launch();
}

void ServiceProcess::Launch() {
  std::vector<std::string> args = {
      absl::StrCat("--mysql_dsn=", FormatMysqlDsn(dsn_)), absl::StrCat("--grpc_port=", grpc_port_),
      absl::StrCat("--metrics_port=", metrics_port_),     "--listen_host=127.0.0.1",
      absl::StrCat("--token_file=", DevTokenFile()),      absl::StrCat("--service_token=svc-", service_),
      "--health_interval=100ms",                          "--drain_timeout=5s"};
  // Plaintext unless the test gives TLS files (tests/tls): services refuse to
  // start without one or the other (common/tls.h).
  if (std::none_of(extra_args_.begin(), extra_args_.end(), [](const std::string& a) { return a.rfind("--tls_", 0) == 0; })) {
    args.push_back("--insecure_plaintext");
  }
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  process_ = std::make_unique<Process>(
      absl::StrCat(BinaryDir(), "/services/", service_, "/careops-", service_), args, env_);
}

void ServiceProcess::Restart() {
  Stop();
  Start();
}

void ServiceProcess::Stop() {
  process_->Signal(SIGTERM);
  if (process_->Wait(absl::Seconds(20)) == -1) {
    std::cerr << "test harness: careops-" << service_ << " ignored SIGTERM\n" << process_->output();
    std::abort();
  }
}

void ServiceProcess::Start() { Launch(); }

void ServiceProcess::Kill() {
  process_->Signal(SIGKILL);
  process_->Wait(absl::Seconds(20));
}

std::string HttpGet(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "";
  }
  std::string req = absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
  if (write(fd, req.data(), req.size()) < 0) {
    close(fd);
    return "";
  }
  std::string resp;
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) resp.append(buf, static_cast<size_t>(n));
  close(fd);
  auto body = resp.find("\r\n\r\n");
  return body == std::string::npos ? "" : resp.substr(body + 4);
}

bool Eventually(const std::function<bool()>& done, absl::Duration timeout) {
  absl::Time until = absl::Now() + timeout;
  while (true) {
    if (done()) return true;
    if (absl::Now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::string Health(const std::string& address, const std::string& service) {
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  return CheckHealth(*channel, service, absl::Seconds(2));
}

}  // namespace careops::testing
