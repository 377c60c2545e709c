// Credential finding: token shapes with well-known prefixes anywhere,
// KEY=VALUE secrets in .env-style files, key: value secrets in the config
// files of cloud and database CLIs, and URLs with a password in them. Each
// rule is a small hand-written matcher (no regex engine at start-up).
#include "scan/scan.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <set>
#include <utility>

#include "base/text.h"

namespace dualkey::scan {
namespace {

bool IsTokenChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
}

std::string_view Basename(std::string_view path) {
  std::size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// Never the whole secret: its first characters and its length.
std::string Redact(std::string_view secret, std::size_t shown = 4) {
  if (secret.size() <= shown + 4) return std::string(secret.size(), '*');
  return std::string(secret.substr(0, shown)) + "…(" + std::to_string(secret.size()) + " chars)";
}

bool Placeholder(std::string_view value) {
  const std::string lower = base::ToLower(value);
  if (lower.empty() || lower.size() < 8) return true;
  if (lower.find("${") != std::string::npos || lower.starts_with("$") || lower.starts_with("<") ||
      lower.starts_with("{{") || lower.starts_with("%("))
    return true;
  static constexpr std::array<std::string_view, 14> kWords = {
      "changeme",    "change_me", "change-me", "your_", "your-",   "yourtoken", "example",
      "placeholder", "xxxxxx",    "redacted",  "dummy", "replace", "todo",      "<secret>"};
  for (std::string_view word : kWords)
    if (lower.find(word) != std::string::npos) return true;
  return std::all_of(lower.begin(), lower.end(), [&](char c) { return c == lower[0]; });
}

std::string Unquote(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t' || value.back() == '\r' ||
                            value.back() == ',' || value.back() == ';'))
    value.remove_suffix(1);
  if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
      value.back() == value.front())
    value = value.substr(1, value.size() - 2);
  else if (!value.empty() && value.front() != '"' && value.front() != '\'') {
    // An unquoted value ends at a comment.
    if (std::size_t hash = value.find(" #"); hash != std::string_view::npos)
      value = value.substr(0, hash);
  }
  return std::string(value);
}

struct Prefix {
  std::string_view prefix;
  std::size_t min_rest;  // characters after the prefix
  std::string_view kind;
  std::string_view what;
  std::string_view upstream;  // suggested gateway upstream name, base URL
  std::string_view base_url;
};

constexpr std::array<Prefix, 24> kPrefixes = {{
    {"github_pat_", 40, "github-token", "GitHub fine-grained token", "github",
     "https://api.github.com"},
    {"ghp_", 30, "github-token", "GitHub personal access token", "github",
     "https://api.github.com"},
    {"gho_", 30, "github-token", "GitHub OAuth token", "github", "https://api.github.com"},
    {"ghu_", 30, "github-token", "GitHub user token", "github", "https://api.github.com"},
    {"ghs_", 30, "github-token", "GitHub app token", "github", "https://api.github.com"},
    {"glpat-", 20, "gitlab-token", "GitLab personal access token", "gitlab",
     "https://gitlab.com/api/v4"},
    {"xoxb-", 20, "slack-token", "Slack bot token", "slack", "https://slack.com/api"},
    {"xoxp-", 20, "slack-token", "Slack user token", "slack", "https://slack.com/api"},
    {"sk_live_", 20, "stripe-key", "Stripe live secret key", "stripe", "https://api.stripe.com"},
    {"rk_live_", 20, "stripe-key", "Stripe live restricted key", "stripe",
     "https://api.stripe.com"},
    {"sk-ant-", 30, "anthropic-key", "Anthropic API key", "anthropic", "https://api.anthropic.com"},
    {"sk-proj-", 30, "openai-key", "OpenAI API key", "openai", "https://api.openai.com"},
    {"npm_", 36, "npm-token", "npm token", "npm", "https://registry.npmjs.org"},
    {"sbp_", 40, "supabase-token", "Supabase access token", "supabase", "https://api.supabase.com"},
    {"napi_", 40, "neon-key", "Neon API key", "neon", "https://console.neon.tech/api/v2"},
    {"dop_v1_", 40, "digitalocean-token", "DigitalOcean token", "digitalocean",
     "https://api.digitalocean.com"},
    {"FlyV1 fm2_", 20, "fly-token", "Fly.io token", "fly", "https://api.machines.dev"},
    {"fm2_", 40, "fly-token", "Fly.io token", "fly", "https://api.machines.dev"},
    {"fo1_", 30, "fly-token", "Fly.io token", "fly", "https://api.machines.dev"},
    {"hvs.", 20, "vault-token", "HashiCorp Vault token", "vault", "https://vault.example:8200"},
    {"dp.st.", 20, "doppler-token", "Doppler token", "doppler", "https://api.doppler.com"},
    {"AIza", 35, "google-api-key", "Google API key", "google", "https://www.googleapis.com"},
    {"SG.", 60, "sendgrid-key", "SendGrid API key", "sendgrid", "https://api.sendgrid.com"},
    {"sk-", 40, "openai-key", "OpenAI-style API key", "openai", "https://api.openai.com"},
}};

