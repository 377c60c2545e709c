// The daemon's wire protocol: every op's request and reply round-trip, bytes
// that are not UTF-8 travel exactly, unknown fields are tolerated, and a
// malformed reply is an error (never a default decision).
#include "client/protocol.h"

#include <gtest/gtest.h>

#include <string>

namespace dualkey::client {
namespace {

using nlohmann::json;

// Through the wire: encode, one line, decode.
json Wire(const json& value) {
  std::string line = EncodeLine(value);
  EXPECT_EQ(line.back(), '\n');
  line.pop_back();
  EXPECT_EQ(line.find('\n'), std::string::npos);
  Result<json> back = DecodeLine(line);
  EXPECT_TRUE(back.ok()) << back.status().ToString();
  return back.ok() ? *back : json();
}

TEST(Protocol, CheckRequestRoundTripsWithEveryField) {
  CheckRequest r;
  r.action = {Channel::kSql, "DELETE FROM orders", "pg:shop", "claude"};
  r.home = "/home/dev";
  r.file_operation = "write";
  r.min_decision = Decision::kHold2;
  r.detail = "deletes ~48,211 rows";
  r.defer_consume = true;
  json j = Wire(ToJson(r));
  EXPECT_EQ(j["op"], "check");
  // The field names older clients and daemons use.
  EXPECT_EQ(j["channel"], "sql");
  EXPECT_EQ(j["input"], "DELETE FROM orders");
  EXPECT_EQ(j["min_decision"], "hold2");
  CheckRequest back;
  ASSERT_TRUE(FromJson(j, &back).ok());
  EXPECT_EQ(back.action.channel, Channel::kSql);
  EXPECT_EQ(back.action.input, r.action.input);
  EXPECT_EQ(back.action.cwd, r.action.cwd);
  EXPECT_EQ(back.action.agent, r.action.agent);
  EXPECT_EQ(back.home, r.home);
  EXPECT_EQ(back.file_operation, r.file_operation);
  EXPECT_EQ(back.min_decision, Decision::kHold2);
  EXPECT_EQ(back.detail, r.detail);
  EXPECT_TRUE(back.defer_consume);
  EXPECT_EQ(Wire(ProbeJson(r))["op"], "probe");
}

TEST(Protocol, InvalidUtf8TravelsExactlyAndDisplaysRepaired) {
  CheckRequest r;
  r.action.input = std::string("rm -rf /srv/data-\xff\xfe", 19);
  r.action.cwd = std::string("/srv/\xc3", 6);
  r.action.agent = "claude";
  json j = Wire(ToJson(r));
  // Shown repaired, carried exact.
  const std::string shown = j["input"];
  EXPECT_EQ(shown.rfind("rm -rf /srv/data-\xEF\xBF\xBD", 0), 0u) << shown;
  EXPECT_EQ(shown.find('\xff'), std::string::npos);
  EXPECT_TRUE(j.contains("input_b64"));
  EXPECT_TRUE(j.contains("cwd_b64"));
  EXPECT_FALSE(j.contains("agent_b64"));
  CheckRequest back;
  ASSERT_TRUE(FromJson(j, &back).ok());
  EXPECT_EQ(back.action.input, r.action.input);
  EXPECT_EQ(back.action.cwd, r.action.cwd);
  // An approval listed for humans keeps the bytes too.
  Approval a;
  a.id = "ap_x";
  a.input = r.action.input;
  PendingReply pending{{a}};
  Result<PendingReply> listed = Decode<PendingReply>(Wire(ToJson(pending)));
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_EQ(listed->requests.at(0).input, r.action.input);
}

TEST(Protocol, BadBase64AndWrongTypesAreRefusedNotGuessed) {
  json j{{"op", "check"}, {"channel", "shell"}, {"input", "ls"}, {"input_b64", "%%%"}};
  CheckRequest r;
  Status s = FromJson(j, &r);
  EXPECT_TRUE(s.Is(Status::Code::kInvalidArgument)) << s.ToString();
  EXPECT_FALSE(FromJson(json{{"op", "check"}, {"channel", "shell"}, {"input", 7}}, &r).ok());
  EXPECT_FALSE(FromJson(json{{"op", "check"}, {"channel", "tty"}, {"input", "ls"}}, &r).ok());
  EXPECT_FALSE(FromJson(json{{"op", "check"}, {"input", "ls"}}, &r).ok());
  EXPECT_FALSE(FromJson(json{{"op", "check"}, {"channel", "shell"}}, &r).ok());
  EXPECT_FALSE(
      FromJson(json{{"op", "check"}, {"channel", "shell"}, {"input", "ls"}, {"min_decision", "x"}},
               &r)
          .ok());
  EXPECT_FALSE(FromJson(json::array(), &r).ok());
}

TEST(Protocol, UnknownFieldsAreTolerated) {
  CheckRequest r;
  EXPECT_TRUE(FromJson(json{{"op", "check"},
                            {"channel", "shell"},
                            {"input", "ls"},
                            {"from_the_future", {{"x", 1}}}},
                       &r)
                  .ok());
  CheckReply reply;
  EXPECT_TRUE(
      FromJson(json{{"ok", true}, {"decision", "allow"}, {"shiny", [] { return 1; }()}}, &reply)
          .ok());
  EXPECT_EQ(reply.decision, Decision::kAllow);
}

TEST(Protocol, CheckReplyRoundTrips) {
  CheckReply r;
  r.decision = Decision::kHold2;
  r.reason = "deleting backups";
  r.approval_id = "ap_k3j9x2m4qa";
  r.code = "K7F-3QM";
  r.approvals_needed = 2;
  r.expires_ms = 1234;
  r.reasked = true;
  r.frozen = false;
  Result<CheckReply> back = Decode<CheckReply>(Wire(ToJson(r)));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->decision, Decision::kHold2);
  EXPECT_EQ(back->reason, r.reason);
  EXPECT_EQ(back->approval_id, r.approval_id);
  EXPECT_EQ(back->code, r.code);
  EXPECT_EQ(back->approvals_needed, 2);
  EXPECT_EQ(back->expires_ms, 1234);
  EXPECT_TRUE(back->reasked);

