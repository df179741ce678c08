// Structured logs: one JSON object per line on stderr.
//
//   log::Info("migration applied", {{"schema", schema}, {"version", 3}});
//
// Every line has "ts" (RFC 3339 UTC), "level" and "msg"; fields follow in the
// order given. Lines are written with one write() so concurrent threads never
// interleave within a line.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

namespace careops::log {

struct Field {
  Field(std::string_view k, std::string_view v) : key(k), value(std::string(v)) {}
  Field(std::string_view k, const char* v) : key(k), value(std::string(v)) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v) {}
  Field(std::string_view k, int64_t v) : key(k), value(v) {}
  Field(std::string_view k, int v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, double v) : key(k), value(v) {}
  Field(std::string_view k, bool v) : key(k), value(v) {}
  std::string_view key;
  std::variant<std::string, int64_t, double, bool> value;
};

void Info(std::string_view msg, std::initializer_list<Field> fields = {});
void Warn(std::string_view msg, std::initializer_list<Field> fields = {});
void Error(std::string_view msg, std::initializer_list<Field> fields = {});

// The JSON line (without the trailing newline) Info/Warn/Error would write; for tests.
std::string Format(std::string_view level, std::string_view msg,
                   std::initializer_list<Field> fields);

// JSON string escaping, exposed for reuse and tests.
void AppendJsonString(std::string& out, std::string_view s);

}  // namespace careops::log
