// The REST provider tables: one table per provider family, each row a host,
// methods, a path pattern and what such a request does. A family applies to
// a request by host (or, for self-hosted APIs, by the shape of the path); its
// `special` hook handles what a row cannot say (a body that widens a delete,
// a branch name that makes it critical).
#include <algorithm>
#include <array>
#include <cctype>
#include <span>
#include <string>

#include "http/internal/facts.h"

namespace dualkey::http::internal {
namespace {

constexpr Route Row(std::string_view host, std::string_view methods, std::string_view path,
                    std::string_view op_class, Severity severity, std::string_view reason) {
  const bool reversible =
      op_class == "read.only" || op_class == "notify" || severity <= Severity::kLow;
  return Route{host,     methods,
               path,     op_class,
               severity, reversible ? Reversibility::kReversible : Reversibility::kIrreversible,
               reason};
}
constexpr Route Reads(std::string_view host, std::string_view reason) {
  return Row(host, "GET|HEAD|OPTIONS", "**", "read.only", Severity::kNone, reason);
}

constexpr auto kCrit = Severity::kCritical;
constexpr auto kHigh = Severity::kHigh;
constexpr auto kMed = Severity::kMedium;
constexpr auto kLow = Severity::kLow;

// ---------------------------------------------------------------- GCP
constexpr std::array kGcpRoutes = {
    Row("sqladmin.googleapis.com", "DELETE", "*/projects/*/instances/*/backupRuns/*",
        "backup.delete", kCrit, "deletes a Cloud SQL backup"),
    Row("sqladmin.googleapis.com", "DELETE", "*/projects/*/instances/*/databases/*", "db.drop",
        kHigh, "drops a Cloud SQL database"),
    Row("sqladmin.googleapis.com", "DELETE", "*/projects/*/instances/*", "cloud.delete", kCrit,
        "deletes a Cloud SQL instance and its automated backups"),
    Row("sqladmin.googleapis.com", "POST", "*/projects/*/instances/*/restoreBackup",
        "db.restore.overwrite", kHigh, "restores a backup over a Cloud SQL instance's data"),
    Row("storage.googleapis.com", "DELETE", "storage/v1/b/*", "cloud.delete", kCrit,
        "deletes a Cloud Storage bucket"),
    Row("storage.googleapis.com", "DELETE", "storage/v1/b/*/o/**", "cloud.delete", kMed,
        "deletes a Cloud Storage object"),
    Row("cloudresourcemanager.googleapis.com", "DELETE", "*/projects/*", "cloud.delete", kCrit,
        "deletes a Google Cloud project and everything in it"),
    Row("cloudresourcemanager.googleapis.com", "DELETE", "*/folders/*", "cloud.delete", kCrit,
        "deletes a Google Cloud folder"),
    Row("*googleapis.com", "DELETE", "compute/*/projects/*/global/snapshots/*", "backup.delete",
        kCrit, "deletes a disk snapshot"),
    Row("*googleapis.com", "DELETE", "compute/*/projects/*/zones/*/disks/*", "cloud.delete", kHigh,
        "deletes a persistent disk"),
    Row("*googleapis.com", "DELETE", "compute/*/projects/*/regions/*/disks/*", "cloud.delete",
        kHigh, "deletes a regional persistent disk"),
    Row("*googleapis.com", "DELETE", "compute/*/projects/*/zones/*/instances/*", "cloud.delete",
        kHigh, "deletes a VM instance"),
    Row("container.googleapis.com", "DELETE", "*/projects/*/locations/*/clusters/*", "cloud.delete",
        kCrit, "deletes a GKE cluster"),
    Row("*googleapis.com", "DELETE", "bigquery/v2/projects/*/datasets/*", "db.drop", kCrit,
        "deletes a BigQuery dataset"),
    Row("*googleapis.com", "DELETE", "bigquery/v2/projects/*/datasets/*/tables/*", "db.drop", kHigh,
        "deletes a BigQuery table"),
    Row("firestore.googleapis.com", "DELETE", "**", "db.delete", kMed, "deletes Firestore data"),
    Row("*googleapis.com", "DELETE", "**", "cloud.delete", kHigh, "a Google Cloud API DELETE"),
    Reads("*googleapis.com", "reads from a Google Cloud API"),
};

// ---------------------------------------------------------------- Azure
constexpr std::array kAzureRoutes = {
    Row("management.azure.com", "DELETE", "subscriptions/*/resourcegroups/*", "cloud.delete", kCrit,
        "deletes an Azure resource group and every resource in it"),
    Row("management.azure.com", "DELETE",
        "subscriptions/*/resourcegroups/*/providers/microsoft.recoveryservices/**", "backup.delete",
        kCrit, "deletes a Recovery Services vault or its backups"),
    Row("management.azure.com", "DELETE",
        "subscriptions/*/resourcegroups/*/providers/microsoft.dataprotection/**", "backup.delete",
        kCrit, "deletes a Backup vault or its backups"),
    Row("management.azure.com", "DELETE", "subscriptions/*/resourcegroups/*/providers/**",
        "cloud.delete", kHigh, "deletes an Azure resource"),
    Row("management.azure.com", "DELETE", "**", "cloud.delete", kHigh,
        "an Azure Resource Manager DELETE"),
    Reads("management.azure.com", "reads from Azure Resource Manager"),
    Row("*.blob.core.windows.net", "DELETE", "*", "cloud.delete", kCrit,
        "deletes a blob container"),
    Row("*.blob.core.windows.net", "DELETE", "**", "cloud.delete", kMed, "deletes a blob"),
    Row("*.file.core.windows.net", "DELETE", "**", "cloud.delete", kMed,
        "deletes an Azure file share or file"),
    Row("*.documents.azure.com", "DELETE", "dbs/*", "db.drop", kCrit,
        "deletes a Cosmos DB database"),
    Row("*.documents.azure.com", "DELETE", "dbs/*/colls/*", "db.drop", kHigh,
        "deletes a Cosmos DB container"),
    Row("*.documents.azure.com", "DELETE", "**", "db.delete", kMed, "deletes a Cosmos DB item"),
    Reads("*.core.windows.net", "reads from Azure Storage"),
};

// ---------------------------------------------------------------- Kubernetes
constexpr std::array kKubernetesRoutes = {
    Row("", "DELETE", "api/v1/namespaces/*", "k8s.delete", kCrit,
        "deletes a namespace and everything in it"),
    Row("", "DELETE", "api/v1/namespaces/*/pods/*", "k8s.delete", kLow,
        "deletes a pod (its controller recreates it)"),
    Row("", "DELETE", "api/v1/namespaces/*/persistentvolumeclaims/*", "k8s.delete", kHigh,
        "deletes a persistent volume claim (and, by default, its volume's data)"),
    Row("", "DELETE", "api/v1/namespaces/*/*", "k8s.delete", kHigh,
        "deletes every object of a kind in the namespace (deletecollection)"),
    Row("", "DELETE", "api/v1/namespaces/*/*/*", "k8s.delete", kMed, "deletes an object"),
    Row("", "DELETE", "api/v1/persistentvolumes/**", "k8s.delete", kHigh,
        "deletes persistent volumes"),
    Row("", "DELETE", "api/v1/*", "k8s.delete", kCrit,
        "deletes every object of a cluster-scoped kind (deletecollection)"),
    Row("", "DELETE", "api/v1/**", "k8s.delete", kMed, "deletes a cluster object"),
    Row("", "DELETE", "apis/apiextensions.k8s.io/*/customresourcedefinitions/**", "k8s.delete",
        kCrit, "deleting a CRD deletes every resource of its type"),
    Row("", "DELETE", "apis/*/*/namespaces/*/*", "k8s.delete", kHigh,
        "deletes every object of a kind in the namespace (deletecollection)"),
    Row("", "DELETE", "apis/*/*/namespaces/*/*/*", "k8s.delete", kMed, "deletes an object"),
    Row("", "DELETE", "apis/*/*/*", "k8s.delete", kHigh,
        "deletes every object of a cluster-scoped kind (deletecollection)"),
    Row("", "DELETE", "apis/**", "k8s.delete", kMed, "deletes an object"),
    Row("", "GET|POST", "api/v1/namespaces/*/pods/*/exec", "opaque.exec", kHigh,
        "runs a command in a pod; what it does is not classified"),
    Row("", "GET|POST", "api/v1/namespaces/*/pods/*/attach", "opaque.exec", kHigh,
        "attaches to a running container"),
    Reads("", "reads from the Kubernetes API"),
};

// ---------------------------------------------------------------- GitHub
constexpr std::array kGitHubRoutes = {
    Row("", "DELETE", "repos/*/*", "repo.delete", kCrit,
        "deletes a GitHub repository with its issues, wiki and history"),
    Row("", "DELETE", "orgs/*", "repo.delete", kCrit, "deletes a GitHub organization"),
    Row("", "DELETE", "repos/*/*/branches/*/protection/**", "repo.protection.delete", kHigh,
        "removes branch protection"),
    Row("", "DELETE", "repos/*/*/rulesets/*", "repo.protection.delete", kHigh,
        "deletes a repository ruleset"),
    Row("", "DELETE", "orgs/*/rulesets/*", "repo.protection.delete", kHigh,
        "deletes an organization ruleset"),
    Row("", "DELETE", "repos/*/*/contents/**", "repo.file.delete", kLow,
        "commits a file deletion (recoverable from history)"),
    Row("", "DELETE", "repos/*/*/issues/*/labels/**", "repo.meta.delete", kLow,
        "removes labels from an issue"),
    Row("", "DELETE", "repos/*/*/issues/*/assignees", "repo.meta.delete", kLow,
        "removes assignees"),
    Row("", "DELETE", "repos/*/*/pulls/*/requested_reviewers", "repo.meta.delete", kLow,
        "removes review requests"),
    Row("", "DELETE", "repos/*/*/issues/comments/*/reactions/*", "repo.meta.delete", kLow,
        "removes a reaction"),
    Row("", "DELETE", "repos/*/*/issues/*/reactions/*", "repo.meta.delete", kLow,
        "removes a reaction"),
    Row("", "DELETE", "repos/*/*/actions/caches/**", "cache.delete", kLow,
        "deletes Actions caches"),
    Row("", "DELETE", "repos/*/*/actions/caches", "cache.delete", kLow, "deletes Actions caches"),
    Row("", "DELETE", "repos/*/*/actions/artifacts/*", "cache.delete", kLow,
        "deletes a build artifact"),
    Row("", "DELETE", "repos/*/*/subscription", "repo.meta.delete", kLow, "unwatches"),
    Row("", "DELETE", "user/starred/*/*", "repo.meta.delete", kLow, "unstars"),
    Row("", "DELETE", "user/following/*", "repo.meta.delete", kLow, "unfollows"),
    Row("", "DELETE", "notifications/**", "repo.meta.delete", kLow, "clears notifications"),
    Row("", "DELETE", "repos/*/*/issues/comments/*", "repo.content.delete", kMed,
        "deletes an issue comment (GitHub keeps no copy)"),
    Row("", "DELETE", "repos/*/*/releases/*", "repo.content.delete", kMed, "deletes a release"),
    Row("", "DELETE", "**", "cloud.delete", kMed, "a GitHub API DELETE"),
    Row("", "POST", "repos/*/*/transfer", "repo.transfer", kMed,
        "transfers the repository to another owner"),
    Reads("", "reads from the GitHub API"),
};

// ---------------------------------------------------------------- GitLab
constexpr std::array kGitLabRoutes = {
    Row("", "DELETE", "projects/*", "repo.delete", kCrit, "deletes a GitLab project"),
    Row("", "DELETE", "groups/*", "repo.delete", kCrit, "deletes a GitLab group and its projects"),
    Row("", "DELETE", "projects/*/repository/merged_branches", "repo.branch.delete", kHigh,
        "deletes every merged branch"),
    Row("", "DELETE", "projects/*/protected_branches/*", "repo.protection.delete", kHigh,
        "unprotects a branch"),
    Row("", "PUT|POST", "projects/*/repository/branches/*/unprotect", "repo.protection.delete",
        kHigh, "unprotects a branch"),
    Row("", "DELETE", "projects/*/repository/tags/*", "repo.content.delete", kMed, "deletes a tag"),
    Row("", "DELETE", "projects/*/issues/*", "repo.content.delete", kMed, "deletes an issue"),
    Row("", "DELETE", "**", "cloud.delete", kMed, "a GitLab API DELETE"),
    Reads("", "reads from the GitLab API"),
};

// ---------------------------------------------------------------- search clusters
constexpr std::array kSearchRoutes = {
    Row("", "DELETE", "_snapshot/*/**", "backup.delete", kCrit, "deletes search-cluster snapshots"),
    Row("", "DELETE", "_snapshot/*", "backup.delete", kHigh, "unregisters a snapshot repository"),
    Row("", "POST", "_snapshot/*/*/_restore", "db.restore.overwrite", kHigh,
        "restores a snapshot over indices"),
    Row("", "DELETE", "_data_stream/*", "db.drop", kHigh,
        "deletes a data stream and its backing indices"),
    Row("", "DELETE", "*/_doc/*", "db.delete", kMed, "deletes a document"),
    Row("", "DELETE", "_index_template/*", "db.config.delete", kLow, "deletes an index template"),
    Row("", "DELETE", "_template/*", "db.config.delete", kLow, "deletes an index template"),
    Row("", "DELETE", "_component_template/*", "db.config.delete", kLow,
        "deletes a component template"),
    Row("", "DELETE", "*/_alias/*", "db.config.delete", kLow, "deletes an alias"),
    Row("", "DELETE", "*/_aliases/*", "db.config.delete", kLow, "deletes an alias"),
    Row("", "DELETE", "_ingest/pipeline/*", "db.config.delete", kLow, "deletes an ingest pipeline"),
    Row("", "DELETE", "_search/scroll/**", "db.session.delete", kLow, "clears scroll contexts"),
    Row("", "DELETE", "_pit", "db.session.delete", kLow, "closes a point in time"),
    Row("", "DELETE", "_async_search/*", "db.session.delete", kLow, "deletes an async search"),
    Row("", "DELETE", "*", "db.drop", kHigh, "deletes an index with all its documents"),
    Row("", "DELETE", "**", "db.delete", kMed, "a search-cluster DELETE"),
    Reads("", "reads from a search cluster"),
};

// ---------------------------------------------------------------- CouchDB
constexpr std::array kCouchRoutes = {
    Row("", "DELETE", "*", "db.drop", kHigh, "deletes a CouchDB database"),
    Row("", "DELETE", "**", "db.delete", kMed, "deletes a CouchDB document"),
    Row("", "POST", "*/_purge", "db.delete", kHigh,
        "purges documents: no tombstone, replication cannot bring them back"),
    Row("", "POST", "*/_find", "read.only", Severity::kNone, "queries documents"),
    Row("", "POST", "*/_all_docs", "read.only", Severity::kNone, "lists documents"),
    Reads("", "reads from CouchDB"),
};

// ---------------------------------------------------------------- hosting platforms
constexpr std::array kPlatformRoutes = {
    // Supabase management API and project hosts.
    Row("api.supabase.com", "DELETE", "v1/projects/*", "cloud.delete", kCrit,
        "deletes a Supabase project and its database"),
    Row("api.supabase.com", "DELETE", "v1/branches/*", "cloud.delete", kHigh,
        "deletes a Supabase branch and its database"),
    Row("api.supabase.com", "POST", "v1/projects/*/database/backups/restore-pitr",
        "db.restore.overwrite", kHigh, "restores the database to a point in time"),
    Row("*.supabase.co", "DELETE", "storage/v1/bucket/*", "cloud.delete", kCrit,
        "deletes a storage bucket"),
    Row("*.supabase.co", "POST", "storage/v1/bucket/*/empty", "cloud.delete", kHigh,
        "empties a storage bucket"),
    Row("*.supabase.co", "DELETE", "storage/v1/object/**", "cloud.delete", kMed,
        "deletes stored objects"),
    Row("*.supabase.co", "DELETE", "auth/v1/admin/users/*", "cloud.delete", kMed,
        "deletes a user account"),
    // Neon.
    Row("console.neon.tech", "DELETE", "api/v2/projects/*", "cloud.delete", kCrit,
        "deletes a Neon project with its branches and databases"),
    Row("console.neon.tech", "DELETE", "api/v2/projects/*/branches/*/databases/*", "db.drop", kHigh,
        "drops a Neon database"),
    Row("console.neon.tech", "DELETE", "api/v2/projects/*/branches/*", "cloud.delete", kHigh,
        "deletes a Neon branch and its data"),
    Row("console.neon.tech", "POST", "api/v2/projects/*/branches/*/restore", "db.restore.overwrite",
        kHigh, "restores a branch over its current data"),
    // Fly.io Machines.
    Row("api.machines.dev", "DELETE", "v1/apps/*", "cloud.delete", kCrit, "deletes a Fly app"),
    Row("api.machines.dev", "DELETE", "v1/apps/*/volumes/*", "cloud.delete", kCrit,
        "deletes a Fly volume and its data"),
    Row("api.machines.dev", "DELETE", "v1/apps/*/machines/*", "cloud.delete", kMed,
        "destroys a Fly machine"),
    // Vercel.
    Row("api.vercel.com", "DELETE", "*/projects/*", "cloud.delete", kHigh,
        "deletes a Vercel project"),
    Row("api.vercel.com", "DELETE", "*/storage/stores/*", "db.drop", kCrit,
        "deletes a Vercel storage store"),
    Row("api.vercel.com", "DELETE", "*/domains/*", "cloud.delete", kHigh, "removes a domain"),
    // DigitalOcean.
    Row("api.digitalocean.com", "DELETE", "v2/databases/*", "db.drop", kCrit,
        "deletes a managed database cluster"),
    Row("api.digitalocean.com", "DELETE", "v2/databases/*/dbs/*", "db.drop", kHigh,
        "drops a database"),
    Row("api.digitalocean.com", "DELETE", "v2/droplets", "cloud.delete", kCrit,
        "deletes every droplet with a tag"),
    Row("api.digitalocean.com", "DELETE", "v2/droplets/*", "cloud.delete", kHigh,
        "deletes a droplet"),
    Row("api.digitalocean.com", "DELETE", "v2/volumes/**", "cloud.delete", kHigh,
        "deletes a block storage volume"),
    Row("api.digitalocean.com", "DELETE", "v2/kubernetes/clusters/*", "cloud.delete", kCrit,
        "deletes a Kubernetes cluster"),
    // Heroku.
    Row("api.heroku.com", "DELETE", "apps/*", "cloud.delete", kCrit, "destroys a Heroku app"),
    Row("api.heroku.com", "DELETE", "apps/*/addons/*", "cloud.delete", kCrit,
        "deletes an add-on (a Heroku Postgres add-on is the database)"),
    Row("api.heroku.com", "DELETE", "addons/*", "cloud.delete", kCrit, "deletes an add-on"),
    Row("api.heroku.com", "DELETE", "apps/*/dynos/**", "cloud.write", kLow, "restarts dynos"),
    Row("api.heroku.com", "DELETE", "apps/*/dynos", "cloud.write", kLow, "restarts all dynos"),
    Row("postgres-api.heroku.com", "POST", "client/v11/databases/*/reset", "db.drop", kCrit,
        "resets a Heroku Postgres database: all data is gone"),
    Row("postgres-api.heroku.com", "DELETE", "client/v11/apps/*/transfers/*", "backup.delete",
        kCrit, "deletes a Heroku Postgres backup"),
    // Render, Netlify, Cloudflare, PlanetScale, Turso, MongoDB Atlas.
    Row("api.render.com", "DELETE", "v1/postgres/*", "db.drop", kCrit,
        "deletes a Render Postgres database"),
    Row("api.render.com", "DELETE", "v1/services/*", "cloud.delete", kHigh,
        "deletes a Render service"),
    Row("api.netlify.com", "DELETE", "api/v1/sites/*", "cloud.delete", kHigh,
        "deletes a Netlify site"),
    Row("api.cloudflare.com", "DELETE", "client/v4/zones/*", "cloud.delete", kCrit,
        "deletes a Cloudflare zone and its DNS"),
    Row("api.cloudflare.com", "DELETE", "client/v4/accounts/*/d1/database/*", "db.drop", kCrit,
        "deletes a D1 database"),
    Row("api.cloudflare.com", "DELETE", "client/v4/accounts/*/r2/buckets/*", "cloud.delete", kCrit,
        "deletes an R2 bucket"),
    Row("api.cloudflare.com", "POST", "client/v4/zones/*/purge_cache", "cache.delete", kLow,
        "purges the CDN cache"),
    Row("api.planetscale.com", "DELETE", "v1/organizations/*/databases/*", "db.drop", kCrit,
        "deletes a PlanetScale database"),
    Row("api.planetscale.com", "DELETE", "v1/organizations/*/databases/*/branches/*", "db.drop",
        kHigh, "deletes a PlanetScale branch"),
    Row("api.turso.tech", "DELETE", "v1/organizations/*/databases/*", "db.drop", kCrit,
        "deletes a Turso database"),
    Row("cloud.mongodb.com", "DELETE", "api/atlas/*/groups/*/clusters/*", "db.drop", kCrit,
        "deletes a MongoDB Atlas cluster"),
};

// ---------------------------------------------------------------- payments, chat
constexpr std::array kServiceRoutes = {
    Row("api.stripe.com", "DELETE", "v1/customers/*", "cloud.delete", kMed,
        "permanently deletes a Stripe customer"),
    Row("api.stripe.com", "DELETE", "v1/subscriptions/*", "cloud.delete", kMed,
        "cancels a subscription"),
    Row("api.stripe.com", "DELETE", "**", "cloud.delete", kMed, "a Stripe DELETE"),
    Row("api.stripe.com", "POST", "**", "cloud.create", kLow, "creates or updates a Stripe object"),
    Reads("api.stripe.com", "reads from Stripe"),
    Row("hooks.slack.com", "POST", "**", "notify", Severity::kNone, "posts a chat message"),
    Row("slack.com", "POST", "api/chat.postMessage", "notify", Severity::kNone,
        "posts a chat message"),
    Row("discord.com", "POST", "api/webhooks/**", "notify", Severity::kNone,
        "posts a chat message"),
    Row("discordapp.com", "POST", "api/webhooks/**", "notify", Severity::kNone,
        "posts a chat message"),
    Row("*.webhook.office.com", "POST", "**", "notify", Severity::kNone, "posts a chat message"),
};

// ================================================================ when a family applies

constexpr int kNotThisFamily = -1;

int AnyOf(const Facts& facts, std::span<const std::string_view> hosts) {
  for (std::string_view glob : hosts)
    if (GlobMatch(glob, facts.url().host)) return 0;
  return kNotThisFamily;
}

int GcpApplies(const Facts& facts) {
  constexpr std::string_view kHosts[] = {"*googleapis.com"};
  return AnyOf(facts, kHosts);
}

int AzureApplies(const Facts& facts) {
  constexpr std::string_view kHosts[] = {"management.azure.com", "*.core.windows.net",
                                         "*.documents.azure.com"};
  return AnyOf(facts, kHosts);
}

bool IsKubeVersion(std::string_view text) {
  // v1, v2, v1beta1, v2alpha3
  if (text.size() < 2 || text[0] != 'v' || !std::isdigit(static_cast<unsigned char>(text[1])))
    return false;
  std::size_t i = 1;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  std::string_view rest = text.substr(i);
  if (rest.empty()) return true;
  if (!rest.starts_with("alpha") && !rest.starts_with("beta")) return false;
  rest.remove_prefix(rest.starts_with("alpha") ? 5 : 4);
  return !rest.empty() && std::all_of(rest.begin(), rest.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c));
  });
}