  CheckReply approved;
  approved.decision = Decision::kAllow;
  approved.approved = true;
  approved.approvers = {"alice", "bob"};
  approved.snapshot_id = "s1";
  approved.observed = Decision::kHold;
  back = Decode<CheckReply>(Wire(ToJson(approved)));
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->approved);
  EXPECT_EQ(back->approvers, approved.approvers);
  EXPECT_EQ(back->snapshot_id, "s1");
  EXPECT_EQ(back->observed, Decision::kHold);
}

TEST(Protocol, MalformedRepliesAreErrorsNeverDecisions) {
  const json bad[] = {
      json{{"decision", "allow"}},                 // no "ok"
      json{{"ok", "yes"}, {"decision", "allow"}},  // "ok" not a boolean
      json{{"ok", true}},                          // no decision
      json{{"ok", true}, {"decision", "ALLOW"}},   // not a decision
      json{{"ok", true}, {"decision", 0}},         // not a string
      json{{"ok", true}, {"decision", "allow"}, {"approvers", "alice"}},
      json{{"ok", true}, {"decision", "hold"}, {"approval_ready", true}},  // ready for what?
      json::array(),
      json("allow"),
  };
  for (const json& j : bad) {
    Result<CheckReply> r = Decode<CheckReply>(j);
    EXPECT_FALSE(r.ok()) << j.dump();
    if (!r.ok()) EXPECT_TRUE(r.status().Is(Status::Code::kCorruption)) << r.status().ToString();
  }
  // A probe reply must say it is one: a daemon that took "probe" for a
  // check would have registered the request.
  EXPECT_FALSE(Decode<ProbeReply>(json{{"ok", true}, {"decision", "hold"}}).ok());
}

TEST(Protocol, ErrorRepliesCarryTheirStatus) {
  json j = Wire(ErrorJson(Status::PermissionDenied("wrong code")));
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["status"], "permission_denied");
  Result<CheckReply> r = Decode<CheckReply>(j);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().Is(Status::Code::kPermissionDenied));
  EXPECT_EQ(r.status().message(), "wrong code");
  // An older daemon's error without a status is still an error.
  Status old = ReplyStatus(json{{"ok", false}, {"error", "unknown op"}});
  EXPECT_FALSE(old.ok());
  EXPECT_EQ(old.message(), "unknown op");
}