// Platform variables whose value is a token without a telling prefix.
struct PlatformVar {
  std::string_view name;
  std::string_view kind;
  std::string_view what;
  std::string_view upstream;
  std::string_view base_url;
};
constexpr std::array<PlatformVar, 14> kPlatformVars = {{
    {"RAILWAY_TOKEN", "railway-token", "Railway token", "railway", "https://backboard.railway.app"},
    {"RAILWAY_API_TOKEN", "railway-token", "Railway API token", "railway",
     "https://backboard.railway.app"},
    {"FLY_API_TOKEN", "fly-token", "Fly.io token", "fly", "https://api.machines.dev"},
    {"VERCEL_TOKEN", "vercel-token", "Vercel token", "vercel", "https://api.vercel.com"},
    {"SUPABASE_ACCESS_TOKEN", "supabase-token", "Supabase token", "supabase",
     "https://api.supabase.com"},
    {"SUPABASE_SERVICE_ROLE_KEY", "supabase-token", "Supabase service-role key", "supabase",
     "https://PROJECT.supabase.co"},
    {"NEON_API_KEY", "neon-key", "Neon API key", "neon", "https://console.neon.tech/api/v2"},
    {"HEROKU_API_KEY", "heroku-key", "Heroku API key", "heroku", "https://api.heroku.com"},
    {"DIGITALOCEAN_TOKEN", "digitalocean-token", "DigitalOcean token", "digitalocean",
     "https://api.digitalocean.com"},
    {"CLOUDFLARE_API_TOKEN", "cloudflare-token", "Cloudflare API token", "cloudflare",
     "https://api.cloudflare.com"},
    {"RENDER_API_KEY", "render-key", "Render API key", "render", "https://api.render.com"},
    {"NETLIFY_AUTH_TOKEN", "netlify-token", "Netlify token", "netlify", "https://api.netlify.com"},
    {"PLANETSCALE_SERVICE_TOKEN", "planetscale-token", "PlanetScale token", "planetscale",
     "https://api.planetscale.com"},
    {"AWS_SECRET_ACCESS_KEY", "aws-secret-key", "AWS secret access key", "aws", ""},
}};

// The steps, one per line; the TOML is what to paste into gateway.toml as
// it stands (tests load it with the gateway's own loader).
std::string GatewayToml(std::string_view name, std::string_view base_url,
                        std::string_view credential) {
  return "     [[gateway.http.upstream]]\n     name = \"" + std::string(name) +
         "\"\n     base_url = \"" + std::string(base_url) + "\"\n     credential = \"" +
         std::string(credential) + "\"\n";
}

std::string GatewayMove(std::string_view upstream, std::string_view base_url,
                        std::string_view type = "bearer") {
  return "1. echo \"$SECRET\" | dualkey gateway credential set " + std::string(upstream) +
         " --type " + std::string(type) +
         "\n   (or paste it on stdin)\n"
         "2. add to the gateway's config (STATE/gateway.toml):\n" +
         GatewayToml(upstream, base_url, upstream) +
         "3. give the agent a token (dualkey token add AGENT --scope http) and "
         "http://127.0.0.1:8787/" +
         std::string(upstream) +
         "/ instead\n"
         "4. delete the secret from this file and rotate it (agents could read it)";
}