int KubernetesApplies(const Facts& facts) {
  const auto& s = facts.url().segments;
  constexpr std::string_view kCoreKinds[] = {"namespaces",        "nodes",
                                             "persistentvolumes", "pods",
                                             "services",          "secrets",
                                             "configmaps",        "persistentvolumeclaims",
                                             "serviceaccounts",   "componentstatuses"};
  if (s.size() >= 3 && s[0] == "api" && s[1] == "v1" &&
      std::find(std::begin(kCoreKinds), std::end(kCoreKinds), s[2]) != std::end(kCoreKinds))
    return 0;
  if (s.size() >= 4 && s[0] == "apis" && s[1].find('.') != std::string::npos && IsKubeVersion(s[2]))
    return 0;
  // apps/v1, batch/v1: the core groups without a dot.
  if (s.size() >= 4 && s[0] == "apis" && IsKubeVersion(s[2]) &&
      (s[1] == "apps" || s[1] == "batch" || s[1] == "policy" || s[1] == "autoscaling"))
    return 0;
  return kNotThisFamily;
}

int GitHubApplies(const Facts& facts) {
  const auto& s = facts.url().segments;
  if (facts.url().host == "api.github.com") return 0;
  if (s.size() >= 2 && s[0] == "api" && s[1] == "v3") return 2;  // GitHub Enterprise Server
  return kNotThisFamily;
}

