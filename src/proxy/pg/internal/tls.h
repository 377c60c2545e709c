// TLS for one side of a session, over OpenSSL memory BIOs: ciphertext goes
// in and out as bytes, the socket stays the caller's. So the same engine
// (and so the session's encryption state) serves the coroutines (leg.h) and
// the pump's epoll thread (pump.h), and moves with the socket between them:
// plain and TLS sessions take one data path. Used by one thread at a time.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <memory>
#include <string>

namespace dualkey::pgproxy {

class TlsEngine {
 public:
  enum class Role { kClient, kServer };
  // A new session on `context`. For a client, a non-empty `server_name` is
  // sent as SNI (a DNS name only) and checked against the certificate (a DNS
  // name or an IP address) when the context verifies its peer. Null (and
  // `error`) when OpenSSL refuses.
  static std::unique_ptr<TlsEngine> Start(SSL_CTX* context, Role role,
                                          const std::string& server_name, std::string* error);
  ~TlsEngine();
  TlsEngine(const TlsEngine&) = delete;
  TlsEngine& operator=(const TlsEngine&) = delete;

  enum class Status {
    kOk,        // done (Handshake), or bytes read (Read)
    kWantRead,  // needs more ciphertext from the peer
    kClosed,    // the peer sent close_notify
    kError,     // a protocol or certificate error: error() says which
  };

  // Ciphertext read from the socket.
  void Feed(const char* data, std::size_t size);
  // One handshake step; kWantRead until it is complete. Send Output() after
  // each step, whatever it returned (the last flight, or an alert).
  Status Handshake();
  // Plaintext into `buffer`: kOk with *read > 0, or why there is none.
  Status Read(char* buffer, std::size_t capacity, std::size_t* read);
  // Plaintext to send: encrypted into the output at once. False on error.
  bool Write(const char* data, std::size_t size);

  // Ciphertext for the peer, in order: appended to `out`; nothing stays.
  bool HasOutput() const;
  void TakeOutput(std::string& out);
  // Up to `capacity` bytes of it into `buffer` (fewer when there are fewer).
  std::size_t TakeOutput(char* buffer, std::size_t capacity);

  // Whether a Read may give bytes without more ciphertext: plaintext of a
  // record not read whole, or ciphertext fed and not yet looked at.
  bool HoldsInput() const;

  const std::string& error() const { return error_; }

 private:
  TlsEngine() = default;
  Status Failed(int result, const char* what);

  SSL* ssl_ = nullptr;
  BIO* in_ = nullptr;   // ciphertext from the peer (owned by ssl_)
  BIO* out_ = nullptr;  // ciphertext for the peer (owned by ssl_)
  std::string error_;
};

}  // namespace dualkey::pgproxy