std::string AwsMove() {
  return "1. dualkey gateway credential set aws --type aws-sigv4 --region REGION --service "
         "SERVICE\n   (paste ACCESS_KEY_ID SECRET_ACCESS_KEY on stdin)\n"
         "2. add to the gateway's config (STATE/gateway.toml); it re-signs each request with "
         "SigV4:\n" +
         GatewayToml("aws-SERVICE", "https://SERVICE.REGION.amazonaws.com", "aws") +
         "3. delete the key from this file and deactivate it in IAM (agents could read it)";
}

std::string DatabaseMove() {
  return "keep the real connection string in dualkey and point the agent at dualkey's "
         "PostgreSQL proxy with an agent token as its password (`dualkey token add AGENT "
         "--scope pg`); then remove the password from this file and change it on the server "
         "(agents could read it)";
}

class Scanner {
 public:
  Scanner(std::string_view path, std::vector<Finding>* out) : path_(path), out_(out) {
    const std::string_view base = Basename(path);
    env_file_ = base == ".env" || base.ends_with(".env") || base.starts_with(".env.") ||
                base == ".envrc" || base == ".flaskenv";
    pgpass_ = base == ".pgpass";
    netrc_ = base == ".netrc" || base == "_netrc";
    // Config files of CLIs that keep tokens: key/value secrets count here.
    static constexpr std::array<std::string_view, 14> kCredentialFiles = {
        "/.aws/credentials",
        "/.aws/config",
        "/.config/gh/hosts.yml",
        "/.railway/config.json",
        "/.fly/config.yml",
        "/.kube/config",
        "/.docker/config.json",
        "/.npmrc",
        "/.pypirc",
        "/.config/doctl/config.yaml",
        "/.terraform.d/credentials.tfrc.json",
        "/.vercel/auth.json",
        "/.config/supabase/access-token",
        "/.git-credentials"};
    for (std::string_view suffix : kCredentialFiles)
      credential_file_ = credential_file_ || path.ends_with(suffix);
    credential_file_ = credential_file_ || base == ".npmrc" || base == "credentials.json" ||
                       base == "kubeconfig" || base == ".git-credentials";
  }

  void Line(std::string_view line, int number) {
    if (line.size() > 8192) line = line.substr(0, 8192);
    const std::size_t before = out_->size();
    if (pgpass_) PgpassLine(line, number);
    if (netrc_) NetrcLine(line, number);
    UrlPasswords(line, number);
    AwsKeys(line, number);
    PrefixedTokens(line, number);
    PrivateKey(line, number);
    if (out_->size() == before) KeyValue(line, number);
  }

 private:
  void Add(int line, std::string_view kind, std::string_view what, std::string preview,
           std::string move) {
    for (const Finding& f : *out_)
      if (f.line == line && f.kind == kind && f.preview == preview) return;
    Finding finding;
    finding.path = std::string(path_);
    finding.line = line;
    finding.kind = std::string(kind);
    finding.what = std::string(what);
    finding.preview = std::move(preview);
    finding.move = std::move(move);
    out_->push_back(std::move(finding));
  }

  void PgpassLine(std::string_view line, int number) {
    if (line.empty() || line[0] == '#') return;
    // host:port:database:user:password (\: escapes a colon).
    int fields = 0;
    std::size_t password_at = std::string_view::npos;
    for (std::size_t i = 0; i < line.size(); ++i) {
      if (line[i] == '\\') {
        ++i;
        continue;
      }
      if (line[i] == ':' && ++fields == 4) {
        password_at = i + 1;
        break;
      }
    }
    if (password_at == std::string_view::npos || password_at >= line.size()) return;
    std::string_view rest = line.substr(0, password_at - 1);
    Add(number, "pgpass", "PostgreSQL password (.pgpass)",
        std::string(rest) + ":" + Redact(line.substr(password_at), 0), DatabaseMove());
  }

  void NetrcLine(std::string_view line, int number) {
    std::size_t at = line.find("password ");
    if (at == std::string_view::npos) return;
    std::string value = Unquote(line.substr(at + 9));
    if (std::size_t space = value.find(' '); space != std::string::npos) value.resize(space);
    if (value.empty()) return;
    Add(number, "netrc-password", "password in .netrc", "password " + Redact(value, 0),
        "move it into dualkey (dualkey gateway credential set NAME --type basic) and delete it "
        "from .netrc");
  }

