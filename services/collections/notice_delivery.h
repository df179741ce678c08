// Email notices through an SMTP relay, sent outside any database transaction.
//
// The dunning run stores an email notice with delivery_state PENDING. The
// delivery job (NoticeDelivery::RunOnce, a BackgroundJob) then:
//   1. claims due PENDING email notices in a short transaction (FOR UPDATE SKIP
//      LOCKED, a lease and a random token), so replicas never send one twice
//      while it is held, and commits;
//   2. sends each through the NoticeMailer with no transaction open;
//   3. records the outcome under its token in a new transaction: SENT with the
//      time, or the next attempt (capped exponential backoff, the outbox's
//      RetryPolicy and Decide()) with the error for a transient failure, or
//      FAILED for a definite refusal (the relay rejected the recipient).
// A crash between 2 and 3 leaves the notice claimed; after the lease it is sent
// again (at-least-once, like any mail relay). SMS and letter notices are not
// sent here: they are AWAITING_CHANNEL records for those channels' systems.
//
// Status contract of NoticeMailer::Send: OK when the relay accepted the
// message; UNAVAILABLE for what may work later (connection refused, timeout, a
// 4xx answer); FAILED_PRECONDITION for a definite refusal (a 5xx answer to the
// sender or recipient).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/outbox.h"

namespace careops::collections {

class CollectionsStore;

struct EmailMessage {
  std::string from, to, subject, body;
  std::string message_id;  // without the angle brackets
  absl::Time date;
};

// The message as sent over SMTP: headers (CR and LF removed from every header
// value, so nothing can be injected) and the body with CRLF line ends.
std::string ComposeEmail(const EmailMessage& m);

class NoticeMailer {
 public:
  virtual ~NoticeMailer() = default;
  virtual absl::Status Send(const EmailMessage& message) = 0;
};

struct SmtpOptions {
  std::string url;  // smtp://host:port
  absl::Duration timeout = absl::Seconds(10);
};

// NoticeMailer over libcurl's SMTP client. Thread-safe (a handle per message).
std::unique_ptr<NoticeMailer> NewSmtpMailer(SmtpOptions options);

// An email notice the job holds.
struct EmailToSend {
  std::string notice_id, ledger_id, token;
  std::string recipient, rung, account_name, body;  // rung: the NoticeRung short name
  int attempts = 0;  // including this one
};

struct DeliveryOptions {
  std::string from;  // the From address
  absl::Duration lease = absl::Seconds(60);
  int batch_size = 20;
  outbox::RetryPolicy retry;
};

class NoticeDelivery {
 public:
  NoticeDelivery(CollectionsStore& store, NoticeMailer& mailer, const Clock& clock, DeliveryOptions options)
      : store_(store), mailer_(mailer), clock_(clock), options_(std::move(options)) {}
  // Sends every due PENDING email notice nobody holds, batch by batch; returns
  // how many were sent. The database's error, if any.
  absl::StatusOr<int> RunOnce();

 private:
  CollectionsStore& store_;
  NoticeMailer& mailer_;
  const Clock& clock_;
  const DeliveryOptions options_;
};

}  // namespace careops::collections
