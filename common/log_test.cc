#include "common/log.h"

#include <gtest/gtest.h>

namespace careops {
namespace {

TEST(LogTest, OneJsonObjectWithFieldsInOrder) {
  std::string line = log::Format("info", "rpc", {{"method", "/a.B/C"}, {"code", "OK"}, {"latency_ms", 1.5},
                                                 {"attempt", 2}, {"retry", false}});
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(line.front(), '{');
  EXPECT_EQ(line.back(), '}');
  EXPECT_NE(line.find(R"("level":"info","msg":"rpc","method":"/a.B/C","code":"OK","latency_ms":1.5,"attempt":2,"retry":false)"),
            std::string::npos)
      << line;
}

TEST(LogTest, EscapesControlAndQuoteCharacters) {
  std::string out;
  log::AppendJsonString(out, "a\"b\\c\nd\x01");
  EXPECT_EQ(out, R"("a\"b\\c\nd\u0001")");
}

}  // namespace
}  // namespace careops