TEST(Protocol, EveryOtherOpRoundTrips) {
  EXPECT_EQ(Wire(ToJson(PendingRequest{}))["op"], "pending");
  EXPECT_EQ(Wire(ToJson(StatusRequest{}))["op"], "status");

  ApproveRequest approve{"K7F-3QM", "alice", "123456"};
  ApproveRequest approve_back;
  ASSERT_TRUE(FromJson(Wire(ToJson(approve)), &approve_back).ok());
  EXPECT_EQ(approve_back.id, "K7F-3QM");
  EXPECT_EQ(approve_back.approver, "alice");
  EXPECT_EQ(approve_back.totp, "123456");

  DenyRequest deny{"ap_1", "bob", "not on prod"};
  DenyRequest deny_back;
  ASSERT_TRUE(FromJson(Wire(ToJson(deny)), &deny_back).ok());
  EXPECT_EQ(deny_back.reason, "not on prod");

  ConsumeRequest consume{{Channel::kSql, "DELETE FROM t", "pg:db", "agent"}, "snap"};
  ConsumeRequest consume_back;
  json cj = Wire(ToJson(consume));
  EXPECT_EQ(cj["op"], "consume");
  ASSERT_TRUE(FromJson(cj, &consume_back).ok());
  EXPECT_EQ(consume_back.snapshot_id, "snap");
  EXPECT_EQ(consume_back.action.input, "DELETE FROM t");

  BreakerResetRequest reset{"claude", "alice", "654321"};
  BreakerResetRequest reset_back;
  ASSERT_TRUE(FromJson(Wire(ToJson(reset)), &reset_back).ok());
  EXPECT_EQ(reset_back.agent, "claude");

  BreakerStatusReply status;
  status.attempts = 3;
  status.window_seconds = 60;
  status.agents.push_back(
      {"claude", true, 1000, "3 distinct attempts", 3, "dualkey breaker reset"});
  Result<BreakerStatusReply> status_back = Decode<BreakerStatusReply>(Wire(ToJson(status)));
  ASSERT_TRUE(status_back.ok()) << status_back.status().ToString();
  ASSERT_EQ(status_back->agents.size(), 1u);
  EXPECT_TRUE(status_back->agents[0].frozen);
  EXPECT_EQ(status_back->agents[0].since_ms, 1000);
  EXPECT_EQ(status_back->agents[0].why, "3 distinct attempts");

  ProbeReply probe;
  probe.decision = Decision::kHold;
  probe.would = "register";
  probe.counts_for_breaker = true;
  probe.would_trip_breaker = true;
  Result<ProbeReply> probe_back = Decode<ProbeReply>(Wire(ToJson(probe)));
  ASSERT_TRUE(probe_back.ok()) << probe_back.status().ToString();
  EXPECT_EQ(probe_back->would, "register");
  EXPECT_TRUE(probe_back->would_trip_breaker);

  StatusReply daemon_status{42, "/run/dualkey/dualkey.sock", true, 998};
  Result<StatusReply> daemon_status_back = Decode<StatusReply>(Wire(ToJson(daemon_status)));
  ASSERT_TRUE(daemon_status_back.ok());
  EXPECT_TRUE(daemon_status_back->protected_install);
  EXPECT_EQ(daemon_status_back->uid, 998);

  ApprovalReply approval_reply;
  approval_reply.request.id = "ap_2";
  approval_reply.request.state = "approved";
  approval_reply.request.approvers = {"alice"};
  Result<ApprovalReply> approval_back = Decode<ApprovalReply>(Wire(ToJson(approval_reply)));
  ASSERT_TRUE(approval_back.ok());
  EXPECT_EQ(approval_back->request.state, "approved");
  EXPECT_FALSE(Decode<ApprovalReply>(json{{"ok", true}}).ok());
}

TEST(Protocol, LinesThatAreNotJsonOrNotUtf8AreErrorsNotAborts) {
  EXPECT_FALSE(DecodeLine("{\"op\":\"check\",\"input\":\"rm \xff\"}").ok());
  EXPECT_FALSE(DecodeLine("not json").ok());
  EXPECT_FALSE(DecodeLine("[1,2]").ok());
  EXPECT_FALSE(DecodeLine("").ok());
  // Encoding never throws, whatever the bytes.
  json j{{"input", std::string("\xff\xfe\xc0", 3)}};
  EXPECT_NO_THROW(EncodeLine(j));
}

}  // namespace
}  // namespace dualkey::client
