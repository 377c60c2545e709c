// Client -> server: messages framed, Query/Parse/Bind decided (decide.cc),
// the original bytes forwarded.
//
// Held statements are never forwarded. In their place the proxy sends a DO
// block that raises SQLSTATE DKH01 with the approval message, so PostgreSQL
// itself produces the error and the transaction state (aborted inside
// BEGIN, untouched outside) exactly as it would for a failing statement.
#include "proxy/pg/internal/session.h"

namespace dualkey::pgproxy {

Task<void> Session::ClientToServer() {
  std::vector<char> buffer(kReadChunk);
  std::size_t start = 0, filled = 0;
  wire::Framer framer(shared_.options.max_statement_bytes);
  std::vector<asio::const_buffer> out;
  std::deque<std::string> scratch;
  // Bytes the pump read but left to us (from a message boundary).
  std::string resumed = std::move(resume_bytes_);
  resume_bytes_.clear();
  if (resumed.size() > buffer.size()) buffer.resize(resumed.size());
  std::memcpy(buffer.data(), resumed.data(), resumed.size());
  std::size_t carried = resumed.size();
  while (true) {
    if (start == filled) start = filled = 0;
    if (filled == buffer.size()) {
      if (start > 0) {
        std::memmove(buffer.data(), buffer.data() + start, filled - start);
        filled -= start;
        start = 0;
      } else {
        buffer.resize(
            std::min(buffer.size() * 2, shared_.options.max_statement_bytes + kReadChunk));
      }
    }
    boost::system::error_code ec;
    std::size_t n = carried;
    carried = 0;
    // Between statements with nothing slow in flight: back to the pump.
    if (n == 0 && MayReturnToPump(framer)) {
      to_pump_bytes_.assign(buffer.data() + start, filled - start);
      if (co_await ReturnToPump()) co_return;
    }
    if (n == 0)
      n = co_await client_.ReadSome(asio::buffer(buffer.data() + filled, buffer.size() - filled),
                                    ec);
    if (ec) {
      if (terminated_ || closed_) co_return;
      if (framer.in_message() || filled > start)
        shared_.Say("session " + std::to_string(id_) + " (" + agent_ +
                    "): client went away mid-message; session closed");
      co_return;
    }
    filled += n;
    std::string_view data(buffer.data(), filled);
    std::size_t pos = start, run = start;
    out.clear();
    scratch.clear();
    auto cut = [&](std::size_t at) {
      if (at > run) out.emplace_back(asio::buffer(buffer.data() + run, at - run));
    };
    // Whole, so each is looked at before a byte of it passes: statements,
    // binds of approved statements, the function-call protocol (refused)
    // and password messages (out of place after login).
    const std::string_view whole_types = approved_.empty() ? "QPFp" : "QPBFp";
    bool stop = false;
    while (!stop) {
      wire::Framer::Piece piece = framer.Next(data, &pos, whole_types);
      switch (piece.kind) {
        case wire::Framer::Piece::Kind::kNeedMore:
          stop = true;
          break;
        case wire::Framer::Piece::Kind::kError:
          shared_.Say("session " + std::to_string(id_) + " (" + agent_ + "): " + piece.error);
          co_await SendFatalToClient("08P01", "dualkey closed the session: " + piece.error);
          co_return;
        case wire::Framer::Piece::Kind::kHead:
          Sent(piece.type);
          break;
        case wire::Framer::Piece::Kind::kContinuation:
          break;
        case wire::Framer::Piece::Kind::kWhole: {
          std::string_view body = data.substr(piece.offset + 5, piece.size - 5);
          std::optional<std::string> replacement;
          bool ok = true;
          // Before a decision that must wait (Decide), what came before it
          // goes out: the decision may need the server to have answered it
          // (facts are checked on this connection).
          switch (piece.type) {
            case 'Q': {
              std::string_view sql = body.substr(0, body.find('\0'));
              if (body.empty() || body.back() != '\0') {
                ok = false;
                break;
              }
              if (ForwardsNow(sql, nullptr)) break;
              cut(piece.offset);
              if (!out.empty()) co_await upstream_->WriteBuffers(out);
              out.clear();
              scratch.clear();
              run = piece.offset;
              Outcome o = co_await Decide(sql, nullptr);
              if (closed_) co_return;
              if (!o.forward) replacement = wire::BuildQuery(o.raise_sql);
              break;
            }
            case 'P': {
              std::optional<wire::ParseMessage> parse = wire::ParseParse(body);
              if (!parse) {
                ok = false;
                break;
              }
              const std::string name(parse->name);
              approved_.erase(name);
              if (ForwardsNow(parse->query, &parse->parameter_types)) break;
              cut(piece.offset);
              if (!out.empty()) co_await upstream_->WriteBuffers(out);
              out.clear();
              scratch.clear();
              run = piece.offset;
              Outcome o = co_await Decide(parse->query, &parse->parameter_types);
              if (closed_) co_return;
              if (!o.forward) {
                replacement = HeldExtended(o.raise_sql);
              } else if (o.approved || o.by_fact) {
                StatementState state;
                state.text = std::string(parse->query);
                state.by_fact = o.by_fact;
                state.batch = batch_;
                approved_[name] = std::move(state);
              }
              break;
            }
            case 'B': {
              std::optional<wire::BindHead> bind = wire::ParseBindHead(body);
              if (!bind) {
                ok = false;
                break;
              }
              const std::string name(bind->statement);
              auto it = approved_.find(name);
              if (it == approved_.end()) break;
              // An approval runs a statement once: a second execution is a
              // new request. A fact holds for the batch it was checked in.
              const bool again =
                  it->second.binds++ > 0 || (it->second.by_fact && it->second.batch != batch_);
              if (!again) break;
              const std::string text = it->second.text;
              cut(piece.offset);
              if (!out.empty()) co_await upstream_->WriteBuffers(out);
              out.clear();
              scratch.clear();
              run = piece.offset;
              // A query of the proxy's own would replace the unnamed
              // statement this Bind needs: no facts for it.
              bind_of_unnamed_ = name.empty();
              Outcome o = co_await Decide(text, nullptr);
              bind_of_unnamed_ = false;
              if (closed_) co_return;
              if (!o.forward) {
                replacement = HeldExtended(o.raise_sql);
              } else if (o.by_fact) {
                it = approved_.find(name);
                if (it != approved_.end()) {
                  it->second.binds = 1;
                  it->second.batch = batch_;
                }
              }
              break;
            }
            case 'C': {
              auto target = wire::ParseTargetedName(body);
              if (target && target->first == 'S') approved_.erase(std::string(target->second));
              break;
            }
            case 'F':
              co_await SendFatalToClient(
                  "0A000",
                  "dualkey does not proxy the function-call protocol (it cannot be "
                  "classified); use SELECT");
              co_return;
            case 'p':
              ok = false;
              break;
            case 'X':
              terminated_ = true;
              stop = true;
              break;
            default:
              break;
          }
          if (!ok) {
            co_await SendFatalToClient("08P01", std::string("dualkey closed the session: "
                                                            "malformed message of type ") +
                                                    piece.type);
            co_return;
          }
          if (replacement) {
            cut(piece.offset);
            scratch.push_back(std::move(*replacement));
            out.emplace_back(asio::buffer(scratch.back()));
            run = piece.offset + piece.size;
          }
          Sent(piece.type);
          break;
        }
      }
    }
    cut(pos);
    start = pos;
    if (!out.empty()) co_await upstream_->WriteBuffers(out);
    if (terminated_) {
      upstream_->Close();
      co_return;
    }
  }
}

void Session::Sent(char type) {
  switch (type) {
    case 'Q':
      ++syncs_outstanding_;
      break;
    case 'S':
      ++syncs_outstanding_;
      ++batch_;
      unsynced_extended_ = false;
      break;
    case 'P':
    case 'B':
    case 'E':
    case 'D':
    case 'C':
    case 'H':
      unsynced_extended_ = true;
      break;
    default:
      break;
  }
}

// In place of a held Parse: an unnamed statement that raises the error at
// Execute. PostgreSQL then skips the client's messages up to Sync itself;
// the server->client side drops the ParseComplete/BindComplete it answers
// to these, so the client sees just the ErrorResponse.
std::string Session::HeldExtended(const std::string& raise_sql) {
  ++pending_injections_;
  return wire::BuildParse("", raise_sql) + wire::BuildBind("", "") + wire::BuildExecute("");
}

Task<void> Session::SendFatalToClient(const std::string& code, const std::string& message) {
  // Only safe at a message boundary of the server stream; otherwise close.
  if (server_mid_message_) co_return;
  co_await Fatal(code, message);
}

}  // namespace dualkey::pgproxy