int GitLabApplies(const Facts& facts) {
  const auto& s = facts.url().segments;
  if (s.size() >= 2 && s[0] == "api" && s[1] == "v4") return 2;  // gitlab.com and self-hosted
  return kNotThisFamily;
}

bool IsSearchApi(std::string_view segment) {
  constexpr std::string_view kApis[] = {"_delete_by_query",
                                        "_update_by_query",
                                        "_bulk",
                                        "_search",
                                        "_msearch",
                                        "_doc",
                                        "_snapshot",
                                        "_all",
                                        "_cat",
                                        "_cluster",
                                        "_aliases",
                                        "_alias",
                                        "_mapping",
                                        "_settings",
                                        "_data_stream",
                                        "_index_template",
                                        "_reindex",
                                        "_count",
                                        "_ilm",
                                        "_nodes",
                                        "_forcemerge",
                                        "_refresh",
                                        "_mget",
                                        "_component_template",
                                        "_pit",
                                        "_async_search",
                                        "_close",
                                        "_open",
                                        "_template",
                                        "_ingest"};
  return std::find(std::begin(kApis), std::end(kApis), segment) != std::end(kApis);
}

int SearchApplies(const Facts& facts) {
  const Url& url = facts.url();
  if (url.port == 9200 || url.port == 9201 || url.port == 9243) return 0;
  if (IContains(url.host, "elastic") || IContains(url.host, "opensearch") ||
      GlobMatch("*.es.amazonaws.com", url.host) || GlobMatch("*.aoss.amazonaws.com", url.host))
    return 0;
  for (const std::string& segment : url.segments)
    if (IsSearchApi(segment)) return 0;
  return kNotThisFamily;
}