  void UrlPasswords(std::string_view line, int number) {
    static constexpr std::array<std::string_view, 10> kSchemes = {
        "postgres://",    "postgresql://", "mysql://",  "mariadb://", "mongodb://",
        "mongodb+srv://", "redis://",      "rediss://", "amqp://",    "amqps://"};
    const std::string lower = base::ToLower(line);
    for (std::string_view scheme : kSchemes) {
      std::size_t at = 0;
      while ((at = lower.find(scheme, at)) != std::string::npos) {
        if (at > 0 && std::isalnum(static_cast<unsigned char>(lower[at - 1]))) {
          at += scheme.size();
          continue;
        }
        const std::size_t start = at + scheme.size();
        std::size_t end = start;
        while (end < line.size() && line[end] != '/' && line[end] != ' ' && line[end] != '"' &&
               line[end] != '\'' && line[end] != '`' && line[end] != '?')
          ++end;
        std::string_view authority = line.substr(start, end - start);
        std::size_t last_at = authority.rfind('@');
        std::size_t colon = authority.find(':');
        if (last_at != std::string_view::npos && colon != std::string_view::npos &&
            colon < last_at) {
          std::string_view user = authority.substr(0, colon);
          std::string_view password = authority.substr(colon + 1, last_at - colon - 1);
          static constexpr std::array<std::string_view, 9> kSample = {
              "pass", "password", "secret", "pw", "pwd", "xxx", "...", "****", "changeme"};
          if (!password.empty() &&
              std::find(kSample.begin(), kSample.end(), base::ToLower(password)) == kSample.end() &&
              !Placeholder(std::string(password) + "________") &&
              password.find('$') == std::string_view::npos && password.front() != '<') {
            Add(number, "database-url", "connection string with a password",
                std::string(line.substr(at, scheme.size())) + std::string(user) + ":" +
                    Redact(password, 0) + "@" + std::string(authority.substr(last_at + 1)),
                DatabaseMove());
          }
        }
        at = end;
      }
    }
    // https://user:token@host (git remotes, .git-credentials).
    for (std::string_view scheme : {std::string_view("https://"), std::string_view("http://")}) {
      std::size_t at = 0;
      while ((at = lower.find(scheme, at)) != std::string::npos) {
        const std::size_t start = at + scheme.size();
        std::size_t end = start;
        while (end < line.size() && line[end] != '/' && line[end] != ' ' && line[end] != '"' &&
               line[end] != '\'')
          ++end;
        std::string_view authority = line.substr(start, end - start);
        std::size_t last_at = authority.rfind('@');
        std::size_t colon = authority.find(':');
        if (last_at != std::string_view::npos && colon != std::string_view::npos &&
            colon < last_at) {
          std::string_view password = authority.substr(colon + 1, last_at - colon - 1);
          if (password.size() >= 8 && !Placeholder(password) &&
              password.find('$') == std::string_view::npos)
            Add(number, "url-credentials", "password or token inside a URL",
                std::string(scheme) + std::string(authority.substr(0, colon)) + ":" +
                    Redact(password) + "@" + std::string(authority.substr(last_at + 1)),
                GatewayMove("NAME", "https://" + std::string(authority.substr(last_at + 1))));
        }
        at = end;
      }
    }
  }

