#include "services/collections/dunning_rules.h"

#include <gtest/gtest.h>

namespace careops::collections {
namespace {

using absl::CivilDay;

OpenItem Item(std::string id, CivilDay due, int64_t principal, int64_t fee = 0, int64_t interest = 0) {
  OpenItem item;
  item.installment_id = id;
  item.number = id;
  item.due_date = due;
  item.outstanding = {fee, interest, principal};
  return item;
}

DunningLadder Ladder(const std::string& text = "reminder:7,reminder:1,first:10,second:30:fee=5000:rate_bp=1200:"
                                               "spacing=7,third:60:fee=10000:spacing=7,noc:90:grace=15") {
  auto ladder = DunningLadder::Parse(text);
  EXPECT_TRUE(ladder.ok()) << ladder.status();
  return *ladder;
}

NoticeRecord Issued(std::string id, RungKind kind, int sequence, CivilDay on, std::vector<std::string> covered) {
  NoticeRecord n;
  n.notice_id = std::move(id);
  n.kind = kind;
  n.episode = 1;
  n.sequence = sequence;
  n.issued_on = on;
  n.covered = std::move(covered);
  return n;
}

// The ladder drafts of a decision (reminders left out).
std::vector<std::string> LadderNames(const DunningDecision& d) {
  std::vector<std::string> out;
  for (const NoticeDraft& n : d.issue) {
    if (n.sequence > 0) out.push_back(n.rung.name());
  }
  return out;
}

TEST(DunningLadder, ParsesTheDefaultAndOrdersRemindersByLead) {
  auto def = DunningLadder::Parse(DunningLadder::DefaultText());
  ASSERT_TRUE(def.ok()) << def.status();
  DunningLadder l = Ladder();
  ASSERT_EQ(l.reminders().size(), 2u);
  EXPECT_EQ(l.reminders()[0].day, 7);
  ASSERT_EQ(l.notices().size(), 4u);
  EXPECT_EQ(l.notices()[1].fee_minor, 5000);
  EXPECT_EQ(l.notices()[1].rate_bp, 1200);
  EXPECT_EQ(l.notices()[1].spacing_days, 7);
  EXPECT_EQ(l.notices()[3].grace_days, 15);
  EXPECT_EQ(l.notices()[3].name(), "noc");
}

TEST(DunningLadder, RefusesBadConfigurationNamingTheFlag) {
  for (const char* bad : {"", "first", "first:0", "later:10", "second:30,first:10", "first:10,second:10",
                          "first:10,first:20", "first:10:grace=5", "noc:90", "first:10:fee=-1",
                          "first:10:colour=red", "reminder:7,reminder:7,first:10", "reminder:7:fee=1,first:10",
                          "reminder:7"}) {
    auto l = DunningLadder::Parse(bad);
    EXPECT_EQ(l.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(l.status().message().find("dunning_ladder"), std::string::npos) << bad;
  }
}

TEST(DecideDunning, WalksTheLadderOnTheConfiguredDaysOneRungAtATime) {
  DunningInputs in;
  in.open_items = {Item("jan", CivilDay(2026, 1, 1), 100000)};
  DunningLadder l = Ladder();
  // 9 days past due: nothing yet; 10: the first notice.
  auto d9 = DecideDunning(in, l, CivilDay(2026, 1, 10), 0, "PHP");
  ASSERT_TRUE(d9.ok());
  EXPECT_TRUE(LadderNames(*d9).empty());
  auto d10 = DecideDunning(in, l, CivilDay(2026, 1, 11), 0, "PHP");
  ASSERT_TRUE(d10.ok());
  ASSERT_EQ(LadderNames(*d10), std::vector<std::string>{"first"});
  const NoticeDraft& first = d10->issue.back();
  EXPECT_EQ(first.subject, "ladder/1/1");
  EXPECT_EQ(first.outstanding_minor, 100000);
  EXPECT_EQ(first.fee_minor, 0);
  EXPECT_EQ(first.interest_minor, 0);
  ASSERT_EQ(first.covered.size(), 1u);

  // Issued on Jan 11: the same day again decides nothing new.
  in.notices = {Issued("n1", RungKind::kFirst, 1, CivilDay(2026, 1, 11), {"jan"})};
  auto again = DecideDunning(in, l, CivilDay(2026, 1, 11), 0, "PHP");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(LadderNames(*again).empty());
}

TEST(DecideDunning, ALateRunIssuesTheNextRungNotALaterOne) {
  DunningInputs in;
  in.open_items = {Item("jan", CivilDay(2026, 1, 1), 100000)};
  in.notices = {Issued("n1", RungKind::kFirst, 1, CivilDay(2026, 1, 11), {"jan"})};
  // 95 days past due, past third (60) and noc (90): the second comes.
  auto d = DecideDunning(in, Ladder(), CivilDay(2026, 4, 6), 0, "PHP");
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(LadderNames(*d), std::vector<std::string>{"second"});
  // The third waits its spacing (7 days) after the second, even that late.
  in.notices.push_back(Issued("n2", RungKind::kSecond, 2, CivilDay(2026, 4, 6), {"jan"}));
  auto next_day = DecideDunning(in, Ladder(), CivilDay(2026, 4, 7), 0, "PHP");
  ASSERT_TRUE(next_day.ok());
  EXPECT_TRUE(LadderNames(*next_day).empty());
  auto spaced = DecideDunning(in, Ladder(), CivilDay(2026, 4, 13), 0, "PHP");
  ASSERT_TRUE(spaced.ok());
  EXPECT_EQ(LadderNames(*spaced), std::vector<std::string>{"third"});
}

TEST(DecideDunning, AReplayOfAnEarlierDayIssuesNothingBeforeALaterNotice) {
  DunningInputs in;
  in.open_items = {Item("jan", CivilDay(2026, 1, 1), 100000)};
  in.notices = {Issued("n1", RungKind::kFirst, 1, CivilDay(2026, 1, 11), {"jan"}),
                Issued("n2", RungKind::kSecond, 2, CivilDay(2026, 1, 31), {"jan"})};
  for (CivilDay day = CivilDay(2026, 1, 11); day <= CivilDay(2026, 1, 31); ++day) {
    auto d = DecideDunning(in, Ladder(), day, 0, "PHP");
    ASSERT_TRUE(d.ok());
    EXPECT_TRUE(LadderNames(*d).empty()) << day;
  }
}

TEST(DecideDunning, FeeAndInterestOfARungAreWhatItAsksFor) {
  DunningInputs in;
  // A principal of PHP 1,000.00 and a fee installment already owed.
  in.open_items = {Item("jan", CivilDay(2026, 1, 1), 100000), Item("fee", CivilDay(2026, 1, 5), 0, 2500)};
  in.notices = {Issued("n1", RungKind::kFirst, 1, CivilDay(2026, 1, 11), {"jan"})};
  auto d = DecideDunning(in, Ladder(), CivilDay(2026, 1, 31), 0, "PHP");  // 30 days past due
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(LadderNames(*d), std::vector<std::string>{"second"});
  const NoticeDraft& second = d->issue.back();
  EXPECT_EQ(second.days_past_due, 30);
  EXPECT_EQ(second.outstanding_minor, 102500);
  EXPECT_EQ(second.fee_minor, 5000);
  // Interest on the principal only: 100000 x 12% / 365 x 30 = 986.30 -> 986.
  EXPECT_EQ(second.interest_minor, 986);
  EXPECT_EQ(second.total_minor(), 102500 + 5000 + 986);
}

TEST(DunningInterest, IsOutstandingTimesRateOver365TimesDays) {
  EXPECT_EQ(*DunningInterest("PHP", 100000, 1200, 30), 986);
  EXPECT_EQ(*DunningInterest("PHP", 100000, 1200, 365), 12000);
  EXPECT_EQ(*DunningInterest("PHP", 100000, 0, 30), 0);
  EXPECT_EQ(*DunningInterest("PHP", 0, 1200, 30), 0);
}

TEST(DecideDunning, GraceAndPausesCountLikeAging) {
  DunningInputs in;
  in.open_items = {Item("jan", CivilDay(2026, 1, 1), 100000)};
  in.pauses = {{CivilDay(2026, 1, 5), CivilDay(2026, 1, 10)}};  // 5 days paused
  // Jan 16: 15 days late, less 3 of grace, less 5 paused = 7: no first notice.
  auto d = DecideDunning(in, Ladder(), CivilDay(2026, 1, 16), 3, "PHP");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->days_past_due, 7);
  EXPECT_TRUE(LadderNames(*d).empty());
  auto later = DecideDunning(in, Ladder(), CivilDay(2026, 1, 19), 3, "PHP");
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(LadderNames(*later), std::vector<std::string>{"first"});
}

TEST(DecideDunning, ANoticeResolvesOnlyWhenEverythingItAskedForIsPaid) {
  DunningInputs in;
  NoticeRecord second = Issued("n2", RungKind::kSecond, 2, CivilDay(2026, 1, 31), {"jan", "fee", "int"});
  in.notices = {second};
  // The principal is paid, its fee and interest are not.
  in.open_items = {Item("fee", CivilDay(2026, 1, 31), 0, 5000), Item("int", CivilDay(2026, 1, 31), 0, 0, 986)};
  EXPECT_TRUE(PaidNotices(in.notices, in.open_items).empty());
  in.open_items = {Item("later", CivilDay(2026, 3, 1), 100)};
  EXPECT_EQ(PaidNotices(in.notices, in.open_items), std::vector<std::string>{"n2"});
  auto d = DecideDunning(in, Ladder(), CivilDay(2026, 2, 2), 0, "PHP");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->resolve, std::vector<std::string>{"n2"});
}

TEST(DecideDunning, APartialPaymentReAnchorsTheLadderOnTheOldestUnpaid) {
  DunningInputs in;
  in.notices = {Issued("n1", RungKind::kFirst, 1, CivilDay(2026, 1, 11), {"jan"})};
  // January is paid, February is 19 days late on Feb 20: the second (30) waits.
  in.open_items = {Item("feb", CivilDay(2026, 2, 1), 100000)};
  auto d = DecideDunning(in, Ladder(), CivilDay(2026, 2, 20), 0, "PHP");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->days_past_due, 19);
  EXPECT_TRUE(LadderNames(*d).empty());
  EXPECT_FALSE(d->close_episode);
  auto at30 = DecideDunning(in, Ladder(), CivilDay(2026, 3, 3), 0, "PHP");
  ASSERT_TRUE(at30.ok());
  EXPECT_EQ(LadderNames(*at30), std::vector<std::string>{"second"});
}

