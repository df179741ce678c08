#include "services/collections/notice_delivery.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "careops/collections/v1/collections.pb.h"
#include "common/enum_codec.h"
#include "common/log.h"
#include "common/status.h"
#include "services/collections/collections_store.h"
#include "services/collections/dunning_rules.h"

namespace careops::collections {
namespace {

std::string HeaderValue(std::string_view value) {
  std::string out(value);
  out.erase(std::remove_if(out.begin(), out.end(), [](char c) { return c == '\r' || c == '\n'; }), out.end());
  return out;
}

// libcurl reads the upload through this.
struct Upload {
  const std::string* data;
  size_t offset = 0;
};

size_t ReadUpload(char* buffer, size_t size, size_t count, void* user) {
  auto* up = static_cast<Upload*>(user);
  const size_t n = std::min(size * count, up->data->size() - up->offset);
  std::memcpy(buffer, up->data->data() + up->offset, n);
  up->offset += n;
  return n;
}

// What may work later, and what never will.
absl::Status FromCurl(CURLcode code, long response_code) {
  if (code == CURLE_OK) return absl::OkStatus();
  const std::string what = absl::StrCat("smtp: ", curl_easy_strerror(code),
                                        response_code > 0 ? absl::StrCat(" (", response_code, ")") : "");
  if (response_code >= 500 && response_code < 600) return absl::FailedPreconditionError(what);
  if (code == CURLE_URL_MALFORMAT || code == CURLE_UNSUPPORTED_PROTOCOL) return absl::FailedPreconditionError(what);
  return absl::UnavailableError(what);
}

class SmtpMailer final : public NoticeMailer {
 public:
  explicit SmtpMailer(SmtpOptions options) : options_(std::move(options)) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }

  absl::Status Send(const EmailMessage& message) override {
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
    if (!curl) return absl::UnavailableError("smtp: could not start a libcurl handle");
    const std::string text = ComposeEmail(message);
    Upload upload{&text};
    const std::string from = absl::StrCat("<", HeaderValue(message.from), ">");
    const std::string to = absl::StrCat("<", HeaderValue(message.to), ">");
    std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> rcpt(curl_slist_append(nullptr, to.c_str()),
                                                                      &curl_slist_free_all);
    curl_easy_setopt(curl.get(), CURLOPT_URL, options_.url.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_MAIL_FROM, from.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_MAIL_RCPT, rcpt.get());
    curl_easy_setopt(curl.get(), CURLOPT_READFUNCTION, &ReadUpload);
    curl_easy_setopt(curl.get(), CURLOPT_READDATA, &upload);
    curl_easy_setopt(curl.get(), CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, static_cast<long>(absl::ToInt64Milliseconds(options_.timeout)));
    curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(absl::ToInt64Milliseconds(options_.timeout)));
    const CURLcode code = curl_easy_perform(curl.get());
    long response = 0;
    curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &response);
    return FromCurl(code, response);
  }

 private:
  const SmtpOptions options_;
};

}  // namespace

std::string ComposeEmail(const EmailMessage& m) {
  std::string body = absl::StrReplaceAll(m.body, {{"\r\n", "\n"}});
  body = absl::StrReplaceAll(body, {{"\n", "\r\n"}});
  if (body.size() < 2 || body.substr(body.size() - 2) != "\r\n") body += "\r\n";
  return absl::StrCat("Date: ", absl::FormatTime("%a, %d %b %Y %H:%M:%S +0000", m.date, absl::UTCTimeZone()), "\r\n",
                      "From: <", HeaderValue(m.from), ">\r\n", "To: <", HeaderValue(m.to), ">\r\n",
                      "Subject: ", HeaderValue(m.subject), "\r\n", "Message-ID: <", HeaderValue(m.message_id), ">\r\n",
                      "MIME-Version: 1.0\r\n", "Content-Type: text/plain; charset=utf-8\r\n",
                      "Content-Transfer-Encoding: 8bit\r\n", "\r\n", body);
}

std::unique_ptr<NoticeMailer> NewSmtpMailer(SmtpOptions options) {
  return std::make_unique<SmtpMailer>(std::move(options));
}

absl::StatusOr<int> NoticeDelivery::RunOnce() {
  int sent = 0;
  while (true) {
    const absl::Time now = TruncateToMicros(clock_.Now());
    CAREOPS_ASSIGN_OR_RETURN(std::vector<EmailToSend> batch,
                             store_.ClaimEmailNotices(now, options_.lease, options_.batch_size));
    if (batch.empty()) return sent;
    for (const EmailToSend& e : batch) {
      const RungKind kind = ParseRungKind(e.rung).value_or(RungKind::kFirst);
      EmailMessage message{.from = options_.from,
                           .to = e.recipient,
                           .subject = absl::StrCat(RungTitle(kind), ": ", e.account_name),
                           .body = e.body,
                           .message_id = absl::StrCat(e.notice_id, "@careops-collections"),
                           .date = now};
      // No transaction is open here.
      const absl::Status s = mailer_.Send(message);
      const absl::Time after = TruncateToMicros(clock_.Now());
      const outbox::Decision d = outbox::Decide(s.code(), {}, e.attempts, after, options_.retry);
      const v1::DeliveryState state = d.verdict == outbox::Verdict::kDelivered ? v1::DELIVERY_STATE_SENT
                                      : d.verdict == outbox::Verdict::kRefused ? v1::DELIVERY_STATE_FAILED
                                                                                : v1::DELIVERY_STATE_PENDING;
      CAREOPS_ASSIGN_OR_RETURN(bool recorded, store_.RecordDelivery(e.notice_id, e.token, state, d.next_attempt_at,
                                                                    std::string(s.message()), after));
      if (!recorded) log::Warn("notice delivery outcome dropped: the claim expired", {{"notice", e.notice_id}});
      if (recorded && state == v1::DELIVERY_STATE_SENT) ++sent;
      if (!s.ok()) {
        log::Warn("email notice not sent", {{"notice", e.notice_id}, {"state", EnumShortName(state)},
                                            {"error", std::string(s.message())}});
      }
    }
    // Failed ones are due later, so the loop ends when only those are left.
  }
}

}  // namespace careops::collections