  void AwsKeys(std::string_view line, int number) {
    for (std::string_view prefix : {std::string_view("AKIA"), std::string_view("ASIA")}) {
      std::size_t at = 0;
      while ((at = line.find(prefix, at)) != std::string_view::npos) {
        const bool boundary_before =
            at == 0 || !std::isalnum(static_cast<unsigned char>(line[at - 1]));
        std::size_t end = at + 4;
        while (end < line.size() && (std::isupper(static_cast<unsigned char>(line[end])) ||
                                     std::isdigit(static_cast<unsigned char>(line[end]))))
          ++end;
        const bool boundary_after =
            end == line.size() || !std::isalnum(static_cast<unsigned char>(line[end]));
        if (boundary_before && boundary_after && end - at == 20) {
          std::string_view key = line.substr(at, 20);
          if (key.find("EXAMPLE") == std::string_view::npos)
            Add(number, "aws-access-key",
                prefix == "ASIA" ? "AWS temporary access key id" : "AWS access key id",
                std::string(key.substr(0, 8)) + "…", AwsMove());
        }
        at = end;
      }
    }
    // The secret: 40 characters of base64 after a name that says so.
    const std::string lower = base::ToLower(line);
    std::size_t name = lower.find("secret_access_key");
    if (name == std::string::npos) name = lower.find("secretaccesskey");
    if (name == std::string::npos) name = lower.find("aws_secret");
    if (name == std::string::npos) return;
    std::size_t sep = line.find_first_of("=:", name);
    if (sep == std::string_view::npos) return;
    std::string value = Unquote(line.substr(sep + 1));
    if (value.size() == 40 && !Placeholder(value) &&
        value.find("EXAMPLEKEY") == std::string::npos &&
        std::all_of(value.begin(), value.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '+';
        }))
      Add(number, "aws-secret-key", "AWS secret access key", Redact(value), AwsMove());
  }

  void PrefixedTokens(std::string_view line, int number) {
    for (const Prefix& p : kPrefixes) {
      std::size_t at = 0;
      while ((at = line.find(p.prefix, at)) != std::string_view::npos) {
        if (at > 0 && IsTokenChar(line[at - 1]) && p.prefix != "FlyV1 fm2_") {
          at += p.prefix.size();
          continue;
        }
        std::size_t end = at + p.prefix.size();
        while (end < line.size() &&
               (IsTokenChar(line[end]) || line[end] == '.' || line[end] == '/' ||
                line[end] == '+' || line[end] == '=' || line[end] == ','))
          ++end;
        std::string_view token = line.substr(at, end - at);
        while (!token.empty() && (token.back() == ',' || token.back() == '.'))
          token.remove_suffix(1);
        if (token.size() < p.prefix.size()) {  // "hvs." minus its trailing dot
          at = end;
          continue;
        }
        const std::size_t rest = token.size() - p.prefix.size();
        if (rest >= p.min_rest && !Placeholder(token.substr(p.prefix.size())) &&
            token.find("EXAMPLE") == std::string_view::npos) {
          Add(number, p.kind, p.what, Redact(token, p.prefix.size() + 2),
              GatewayMove(p.upstream, p.base_url));
          // "sk-" also matches inside "sk-ant-"/"sk-proj-": one finding is enough.
          if (p.kind == "anthropic-key" || p.kind == "openai-key") return;
        }
        at = end;
      }
    }
  }

  void PrivateKey(std::string_view line, int number) {
    // -----BEGIN [RSA |EC |OPENSSH |ENCRYPTED ]PRIVATE KEY-----
    std::size_t at = line.find("-----BEGIN ");
    if (at == std::string_view::npos) return;
    std::size_t end = at + 11;
    while (end < line.size() &&
           (std::isupper(static_cast<unsigned char>(line[end])) || line[end] == ' '))
      ++end;
    if (line.substr(at, end - at).find("PRIVATE KEY") == std::string_view::npos ||
        line.substr(end).substr(0, 5) != "-----")
      return;
    Add(number, "private-key", "private key", std::string(line.substr(0, 60)),
        "a private key agents can read: move it out of reach (ssh-agent, a hardware key) or "
        "make this file unreadable to the agent's user");
  }

  // NAME=value / name: value / "name": "value" with a secret-sounding name.
  void KeyValue(std::string_view line, int number) {
    if (!env_file_ && !credential_file_) {
      PlatformVariables(line, number);
      return;
    }
    std::string_view text = line;
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    if (text.starts_with("#") || text.starts_with("//")) return;
    // JSON: every "name": "value" pair on the line ({"user": {"token": "..."}}).
    if (text.find('{') != std::string_view::npos && text.find('"') != std::string_view::npos) {
      std::vector<std::string_view> strings;  // quoted strings, with what follows each
      std::vector<std::size_t> ends;
      for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '"') continue;
        std::size_t close = i + 1;
        while (close < text.size() && text[close] != '"') close += text[close] == '\\' ? 2 : 1;
        if (close >= text.size()) break;
        strings.push_back(text.substr(i + 1, close - i - 1));
        ends.push_back(close);
        i = close;
      }
      for (std::size_t k = 0; k + 1 < strings.size(); ++k) {
        std::string_view between = text.substr(ends[k] + 1, ends[k + 1] - ends[k] - 1);
        between = between.substr(0, between.find('"'));
        if (between.find(':') == std::string_view::npos ||
            between.find_first_not_of(" \t:") != std::string_view::npos)
          continue;
        Pair(std::string(strings[k]), std::string(strings[k + 1]), number);
      }
      return;
    }
    if (text.starts_with("export ")) text.remove_prefix(7);
    std::size_t sep = text.find_first_of("=:");
    if (sep == std::string_view::npos || sep == 0) return;
    std::string name = Unquote(text.substr(0, sep));
    while (!name.empty() && (name.back() == ' ' || name.back() == '"')) name.pop_back();
    while (!name.empty() && (name.front() == '"' || name.front() == '-' || name.front() == ' '))
      name.erase(0, 1);
    Pair(name, Unquote(text.substr(sep + 1)), number);
  }

  void Pair(const std::string& name, const std::string& value, int number) {
    const std::string lower = base::ToLower(name);
    static constexpr std::array<std::string_view, 12> kSecretNames = {
        "token",      "secret",      "password", "passwd",          "api_key",    "apikey",
        "access_key", "private_key", "auth",     "client-key-data", "credential", "_pat"};
    bool secret_name = false;
    for (std::string_view word : kSecretNames)
      secret_name = secret_name || lower.find(word) != std::string::npos;
    if (!secret_name || lower.find("url") != std::string::npos || lower.ends_with("_file") ||
        lower.ends_with("_path") || lower.ends_with("_type") ||
        lower.find("author") != std::string::npos)
      return;
    if (value.empty() || value == "{" || value == "[" || Placeholder(value)) return;
    if (value == "true" || value == "false" || value == "null") return;
    for (const PlatformVar& var : kPlatformVars) {
      if (name == var.name) {
        Add(number, var.kind, var.what, name + "=" + Redact(value),
            var.kind == "aws-secret-key" ? AwsMove() : GatewayMove(var.upstream, var.base_url));
        return;
      }
    }
    Add(number, env_file_ ? "env-secret" : "config-secret",
        env_file_ ? "secret in an environment file" : "secret in a CLI config file",
        name + "=" + Redact(value), GatewayMove(SuggestedName(), "https://API.HOST"));
  }

  // Outside .env/credential files, only the platform variables count.
  void PlatformVariables(std::string_view line, int number) {
    for (const PlatformVar& var : kPlatformVars) {
      std::size_t at = line.find(var.name);
      if (at == std::string_view::npos) continue;
      if (at > 0 && (IsTokenChar(line[at - 1]))) continue;
      std::size_t after = at + var.name.size();
      while (after < line.size() && (line[after] == ' ' || line[after] == '"')) ++after;
      if (after >= line.size() || (line[after] != '=' && line[after] != ':')) continue;
      std::string value = Unquote(line.substr(after + 1));
      if (value.empty() || Placeholder(value) || value.find('$') != std::string::npos) continue;
      Add(number, var.kind, var.what, std::string(var.name) + "=" + Redact(value),
          var.kind == "aws-secret-key" ? AwsMove() : GatewayMove(var.upstream, var.base_url));
    }
  }

  std::string SuggestedName() const {
    if (path_.find("/.railway/") != std::string_view::npos) return "railway";
    if (path_.find("/.fly/") != std::string_view::npos) return "fly";
    if (path_.find("/gh/") != std::string_view::npos) return "github";
    if (path_.find("/.kube/") != std::string_view::npos) return "kubernetes";
    return "NAME";
  }

  std::string_view path_;
  std::vector<Finding>* out_;
  bool env_file_ = false;
  bool credential_file_ = false;
  bool pgpass_ = false;
  bool netrc_ = false;
};