TEST(DecideDunning, CurrentWithNothingOwedClosesTheEpisode) {
  DunningInputs in;
  NoticeRecord first = Issued("n1", RungKind::kFirst, 1, CivilDay(2026, 1, 11), {"jan"});
  in.notices = {first};
  in.open_items = {Item("mar", CivilDay(2026, 3, 1), 100000)};  // not yet due
  auto d = DecideDunning(in, Ladder(), CivilDay(2026, 2, 2), 0, "PHP");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->resolve, std::vector<std::string>{"n1"});
  EXPECT_TRUE(d->close_episode);
}

TEST(DecideDunning, ABackFillBeforeTheEpisodeBeganIssuesNoLadderNotice) {
  // Episode 1 closed on Feb 10 (paid then); a back-fill for Jan 20 sees January owed.
  DunningInputs in;
  in.episode = 2;
  in.episode_since = CivilDay(2026, 2, 10);
  in.open_items = {Item("jan", CivilDay(2026, 1, 1), 100000)};
  auto before = DecideDunning(in, Ladder(), CivilDay(2026, 1, 20), 0, "PHP");
  ASSERT_TRUE(before.ok());
  EXPECT_TRUE(LadderNames(*before).empty());
  auto after = DecideDunning(in, Ladder(), CivilDay(2026, 2, 20), 0, "PHP");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(LadderNames(*after), std::vector<std::string>{"first"});
}

