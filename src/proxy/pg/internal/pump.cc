#include "proxy/pg/internal/pump.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "proxy/pg/internal/wire.h"

namespace dualkey::pgproxy {
namespace {

constexpr std::size_t kChunk = 64 * 1024;

struct Entry;
struct Tag {
  Entry* entry;
  bool client;
};

struct Entry {
  std::shared_ptr<PumpSession> session;
  PumpSide client;
  PumpSide upstream;
  Tag client_tag{this, true};
  Tag upstream_tag{this, false};
  std::uint32_t client_events = 0;
  std::uint32_t upstream_events = 0;

  // client -> server
  std::vector<char> in = std::vector<char>(kChunk);
  std::size_t start = 0, filled = 0;
  wire::Framer framer;
  std::string to_server;      // what the upstream socket did not take yet
  bool handing_back = false;  // a message needs the coroutines: stop reading the client
  bool terminated = false;

  // server -> client: only the framing is followed, for ReadyForQuery's
  // status and to hand back at a message boundary.
  std::string to_client;
  std::size_t server_remaining = 0;  // body bytes of the current message still to pass
  char head[5] = {};
  std::size_t head_len = 0;
  bool want_status = false;
  char status = 'I';
  int syncs_outstanding = 0;       // Query/Sync forwarded, ReadyForQuery not yet seen
  bool unsynced_extended = false;  // Parse/Bind/... forwarded since the last Sync

  explicit Entry(std::size_t max_statement_bytes) : framer(max_statement_bytes) {}
  bool server_at_boundary() const { return server_remaining == 0 && head_len == 0; }
};

// Sends what the socket takes now; the rest goes to `backlog`. False when
// the peer is gone.
bool SendOrKeep(int fd, const char* data, std::size_t size, std::string& backlog) {
  std::size_t sent = 0;
  while (sent < size) {
    const ssize_t n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    return false;
  }
  backlog.append(data + sent, size - sent);
  return true;
}

bool Flush(int fd, std::string& backlog) {
  std::string rest;
  if (!SendOrKeep(fd, backlog.data(), backlog.size(), rest)) return false;
  backlog = std::move(rest);
  return true;
}

// What reading a side gave.
enum class Got { kData, kNothing, kEnd, kError };

}  // namespace

namespace {

// One thread of the pump: its epoll set, the sessions on it, its buffers.
// A session stays on the loop it was added to until it leaves the pump.
struct Loop {
  std::size_t max_statement_bytes;
  std::atomic<std::size_t> load{0};  // sessions on this loop (Pump::Add picks the least)
  int epoll_fd = -1;
  int wake_fd = -1;
  std::atomic<bool> stopping{false};
  std::mutex mutex;
  std::deque<std::unique_ptr<Entry>> incoming;  // guarded by mutex
  std::unordered_map<Entry*, std::unique_ptr<Entry>> entries;
  // Entries that ended during a batch of events: freed after the batch, so
  // a later event of the batch never meets a reused address.
  std::vector<std::unique_ptr<Entry>> ended;
  std::thread thread;
  std::vector<char> server_buffer = std::vector<char>(kChunk);
  // TLS sessions: ciphertext read, before an engine takes it, and sealed,
  // before a socket does.
  std::vector<char> cipher_buffer = std::vector<char>(kChunk);
  std::vector<char> sealed_buffer = std::vector<char>(kChunk);

  ~Loop() {
    if (epoll_fd >= 0) close(epoll_fd);
    if (wake_fd >= 0) close(wake_fd);
  }

  // Makes the thread look at `incoming` and `stopping`.
  void Wake() {
    const std::uint64_t one = 1;
    [[maybe_unused]] ssize_t ignored = write(wake_fd, &one, sizeof one);
  }

  void Run() {
    epoll_event events[64];
    while (!stopping.load(std::memory_order_relaxed)) {
      const int n = epoll_wait(epoll_fd, events, 64, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        return;
      }
      for (int i = 0; i < n; ++i) {
        if (events[i].data.ptr == nullptr) {
          TakeIncoming();
          continue;
        }
        Tag* tag = static_cast<Tag*>(events[i].data.ptr);
        // An entry that ended earlier in this batch: skip its events.
        if (tag->entry->session == nullptr) continue;
        Handle(*tag->entry, tag->client, events[i].events);
      }
      ended.clear();
    }
  }