std::string ReadableBy(const struct stat& st) {
  std::string owner = std::to_string(st.st_uid);
  if (struct passwd* pw = getpwuid(st.st_uid)) owner = pw->pw_name;
  if (st.st_mode & S_IROTH)
    return "everyone on this machine (mode " + [&] {
      char buffer[8];
      std::snprintf(buffer, sizeof(buffer), "%03o", st.st_mode & 0777);
      return std::string(buffer);
    }() + ")";
  if (st.st_mode & S_IRGRP) {
    std::string group = std::to_string(st.st_gid);
    if (struct group* gr = getgrgid(st.st_gid)) group = gr->gr_name;
    return "user " + owner + " and group " + group + " (any agent running as either)";
  }
  return "user " + owner + " only (so any agent running as " + owner + ")";
}

bool SkippedDirectory(std::string_view name) {
  static constexpr std::array<std::string_view, 18> kSkipped = {
      "node_modules", ".venv",         "venv",  "__pycache__",   ".npm",       ".cargo",
      ".rustup",      ".cache",        ".m2",   ".gradle",       "Trash",      ".tox",
      ".mypy_cache",  ".pytest_cache", ".next", "site-packages", ".terraform", "proc"};
  return std::find(kSkipped.begin(), kSkipped.end(), name) != kSkipped.end();
}