TEST(DecideDunning, ANoticeOfCancellationLapsesOnItsGraceDateUnlessPaid) {
  DunningInputs in;
  NoticeRecord noc = Issued("noc", RungKind::kCancellation, 4, CivilDay(2026, 4, 1), {"jan"});
  noc.grace_until = CivilDay(2026, 4, 16);
  in.notices = {noc};
  in.open_items = {Item("jan", CivilDay(2026, 1, 1), 100000)};
  EXPECT_TRUE(DecideDunning(in, Ladder(), CivilDay(2026, 4, 15), 0, "PHP")->lapse.empty());
  EXPECT_EQ(DecideDunning(in, Ladder(), CivilDay(2026, 4, 16), 0, "PHP")->lapse, std::vector<std::string>{"noc"});
  // Paid: resolved (withdrawn), never lapsed.
  in.open_items.clear();
  auto paid = DecideDunning(in, Ladder(), CivilDay(2026, 4, 20), 0, "PHP");
  ASSERT_TRUE(paid.ok());
  EXPECT_TRUE(paid->lapse.empty());
  EXPECT_EQ(paid->resolve, std::vector<std::string>{"noc"});
}

TEST(DecideDunning, TheNoticeOfCancellationCarriesItsGrace) {
  DunningInputs in;
  in.open_items = {Item("jan", CivilDay(2026, 1, 1), 100000)};
  in.notices = {Issued("n1", RungKind::kFirst, 1, CivilDay(2026, 1, 11), {"jan"}),
                Issued("n2", RungKind::kSecond, 2, CivilDay(2026, 1, 31), {"jan"}),
                Issued("n3", RungKind::kThird, 3, CivilDay(2026, 3, 2), {"jan"})};
  auto d = DecideDunning(in, Ladder(), CivilDay(2026, 4, 1), 0, "PHP");
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(LadderNames(*d), std::vector<std::string>{"noc"});
  EXPECT_EQ(d->issue.back().grace_until, CivilDay(2026, 4, 16));
  // Nothing after the last rung.
  in.notices.push_back(Issued("n4", RungKind::kCancellation, 4, CivilDay(2026, 4, 1), {"jan"}));
  EXPECT_TRUE(LadderNames(*DecideDunning(in, Ladder(), CivilDay(2026, 6, 1), 0, "PHP")).empty());
}

