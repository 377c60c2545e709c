// Searching the audit log newest first, in bounded steps (see search.h).
#include "audit/search.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>

#include "audit/internal/file_io.h"
#include "audit/internal/format.h"
#include "base/json_text.h"
#include "base/time_text.h"

namespace dualkey::audit {
namespace {

using nlohmann::json;

const std::string kDecisionKind = "decision";  // each item of a "decisions" entry

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

std::string Count(std::uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

char Lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool ContainsFolded(std::string_view haystack, std::string_view folded_needle) {
  if (folded_needle.empty()) return true;
  if (haystack.size() < folded_needle.size()) return false;
  for (std::size_t i = 0; i + folded_needle.size() <= haystack.size(); ++i) {
    std::size_t j = 0;
    while (j < folded_needle.size() && Lower(haystack[i + j]) == folded_needle[j]) ++j;
    if (j == folded_needle.size()) return true;
  }
  return false;
}

// Any string in `value` (keys too), to a bounded depth.
bool AnyTextContains(const json& value, std::string_view folded, int depth = 0) {
  if (depth > 8) return false;
  if (value.is_string()) return ContainsFolded(value.get_ref<const std::string&>(), folded);
  if (value.is_number()) return ContainsFolded(value.dump(), folded);
  if (value.is_object()) {
    for (auto it = value.begin(); it != value.end(); ++it)
      if (ContainsFolded(it.key(), folded) || AnyTextContains(it.value(), folded, depth + 1))
        return true;
  } else if (value.is_array()) {
    for (const json& item : value)
      if (AnyTextContains(item, folded, depth + 1)) return true;
  }
  return false;
}

bool IsSnapshotId(std::string_view id) {
  if (id.empty() || id.size() > 64 || id.front() == '-') return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

std::string Plural(std::uint64_t n, const char* one, const char* many) {
  return Count(n) + " " + (n == 1 ? one : many);
}

std::string Summary(const std::string& kind, const json& f) {
  const std::string reason = Str(f, "reason");
  const std::string id = Str(f, "approval_id");
  if (kind == "hold") {
    const int needed = f.value("approvals_needed", 1);
    std::string out = "held as " + id;
    if (!Str(f, "code").empty()) out += " (code " + Str(f, "code") + ")";
    out += ", needs " + Plural(static_cast<std::uint64_t>(needed), "approval", "approvals");
    if (f.value("reasked", false)) out += "; asked again";
    return reason.empty() ? out : out + ": " + reason;
  }
  if (kind == "approval") {
    std::string out = Str(f, "approver") + " approved " + id;
    if (!Str(f, "factor").empty()) out += " with a " + Str(f, "factor");
    if (Str(f, "via") == "page") out += " on the page";
    if (Str(f, "state") != "approved")
      out += " (" + std::to_string(f.value("approvals", 0)) + " of " +
             std::to_string(f.value("approvals_needed", 0)) + " approvals; still held)";
    return reason.empty() ? out : out + ": " + reason;
  }
  if (kind == "denial") {
    std::string out = Str(f, "by") + " denied " + id;
    return reason.empty() ? out : out + ": " + reason;
  }
  if (kind == "expiry") return id + " expired unanswered";
  if (kind == "vault_snapshot")
    return "saved " + Plural(f.value("files", std::uint64_t{0}), "file", "files") + " (" +
           Count(f.value("bytes", std::uint64_t{0})) + " bytes) as vault snapshot " +
           Str(f, "snapshot_id") + (id.empty() ? "" : " before " + id + " ran");
  if (kind == "breaker") return "froze agent " + Str(f, "agent") + ": " + Str(f, "why");
  if (kind == "breaker_reset") return Str(f, "approver") + " reset the breaker";
  if (!reason.empty()) return reason;
  if (!Str(f, "why").empty()) return Str(f, "why");
  if (!Str(f, "error").empty()) return Str(f, "error");
  return "";
}

// The seq and time of an entry line as Log writes it ({"seq":N,"time_ms":T,
// ...), read without parsing the rest; false for anything else.
bool QuickHead(std::string_view line, std::uint64_t* seq, std::int64_t* time_ms) {
  constexpr std::string_view kSeq = "{\"seq\":", kTime = ",\"time_ms\":";
  if (!line.starts_with(kSeq)) return false;
  const char* at = line.data() + kSeq.size();
  const char* end = line.data() + line.size();
  auto [after_seq, seq_error] = std::from_chars(at, end, *seq);
  if (seq_error != std::errc() ||
      std::string_view(after_seq, end - after_seq).substr(0, kTime.size()) != kTime)
    return false;
  auto [after_time, time_error] = std::from_chars(after_seq + kTime.size(), end, *time_ms);
  return time_error == std::errc() && after_time < end && *after_time == ',';
}

}  // namespace

std::string UtcTime(std::int64_t time_ms) {
  return base::FormatTime(time_ms, "%Y-%m-%d %H:%M:%S UTC", base::TimeZone::kUtc);
}

std::string ShellWord(std::string_view text) {
  const bool plain = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '/' || c == ':' || c == '@' || c == '+' || c == ',' ||
           c == '=';
  });
  if (plain) return std::string(text);
  std::string out = "'";
  for (char c : text) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

std::string DecisionOf(const std::string& kind, const json& fields) {
  if (kind == "consumed") return "approved";
  if (kind == "approval") return Str(fields, "state") == "approved" ? "approved" : "hold2";
  if (kind == "denial") return "denied";
  if (kind == "expiry") return "expired";
  if (kind == "verdict" || kind == "hold" || kind == "decision") {
    const std::string decision = Str(fields, "decision");
    for (std::string_view known : kDecisions)
      if (decision == known && decision != "approved" && decision != "denied" &&
          decision != "expired")
        return decision;
  }
  return "";
}

std::string RestoreCommand(const json& fields) {
  const std::string id = Str(fields, "snapshot_id");
  if (!IsSnapshotId(id)) return "";
  std::string command = "dualkey vault restore " + id;
  const std::string vault = Str(fields, "vault");
  if (!vault.empty() && base::IsValidUtf8(vault)) command += " --vault " + ShellWord(vault);
  const std::string cwd = Str(fields, "cwd");
  if (Str(fields, "channel") == "sql" && cwd.starts_with("pg:") && cwd.size() > 3 &&
      base::IsValidUtf8(cwd))
    command += " --db " + ShellWord(cwd.substr(3));
  return command;
}

json RecordJson(std::uint64_t seq, std::int64_t time_ms, const std::string& kind,
                const json& fields, const std::string& hash) {
  const json& f = fields.is_object() ? fields : json::object();
  json record{{"seq", seq},
              {"time_ms", time_ms},
              {"time", UtcTime(time_ms)},
              {"kind", kind},
              {"decision", DecisionOf(kind, f)},
              {"summary", Summary(kind, f)},
              {"hash", hash}};
  for (const char* key : {"agent", "class", "channel", "input", "cwd", "approval_id"})
    if (!Str(f, key).empty()) record[key] = Str(f, key);
  std::string approver = Str(f, "approver");
  if (approver.empty()) approver = Str(f, "by");
  if (approver.empty() && f.contains("approvers") && f["approvers"].is_array()) {
    for (const json& name : f["approvers"])
      if (name.is_string()) approver += (approver.empty() ? "" : ", ") + name.get<std::string>();
  }
  if (!approver.empty()) record["approver"] = approver;
  if (!Str(f, "snapshot_id").empty()) {
    record["snapshot_id"] = Str(f, "snapshot_id");
    const std::string restore = RestoreCommand(f);
    if (!restore.empty()) record["restore"] = restore;
  }
  record["fields"] = f;
  return record;
}

std::string CheckQuery(const SearchQuery& query) {
  if (query.limit < 1 || query.limit > kMaxSearchLimit)
    return "limit must be a whole number from 1 to " + std::to_string(kMaxSearchLimit);
  if (!query.decision.empty() && std::find(std::begin(kDecisions), std::end(kDecisions),
                                           query.decision) == std::end(kDecisions)) {
    std::string known;
    for (std::string_view d : kDecisions) known += (known.empty() ? "" : ", ") + std::string(d);
    return "unknown decision '" + base::ToValidUtf8(query.decision.substr(0, 40)) +
           "' (one of: " + known + ")";
  }
  const std::pair<const char*, const std::string*> texts[] = {
      {"agent", &query.agent}, {"class", &query.op_class}, {"text", &query.text}};
  for (const auto& [name, value] : texts) {
    if (value->size() > kMaxFilterLength)
      return std::string(name) + " is longer than " + std::to_string(kMaxFilterLength) +
             " characters";
    if (!base::IsValidUtf8(*value)) return std::string(name) + " is not valid UTF-8";
  }
  return "";
}

bool ParseCursor(std::string_view text, SearchQuery* query) {
  const std::size_t dot = text.find('.');
  const std::string_view offset = text.substr(0, dot);
  const std::string_view item = dot == std::string_view::npos ? "" : text.substr(dot + 1);
  std::uint64_t at = 0;
  std::uint32_t from_item = 0;
  const auto whole = [](std::string_view digits, auto* value) {
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), *value);
    return !digits.empty() && digits.size() <= 15 && ec == std::errc() &&
           end == digits.data() + digits.size() && *value > 0;
  };
  if (!whole(offset, &at) || (dot != std::string_view::npos && !whole(item, &from_item)))
    return false;
  query->cursor = at;
  query->cursor_item = from_item;
  return true;
}