int CouchApplies(const Facts& facts) {
  const Url& url = facts.url();
  if (url.port == 5984 || url.port == 6984 || IContains(url.host, "couch") ||
      IContains(url.host, "cloudant"))
    return 0;
  return kNotThisFamily;
}

int AnyHost(const Facts&) {
  return 0;
}

// ================================================================ special cases

bool NoSpecial(const Facts&, std::size_t, std::vector<Action>*) {
  return false;
}

// Google's custom methods: POST .../versions/3:destroy, .../instances/x:delete.
bool GcpSpecial(const Facts& facts, std::size_t, std::vector<Action>* out) {
  const auto& segments = facts.url().segments;
  if (segments.empty()) return false;
  const std::string& last = segments.back();
  std::size_t colon = last.rfind(':');
  if (colon != std::string::npos && facts.method() == "POST") {
    std::string_view verb = std::string_view(last).substr(colon + 1);
    constexpr std::string_view kDestroying[] = {"delete", "destroy", "purge",   "batchDelete",
                                                "erase",  "wipe",    "truncate"};
    for (std::string_view candidate : kDestroying) {
      if (IEquals(verb, candidate)) {
        const bool backup = NamesBackup(facts.url().path);
        out->push_back(MakeAction(backup ? "backup.delete" : "cloud.delete", {facts.Target()},
                                  Reversibility::kIrreversible,
                                  backup ? Severity::kCritical : Severity::kHigh,
                                  "Google Cloud custom method :" + std::string(verb)));
        return true;
      }
    }
  }
  // Turning automated backups off on a Cloud SQL instance.
  if ((facts.method() == "PATCH" || facts.method() == "PUT") &&
      facts.url().host == "sqladmin.googleapis.com") {
    if (const nlohmann::json* json = facts.Json(); json && json->is_object()) {
      const nlohmann::json* settings = json->contains("settings") ? &(*json)["settings"] : nullptr;
      if (settings && settings->is_object() && settings->contains("backupConfiguration")) {
        const nlohmann::json& backup = (*settings)["backupConfiguration"];
        if (backup.is_object() && backup.contains("enabled") && backup["enabled"] == false) {
          out->push_back(MakeAction("backup.delete", {facts.Target()}, Reversibility::kIrreversible,
                                    Severity::kCritical, "turns off Cloud SQL automated backups"));
          return true;
        }
      }
    }
  }
  return false;
}