TEST(DecideDunning, RemindersComeOnceInTheirWindowTheNearestLeadWhenLate) {
  DunningInputs in;
  in.open_items = {Item("mar", CivilDay(2026, 3, 1), 100000), Item("fee", CivilDay(2026, 3, 1), 0, 500)};
  EXPECT_TRUE(DecideDunning(in, Ladder(), CivilDay(2026, 2, 21), 0, "PHP")->issue.empty());  // 8 days before
  auto d = DecideDunning(in, Ladder(), CivilDay(2026, 2, 22), 0, "PHP");                     // 7 days before
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->issue.size(), 1u);  // the fee installment gets none
  EXPECT_EQ(d->issue[0].subject, "reminder/mar/7");
  EXPECT_EQ(d->issue[0].due_date, CivilDay(2026, 3, 1));
  in.subjects_sent = {"reminder/mar/7"};
  EXPECT_TRUE(DecideDunning(in, Ladder(), CivilDay(2026, 2, 25), 0, "PHP")->issue.empty());
  // The day before: the 1-day reminder. A run that missed the 7-day one sends only this.
  in.subjects_sent.clear();
  auto late = DecideDunning(in, Ladder(), CivilDay(2026, 2, 28), 0, "PHP");
  ASSERT_EQ(late->issue.size(), 1u);
  EXPECT_EQ(late->issue[0].subject, "reminder/mar/1");
  // Due today or paid: none.
  EXPECT_TRUE(DecideDunning(in, Ladder(), CivilDay(2026, 3, 1), 0, "PHP")->issue.empty());
}

TEST(DecideDunning, MaturingBalancesGetTheirRemindersAtEachLeadAndNoneWhenPaid) {
  DunningLadder l = Ladder("balance:60,balance:30,balance:7,first:10");
  DunningInputs in;
  OpenItem balloon = Item("b", CivilDay(2026, 6, 30), 900000);
  balloon.kind = "BALLOON";
  in.open_items = {balloon};
  EXPECT_TRUE(DecideDunning(in, l, CivilDay(2026, 4, 30), 0, "PHP")->issue.empty());  // 61 days before
  auto at60 = DecideDunning(in, l, CivilDay(2026, 5, 1), 0, "PHP");
  ASSERT_EQ(at60->issue.size(), 1u);
  EXPECT_EQ(at60->issue[0].subject, "balance/b/60");
  EXPECT_EQ(at60->issue[0].rung.kind, RungKind::kBalanceReminder);
  EXPECT_EQ(at60->issue[0].outstanding_minor, 900000);
  in.subjects_sent = {"balance/b/60"};
  EXPECT_EQ(DecideDunning(in, l, CivilDay(2026, 5, 31), 0, "PHP")->issue[0].subject, "balance/b/30");
  // Paid in full: no reminder at 7 days.
  in.open_items.clear();
  EXPECT_TRUE(DecideDunning(in, l, CivilDay(2026, 6, 23), 0, "PHP")->issue.empty());
}