std::string CursorText(const SearchResult& result) {
  if (result.next_cursor == 0) return "";
  std::string text = std::to_string(result.next_cursor);
  if (result.next_cursor_item > 0) text += "." + std::to_string(result.next_cursor_item);
  return text;
}

std::optional<SearchResult> Search(const std::string& path, const SearchQuery& query,
                                   std::string* error, const SearchLimits& limits,
                                   bool* bad_query) {
  if (bad_query != nullptr) *bad_query = false;
  if (std::string bad = CheckQuery(query); !bad.empty()) {
    *error = bad;
    if (bad_query != nullptr) *bad_query = true;
    return std::nullopt;
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *error = "cannot open " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    *error = "cannot read " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  off_t end = st.st_size;
  if (query.cursor != 0) {
    // A cursor is where a line starts: the byte before it ends a line.
    char before = 0;
    if (query.cursor > static_cast<std::uint64_t>(st.st_size) ||
        pread(fd, &before, 1, static_cast<off_t>(query.cursor) - 1) != 1 || before != '\n') {
      *error = "cursor " + std::to_string(query.cursor) +
               " is not a place in this log a search returned (start again without it)";
      if (bad_query != nullptr) *bad_query = true;
      return std::nullopt;
    }
    end = static_cast<off_t>(query.cursor);
  } else if (end > 0) {
    // A torn final line (a write under way, or a crash) is no record yet:
    // the search ends at the last '\n'.
    char last = 0;
    if (pread(fd, &last, 1, end - 1) != 1) last = 0;
    std::string chunk;
    while (end > 0 && last != '\n') {
      const off_t from = std::max<off_t>(0, end - 65536);
      chunk.assign(static_cast<std::size_t>(end - from), '\0');
      if (pread(fd, chunk.data(), chunk.size(), from) != static_cast<ssize_t>(chunk.size())) {
        *error = "cannot read " + path + ": " + std::strerror(errno);
        return std::nullopt;
      }
      const std::size_t nl = chunk.rfind('\n');
      if (nl != std::string::npos) {
        end = from + static_cast<off_t>(nl) + 1;
        break;
      }
      end = from;
    }
  }

  std::string needle;
  for (char c : query.text) needle += Lower(c);
  const std::string family = query.op_class.empty() ? "" : query.op_class + ".";
  // What a matching line must contain as written (Log writes fields with
  // nlohmann's escaping), so that most lines are passed over unparsed.
  std::vector<std::string> must;
  if (!query.agent.empty()) must.push_back("\"agent\":" + base::JsonDump(json(query.agent)));
  if (!query.op_class.empty()) {
    std::string quoted = base::JsonDump(json(query.op_class));
    quoted.pop_back();  // a family goes on after it
    must.push_back("\"class\":" + quoted);
  }
  // The text, unless JSON escapes a character of it (then only a parsed
  // line can tell).
  const bool raw_text = !needle.empty() && std::none_of(needle.begin(), needle.end(), [](char c) {
    return c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20;
  });
  // Approvals are written before the action they allowed runs (and its
  // snapshot): going backwards the run is read first, so an approval can
  // be shown with the snapshot of the run it allowed.
  std::map<std::string, json> run_of_approval;

  SearchResult result;
  internal::BackwardLines lines(fd, end);
  std::string line;
  off_t start = end;
  std::uint64_t bytes = 0, reply_bytes = 0;
  std::string read_error;
  // The first line read is the one a cursor with an item ended within.
  std::uint32_t from_item = query.cursor != 0 ? query.cursor_item : 0;
  bool page_full = false;
  while (!page_full && static_cast<int>(result.records.size()) < query.limit) {
    if (bytes >= limits.max_bytes || result.scanned >= limits.max_entries ||
        reply_bytes >= limits.max_reply_bytes) {
      result.scan_limited = reply_bytes < limits.max_reply_bytes;
      result.next_cursor = static_cast<std::uint64_t>(start);
      break;
    }
    if (!lines.Next(&line, &start, &read_error)) {
      if (!read_error.empty()) {
        *error = "cannot read " + path + ": " + read_error;
        return std::nullopt;
      }
      result.next_cursor = 0;
      break;
    }
    bytes += line.size() + 1;
    if (start == 0) {  // the header
      result.next_cursor = 0;
      break;
    }
    std::uint64_t quick_seq = 0;
    std::int64_t quick_time = 0;
    const bool quick = QuickHead(line, &quick_seq, &quick_time);
    if (quick) {
      ++result.scanned;
      result.oldest_seq = quick_seq;
      result.oldest_time_ms = quick_time;
      bool maybe = std::all_of(must.begin(), must.end(), [&](const std::string& part) {
        return line.find(part) != std::string::npos;
      });
      if (maybe && raw_text) maybe = ContainsFolded(line, needle);
      // A consumed record is read in any case: an approval may need its snapshot.
      if (!maybe && line.find(R"("kind":"consumed")") == std::string::npos) continue;
    }
    std::optional<json> parsed = base::JsonParse(line);
    if (!parsed || !parsed->is_object() || parsed->contains("checkpoint") ||
        parsed->contains("dualkey_audit"))
      continue;
    const json& value = *parsed;
    auto seq = value.find("seq");
    auto time = value.find("time_ms");
    if (seq == value.end() || !seq->is_number_unsigned() || time == value.end() ||
        !time->is_number_integer())
      continue;
    const std::uint64_t entry_seq = seq->get<std::uint64_t>();
    const std::int64_t entry_time_ms = time->get<std::int64_t>();
    if (!quick) {
      ++result.scanned;
      result.oldest_seq = entry_seq;
      result.oldest_time_ms = entry_time_ms;
    }
    // A "decisions" entry is searched as its items, newest (last) first; a
    // page that fills up within one ends there, and its cursor names the
    // line and the next item.
    const std::string entry_kind = Str(value, "kind");
    const std::string entry_hash = Str(value, "hash");
    const json no_fields = json::object();
    const json& entry_fields =
        value.contains("fields") && value["fields"].is_object() ? value["fields"] : no_fields;
    const json* items = internal::BatchItems(entry_kind, entry_fields);
    std::size_t count = items != nullptr ? items->size() : 1;
    if (items != nullptr && from_item > 0) count = std::min<std::size_t>(count, from_item);
    from_item = 0;
    for (std::size_t n = count; n > 0; --n) {
      if (static_cast<int>(result.records.size()) >= query.limit) {
        // Items of this entry are left: the next page starts with them.
        result.next_cursor = static_cast<std::uint64_t>(start) + line.size() + 1;
        result.next_cursor_item = static_cast<std::uint32_t>(n);
        page_full = true;
        break;
      }
      const std::uint32_t item = items != nullptr ? static_cast<std::uint32_t>(n) : 0;
      const std::string& kind = items != nullptr ? kDecisionKind : entry_kind;
      const json fields = items != nullptr
                              ? internal::BatchItemFields((*items)[n - 1], entry_fields)
                              : entry_fields;
      if (kind == "consumed" && !Str(fields, "approval_id").empty() &&
          !Str(fields, "snapshot_id").empty() && run_of_approval.size() < 10'000)
        run_of_approval.emplace(Str(fields, "approval_id"),
                                json{{"seq", entry_seq}, {"fields", fields}});
      if (!query.agent.empty() && Str(fields, "agent") != query.agent) continue;
      if (!family.empty()) {
        const std::string c = Str(fields, "class");
        if (c != query.op_class && !c.starts_with(family)) continue;
      }
      if (!query.decision.empty() && DecisionOf(kind, fields) != query.decision) continue;
      if (!needle.empty() && !ContainsFolded(kind, needle) && !AnyTextContains(fields, needle))
        continue;
      json record = RecordJson(entry_seq, entry_time_ms, kind, fields, entry_hash);
      if (item > 0) record["item"] = item;
      if (kind == "approval" && !record.contains("snapshot_id")) {
        if (auto run = run_of_approval.find(Str(fields, "approval_id"));
            run != run_of_approval.end()) {
          const json& run_fields = run->second["fields"];
          record["snapshot_id"] = Str(run_fields, "snapshot_id");
          const std::string restore = RestoreCommand(run_fields);
          if (!restore.empty()) record["restore"] = restore;
          record["snapshot_seq"] = run->second["seq"];
        }
      }
      reply_bytes += base::JsonDump(record).size();
      result.records.push_back(std::move(record));
    }
  }
  if (static_cast<int>(result.records.size()) >= query.limit && result.next_cursor == 0 &&
      start > 0) {
    // Full page: more may be older. (The header starts at 0.)
    result.next_cursor = static_cast<std::uint64_t>(start);
  }
  return result;
}

std::optional<FileState> StateOf(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return std::nullopt;
  FileState state;
  state.inode = st.st_ino;
  state.size = st.st_size;
  state.mtime_ns =
      static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  return state;
}

VerifyStatus StatusOf(const VerifyReport& report, std::int64_t checked_ms) {
  VerifyStatus status;
  status.checked_ms = checked_ms;
  status.entries = report.entries;
  status.last_seq = report.last_seq;
  status.problems = report.problems.size();
  if (!report.problems.empty()) status.problem = report.problems.front();
  if (report.unreadable) {
    status.state = VerifyStatus::State::kUnreadable;
  } else if (report.ok) {
    status.state = VerifyStatus::State::kIntact;
  } else {
    status.state = VerifyStatus::State::kBroken;
    status.broken_line = report.first_problem_line;
    status.broken_seq = report.first_problem_seq;
  }
  return status;
}

std::string VerifyWords(const VerifyStatus& s) {
  const std::string when = s.checked_ms > 0 ? " (checked " + UtcTime(s.checked_ms) + ")" : "";
  std::string words;
  switch (s.state) {
    case VerifyStatus::State::kNotChecked:
      words = "audit log not checked" + (s.why_not.empty() ? "" : " (" + s.why_not + ")") +
              (s.checking ? "; checking it now" : "");
      return words;
    case VerifyStatus::State::kIntact:
      words = "audit log intact: " + Plural(s.entries, "entry", "entries") + " up to seq " +
              std::to_string(s.last_seq) + when;
      break;
    case VerifyStatus::State::kBroken:
      words = "audit log TAMPERED: broken at " +
              (s.broken_seq > 0    ? "record " + std::to_string(s.broken_seq)
               : s.broken_line > 0 ? "line " + std::to_string(s.broken_line)
                                   : std::string("its start")) +
              " (" + s.problem + ")" +
              (s.problems > 1 ? " and " + Plural(s.problems - 1, "more problem", "more problems")
                              : "") +
              when + "; `dualkey audit verify` lists them";
      break;
    case VerifyStatus::State::kUnreadable:
      words = "audit log unreadable: " + s.problem + when;
      break;
  }
  if (!s.current) words += "; records written since are not checked yet";
  if (s.checking) words += "; checking again now";
  return words;
}

json ToJson(const VerifyStatus& s) {
  const char* state = s.state == VerifyStatus::State::kIntact       ? "intact"
                      : s.state == VerifyStatus::State::kBroken     ? "broken"
                      : s.state == VerifyStatus::State::kUnreadable ? "unreadable"
                                                                    : "not_checked";
  json out{{"state", state},
           {"checked_ms", s.checked_ms},
           {"entries", s.entries},
           {"last_seq", s.last_seq},
           {"current", s.current},
           {"checking", s.checking},
           {"words", base::ToValidUtf8(VerifyWords(s))}};
  if (s.state == VerifyStatus::State::kBroken) {
    out["broken_line"] = s.broken_line;
    out["broken_seq"] = s.broken_seq;
  }
  if (!s.problem.empty()) out["problem"] = base::ToValidUtf8(s.problem);
  return out;
}

std::string ScanWords(const SearchResult& result) {
  if (!result.scan_limited) return "";
  return "searched " + Plural(result.scanned, "record", "records") + " back to seq " +
         std::to_string(result.oldest_seq) + " (" + UtcTime(result.oldest_time_ms) +
         ") without filling the page; older records go on from the cursor";
}

json SearchReply(const SearchResult& result, const VerifyStatus& status) {
  json decisions = json::array();
  for (std::string_view d : kDecisions) decisions.push_back(std::string(d));
  json reply{{"ok", true},
             {"records", result.records},
             {"scanned", result.scanned},
             {"scan_limited", result.scan_limited},
             {"oldest_seq", result.oldest_seq},
             {"decisions", std::move(decisions)},
             {"verify", ToJson(status)}};
  // A string: a client hands it back as it came (no float rounding).
  if (result.next_cursor != 0) reply["next_cursor"] = CursorText(result);
  if (result.oldest_time_ms != 0) reply["oldest_time"] = UtcTime(result.oldest_time_ms);
  if (result.scan_limited) reply["scan_words"] = ScanWords(result);
  return reply;
}

std::string SearchText(const SearchResult& result, const VerifyStatus& status,
                       const std::string& more) {
  std::string out = VerifyWords(status) + "\n";
  if (result.records.empty()) out += "no records match\n";
  for (const json& r : result.records) {
    const std::string decision = Str(r, "decision");
    const std::uint64_t item = r.value("item", std::uint64_t{0});
    out += "#" + std::to_string(r.value("seq", std::uint64_t{0})) +
           (item > 0 ? "." + std::to_string(item) : std::string()) + "  " + Str(r, "time") + "  " +
           (decision.empty() ? "-" : decision) + "  " + Str(r, "kind");
    if (!Str(r, "agent").empty()) out += "  agent " + Str(r, "agent");
    if (!Str(r, "class").empty()) out += "  class " + Str(r, "class");
    out += "\n";
    if (!Str(r, "input").empty()) out += "    input: " + Str(r, "input") + "\n";
    if (!Str(r, "summary").empty()) out += "    " + Str(r, "summary") + "\n";
    if (!Str(r, "snapshot_id").empty())
      out += "    vault snapshot " + Str(r, "snapshot_id") +
             (Str(r, "restore").empty() ? "" : "; restore: " + Str(r, "restore")) + "\n";
  }
  if (result.scan_limited) out += ScanWords(result) + "\n";
  if (result.next_cursor != 0)
    out += "older records: " + (more.empty() ? std::string("--cursor ") : more + " --cursor ") +
           CursorText(result) + "\n";
  return base::ToValidUtf8(out);
}

}  // namespace dualkey::audit