// A server-side dry run changes nothing.
bool KubernetesSpecial(const Facts& facts, std::size_t, std::vector<Action>* out) {
  if (const std::string* dry_run = facts.QueryParam("dryRun");
      dry_run && IEquals(*dry_run, "All")) {
    out->push_back(Read(facts, "a server-side dry run (dryRun=All) changes nothing"));
    return true;
  }
  return false;
}

bool IsProtectedBranch(std::string_view branch) {
  constexpr std::string_view kNames[] = {"main", "master",  "trunk",  "develop", "production",
                                         "prod", "release", "stable", "gh-pages"};
  for (std::string_view name : kNames)
    if (IEquals(branch, name)) return true;
  return IStartsWith(branch, "release/") || IStartsWith(branch, "release-");
}

bool JsonTrue(const nlohmann::json* json, std::string_view key) {
  if (json == nullptr || !json->is_object()) return false;
  auto it = json->find(std::string(key));
  return it != json->end() && it->is_boolean() && it->get<bool>();
}

// git/refs: deleting a branch or tag, or moving it with force.
bool GitHubSpecial(const Facts& facts, std::size_t skip, std::vector<Action>* out) {
  const auto& s = facts.url().segments;
  if (s.size() < skip + 6 || s[skip] != "repos" || s[skip + 3] != "git" || s[skip + 4] != "refs")
    return false;
  std::string ref;
  for (std::size_t i = skip + 5; i < s.size(); ++i) {
    if (!ref.empty()) ref.push_back('/');
    ref += s[i];
  }
  const bool branch = ref.starts_with("heads/");
  const std::string name = branch ? ref.substr(6) : ref.starts_with("tags/") ? ref.substr(5) : ref;
  const std::string repo = s[skip + 1] + "/" + s[skip + 2];
  const Severity severity = branch && IsProtectedBranch(name) ? kCrit : kHigh;
  if (facts.IsDelete()) {
    out->push_back(MakeAction(
        branch ? "repo.branch.delete" : "repo.ref.delete", {repo, "refs/" + ref},
        Reversibility::kIrreversible, severity,
        "deletes " + std::string(branch ? "branch " : "ref ") + name + " on the server"));
    return true;
  }
  if ((facts.method() == "PATCH" || facts.method() == "POST") && JsonTrue(facts.Json(), "force")) {
    out->push_back(MakeAction("git.push.force", {repo, "refs/" + ref}, Reversibility::kIrreversible,
                              severity, "force-moves " + name + ", dropping commits"));
    return true;
  }
  return false;
}