TEST(RenderTemplate, ReplacesFieldsAndRefusesUnknownOnes) {
  auto text = RenderTemplate("Dear {account_name}, pay {total}.", {{"account_name", "Acme"}, {"total", "PHP 1.00"}},
                             "notice_templates");
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "Dear Acme, pay PHP 1.00.");
  EXPECT_EQ(RenderTemplate("{nope}", {}, "notice_templates").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RenderTemplate("{open", {}, "notice_templates").status().code(), absl::StatusCode::kInvalidArgument);
  std::map<std::string, std::string> all;
  for (const std::string& f : NoticeTemplateFields()) all[f] = "x";
  for (RungKind k : {RungKind::kReminder, RungKind::kFirst, RungKind::kCancellation}) {
    EXPECT_TRUE(RenderTemplate(DefaultNoticeTemplate(k), all, "t").ok());
  }
}

TEST(ReopenedNotices, AResolvedNoticeOrWithdrawnNoticeOfCancellationWhoseInstallmentOwesAgainIsReopened) {
  NoticeRecord resolved{"n1", RungKind::kFirst, 1, 1, absl::CivilDay(2026, 1, 14), NoticeState::kResolved, {}, {"i1"}};
  NoticeRecord other{"n2", RungKind::kFirst, 1, 1, absl::CivilDay(2026, 1, 14), NoticeState::kResolved, {}, {"i2"}};
  NoticeRecord withdrawn{"n3", RungKind::kCancellation, 1, 4, absl::CivilDay(2026, 4, 4), NoticeState::kWithdrawn,
                         absl::CivilDay(2026, 4, 19), {"i1"}};
  NoticeRecord issued{"n4", RungKind::kSecond, 1, 2, absl::CivilDay(2026, 2, 3), NoticeState::kIssued, {}, {"i1"}};
  OpenItem owing;
  owing.installment_id = "i1";
  owing.outstanding = {0, 0, 100};
  EXPECT_EQ(ReopenedNotices({resolved, other, withdrawn, issued}, {owing}), (std::vector<std::string>{"n1", "n3"}));
  EXPECT_TRUE(ReopenedNotices({resolved, withdrawn}, {}).empty());
  NoticeRecord lapsed = withdrawn;
  lapsed.state = NoticeState::kLapsed;
  EXPECT_TRUE(ReopenedNotices({lapsed}, {owing}).empty());
}

TEST(ResumeEpisode, OnlyWhenTheLaterEpisodeHasNoLadderNoticeYet) {
  EXPECT_TRUE(ResumeEpisode(1, 2, 0));
  EXPECT_FALSE(ResumeEpisode(1, 2, 1));
  EXPECT_FALSE(ResumeEpisode(2, 2, 0));
}

TEST(ParseNoticeTemplates, SectionsByRungKindAndRefusals) {
  absl::StatusOr<std::map<RungKind, std::string>> t = ParseNoticeTemplates(
      "# our wording\n\n[FIRST_NOTICE]\nDear {account_name},\nplease pay {total}.\n"
      "[NOTICE_OF_CANCELLATION]\nCancelled on {grace_until}.\n");
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->size(), 2u);
  EXPECT_EQ(t->at(RungKind::kFirst), "Dear {account_name},\nplease pay {total}.");
  EXPECT_EQ(t->at(RungKind::kCancellation), "Cancelled on {grace_until}.");
  EXPECT_EQ(ParseNoticeTemplates("[FIFTH_NOTICE]\nx\n").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseNoticeTemplates("[FIRST_NOTICE]\na\n[FIRST_NOTICE]\nb\n").status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::Status before = ParseNoticeTemplates("hello\n[FIRST_NOTICE]\nx\n").status();
  EXPECT_EQ(before.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(before.message().find("notice_templates_file"), std::string::npos);
}

}  // namespace
}  // namespace careops::collections
