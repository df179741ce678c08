#include "services/collections/notice_delivery.h"

#include <gtest/gtest.h>

namespace careops::collections {
namespace {

TEST(ComposeEmail, HeadersThenTheBodyWithCrlfAndNothingInjected) {
  EmailMessage m{.from = "collections@careops.invalid",
                 .to = "ap@buyer.example\r\nBcc: everyone@example.com",
                 .subject = "First notice: Acme\nX-Evil: 1",
                 .body = "Dear Acme,\n\nPlease pay.",
                 .message_id = "01ABC@careops-collections",
                 .date = absl::FromUnixSeconds(1767225600)};  // 2026-01-01 00:00 UTC
  const std::string text = ComposeEmail(m);
  EXPECT_NE(text.find("Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n"), std::string::npos) << text;
  EXPECT_NE(text.find("From: <collections@careops.invalid>\r\n"), std::string::npos);
  // CR and LF are gone from header values: one To line, one Subject line.
  EXPECT_NE(text.find("To: <ap@buyer.exampleBcc: everyone@example.com>\r\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Subject: First notice: AcmeX-Evil: 1\r\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("\r\nBcc:"), std::string::npos);
  EXPECT_NE(text.find("Message-ID: <01ABC@careops-collections>\r\n"), std::string::npos);
  EXPECT_NE(text.find("\r\n\r\nDear Acme,\r\n\r\nPlease pay.\r\n"), std::string::npos) << text;
  EXPECT_EQ(text.substr(text.size() - 2), "\r\n");
}

}  // namespace
}  // namespace careops::collections
