#include "proxy/pg/internal/upstream.h"

#include "proxy/pg/internal/scram.h"

namespace dualkey::pgproxy {
namespace {

std::string UpstreamMessage(const Message& m) {
  std::string out(1, m.type);
  wire::AppendInt32(out, static_cast<std::int32_t>(m.body.size() + 4));
  return out + m.body;
}

Task<bool> Authenticate(Leg& leg, const Upstream& upstream, UpstreamSession& s) {
  std::optional<scram::ClientExchange> exchange;
  while (true) {
    Message m = co_await ReadMessage(leg, 1 << 20);
    if (m.type == 'E') {
      s.error_response = UpstreamMessage(m);
      s.error = "upstream refused the connection: " + wire::ParseError(m.body).message;
      co_return false;
    }
    if (m.type == 'N' || m.type == 'v') continue;  // notices, protocol negotiation
    if (m.type != 'R') {
      s.error = std::string("unexpected upstream message '") + m.type + "' during authentication";
      co_return false;
    }
    wire::Reader r(m.body);
    const std::int32_t code = r.Int32();
    if (!r.ok()) {
      s.error = "malformed authentication request from upstream";
      co_return false;
    }
    switch (code) {
      case 0:  // AuthenticationOk
        co_return true;
      case 3:  // cleartext
        if (upstream.sslmode == "disable" || !leg.tls()) {
          // libpq sends it too; say nothing special.
        }
        co_await leg.Write(wire::Builder('p').CString(upstream.password).Finish());
        break;
      case 5: {  // md5
        std::string_view salt = r.Bytes(4);
        if (!r.ok()) {
          s.error = "malformed md5 request from upstream";
          co_return false;
        }
        co_await leg.Write(wire::Builder('p')
                               .CString(scram::Md5Password(upstream.user, upstream.password, salt))
                               .Finish());
        break;
      }
      case 10: {  // SASL
        bool scram = false;
        while (true) {
          std::string_view mechanism = r.CString();
          if (!r.ok() || mechanism.empty()) break;
          scram = scram || mechanism == "SCRAM-SHA-256";
        }
        if (!scram) {
          s.error = "upstream offers no SASL mechanism the proxy speaks (SCRAM-SHA-256)";
          co_return false;
        }
        exchange.emplace(upstream.password);
        const std::string first = exchange->First();
        co_await leg.Write(wire::Builder('p')
                               .CString("SCRAM-SHA-256")
                               .Int32(static_cast<std::int32_t>(first.size()))
                               .Raw(first)
                               .Finish());
        break;
      }
      case 11: {  // SASLContinue
        if (!exchange) {
          s.error = "upstream sent SASLContinue out of order";
          co_return false;
        }
        std::string error;
        std::optional<std::string> final_message = exchange->Final(r.Rest(), &error);
        if (!final_message) {
          s.error = error;
          co_return false;
        }
        co_await leg.Write(wire::Builder('p').Raw(*final_message).Finish());
        break;
      }
      case 12:  // SASLFinal
        if (!exchange || !exchange->Verify(r.Rest())) {
          s.error = "upstream's SCRAM server signature is wrong: not the real server";
          co_return false;
        }
        break;
      default:
        s.error = "upstream asks for an authentication method the proxy does not speak (code " +
                  std::to_string(code) + ")";
        co_return false;
    }
  }
}

}  // namespace

Task<StreamSocket> ConnectSocket(const Upstream& upstream) {
  auto executor = co_await asio::this_coro::executor;
  if (IsUnixSocket(upstream)) {
    const std::string path = upstream.host + "/.s.PGSQL." + std::to_string(upstream.port);
    asio::local::stream_protocol::socket socket(executor);
    co_await socket.async_connect(asio::local::stream_protocol::endpoint(path),
                                  asio::use_awaitable);
    co_return StreamSocket(std::move(socket));
  }
  tcp::resolver resolver(executor);
  auto endpoints = co_await resolver.async_resolve(upstream.host, std::to_string(upstream.port),
                                                   asio::use_awaitable);
  tcp::socket socket(executor);
  co_await asio::async_connect(socket, endpoints, asio::use_awaitable);
  socket.set_option(tcp::no_delay(true));
  co_return StreamSocket(std::move(socket));
}

Task<UpstreamSession> ConnectUpstream(
    const Upstream& upstream, asio::ssl::context& tls, const std::string& database,
    const std::vector<std::pair<std::string, std::string>>& extra_parameters) {
  UpstreamSession s;
  try {
    s.leg = std::make_unique<Leg>(co_await ConnectSocket(upstream));
    // As libpq: TLS is not offered on a Unix socket, whatever sslmode says.
    if (upstream.sslmode != "disable" && !IsUnixSocket(upstream)) {
      std::string request;
      wire::AppendInt32(request, 8);
      wire::AppendInt32(request, wire::kSslRequest);
      co_await s.leg->Write(request);
      char answer = 0;
      co_await s.leg->ReadExactly(&answer, 1);
      if (answer == 'S') {
        // A named string, not a temporary in the co_await: GCC 12 frees such
        // a temporary twice (free(): invalid pointer on every TLS upstream).
        std::string checked_name;
        if (upstream.sslmode == "verify-full") checked_name = upstream.host;
        co_await s.leg->StartTls(tls, TlsEngine::Role::kClient, checked_name);
      } else if (answer != 'N' || upstream.sslmode != "prefer") {
        s.error = answer == 'N' ? "upstream does not offer TLS but sslmode is " + upstream.sslmode
                                : "unexpected answer to SSLRequest from upstream";
        s.leg.reset();
        co_return s;
      }
    }
    std::vector<std::pair<std::string, std::string>> parameters = {{"user", upstream.user},
                                                                   {"database", database}};
    for (const auto& p : extra_parameters) parameters.push_back(p);
    co_await s.leg->Write(wire::BuildStartup(parameters));
    if (!co_await Authenticate(*s.leg, upstream, s)) {
      s.leg.reset();
      co_return s;
    }
    while (true) {
      Message m = co_await ReadMessage(*s.leg, 1 << 20);
      if (m.type == 'K') {
        wire::Reader r(m.body);
        s.backend_pid = r.Int32();
        s.backend_key = r.Int32();
        continue;
      }
      if (m.type == 'E') {
        s.error_response = UpstreamMessage(m);
        s.error = "upstream failed the session start: " + wire::ParseError(m.body).message;
        s.leg.reset();
        co_return s;
      }
      if (m.type == 'S') {
        wire::Reader r(m.body);
        std::string_view name = r.CString();
        std::string_view value = r.CString();
        if (name == "server_version") {
          int major = 0, minor = 0;
          std::sscanf(std::string(value).c_str(), "%d.%d", &major, &minor);
          s.server_version_num = major * 10000 + minor;
        }
      }
      s.greeting += UpstreamMessage(m);
      if (m.type == 'Z') break;
    }
  } catch (const std::exception& e) {
    s.error = std::string("cannot reach upstream ") + upstream.host + ":" +
              std::to_string(upstream.port) + ": " + e.what();
    s.leg.reset();
  }
  co_return s;
}

Task<void> SideConnection::Ensure() {
  if (session_.leg) co_return;
  std::vector<std::pair<std::string, std::string>> parameters;
  parameters.emplace_back("application_name", "dualkey-pg-proxy");
  session_ = co_await ConnectUpstream(upstream_, tls_, database_, parameters);
  if (!session_.leg) throw std::runtime_error(session_.error);
  version_ = session_.server_version_num;
}

Task<SideConnection::Result> SideConnection::Query(const std::string& sql) {
  co_await Ensure();
  Result result;
  co_await session_.leg->Write(wire::BuildQuery(sql));
  while (true) {
    Message m = co_await ReadMessage(*session_.leg, 1 << 30);
    if (m.type == 'D') {
      wire::Reader r(m.body);
      const int n = r.Int16();
      Row row;
      for (int i = 0; i < n && r.ok(); ++i) {
        const std::int32_t len = r.Int32();
        if (len < 0)
          row.emplace_back(std::nullopt);
        else
          row.emplace_back(std::string(r.Bytes(static_cast<std::size_t>(len))));
      }
      result.rows.push_back(std::move(row));
    } else if (m.type == 'E') {
      if (result.error.empty()) result.error = wire::ParseError(m.body).message;
    } else if (m.type == 'G') {
      // A COPY FROM through Query: refuse it.
      co_await session_.leg->Write(wire::Builder('f').CString("not expected").Finish());
    } else if (m.type == 'Z') {
      break;
    }
  }
  co_return result;
}

Task<std::string> SideConnection::CopyOut(const std::string& sql,
                                          const std::function<bool(std::string_view)>& sink) {
  co_await Ensure();
  co_await session_.leg->Write(wire::BuildQuery(sql));
  std::string error;
  bool aborted = false;
  while (true) {
    Message m = co_await ReadMessage(*session_.leg, 1 << 30);
    if (m.type == 'd') {
      if (!aborted && !sink(m.body)) aborted = true;
    } else if (m.type == 'E') {
      if (error.empty()) error = wire::ParseError(m.body).message;
    } else if (m.type == 'Z') {
      break;
    }
  }
  if (aborted && error.empty()) error = "the snapshot could not be written";
  co_return error;
}

Task<SideConnection::Result> SideConnection::Describe(const std::string& sql,
                                                      const std::vector<std::int32_t>& types,
                                                      std::vector<std::int32_t>* parameter_types) {
  co_await Ensure();
  wire::Builder parse('P');
  parse.CString("").CString(sql).Int16(static_cast<std::int16_t>(types.size()));
  for (std::int32_t t : types) parse.Int32(t);
  std::string out = parse.Finish();
  out += wire::Builder('D').Byte('S').CString("").Finish();
  out += wire::Builder('S').Finish();
  co_await session_.leg->Write(out);
  Result result;
  while (true) {
    Message m = co_await ReadMessage(*session_.leg, 1 << 20);
    if (m.type == 't') {
      wire::Reader r(m.body);
      const int n = r.Int16();
      for (int i = 0; i < n && r.ok(); ++i) parameter_types->push_back(r.Int32());
    } else if (m.type == 'E') {
      if (result.error.empty()) result.error = wire::ParseError(m.body).message;
    } else if (m.type == 'Z') {
      break;
    }
  }
  co_return result;
}

}  // namespace dualkey::pgproxy
