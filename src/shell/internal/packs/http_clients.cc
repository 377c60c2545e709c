// HTTP clients: curl, wget, HTTPie (http, https) and xh (xh, xhs). Each
// invocation is turned into the request it would send (method, URL, headers,
// body, with `@file` bodies read when the file is local and small) and
// classified by the HTTP channel (src/http), so a GraphQL mutation or a cloud
// API DELETE sent with curl is judged like the same request from anywhere.
// Downloads (`curl -o file URL`) are reads; `curl URL | bash` is the bash
// handler's business, not this pack's.
#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "base/text.h"
#include "http/http.h"
#include "shell/internal/packs/packs.h"
#include "shell/internal/packs/shared.h"

namespace dualkey::shell {
namespace {

constexpr std::size_t kMaxBodyBytes = 1 << 20;

// The request being built, and whether all of it is known.
struct Built {
  std::string method;  // empty: decided from the data options
  bool method_known = true;
  std::vector<std::string> urls;
  bool url_known = true;
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<std::string> data;  // joined with '&' (curl) or used as is
  bool body_known = true;
  bool has_data = false;
  bool get_with_data = false;  // curl -G: data goes to the query string
  std::string content_type;    // implied by --json / -F / form items
};

bool ReadLocalFile(const Invocation& inv, const Arg& arg, std::string_view name, std::string* out) {
  if (inv.remote || !arg.known || name.empty() || name == "-") return false;
  std::string path(name);
  if (path[0] != '/') {
    if (inv.cwd.empty()) return false;
    path = inv.cwd + "/" + path;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out->assign(kMaxBodyBytes + 1, '\0');
  in.read(out->data(), static_cast<std::streamsize>(out->size()));
  if (in.gcount() > static_cast<std::streamsize>(kMaxBodyBytes) || in.bad()) return false;
  out->resize(static_cast<std::size_t>(in.gcount()));
  return true;
}

// A value that is nothing but a run-time placeholder ("$BODY", "$(cat x)"):
// nothing of the body is known. Partly known text ('{"text": "$MSG"}') is
// classified as written.
bool WhollyUnknown(const Arg& arg) {
  if (arg.known || !arg.text.starts_with("$")) return false;
  std::string_view text = arg.text;
  if (text.starts_with("$(") || text.starts_with("${")) {
    const char close = text[1] == '(' ? ')' : '}';
    return text.find(close) == text.size() - 1;
  }
  return std::all_of(text.begin() + 1, text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

void AddHeader(Built* built, std::string_view line) {
  std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) return;  // "X;" (empty header) or junk
  std::string_view name = line.substr(0, colon), value = line.substr(colon + 1);
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  built->headers.emplace_back(std::string(name), std::string(value));
}

using shared::ArgsOf;

// A fetch client's command line, word by word: after "--" every word is an
// operand; a long option is "--name", "--name=value" or "--name value"; a
// word of "-" and more is a cluster of short options, or an operand when
// `short_options(i)` says false. `long_option(name)` notes a flag and says
// whether the option takes a value; `take(name, value)` gets each value;
// `short_options(i)` reads the cluster at args[i] and moves i past a value
// it uses; `operand(arg)` gets the rest.
template <typename LongOption, typename Take, typename ShortOptions, typename Operand>
void WalkOptions(std::span<const Arg> args, LongOption long_option, Take take,
                 ShortOptions short_options, Operand operand) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const Arg& arg = args[i];
    const std::string& text = arg.text;
    if (text == "--") {
      for (++i; i < args.size(); ++i) operand(args[i]);
      break;
    }
    if (text.starts_with("--")) {
      const std::size_t eq = text.find('=');
      const std::string name = text.substr(0, eq);
      if (!long_option(name)) continue;
      if (eq != std::string::npos) {
        Arg value = arg;
        value.text = text.substr(eq + 1);
        take(name, value);
      } else if (i + 1 < args.size()) {
        take(name, args[++i]);
      }
      continue;
    }
    if (text.size() > 1 && text[0] == '-' && short_options(i)) continue;
    operand(arg);
  }
}

// The URL as the HTTP channel takes it. A URL with run-time parts keeps its
// path on a placeholder host: the method and path still say a lot.
std::string UrlFor(const Arg& arg, std::string_view default_scheme, bool* known) {
  std::string text = arg.text;
  if (!arg.known) {
    *known = false;
    std::size_t start = text.find("://");
    start = start == std::string::npos ? 0 : start + 3;
    std::size_t slash = text.find('/', start);
    return "https://unknown.invalid" + (slash == std::string::npos ? "/" : text.substr(slash));
  }
  if (text.find("://") == std::string::npos) {
    if (text.starts_with(":")) text = "localhost" + text;  // HTTPie's :3000/path
    text = std::string(default_scheme) + "://" + text;
  }
  return text;
}

void EmitFetchAll(const Invocation& inv, const Built& built, std::string_view tool,
                  std::string_view default_method, std::string_view default_scheme, Context& ctx) {
  if (built.urls.empty()) return;
  if (!built.method_known) {
    ctx.Emit(MakeAction(
        "opaque.http", {}, Reversibility::kUnknown, Severity::kMedium,
        std::string(tool) + " sends a method only known when it runs (" + built.method + ")"));
    return;
  }
  std::string method = built.method.empty() ? std::string(default_method) : built.method;
  std::string body;
  for (const std::string& part : built.data) {
    if (!body.empty()) body.push_back('&');
    body += part;
  }
  for (const std::string& raw_url : built.urls) {
    http::Request request;
    request.method = method;
    request.url = raw_url;
    request.headers = built.headers;
    if (!built.content_type.empty() &&
        std::none_of(request.headers.begin(), request.headers.end(), [](const auto& header) {
          return header.first.size() == 12 &&
                 std::equal(header.first.begin(), header.first.end(), "content-type",
                            [](char a, char b) {
                              return std::tolower(static_cast<unsigned char>(a)) == b;
                            });
        }))
      request.headers.emplace_back("Content-Type", built.content_type);
    if (built.get_with_data && !body.empty()) {
      request.url += (request.url.find('?') == std::string::npos ? "?" : "&") + body;
    } else {
      request.body = body;
    }
    for (Action& action : http::Classify(request)) {
      action.channel = Channel::kShell;
      if (!built.body_known && !IsDestructive(action) && action.op_class != "read.only" &&
          action.op_class != "notify") {
        // The body decides what a write does, and part of it is unknown.
        action.op_class = "opaque.http";
        action.severity = Severity::kMedium;
        action.reversibility = Reversibility::kUnknown;
        action.reason = std::string(tool) +
                        " sends a body only known when it runs (an unreadable @file or a "
                        "run-time value): " +
                        action.reason;
      } else {
        action.reason = std::string(tool) + ": " + action.reason;
      }
      ctx.Emit(std::move(action));
    }
  }
}

// ================================================================ curl

// Options that take a value: a short letter, or the long name.
constexpr std::string_view kCurlShortWithValue = "XdFHouAebcxTKmwrECYyzUQtPD";
constexpr std::array<std::string_view, 60> kCurlLongWithValue = {"--request",
                                                                 "--data",
                                                                 "--data-raw",
                                                                 "--data-binary",
                                                                 "--data-ascii",
                                                                 "--data-urlencode",
                                                                 "--json",
                                                                 "--form",
                                                                 "--form-string",
                                                                 "--header",
                                                                 "--output",
                                                                 "--user",
                                                                 "--user-agent",
                                                                 "--referer",
                                                                 "--cookie",
                                                                 "--cookie-jar",
                                                                 "--proxy",
                                                                 "--upload-file",
                                                                 "--config",
                                                                 "--url",
                                                                 "--max-time",
                                                                 "--connect-timeout",
                                                                 "--write-out",
                                                                 "--range",
                                                                 "--cert",
                                                                 "--cacert",
                                                                 "--key",
                                                                 "--retry",
                                                                 "--continue-at",
                                                                 "--speed-limit",
                                                                 "--speed-time",
                                                                 "--time-cond",
                                                                 "--resolve",
                                                                 "--connect-to",
                                                                 "--interface",
                                                                 "--limit-rate",
                                                                 "--proxy-user",
                                                                 "--oauth2-bearer",
                                                                 "--aws-sigv4",
                                                                 "--quote",
                                                                 "--max-filesize",
                                                                 "--variable",
                                                                 "--dump-header",
                                                                 "--retry-delay",
                                                                 "--retry-max-time",
                                                                 "--output-dir",
                                                                 "--cert-type",
                                                                 "--key-type",
                                                                 "--pass",
                                                                 "--ciphers",
                                                                 "--capath",
                                                                 "--noproxy",
                                                                 "--proxy-header",
                                                                 "--trace",
                                                                 "--trace-ascii",
                                                                 "--stderr",
                                                                 "--max-redirs",
                                                                 "--login-options",
                                                                 "--dns-servers",
                                                                 "--unix-socket"};

void CurlData(const Invocation& inv, std::string_view option, const Arg& value, Built* built) {
  built->has_data = true;
  const std::string& text = value.text;
  if (WhollyUnknown(value)) built->body_known = false;
  if (option == "-F" || option == "--form" || option == "--form-string") {
    if (built->content_type.empty()) built->content_type = "multipart/form-data";
    built->data.push_back(text);  // uploads are not read: the field names say enough
    return;
  }
  if (option == "--json") {
    built->content_type = "application/json";
    built->headers.emplace_back("Accept", "application/json");
  } else if (built->content_type.empty()) {
    built->content_type = "application/x-www-form-urlencoded";
  }
  if (option == "--data-raw") {
    built->data.push_back(text);
    return;
  }
  if (option == "--data-urlencode") {
    // content | =content | name=content | @file | name@file
    std::size_t eq = text.find('='), at = text.find('@');
    if (at != std::string::npos && (eq == std::string::npos || at < eq)) {
      std::string contents;
      if (!ReadLocalFile(inv, value, std::string_view(text).substr(at + 1), &contents))
        built->body_known = false;
      std::string name = text.substr(0, at);
      built->data.push_back((name.empty() ? "" : name + "=") + base::PercentEncode(contents));
    } else if (eq != std::string::npos) {
      built->data.push_back((eq == 0 ? "" : text.substr(0, eq + 1)) +
                            base::PercentEncode(std::string_view(text).substr(eq + 1)));
    } else {
      built->data.push_back(base::PercentEncode(text));
    }
    return;
  }
  if (text.starts_with("@")) {
    std::string contents;
    if (!ReadLocalFile(inv, value, std::string_view(text).substr(1), &contents)) {
      built->body_known = false;
      return;
    }
    if (option == "-d" || option == "--data" || option == "--data-ascii") {
      // curl drops carriage returns and newlines from -d @file.
      contents.erase(std::remove_if(contents.begin(), contents.end(),
                                    [](char c) { return c == '\r' || c == '\n'; }),
                     contents.end());
    }
    built->data.push_back(std::move(contents));
    return;
  }
  built->data.push_back(text);
}

void HandleCurl(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  Built built;
  bool head = false, get = false, upload = false, config = false, quote = false;
  auto take_option = [&](std::string_view option, const Arg& value) {
    if (option == "-X" || option == "--request") {
      built.method = value.text;
      built.method_known = value.known;
    } else if (option == "-H" || option == "--header") {
      if (!value.text.starts_with("@")) AddHeader(&built, value.text);
    } else if (option == "-d" || option == "--data" || option == "--data-raw" ||
               option == "--data-binary" || option == "--data-ascii" ||
               option == "--data-urlencode" || option == "--json" || option == "-F" ||
               option == "--form" || option == "--form-string") {
      CurlData(inv, option, value, &built);
    } else if (option == "--url") {
      built.urls.push_back(UrlFor(value, "http", &built.url_known));
    } else if (option == "-T" || option == "--upload-file") {
      upload = true;
    } else if (option == "-K" || option == "--config") {
      config = true;
    } else if (option == "-Q" || option == "--quote") {
      quote = true;
    }
  };
  auto long_option = [&](const std::string& name) {
    if (name == "--head")
      head = true;
    else if (name == "--get")
      get = true;
    return std::find(kCurlLongWithValue.begin(), kCurlLongWithValue.end(), name) !=
           kCurlLongWithValue.end();
  };
  auto short_options = [&](std::size_t& i) {
    const Arg& arg = args[i];
    const std::string& text = arg.text;
    for (std::size_t k = 1; k < text.size(); ++k) {
      char flag = text[k];
      if (kCurlShortWithValue.find(flag) == std::string_view::npos) {
        if (flag == 'I') head = true;
        if (flag == 'G') get = true;
        continue;
      }
      const std::string option = std::string("-") + flag;
      if (k + 1 < text.size()) {
        Arg value = arg;
        value.text = text.substr(k + 1);
        take_option(option, value);
      } else if (i + 1 < args.size()) {
        take_option(option, args[++i]);
      }
      break;
    }
    return true;
  };
  WalkOptions(args, long_option, take_option, short_options, [&](const Arg& operand) {
    built.urls.push_back(UrlFor(operand, "http", &built.url_known));
  });
  if (config) {
    ctx.Emit(MakeAction("opaque.http", {}, Reversibility::kUnknown, Severity::kMedium,
                        "curl reads its options from a config file (-K), so the request is "
                        "not known"));
    return;
  }
  if (quote) {
    ctx.Emit(MakeAction("opaque.exec", {}, Reversibility::kUnknown, Severity::kMedium,
                        "curl sends raw FTP/SFTP commands (-Q)"));
  }
  // Non-HTTP URLs (file://, ftp://) are transfers, not API calls.
  std::vector<std::string> http_urls;
  for (std::string& url : built.urls) {
    std::string_view scheme = std::string_view(url).substr(0, url.find("://"));
    std::string lower(scheme);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "http" || lower == "https") http_urls.push_back(std::move(url));
  }
  built.urls = std::move(http_urls);
  if (get) built.get_with_data = true;
  std::string_view default_method = head             ? "HEAD"
                                    : get            ? "GET"
                                    : upload         ? "PUT"
                                    : built.has_data ? "POST"
                                                     : "GET";
  EmitFetchAll(inv, built, "curl", default_method, "http", ctx);
}

// ================================================================ wget

constexpr std::string_view kWgetShortWithValue = "OoatTwPUeiBlARDIXQ";

void HandleWget(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  Built built;
  bool spider = false;
  auto take_option = [&](std::string_view name, const Arg& value) {
    if (name == "--method") {
      built.method = value.text;
      built.method_known = value.known;
    } else if (name == "--header") {
      AddHeader(&built, value.text);
    } else if (name == "--post-data" || name == "--body-data") {
      built.has_data = true;
      if (WhollyUnknown(value)) built.body_known = false;
      built.data.push_back(value.text);
      if (name == "--post-data") built.content_type = "application/x-www-form-urlencoded";
    } else if (name == "--post-file" || name == "--body-file") {
      built.has_data = true;
      std::string contents;
      if (!ReadLocalFile(inv, value, value.text, &contents)) built.body_known = false;
      built.data.push_back(std::move(contents));
      if (name == "--post-file") built.content_type = "application/x-www-form-urlencoded";
    }
  };
  constexpr std::string_view kLongWithValue[] = {"--method",
                                                 "--header",
                                                 "--post-data",
                                                 "--body-data",
                                                 "--post-file",
                                                 "--body-file",
                                                 "--output-document",
                                                 "--output-file",
                                                 "--append-output",
                                                 "--tries",
                                                 "--timeout",
                                                 "--wait",
                                                 "--directory-prefix",
                                                 "--user-agent",
                                                 "--execute",
                                                 "--input-file",
                                                 "--base",
                                                 "--level",
                                                 "--accept",
                                                 "--reject",
                                                 "--domains",
                                                 "--user",
                                                 "--password",
                                                 "--http-user",
                                                 "--http-password",
                                                 "--load-cookies",
                                                 "--save-cookies",
                                                 "--referer",
                                                 "--quota",
                                                 "--limit-rate",
                                                 "--ca-certificate",
                                                 "--certificate",
                                                 "--private-key"};
  auto long_option = [&](const std::string& name) {
    if (name == "--spider") spider = true;
    return std::find(std::begin(kLongWithValue), std::end(kLongWithValue), name) !=
           std::end(kLongWithValue);
  };
  auto short_options = [&](std::size_t& i) {
    const std::string& text = args[i].text;
    if (text == "-nv" || text == "-nc" || text == "-nd" || text == "-np" || text == "-nH")
      return true;
    for (std::size_t k = 1; k < text.size(); ++k) {
      if (kWgetShortWithValue.find(text[k]) == std::string_view::npos) continue;
      if (k + 1 == text.size() && i + 1 < args.size()) ++i;  // the value is the next word
      break;
    }
    return true;
  };
  WalkOptions(args, long_option, take_option, short_options, [&](const Arg& operand) {
    built.urls.push_back(UrlFor(operand, "http", &built.url_known));
  });
  std::string_view default_method = spider ? "HEAD" : built.has_data ? "POST" : "GET";
  EmitFetchAll(inv, built, "wget", default_method, "http", ctx);
}

// ================================================================ HTTPie, xh

constexpr std::array<std::string_view, 34> kHttpieLongWithValue = {
    "--auth",           "--auth-type",
    "--session",        "--session-read-only",
    "--output",         "--verify",
    "--cert",           "--cert-key",
    "--cert-key-pass",  "--proxy",
    "--timeout",        "--pretty",
    "--style",          "--print",
    "--max-redirects",  "--boundary",
    "--format-options", "--default-scheme",
    "--history-print",  "--response-charset",
    "--response-mime",  "--ssl",
    "--ciphers",        "--bearer",
    "--http-version",   "--resolve",
    "--interface",      "--raw",
    "--unix-socket",    "--ssl-version",
    "--headers",        "--body",
    "--scheme",         "--native-tls"};
constexpr std::string_view kHttpieShortWithValue = "aAopsP";

bool IsMethodWord(std::string_view text) {
  return !text.empty() && text.size() <= 10 && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalpha(static_cast<unsigned char>(c));
  });
}

