// Server -> client: headers walked, whole buffers forwarded; the answers to
// the proxy's own queries and to injected held statements taken out.
#include "proxy/pg/internal/session.h"

namespace dualkey::pgproxy {

// --- server -> client -----------------------------------------------------
Task<void> Session::ServerToClient() {
  std::vector<char> buffer(kReadChunk);
  std::size_t filled = 0;
  std::size_t skip = 0;  // rest of a message being streamed
  std::vector<asio::const_buffer> out;
  std::deque<std::string> scratch;
  std::string held;          // ParseComplete/BindComplete answering an injection
  bool skip_to_own = false;  // the message being streamed answers the proxy's own query
  const std::uint64_t phase = data_phase_;
  while (true) {
    // Going back to the pump: stop between two messages, with nothing kept.
    if (leaving_for_pump_ && filled == 0 && skip == 0 && held.empty() && own_query_ == nullptr) {
      parked_phase_ = phase;
      if (park_waiter_ != nullptr) park_waiter_->cancel();
      co_return;
    }
    if (filled == buffer.size())
      buffer.resize(std::min(buffer.size() * 2, kMaxServerCarry + kReadChunk));
    boost::system::error_code ec;
    const std::size_t n = co_await upstream_->ReadSome(
        asio::buffer(buffer.data() + filled, buffer.size() - filled), ec);
    // Woken by ReturnToPump (it cancels this read): look again.
    if (ec == asio::error::operation_aborted && !closed_ && !terminated_) continue;
    if (ec) {
      if (closed_ || terminated_) co_return;
      shared_.Say("session " + std::to_string(id_) + " (" + agent_ +
                  "): upstream connection lost: " + ec.message());
      if (skip == 0 && filled == 0 && held.empty()) {
        wire::ErrorFields f;
        f.severity = "FATAL";
        f.code = "08006";
        f.message = "dualkey: the database connection was lost (" + ec.message() + ")";
        const std::string bytes = wire::BuildError(f);
        co_await client_.WriteBuffers(asio::buffer(bytes));
      }
      co_return;
    }
    filled += n;
    std::size_t pos = 0, run = 0;
    out.clear();
    scratch.clear();
    auto cut = [&](std::size_t at) {
      if (at > run) out.emplace_back(asio::buffer(buffer.data() + run, at - run));
    };
    while (pos < filled) {
      if (skip > 0) {
        const std::size_t take = std::min(skip, filled - pos);
        if (skip_to_own) {
          cut(pos);
          if (own_query_ != nullptr)
            own_query_->OnCopyPiece(std::string_view(buffer.data() + pos, take));
          run = pos + take;
        }
        skip -= take;
        pos += take;
        if (skip == 0) skip_to_own = false;
        continue;
      }
      if (filled - pos < 5) break;
      const char type = buffer[pos];
      const std::int32_t len = wire::ReadInt32(buffer.data() + pos + 1);
      if (len < 4) throw std::runtime_error("malformed message from upstream");
      const std::size_t size = static_cast<std::size_t>(len) + 1;
      if (own_query_ != nullptr && !OwnQuery::ForClient(type)) {
        // The answer to the proxy's own query: never the client's.
        if (filled - pos < size) {
          if (type == 'd' && size > kMaxServerCarry) {
            // A large row of a snapshot: streamed.
            cut(pos);
            own_query_->OnCopyPiece(std::string_view(buffer.data() + pos + 5, filled - pos - 5));
            skip = size - (filled - pos);
            skip_to_own = true;
            pos = run = filled;
            continue;
          }
          if (size > kMaxServerCarry) throw std::runtime_error("oversized message from upstream");
          break;
        }
        cut(pos);
        const bool done =
            own_query_->OnMessage(type, std::string_view(buffer.data() + pos + 5, size - 5));
        pos += size;
        run = pos;
        if (done) {
          transaction_status_ = own_query_->result().status;
          own_query_ = nullptr;
          NotifyIdle();
        }
        continue;
      }
      const bool small_needed =
          type == 'Z' || (pending_injections_ > 0 && (type == '1' || type == '2' || type == 'E'));
      if (small_needed && filled - pos < size) {
        if (size > kMaxServerCarry) throw std::runtime_error("oversized message from upstream");
        break;
      }
      if (type == 'Z') {
        if (!held.empty()) {
          cut(pos);
          scratch.push_back(std::move(held));
          out.emplace_back(asio::buffer(scratch.back()));
          held.clear();
          run = pos;
        }
        pending_injections_ = 0;
        transaction_status_ = buffer[pos + 5];
        if (syncs_outstanding_ > 0) --syncs_outstanding_;
      } else if (pending_injections_ > 0) {
        const bool parse_complete = type == '1' && held.empty();
        const bool bind_complete = type == '2' && held.size() == 5 && held[0] == '1';
        if (parse_complete || bind_complete) {
          cut(pos);
          held.append(buffer.data() + pos, size);
          pos += size;
          run = pos;
          continue;
        }
        bool drop_held = false;
        if (type == 'E') {
          wire::ErrorFields f =
              wire::ParseError(std::string_view(buffer.data() + pos + 5, size - 5));
          if (f.code == kHeldCode || f.code == kDeniedCode) {
            --pending_injections_;
            drop_held = held.size() == 10;
          }
        }
        if (!held.empty()) {
          cut(pos);
          if (!drop_held) {
            scratch.push_back(held);
            out.emplace_back(asio::buffer(scratch.back()));
          }
          held.clear();
          run = pos;
        }
      }
      if (filled - pos >= size) {
        pos += size;
      } else {
        skip = size - (filled - pos);
        pos = filled;
      }
    }
    cut(pos);
    server_mid_message_ = skip > 0 || pos < filled;
    if (!out.empty()) co_await client_.WriteBuffers(out);
    if (pos < filled) std::memmove(buffer.data(), buffer.data() + pos, filled - pos);
    filled -= pos;
    NotifyIdle();
  }
}

}  // namespace dualkey::pgproxy
