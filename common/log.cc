#include "common/log.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace careops::log {

void AppendJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

std::string Format(std::string_view level, std::string_view msg,
                   std::initializer_list<Field> fields) {
  std::string out = "{\"ts\":";
  AppendJsonString(out, absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()));
  out += ",\"level\":";
  AppendJsonString(out, level);
  out += ",\"msg\":";
  AppendJsonString(out, msg);
  for (const Field& f : fields) {
    out.push_back(',');
    AppendJsonString(out, f.key);
    out.push_back(':');
    std::visit(
        [&out](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string>) {
            AppendJsonString(out, v);
          } else if constexpr (std::is_same_v<T, bool>) {
            out += v ? "true" : "false";
          } else if constexpr (std::is_same_v<T, double>) {
            absl::StrAppend(&out, absl::StrFormat("%.6g", v));
          } else {
            absl::StrAppend(&out, v);
          }
        },
        f.value);
  }
  out.push_back('}');
  return out;
}

namespace {
void Write(std::string_view level, std::string_view msg, std::initializer_list<Field> fields) {
  std::string line = Format(level, msg, fields);
  line.push_back('\n');
  // One write per line: atomic for pipes up to PIPE_BUF, and never interleaved mid-line
  // by our own threads on a regular file or terminal in practice.
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}
}  // namespace

void Info(std::string_view msg, std::initializer_list<Field> fields) { Write("info", msg, fields); }
void Warn(std::string_view msg, std::initializer_list<Field> fields) { Write("warn", msg, fields); }
void Error(std::string_view msg, std::initializer_list<Field> fields) { Write("error", msg, fields); }

}  // namespace careops::log
