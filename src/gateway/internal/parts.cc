// The gateway's parts below the session: see parts.h.
#include "gateway/internal/parts.h"

#include <iostream>

#include "base/json_text.h"

namespace dualkey::gateway::internal {

Status LoadUpstreams(const Config& config, const Options& options,
                     std::map<std::string, std::unique_ptr<UpstreamRuntime>>* out) {
  std::string error;
  const CredentialStore credentials(options.state_dir);
  for (const Upstream& upstream : config.upstreams) {
    auto runtime = std::make_unique<UpstreamRuntime>();
    runtime->config = upstream;
    runtime->idle.resize(static_cast<std::size_t>(options.threads));
    ParseBaseUrl(upstream.base_url, &runtime->base, &error);
    Result<Credential> credential = credentials.Get(upstream.credential);
    if (!credential.ok()) {
      return Status::FailedPrecondition("upstream \"" + upstream.name +
                                        "\": " + credential.status().message());
    }
    runtime->credential = std::move(*credential);
    if (runtime->base.tls) {
      try {
        runtime->tls = std::make_unique<ssl::context>(ssl::context::tls_client);
        runtime->tls->set_verify_mode(ssl::verify_peer);
        runtime->tls->set_default_verify_paths();
        if (!upstream.ca_file.empty()) runtime->tls->load_verify_file(upstream.ca_file);
      } catch (const std::exception& e) {
        return Status::InvalidArgument("upstream \"" + upstream.name +
                                       "\": TLS setup failed: " + e.what());
      }
    } else if (!IsLoopbackHost(runtime->base.host)) {
      std::cerr << "dualkey gateway: warning: upstream \"" << upstream.name
                << "\" is plain http:// on a non-loopback host; the credential crosses the "
                   "network in clear text\n";
    }
    (*out)[upstream.name] = std::move(runtime);
  }
  return Status::Ok();
}

std::string Base64(std::string_view data) {
  static constexpr char kChars[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(data[i]) << 16) |
                 (static_cast<unsigned char>(data[i + 1]) << 8) |
                 static_cast<unsigned char>(data[i + 2]);
    out += {kChars[v >> 18], kChars[(v >> 12) & 63], kChars[(v >> 6) & 63], kChars[v & 63]};
  }
  if (i + 1 == data.size()) {
    unsigned v = static_cast<unsigned char>(data[i]) << 16;
    out += {kChars[v >> 18], kChars[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == data.size()) {
    unsigned v = (static_cast<unsigned char>(data[i]) << 16) |
                 (static_cast<unsigned char>(data[i + 1]) << 8);
    out += {kChars[v >> 18], kChars[(v >> 12) & 63], kChars[(v >> 6) & 63], '='};
  }
  return out;
}

Reply Error(http::status status, std::string error, std::string reason, bool close) {
  Reply reply;
  reply.status = status;
  reply.body = json{{"error", std::move(error)}, {"reason", std::move(reason)}};
  reply.close = close;
  return reply;
}

Reply Held(http::status status, std::string error, std::string reason, bool close) {
  Reply reply = Error(status, std::move(error), std::move(reason), close);
  reply.body["decision"] = "hold";
  return reply;
}

bool IsLoopbackHost(const std::string& host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

std::string FramingProblem(const http::request_parser<http::string_body>& parser) {
  const auto& head = parser.get();
  std::size_t transfer_encodings = 0, content_lengths = 0;
  for (const auto& field : head) {
    if (field.name() == http::field::transfer_encoding) {
      ++transfer_encodings;
      std::string value = Lower(field.value());
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.erase(0, 1);
      if (value != "chunked")
        return "Transfer-Encoding \"" + base::ToValidUtf8(field.value().substr(0, 60)) +
               "\" (only \"chunked\" is accepted)";
    } else if (field.name() == http::field::content_length) {
      ++content_lengths;
      if (field.value().find(',') != std::string_view::npos)
        return "a Content-Length with several values";
    }
  }
  if (transfer_encodings > 1) return "more than one Transfer-Encoding header";
  if (transfer_encodings > 0 && content_lengths > 0)
    return "Content-Length together with Transfer-Encoding";
  if (content_lengths > 1) return "more than one Content-Length header";
  return {};
}

bool ParseListen(const std::string& text, std::string* host, unsigned short* port) {
  std::size_t colon = text.rfind(':');
  if (colon == std::string::npos) return false;
  *host = text.substr(0, colon);
  if (host->starts_with("[") && host->ends_with("]")) *host = host->substr(1, host->size() - 2);
  if (host->empty()) *host = "127.0.0.1";
  const std::string digits = text.substr(colon + 1);
  if (digits.empty() || digits.size() > 5 ||
      digits.find_first_not_of("0123456789") != std::string::npos)
    return false;
  const int value = std::stoi(digits);
  if (value > 65535) return false;
  *port = static_cast<unsigned short>(value);
  return true;
}

}  // namespace dualkey::gateway::internal