  void TakeIncoming() {
    std::uint64_t count;
    [[maybe_unused]] ssize_t ignored = read(wake_fd, &count, sizeof count);
    std::deque<std::unique_ptr<Entry>> taken;
    {
      std::lock_guard lock(mutex);
      taken.swap(incoming);
    }
    for (std::unique_ptr<Entry>& owned : taken) {
      Entry& e = *owned;
      entries.emplace(&e, std::move(owned));
      epoll_event ev{};
      ev.events = e.client_events = EPOLLIN;
      ev.data.ptr = &e.client_tag;
      const bool client_ok = epoll_ctl(epoll_fd, EPOLL_CTL_ADD, e.client.fd, &ev) == 0;
      ev.events = e.upstream_events = EPOLLIN;
      ev.data.ptr = &e.upstream_tag;
      const bool upstream_ok = epoll_ctl(epoll_fd, EPOLL_CTL_ADD, e.upstream.fd, &ev) == 0;
      if (!client_ok || !upstream_ok) {
        // Cannot watch it here: the coroutines can.
        e.handing_back = true;
        MaybeHandBack(e);
        continue;
      }
      // What TLS still had to say, and bytes its engines already hold.
      if (!SendSealed(e.client, e.to_client)) {
        End(e, "client connection lost");
        continue;
      }
      if (!SendSealed(e.upstream, e.to_server)) {
        End(e, "upstream connection lost");
        continue;
      }
      Settle(e);
    }
  }