std::string JsonQuote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out.push_back(kHex[(c >> 4) & 15]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

void HandleHttpie(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  const std::string_view name = inv.name();
  const bool secure = name == "https" || name == "xhs";
  Built built;
  bool form = false, offline = false;
  std::string raw_body;
  bool has_raw = false;
  std::vector<const Arg*> positionals;
  auto long_option = [&](const std::string& option) {
    if (option == "--form" || option == "--multipart") form = true;
    if (option == "--offline") offline = true;
    return std::find(kHttpieLongWithValue.begin(), kHttpieLongWithValue.end(), option) !=
           kHttpieLongWithValue.end();
  };
  auto take = [&](std::string_view option, const Arg& value) {
    if (option != "--raw") return;
    has_raw = true;
    raw_body = value.text;
    if (WhollyUnknown(value)) built.body_known = false;
  };
  auto short_options = [&](std::size_t& i) {
    const std::string& text = args[i].text;
    if (IsMethodWord(text)) return false;
    for (std::size_t k = 1; k < text.size(); ++k) {
      if (text[k] == 'f') form = true;
      if (kHttpieShortWithValue.find(text[k]) == std::string_view::npos) continue;
      if (k + 1 == text.size() && i + 1 < args.size()) ++i;
      break;
    }
    return true;
  };
  WalkOptions(args, long_option, take, short_options,
              [&](const Arg& operand) { positionals.push_back(&operand); });
  if (offline) return;  // builds and prints the request without sending it
  if (positionals.empty()) return;
  std::size_t index = 0;
  if (positionals.size() >= 2 && positionals[0]->known && IsMethodWord(positionals[0]->text)) {
    built.method = positionals[0]->text;
    index = 1;
  }
  built.urls.push_back(UrlFor(*positionals[index], secure ? "https" : "http", &built.url_known));
  // Request items: Header:Value, field=value, field:=json, param==value,
  // field@file, field=@file, field:=@file. The leftmost separator wins.
  std::vector<std::string> json_fields, form_fields, query;
  for (std::size_t i = index + 1; i < positionals.size(); ++i) {
    const Arg& item = *positionals[i];
    const std::string& text = item.text;
    constexpr std::string_view kSeparators[] = {":=@", "==", ":=", "=@", "@", "=", ":"};
    std::size_t at = std::string::npos;
    std::string_view separator;
    for (std::size_t pos = 0; pos < text.size() && at == std::string::npos; ++pos) {
      if (text[pos] == '\\') {
        ++pos;
        continue;
      }
      for (std::string_view candidate : kSeparators) {
        if (std::string_view(text).substr(pos).starts_with(candidate)) {
          at = pos;
          separator = candidate;
          break;
        }
      }
    }
    if (at == std::string::npos) continue;
    std::string key = text.substr(0, at), value = text.substr(at + separator.size());
    if (separator == ":") {
      built.headers.emplace_back(key, value);
    } else if (separator == "==") {
      query.push_back(key + "=" + value);
    } else if (separator == "=") {
      built.has_data = true;
      json_fields.push_back(JsonQuote(key) + ":" + JsonQuote(value));
      form_fields.push_back(key + "=" + value);
    } else if (separator == ":=") {
      built.has_data = true;
      json_fields.push_back(JsonQuote(key) + ":" + value);
    } else if (separator == "=@" || separator == ":=@") {
      built.has_data = true;
      std::string contents;
      if (!ReadLocalFile(inv, item, value, &contents)) built.body_known = false;
      json_fields.push_back(JsonQuote(key) + ":" +
                            (separator == "=@" ? JsonQuote(contents) : contents));
      form_fields.push_back(key + "=" + contents);
    } else {  // "@": a file upload (multipart)
      built.has_data = true;
      form = true;
      form_fields.push_back(key + "=<file>");
    }
  }
  if (!query.empty()) {
    std::string& url = built.urls.front();
    for (const std::string& pair : query) {
      url += url.find('?') == std::string::npos ? "?" : "&";
      url += pair;
    }
  }
  if (has_raw) {
    built.has_data = true;
    built.data.push_back(raw_body);
  } else if (inv.has_stdin_text && json_fields.empty() && form_fields.empty()) {
    built.has_data = true;
    built.data.push_back(inv.stdin_text);
    if (!inv.stdin_text_known) built.body_known = false;
    built.content_type = "application/json";
  } else if (form) {
    for (std::string& field : form_fields) built.data.push_back(std::move(field));
    built.content_type = "application/x-www-form-urlencoded";
  } else if (!json_fields.empty()) {
    std::string body = "{";
    for (std::size_t i = 0; i < json_fields.size(); ++i) body += (i ? "," : "") + json_fields[i];
    body += "}";
    built.data.push_back(std::move(body));
    built.content_type = "application/json";
  }
  EmitFetchAll(inv, built, name, built.has_data ? "POST" : "GET", secure ? "https" : "http", ctx);
}

constexpr PackEntry kHttpClientPack[] = {
    {"curl", HandleCurl},    {"wget", HandleWget}, {"http", HandleHttpie},
    {"https", HandleHttpie}, {"xh", HandleHttpie}, {"xhs", HandleHttpie},
};

}  // namespace

std::span<const PackEntry> HttpClientPack() {
  return kHttpClientPack;
}

}  // namespace dualkey::shell