bool GitLabSpecial(const Facts& facts, std::size_t skip, std::vector<Action>* out) {
  const auto& s = facts.url().segments;
  if (facts.IsDelete() && s.size() == skip + 5 && s[skip] == "projects" &&
      s[skip + 2] == "repository" && s[skip + 3] == "branches") {
    const std::string& name = s[skip + 4];
    out->push_back(MakeAction("repo.branch.delete", {s[skip + 1], "refs/heads/" + name},
                              Reversibility::kIrreversible, IsProtectedBranch(name) ? kCrit : kHigh,
                              "deletes branch " + name + " on the server"));
    return true;
  }
  return false;
}

// Whether an Elasticsearch query matches everything: no query, match_all,
// or a query string of "*".
bool MatchesEverything(const Facts& facts) {
  if (const std::string* q = facts.QueryParam("q")) return *q == "*" || *q == "*:*";
  const nlohmann::json* json = facts.Json();
  if (json == nullptr) return facts.body().find_first_not_of(" \t\r\n") == std::string::npos;
  if (!json->is_object() || !json->contains("query")) return true;
  const nlohmann::json& query = (*json)["query"];
  return !query.is_object() || query.empty() || query.contains("match_all");
}

bool SearchSpecial(const Facts& facts, std::size_t, std::vector<Action>* out) {
  const auto& s = facts.url().segments;
  if (s.empty()) return false;
  const std::string& last = s.back();
  const std::string index = s.size() > 1 ? s.front() : "";
  if (facts.method() == "POST" && (last == "_delete_by_query" || last == "_update_by_query")) {
    const bool deletes = last == "_delete_by_query";
    const bool all = MatchesEverything(facts);
    out->push_back(MakeAction(
        std::string(deletes ? "db.delete" : "db.update") + (all ? ".unbounded" : ""),
        {facts.url().host + "/" + index}, Reversibility::kIrreversible, all ? kHigh : kMed,
        std::string(deletes ? "deletes" : "rewrites") +
            (all ? " every document in " : " the documents a query matches in ") + index));
    return true;
  }
  if (facts.method() == "POST" && last == "_bulk" &&
      facts.body().find("\"delete\"") != std::string::npos) {
    out->push_back(MakeAction("db.delete", {facts.Target()}, Reversibility::kIrreversible, kMed,
                              "a bulk request that deletes documents"));
    return true;
  }
  if (facts.IsDelete() && s.size() == 1 &&
      (s[0] == "_all" || s[0].find_first_of("*,") != std::string::npos)) {
    out->push_back(MakeAction("db.drop", {facts.Target()}, Reversibility::kIrreversible, kCrit,
                              "deletes every index matching " + s[0]));
    return true;
  }
  constexpr std::string_view kReadApis[] = {"_search",  "_msearch",     "_count",        "_mget",
                                            "_explain", "_validate",    "_field_caps",   "_sql",
                                            "_analyze", "_termvectors", "_mtermvectors", "_refresh",
                                            "_flush",   "query"};
  if (facts.method() == "POST") {
    for (const std::string& segment : s) {
      if (std::find(std::begin(kReadApis), std::end(kReadApis), segment) != std::end(kReadApis) &&
          segment != "query") {
        out->push_back(Read(facts, "a search (" + segment + ") only reads"));
        return true;
      }
    }
  }
  return false;
}