  void Handle(Entry& e, bool client, std::uint32_t events) {
    const bool readable = (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0;
    const bool writable = (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0;
    // A socket that hung up while it is not being read (back-pressure, or
    // waiting to hand back) would report it again at every wait: the
    // session is over.
    const std::uint32_t watched = client ? e.client_events : e.upstream_events;
    if ((events & (EPOLLHUP | EPOLLERR)) != 0 && (watched & EPOLLIN) == 0)
      return End(e, client ? "client connection lost" : "upstream connection lost");
    if (client) {
      if (writable && !e.to_client.empty() && !Flush(e.client.fd, e.to_client))
        return End(e, "client connection lost");
      if (readable && (e.client_events & EPOLLIN) != 0 && !ReadClient(e, true)) return;
    } else {
      if (writable && !e.to_server.empty() && !Flush(e.upstream.fd, e.to_server))
        return End(e, "upstream connection lost");
      if (readable && (e.upstream_events & EPOLLIN) != 0 && !ReadServer(e, true)) return;
    }
    Settle(e);
  }

  // After the events of an entry: what TLS engines hold and may be read
  // now is read (its socket will not wake the pump for it), then the
  // session is handed back, ended or watched for what it waits for.
  void Settle(Entry& e) {
    if (ClientReadable(e) && HoldsInput(e.client) && !ReadClient(e, false)) return;
    if (ServerReadable(e) && HoldsInput(e.upstream) && !ReadServer(e, false)) return;
    if (MaybeHandBack(e)) return;
    if (e.terminated && e.to_server.empty()) return End(e, "");
    UpdateEvents(e);
  }

  static bool ClientReadable(const Entry& e) {
    return !e.handing_back && !e.terminated && e.to_server.empty();
  }
  static bool ServerReadable(const Entry& e) { return e.to_client.empty(); }
  static bool HoldsInput(const PumpSide& side) {
    return side.tls != nullptr && side.tls->HoldsInput();
  }

  // Bytes from a side into [buffer, buffer + capacity): for TLS, what the
  // engine holds first, then (when `from_socket`) one recv of ciphertext;
  // plain, one recv. `why` tells a kError.
  Got Fill(PumpSide& side, char* buffer, std::size_t capacity, bool from_socket, std::size_t* got,
           std::string* why) {
    *got = 0;
    if (capacity == 0) return Got::kNothing;
    if (side.tls == nullptr) {
      if (!from_socket) return Got::kNothing;
      const ssize_t n = recv(side.fd, buffer, capacity, 0);
      if (n > 0) {
        *got = static_cast<std::size_t>(n);
        return Got::kData;
      }
      if (n == 0) return Got::kEnd;
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return Got::kNothing;
      *why = strerror(errno);
      return Got::kError;
    }
    for (int round = 0; round < 2; ++round) {
      switch (side.tls->Read(buffer, capacity, got)) {
        case TlsEngine::Status::kOk:
          return Got::kData;
        case TlsEngine::Status::kClosed:
          return Got::kEnd;
        case TlsEngine::Status::kError:
          *why = side.tls->error();
          return Got::kError;
        case TlsEngine::Status::kWantRead:
          break;
      }
      if (round == 1 || !from_socket) return Got::kNothing;
      const ssize_t n = recv(side.fd, cipher_buffer.data(), cipher_buffer.size(), 0);
      if (n == 0) return Got::kEnd;
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return Got::kNothing;
        *why = strerror(errno);
        return Got::kError;
      }
      side.tls->Feed(cipher_buffer.data(), static_cast<std::size_t>(n));
    }
    return Got::kNothing;
  }

  // Sends `data` to a side, sealed first for TLS; what the socket does not
  // take now waits in `backlog`. False when the peer is gone (or TLS failed).
  bool Deliver(PumpSide& side, const char* data, std::size_t size, std::string& backlog) {
    if (side.tls == nullptr) return SendOrKeep(side.fd, data, size, backlog);
    return side.tls->Write(data, size) && SendSealed(side, backlog);
  }

  // The engine's ciphertext to the socket, behind any backlog.
  bool SendSealed(PumpSide& side, std::string& backlog) {
    if (side.tls == nullptr) return true;
    while (side.tls->HasOutput()) {
      if (!backlog.empty()) {
        side.tls->TakeOutput(backlog);
        return true;
      }
      const std::size_t n = side.tls->TakeOutput(sealed_buffer.data(), sealed_buffer.size());
      if (n == 0) break;
      if (!SendOrKeep(side.fd, sealed_buffer.data(), n, backlog)) return false;
    }
    return true;
  }

  // Reads a side (the client's, or the server's): at most one recv; for
  // TLS, then what the engine holds, as long as the session may read on.
  // False when the entry is gone.
  bool ReadClient(Entry& e, bool from_socket) { return ReadSide(e, true, from_socket); }
  bool ReadServer(Entry& e, bool from_socket) { return ReadSide(e, false, from_socket); }
  bool ReadSide(Entry& e, bool client, bool from_socket) {
    const PumpSide& side = client ? e.client : e.upstream;
    bool more = false;
    do {
      if (!(client ? ReadClientOnce(e, from_socket, &more) : ReadServerOnce(e, from_socket, &more)))
        return false;
      from_socket = false;
    } while (more && side.tls != nullptr && (client ? ClientReadable(e) : ServerReadable(e)));
    return true;
  }

  // `more`: bytes were read (so an engine may hold more).
  bool ReadClientOnce(Entry& e, bool from_socket, bool* more) {
    *more = false;
    if (e.start == e.filled) e.start = e.filled = 0;
    if (e.filled == e.in.size()) {
      if (e.start > 0) {
        std::memmove(e.in.data(), e.in.data() + e.start, e.filled - e.start);
        e.filled -= e.start;
        e.start = 0;
      } else {
        e.in.resize(std::min(e.in.size() * 2, max_statement_bytes + kChunk));
      }
    }
    std::size_t n = 0;
    std::string why;
    switch (Fill(e.client, e.in.data() + e.filled, e.in.size() - e.filled, from_socket, &n, &why)) {
      case Got::kData:
        *more = true;
        break;
      case Got::kNothing:
        return true;
      case Got::kEnd:
        End(e, e.framer.in_message() || e.filled > e.start
                   ? "client went away mid-message; session closed"
                   : "");
        return false;
      case Got::kError:
        End(e, "client connection lost: " + why);
        return false;
    }
    e.filled += n;

    const std::string_view data(e.in.data(), e.filled);
    std::size_t pos = e.start;
    bool stop = false;
    while (!stop) {
      const std::size_t before = pos;
      wire::Framer::Piece piece = e.framer.Next(data, &pos, "QPFp");
      switch (piece.kind) {
        case wire::Framer::Piece::Kind::kNeedMore:
          stop = true;
          break;
        case wire::Framer::Piece::Kind::kError:
          // The coroutines report it to the client.
          pos = before;
          e.handing_back = true;
          stop = true;
          break;
        case wire::Framer::Piece::Kind::kHead:
          Count(e, piece.type);
          break;
        case wire::Framer::Piece::Kind::kContinuation:
          break;
        case wire::Framer::Piece::Kind::kWhole: {
          const std::string_view body = data.substr(piece.offset + 5, piece.size - 5);
          bool now = true;
          switch (piece.type) {
            case 'Q':
              now = !body.empty() && body.back() == '\0' &&
                    e.session->ForwardsNow(body.substr(0, body.find('\0')), nullptr);
              break;
            case 'P': {
              std::optional<wire::ParseMessage> parse = wire::ParseParse(body);
              now = parse && e.session->ForwardsNow(parse->query, &parse->parameter_types);
              break;
            }
            case 'F':
            case 'p':
              now = false;
              break;
            case 'X':
              e.terminated = true;
              stop = true;
              break;
            default:
              break;
          }
          if (!now) {
            pos = piece.offset;
            e.handing_back = true;
            stop = true;
          } else {
            Count(e, piece.type);
          }
          break;
        }
      }
    }
    // Nothing is ever rewritten here (that is the coroutines' work), so what
    // passes is one contiguous run.
    if (pos > e.start) {
      if (!Deliver(e.upstream, e.in.data() + e.start, pos - e.start, e.to_server)) {
        End(e, "upstream connection lost");
        return false;
      }
      e.start = pos;
    }
    return true;
  }

  // A client message that passes: what the server will owe for it.
  static void Count(Entry& e, char type) {
    if (type == 'Q' || type == 'S') ++e.syncs_outstanding;
    if (type == 'S') e.unsynced_extended = false;
    if (type == 'P' || type == 'B' || type == 'E' || type == 'D' || type == 'C' || type == 'H')
      e.unsynced_extended = true;
  }

  bool ReadServerOnce(Entry& e, bool from_socket, bool* more) {
    char* buffer = server_buffer.data();
    std::size_t size = 0;
    std::string why;
    const Got got = Fill(e.upstream, buffer, server_buffer.size(), from_socket, &size, &why);
    *more = got == Got::kData;
    if (got == Got::kNothing) return true;
    if (got != Got::kData) {
      const std::string reason = got == Got::kEnd ? std::string("closed by the server") : why;
      if (e.server_at_boundary() && e.to_client.empty()) {
        wire::ErrorFields f;
        f.severity = "FATAL";
        f.code = "08006";
        f.message = "dualkey: the database connection was lost (" + reason + ")";
        const std::string bytes = wire::BuildError(f);
        std::string ignored;
        Deliver(e.client, bytes.data(), bytes.size(), ignored);
      }
      End(e, "upstream connection lost: " + reason);
      return false;
    }
    for (std::size_t i = 0; i < size;) {
      if (e.server_remaining > 0) {
        if (e.want_status) {
          e.status = buffer[i];
          e.want_status = false;
        }
        const std::size_t take = std::min(e.server_remaining, size - i);
        e.server_remaining -= take;
        i += take;
        continue;
      }
      const std::size_t take = std::min<std::size_t>(5 - e.head_len, size - i);
      std::memcpy(e.head + e.head_len, buffer + i, take);
      e.head_len += take;
      i += take;
      if (e.head_len < 5) continue;
      const std::int32_t len = wire::ReadInt32(e.head + 1);
      if (len < 4) {
        End(e, "malformed message from upstream");
        return false;
      }
      e.server_remaining = static_cast<std::size_t>(len) - 4;
      e.want_status = e.head[0] == 'Z' && e.server_remaining > 0;
      if (e.head[0] == 'Z' && e.syncs_outstanding > 0) --e.syncs_outstanding;
      e.head_len = 0;
    }
    if (!Deliver(e.client, buffer, size, e.to_client)) {
      End(e, "client connection lost");
      return false;
    }
    return true;
  }

  // Hands the session back once nothing is in flight in the pump: the
  // client's next message unread, the server's stream at a boundary, both
  // backlogs sent. True when it did.
  bool MaybeHandBack(Entry& e) {
    if (!e.handing_back || e.terminated || !e.server_at_boundary() || !e.to_client.empty() ||
        !e.to_server.empty())
      return false;
    epoll_ctl(epoll_fd, EPOLL_CTL_DEL, e.client.fd, nullptr);
    epoll_ctl(epoll_fd, EPOLL_CTL_DEL, e.upstream.fd, nullptr);
    std::shared_ptr<PumpSession> session = std::move(e.session);
    std::string rest(e.in.data() + e.start, e.filled - e.start);
    PumpHandBack state;
    state.transaction_status = e.status;
    state.syncs_outstanding = e.syncs_outstanding;
    state.unsynced_extended = e.unsynced_extended;
    PumpSide client = std::move(e.client), upstream = std::move(e.upstream);
    Retire(e);
    session->Resume(std::move(client), std::move(upstream), std::move(rest), state);
    return true;
  }

  void End(Entry& e, const std::string& why) {
    epoll_ctl(epoll_fd, EPOLL_CTL_DEL, e.client.fd, nullptr);
    epoll_ctl(epoll_fd, EPOLL_CTL_DEL, e.upstream.fd, nullptr);
    close(e.client.fd);
    close(e.upstream.fd);
    std::shared_ptr<PumpSession> session = std::move(e.session);
    Retire(e);
    session->Finished(why);
  }

  void Retire(Entry& e) {
    load.fetch_sub(1, std::memory_order_relaxed);
    auto it = entries.find(&e);
    ended.push_back(std::move(it->second));
    entries.erase(it);
  }

  void UpdateEvents(Entry& e) {
    // Back-pressure: a side whose peer has not taken the last bytes is not
    // read until it has.
    const std::uint32_t client =
        (!e.handing_back && !e.terminated && e.to_server.empty() ? EPOLLIN : 0u) |
        (e.to_client.empty() ? 0u : EPOLLOUT);
    const std::uint32_t upstream =
        (e.to_client.empty() ? EPOLLIN : 0u) | (e.to_server.empty() ? 0u : EPOLLOUT);
    Modify(e.client.fd, &e.client_tag, client, e.client_events);
    Modify(e.upstream.fd, &e.upstream_tag, upstream, e.upstream_events);
  }

  void Modify(int fd, Tag* tag, std::uint32_t wanted, std::uint32_t& current) {
    if (wanted == current) return;
    epoll_event ev{};
    ev.events = wanted;
    ev.data.ptr = tag;
    epoll_ctl(epoll_fd, EPOLL_CTL_MOD, fd, &ev);
    current = wanted;
  }
};

}  // namespace

struct Pump::Impl {
  std::vector<std::unique_ptr<Loop>> loops;
};

int Pump::DefaultThreads() {
  const unsigned cores = std::thread::hardware_concurrency();
  return static_cast<int>(std::clamp(cores / 4, 1u, 4u));
}

std::unique_ptr<Pump> Pump::Start(std::size_t max_statement_bytes, int threads,
                                  std::string* error) {
  auto impl = std::make_unique<Impl>();
  const std::size_t count = static_cast<std::size_t>(std::max(1, threads));
  for (std::size_t i = 0; i < count; ++i) {
    auto loop = std::make_unique<Loop>();
    loop->max_statement_bytes = max_statement_bytes;
    loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    loop->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (loop->epoll_fd < 0 || loop->wake_fd < 0) {
      *error = std::string("epoll: ") + strerror(errno);
      return nullptr;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;
    if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, loop->wake_fd, &ev) != 0) {
      *error = std::string("epoll: ") + strerror(errno);
      return nullptr;
    }
    impl->loops.push_back(std::move(loop));
  }
  // Threads only once every loop exists: a failure above leaves none running.
  for (auto& loop : impl->loops) {
    Loop* raw = loop.get();
    loop->thread = std::thread([raw] { raw->Run(); });
  }
  return std::unique_ptr<Pump>(new Pump(std::move(impl)));
}

Pump::Pump(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Pump::~Pump() {
  for (auto& loop : impl_->loops) {
    loop->stopping = true;
    loop->Wake();
  }
  for (auto& loop : impl_->loops) {
    if (loop->thread.joinable()) loop->thread.join();
    for (auto& [entry, owned] : loop->entries) {
      close(entry->client.fd);
      close(entry->upstream.fd);
    }
  }
}

void Pump::Add(std::shared_ptr<PumpSession> session, PumpSide client, PumpSide upstream,
               const PumpHandBack& state, std::string client_bytes) {
  // The loop with the fewest sessions (a session coming back may land on
  // another loop than before: nothing of it stays behind in the old one).
  std::size_t pick = 0;
  for (std::size_t i = 1; i < impl_->loops.size(); ++i)
    if (impl_->loops[i]->load.load(std::memory_order_relaxed) <
        impl_->loops[pick]->load.load(std::memory_order_relaxed))
      pick = i;
  Loop& loop = *impl_->loops[pick];
  loop.load.fetch_add(1, std::memory_order_relaxed);
  auto entry = std::make_unique<Entry>(loop.max_statement_bytes);
  entry->session = std::move(session);
  entry->client = std::move(client);
  entry->upstream = std::move(upstream);
  entry->status = state.transaction_status;
  entry->syncs_outstanding = state.syncs_outstanding;
  entry->unsynced_extended = state.unsynced_extended;
  if (client_bytes.size() > entry->in.size()) entry->in.resize(client_bytes.size() + kChunk);
  std::memcpy(entry->in.data(), client_bytes.data(), client_bytes.size());
  entry->filled = client_bytes.size();
  {
    std::lock_guard lock(loop.mutex);
    loop.incoming.push_back(std::move(entry));
  }
  loop.Wake();
}

}  // namespace dualkey::pgproxy