class Walker {
 public:
  Walker(const Options& options, Report* report) : options_(options), report_(report) {}

  void Root(const std::string& root) {
    struct stat st {};
    if (lstat(root.c_str(), &st) != 0) {
      report_->errors.push_back(root + ": " + std::strerror(errno));
      return;
    }
    if (S_ISDIR(st.st_mode))
      Directory(root, 0, st);
    else if (S_ISREG(st.st_mode))
      File(root, st);
  }

 private:
  bool Seen(const struct stat& st) { return !seen_.insert({st.st_dev, st.st_ino}).second; }

  void Directory(const std::string& path, int depth, const struct stat& st) {
    if (Seen(st) || report_->truncated) return;
    for (const std::string& skip : options_.skip_dirs)
      if (path == skip) return;
    DIR* dir = opendir(path.c_str());
    if (dir == nullptr) return;
    std::vector<std::pair<std::string, bool>> entries;
    while (struct dirent* entry = readdir(dir)) {
      std::string_view name = entry->d_name;
      if (name == "." || name == "..") continue;
      entries.emplace_back(std::string(name), false);
    }
    closedir(dir);
    std::sort(entries.begin(), entries.end());
    for (const auto& [name, unused] : entries) {
      const std::string child = path == "/" ? "/" + name : path + "/" + name;
      struct stat child_st {};
      if (lstat(child.c_str(), &child_st) != 0) continue;  // symlinks are never followed
      if (S_ISDIR(child_st.st_mode)) {
        if (name == ".git") {
          // Only its config: remotes with tokens in them. Objects are not read.
          struct stat config_st {};
          const std::string config = child + "/config";
          if (lstat(config.c_str(), &config_st) == 0 && S_ISREG(config_st.st_mode))
            File(config, config_st);
          continue;
        }
        if (SkippedDirectory(name) || depth + 1 > options_.max_depth) continue;
        Directory(child, depth + 1, child_st);
      } else if (S_ISREG(child_st.st_mode)) {
        File(child, child_st);
      }
      if (report_->truncated) return;
    }
  }

  void File(const std::string& path, const struct stat& st) {
    if (Seen(st)) return;
    if (report_->files_scanned >= options_.max_files) {
      report_->truncated = true;
      return;
    }
    if (st.st_size <= 0 || static_cast<std::size_t>(st.st_size) > options_.max_file_bytes) return;
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) return;
    std::string text(static_cast<std::size_t>(st.st_size), '\0');
    ssize_t got = 0;
    std::size_t total = 0;
    while (total < text.size() && (got = read(fd, text.data() + total, text.size() - total)) > 0)
      total += static_cast<std::size_t>(got);
    close(fd);
    text.resize(total);
    ++report_->files_scanned;
    if (options_.progress && report_->files_scanned % 5000 == 0)
      options_.progress(report_->files_scanned);
    // Binary files: a NUL in the first 8 KiB.
    if (std::memchr(text.data(), '\0', std::min<std::size_t>(text.size(), 8192)) != nullptr) return;
    std::vector<Finding> found = ScanText(path, text);
    if (found.empty()) return;
    const std::string readable = ReadableBy(st);
    for (Finding& finding : found) {
      finding.readable_by = readable;
      report_->findings.push_back(std::move(finding));
    }
  }

  const Options& options_;
  Report* report_;
  std::set<std::pair<dev_t, ino_t>> seen_;
};

}  // namespace

std::vector<Finding> ScanText(std::string_view path, std::string_view text) {
  std::vector<Finding> out;
  Scanner scanner(path, &out);
  int number = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    scanner.Line(text.substr(start, end - start), ++number);
    start = end + 1;
  }
  return out;
}

Report Scan(const Options& options) {
  Report report;
  Walker walker(options, &report);
  for (const std::string& root : options.roots) walker.Root(root);
  return report;
}

}  // namespace dualkey::scan