bool CouchSpecial(const Facts& facts, std::size_t, std::vector<Action>* out) {
  const auto& s = facts.url().segments;
  if (facts.method() == "POST" && s.size() == 2 && s[1] == "_bulk_docs" &&
      facts.body().find("\"_deleted\"") != std::string::npos) {
    out->push_back(MakeAction("db.delete", {facts.Target()}, Reversibility::kIrreversible, kMed,
                              "a bulk update that deletes documents"));
    return true;
  }
  return false;
}

// PostgREST (Supabase's /rest/v1): a DELETE or PATCH without a row filter
// reaches every row of the table.
bool PlatformSpecial(const Facts& facts, std::size_t, std::vector<Action>* out) {
  const auto& s = facts.url().segments;
  if (s.size() != 3 || s[0] != "rest" || s[1] != "v1") return false;
  if (!facts.IsDelete() && facts.method() != "PATCH") return false;
  bool filtered = false;
  constexpr std::string_view kNotFilters[] = {"select",  "order",       "limit", "offset",
                                              "columns", "on_conflict", "apikey"};
  for (const auto& [key, value] : facts.url().query)
    if (std::find(std::begin(kNotFilters), std::end(kNotFilters), key) == std::end(kNotFilters))
      filtered = true;
  const bool deletes = facts.IsDelete();
  out->push_back(MakeAction(
      std::string(deletes ? "db.delete" : "db.update") + (filtered ? "" : ".unbounded"),
      {facts.url().host + "/table:" + s[2]}, Reversibility::kIrreversible,
      filtered ? (deletes ? kMed : kLow) : kHigh,
      std::string(deletes ? "deletes" : "updates") +
          (filtered ? " filtered rows of " : " every row of ") + s[2] + " through PostgREST"));
  return true;
}

