#include "proxy/pg/internal/tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <climits>

namespace dualkey::pgproxy {
namespace {

bool IsIpAddress(const std::string& name) {
  unsigned char address[16];
  return inet_pton(AF_INET, name.c_str(), address) == 1 ||
         inet_pton(AF_INET6, name.c_str(), address) == 1;
}

// OpenSSL's queued errors as one line (and the queue emptied).
std::string QueuedErrors() {
  std::string text;
  while (const unsigned long code = ERR_get_error()) {
    char line[256];
    ERR_error_string_n(code, line, sizeof line);
    if (!text.empty()) text += "; ";
    text += line;
  }
  return text;
}

}  // namespace

std::unique_ptr<TlsEngine> TlsEngine::Start(SSL_CTX* context, Role role,
                                            const std::string& server_name, std::string* error) {
  ERR_clear_error();
  std::unique_ptr<TlsEngine> engine(new TlsEngine());
  engine->ssl_ = SSL_new(context);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  if (engine->ssl_ == nullptr || in == nullptr || out == nullptr) {
    BIO_free(in);
    BIO_free(out);
    *error = "TLS: cannot start a session: " + QueuedErrors();
    return nullptr;
  }
  // An empty memory BIO means "no bytes yet", not end of stream: the socket
  // tells the end.
  BIO_set_mem_eof_return(in, -1);
  BIO_set_mem_eof_return(out, -1);
  SSL_set_bio(engine->ssl_, in, out);
  engine->in_ = in;
  engine->out_ = out;
  // A renegotiation would need a write in the middle of a read; PostgreSQL
  // has not allowed it since 9.5 either.
  SSL_set_options(engine->ssl_, SSL_OP_NO_RENEGOTIATION);
  if (role == Role::kServer) {
    SSL_set_accept_state(engine->ssl_);
    return engine;
  }
  SSL_set_connect_state(engine->ssl_);
  if (!server_name.empty()) {
    bool named;
    if (IsIpAddress(server_name)) {
      named = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(engine->ssl_), server_name.c_str()) == 1;
    } else {
      named = SSL_set_tlsext_host_name(engine->ssl_, server_name.c_str()) == 1 &&
              SSL_set1_host(engine->ssl_, server_name.c_str()) == 1;
    }
    if (!named) {
      *error = "TLS: cannot check the server's name " + server_name + ": " + QueuedErrors();
      return nullptr;
    }
  }
  return engine;
}

TlsEngine::~TlsEngine() {
  if (ssl_ != nullptr) SSL_free(ssl_);  // frees both BIOs
}

void TlsEngine::Feed(const char* data, std::size_t size) {
  while (size > 0) {
    const int chunk = static_cast<int>(std::min<std::size_t>(size, INT_MAX));
    // A memory BIO takes everything (it grows).
    const int written = BIO_write(in_, data, chunk);
    if (written <= 0) return;
    data += written;
    size -= static_cast<std::size_t>(written);
  }
}

TlsEngine::Status TlsEngine::Failed(int result, const char* what) {
  switch (SSL_get_error(ssl_, result)) {
    case SSL_ERROR_WANT_READ:
    // Memory BIOs never refuse a write: nothing to wait for but the peer.
    case SSL_ERROR_WANT_WRITE:
      return Status::kWantRead;
    case SSL_ERROR_ZERO_RETURN:
      return Status::kClosed;
    default:
      break;
  }
  error_ = std::string("TLS ") + what + " failed";
  const long verified = SSL_get_verify_result(ssl_);
  std::string detail = QueuedErrors();
  if (verified != X509_V_OK)
    detail = std::string("certificate verify failed: ") + X509_verify_cert_error_string(verified) +
             (detail.empty() ? "" : " (" + detail + ")");
  if (!detail.empty()) error_ += ": " + detail;
  return Status::kError;
}

TlsEngine::Status TlsEngine::Handshake() {
  ERR_clear_error();
  const int result = SSL_do_handshake(ssl_);
  if (result == 1) return Status::kOk;
  return Failed(result, "handshake");
}

TlsEngine::Status TlsEngine::Read(char* buffer, std::size_t capacity, std::size_t* read) {
  *read = 0;
  ERR_clear_error();
  const int result = SSL_read_ex(ssl_, buffer, capacity, read);
  if (result == 1) return Status::kOk;
  *read = 0;
  return Failed(result, "read");
}

bool TlsEngine::Write(const char* data, std::size_t size) {
  if (size == 0) return true;
  ERR_clear_error();
  std::size_t written = 0;
  const int result = SSL_write_ex(ssl_, data, size, &written);
  if (result == 1 && written == size) return true;
  Failed(result, "write");
  if (error_.empty()) error_ = "TLS write failed";
  return false;
}

bool TlsEngine::HoldsInput() const {
  return SSL_pending(ssl_) > 0 || BIO_ctrl_pending(in_) > 0;
}

bool TlsEngine::HasOutput() const {
  return BIO_ctrl_pending(out_) > 0;
}

void TlsEngine::TakeOutput(std::string& out) {
  const std::size_t pending = BIO_ctrl_pending(out_);
  if (pending == 0) return;
  const std::size_t at = out.size();
  out.resize(at + pending);
  const std::size_t got = TakeOutput(out.data() + at, pending);
  out.resize(at + got);
}

std::size_t TlsEngine::TakeOutput(char* buffer, std::size_t capacity) {
  std::size_t got = 0;
  if (capacity == 0 || BIO_read_ex(out_, buffer, capacity, &got) != 1) return 0;
  return got;
}

}  // namespace dualkey::pgproxy