struct Family {
  std::string_view name;
  int (*applies)(const Facts&);  // segments to skip, or kNotThisFamily
  std::span<const Route> routes;
  bool (*special)(const Facts&, std::size_t skip, std::vector<Action>*);
};

// Order matters where hosts overlap: self-hosted APIs are recognised by path.
constexpr std::array kFamilies = {
    Family{"gcp", GcpApplies, kGcpRoutes, GcpSpecial},
    Family{"azure", AzureApplies, kAzureRoutes, NoSpecial},
    Family{"github", GitHubApplies, kGitHubRoutes, GitHubSpecial},
    Family{"gitlab", GitLabApplies, kGitLabRoutes, GitLabSpecial},
    Family{"kubernetes", KubernetesApplies, kKubernetesRoutes, KubernetesSpecial},
    Family{"platforms", AnyHost, kPlatformRoutes, PlatformSpecial},
    Family{"services", AnyHost, kServiceRoutes, NoSpecial},
    Family{"search", SearchApplies, kSearchRoutes, SearchSpecial},
    Family{"couchdb", CouchApplies, kCouchRoutes, CouchSpecial},
};

}  // namespace

bool ClassifyProviders(const Facts& facts, std::vector<Action>* out) {
  for (const Family& family : kFamilies) {
    const int skip = family.applies(facts);
    if (skip == kNotThisFamily) continue;
    if (family.special(facts, static_cast<std::size_t>(skip), out)) return true;
    if (const Route* route = FindRoute(family.routes, facts, static_cast<std::size_t>(skip))) {
      out->push_back(RouteAction(*route, facts));
      return true;
    }
  }
  return false;
}

}  // namespace dualkey::http::internal
