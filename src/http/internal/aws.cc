// AWS: the three ways its APIs name an operation, and S3's REST shape.
//  - query APIs (EC2, RDS, IAM, ElastiCache, Redshift ...): Action=Name in the
//    query string or a form body, whatever the HTTP method;
//  - JSON APIs (DynamoDB, ECR, KMS ...): X-Amz-Target: Service_Version.Name;
//  - REST APIs (S3, AWS Backup, Lambda, EFS ...): method and path.
// Operation names are classified by their leading verb (kOperationVerbs),
// with a few parameter rules that turn a modify into a backup deletion.
#include <algorithm>
#include <array>
#include <cctype>
#include <string>

#include "http/internal/facts.h"

namespace dualkey::http::internal {
namespace {

enum class Verb { kRead, kDestroy };

struct OperationVerb {
  std::string_view prefix;
  Verb verb;
};

// The leading word of an AWS operation name.
constexpr std::array kOperationVerbs = {
    OperationVerb{"Delete", Verb::kDestroy},     OperationVerb{"Terminate", Verb::kDestroy},
    OperationVerb{"Remove", Verb::kDestroy},     OperationVerb{"Purge", Verb::kDestroy},
    OperationVerb{"Deregister", Verb::kDestroy}, OperationVerb{"Destroy", Verb::kDestroy},
    OperationVerb{"Drop", Verb::kDestroy},       OperationVerb{"Describe", Verb::kRead},
    OperationVerb{"List", Verb::kRead},          OperationVerb{"Get", Verb::kRead},
    OperationVerb{"Head", Verb::kRead},          OperationVerb{"Lookup", Verb::kRead},
    OperationVerb{"Search", Verb::kRead},        OperationVerb{"Scan", Verb::kRead},
    OperationVerb{"Query", Verb::kRead},         OperationVerb{"BatchGet", Verb::kRead},
    OperationVerb{"Select", Verb::kRead},        OperationVerb{"Check", Verb::kRead},
    OperationVerb{"Validate", Verb::kRead},      OperationVerb{"Estimate", Verb::kRead},
    OperationVerb{"Preview", Verb::kRead},       OperationVerb{"Simulate", Verb::kRead},
    OperationVerb{"Verify", Verb::kRead},        OperationVerb{"Download", Verb::kRead},
};

// Parameter values that switch backups off: the operation stays a "Modify"
// but the automated backups (and their history) are deleted.
struct ParamRule {
  std::string_view operation;  // glob on the operation name
  std::string_view param;
  std::string_view value;  // compared case-insensitively
  std::string_view op_class;
  Severity severity;
  std::string_view reason;
};

constexpr std::array kParamRules = {
    ParamRule{"Modify*", "BackupRetentionPeriod", "0", "backup.delete", Severity::kCritical,
              "setting the backup retention period to 0 deletes the automated backups"},
    ParamRule{"Modify*", "SnapshotRetentionLimit", "0", "backup.delete", Severity::kCritical,
              "setting the snapshot retention limit to 0 stops and drops automatic snapshots"},
    ParamRule{"Modify*", "AutomatedSnapshotRetentionPeriod", "0", "backup.delete",
              Severity::kCritical, "setting the snapshot retention period to 0 deletes them"},
    ParamRule{"UpdateContinuousBackups", "PointInTimeRecoveryEnabled", "false", "backup.delete",
              Severity::kCritical, "turning point-in-time recovery off drops its history"},
    ParamRule{"Delete*", "SkipFinalSnapshot", "true", "cloud.delete", Severity::kCritical,
              "deletes the resource with no final snapshot"},
};

// S3 and the S3-compatible stores. Virtual-hosted rows name the bucket in the
// host (before `marker`); path-style rows in the first path segment.
struct S3Host {
  std::string_view glob;
  bool virtual_hosted;
  std::string_view marker;  // virtual-hosted: the bucket is the host up to this
};

constexpr std::array kS3Hosts = {
    S3Host{"*.s3.amazonaws.com", true, ".s3."},
    S3Host{"*.s3.*.amazonaws.com", true, ".s3."},
    S3Host{"*.s3-*.amazonaws.com", true, ".s3-"},
    S3Host{"*.s3.amazonaws.com.cn", true, ".s3."},
    S3Host{"*.s3.*.amazonaws.com.cn", true, ".s3."},
    S3Host{"s3.amazonaws.com", false, ""},
    S3Host{"s3.*.amazonaws.com", false, ""},
    S3Host{"s3-*.amazonaws.com", false, ""},
    S3Host{"s3.*.amazonaws.com.cn", false, ""},
    S3Host{"*.*.digitaloceanspaces.com", true, "."},
    S3Host{"*.digitaloceanspaces.com", false, ""},
    S3Host{"*.r2.cloudflarestorage.com", false, ""},
    S3Host{"s3.*.backblazeb2.com", false, ""},
    S3Host{"s3.*.wasabisys.com", false, ""},
    S3Host{"s3.wasabisys.com", false, ""},
    S3Host{"*.storage.googleapis.com", true, ".storage.googleapis.com"},
    // storage.googleapis.com/storage/v1/... is the JSON API (providers.cc).
    S3Host{"storage.googleapis.com", false, ""},
};

// Sub-resources a DELETE can name on a bucket or object.
struct S3SubResource {
  std::string_view param;
  std::string_view op_class;
  Severity severity;
  std::string_view reason;
};

constexpr std::array kS3SubResources = {
    S3SubResource{"uploadId", "cloud.write", Severity::kLow, "aborts a multipart upload"},
    S3SubResource{"tagging", "cloud.write", Severity::kLow, "removes tags"},
    S3SubResource{"policy", "cloud.config.delete", Severity::kMedium, "deletes the bucket policy"},
    S3SubResource{"lifecycle", "cloud.config.delete", Severity::kMedium,
                  "deletes the bucket lifecycle rules"},
    S3SubResource{"replication", "cloud.config.delete", Severity::kMedium,
                  "deletes replication (the copies stop)"},
    S3SubResource{"encryption", "cloud.config.delete", Severity::kMedium,
                  "deletes the default encryption"},
    S3SubResource{"cors", "cloud.config.delete", Severity::kLow, "deletes CORS rules"},
    S3SubResource{"website", "cloud.config.delete", Severity::kLow, "deletes website config"},
};

constexpr std::array kAwsRoutes = {
    Route{"backup.*.amazonaws.com", "DELETE", "backup-vaults/*/recovery-points/*", "backup.delete",
          Severity::kCritical, Reversibility::kIrreversible, "AWS Backup deletes a recovery point"},
    Route{"backup.*.amazonaws.com", "DELETE", "backup-vaults/**", "backup.delete",
          Severity::kCritical, Reversibility::kIrreversible, "AWS Backup deletes a backup vault"},
    Route{"backup.*.amazonaws.com", "DELETE", "**", "backup.delete", Severity::kHigh,
          Reversibility::kIrreversible, "AWS Backup deletes a plan or its settings"},
    Route{"eks.*.amazonaws.com", "DELETE", "clusters/*", "cloud.delete", Severity::kCritical,
          Reversibility::kIrreversible, "deletes an EKS cluster"},
    Route{"elasticfilesystem.*.amazonaws.com", "DELETE", "**", "cloud.delete", Severity::kHigh,
          Reversibility::kIrreversible, "deletes an EFS file system or its parts"},
    Route{"*.amazonaws.com", "DELETE", "**", "cloud.delete", Severity::kHigh,
          Reversibility::kIrreversible, "an AWS REST API DELETE"},
    Route{"*.amazonaws.com.cn", "DELETE", "**", "cloud.delete", Severity::kHigh,
          Reversibility::kIrreversible, "an AWS REST API DELETE"},
    Route{"*.amazonaws.com", "GET|HEAD|OPTIONS", "**", "read.only", Severity::kNone,
          Reversibility::kReversible, "reads from an AWS API"},
};

// The value of a parameter in the form/query, or at any depth of a JSON body.
const nlohmann::json* FindJsonKey(const nlohmann::json& json, std::string_view key, int depth) {
  if (depth > 16) return nullptr;
  if (json.is_object()) {
    for (auto it = json.begin(); it != json.end(); ++it) {
      if (IEquals(it.key(), key)) return &it.value();
      if (const nlohmann::json* found = FindJsonKey(it.value(), key, depth + 1)) return found;
    }
  } else if (json.is_array()) {
    for (const auto& item : json)
      if (const nlohmann::json* found = FindJsonKey(item, key, depth + 1)) return found;
  }
  return nullptr;
}

bool ParamEquals(const Facts& facts, std::string_view name, std::string_view value) {
  if (const std::string* param = facts.FormOrQueryParam(name)) return IEquals(*param, value);
  if (const nlohmann::json* json = facts.Json()) {
    if (const nlohmann::json* found = FindJsonKey(*json, name, 0)) {
      if (found->is_string()) return IEquals(found->get_ref<const std::string&>(), value);
      if (found->is_primitive()) return IEquals(found->dump(), value);
    }
  }
  return false;
}

// Identifiers an operation names: DBInstanceIdentifier, TableName, InstanceId.1 ...
std::vector<std::string> OperationTargets(const Facts& facts, std::string_view operation) {
  std::vector<std::string> targets{facts.url().host, "aws:" + std::string(operation)};
  auto names_resource = [](std::string_view key) {
    while (!key.empty() &&
           (std::isdigit(static_cast<unsigned char>(key.back())) || key.back() == '.'))
      key.remove_suffix(1);
    return key.ends_with("Identifier") || key.ends_with("Name") || key.ends_with("Id") ||
           key.ends_with("Arn");
  };
  auto add = [&](std::string_view key, std::string_view value) {
    if (targets.size() < 10 && names_resource(key) && !value.empty())
      targets.push_back(std::string(key) + "=" + std::string(value));
  };
  for (const auto& [key, value] : facts.form()) add(key, value);
  for (const auto& [key, value] : facts.url().query) add(key, value);
  if (const nlohmann::json* json = facts.Json(); json && json->is_object())
    for (auto it = json->begin(); it != json->end(); ++it)
      if (it.value().is_string()) add(it.key(), it.value().get_ref<const std::string&>());
  return targets;
}

void ClassifyOperation(const Facts& facts, std::string_view operation, std::string_view how,
                       std::vector<Action>* out) {
  std::vector<std::string> targets = OperationTargets(facts, operation);
  std::string name(operation);
  for (const ParamRule& rule : kParamRules) {
    if (GlobMatch(rule.operation, operation) && ParamEquals(facts, rule.param, rule.value)) {
      std::string op_class(rule.op_class);
      if (op_class == "cloud.delete" && NamesBackup(operation)) op_class = "backup.delete";
      out->push_back(MakeAction(std::move(op_class), std::move(targets),
                                Reversibility::kIrreversible, rule.severity,
                                name + ": " + std::string(rule.reason)));
      return;
    }
  }
  const OperationVerb* verb = nullptr;
  for (const OperationVerb& candidate : kOperationVerbs) {
    if (operation.starts_with(candidate.prefix) &&
        (operation.size() == candidate.prefix.size() ||
         !std::islower(static_cast<unsigned char>(operation[candidate.prefix.size()])))) {
      verb = &candidate;
      break;
    }
  }
  if (verb != nullptr && verb->verb == Verb::kRead) {
    out->push_back(MakeAction("read.only", std::move(targets), Reversibility::kReversible,
                              Severity::kNone, name + " (" + std::string(how) + ") only reads"));
    return;
  }
  if (verb != nullptr && verb->verb == Verb::kDestroy) {
    if (NamesBackup(operation)) {
      out->push_back(MakeAction("backup.delete", std::move(targets), Reversibility::kIrreversible,
                                Severity::kCritical,
                                name + " (" + std::string(how) + ") deletes backups or snapshots"));
    } else {
      out->push_back(MakeAction("cloud.delete", std::move(targets), Reversibility::kIrreversible,
                                Severity::kHigh,
                                name + " (" + std::string(how) + ") deletes AWS resources"));
    }
    return;
  }
  // DynamoDB's batch writes carry deletes inside.
  if (operation == "BatchWriteItem" && facts.body().find("DeleteRequest") != std::string::npos) {
    out->push_back(MakeAction("db.delete", std::move(targets), Reversibility::kIrreversible,
                              Severity::kMedium, "BatchWriteItem deletes items (DeleteRequest)"));
    return;
  }
  out->push_back(MakeAction("cloud.write", std::move(targets), Reversibility::kReversible,
                            Severity::kLow,
                            name + " (" + std::string(how) + ") changes AWS resources"));
}

bool IsAwsHost(std::string_view host) {
  return GlobMatch("*.amazonaws.com", host) || GlobMatch("*.amazonaws.com.cn", host) ||
         host == "amazonaws.com";
}

bool ClassifyS3(const Facts& facts, std::vector<Action>* out) {
  const Url& url = facts.url();
  const S3Host* match = nullptr;
  for (const S3Host& row : kS3Hosts) {
    if (GlobMatch(row.glob, url.host)) {
      match = &row;
      break;
    }
  }
  if (match == nullptr) return false;
  if (url.host == "storage.googleapis.com" && !url.segments.empty() &&
      (url.segments[0] == "storage" || url.segments[0] == "upload" || url.segments[0] == "batch" ||
       url.segments[0] == "download"))
    return false;  // Cloud Storage's JSON API, not the XML (S3) one
  std::string bucket;
  std::vector<std::string> key_segments;
  if (match->virtual_hosted) {
    bucket = url.host.substr(0, url.host.find(match->marker));
    key_segments = url.segments;
  } else {
    if (url.segments.empty()) {
      // The service root: ListBuckets and friends.
      if (facts.IsRead())
        out->push_back(Read(facts, "lists buckets"));
      else
        out->push_back(MakeAction("cloud.write", {url.host}, Reversibility::kReversible,
                                  Severity::kLow, "a request on the storage service root"));
      return true;
    }
    bucket = url.segments.front();
    key_segments.assign(url.segments.begin() + 1, url.segments.end());
  }
  std::string key;
  for (const std::string& segment : key_segments) {
    if (!key.empty()) key.push_back('/');
    key += segment;
  }
  const std::string object = "s3://" + bucket + (key.empty() ? "" : "/" + key);
  const bool backup = NamesBackup(bucket) || NamesBackup(key);

  if (facts.IsRead()) {
    out->push_back(
        Read(facts, key.empty() ? "lists or reads bucket " + bucket : "reads object " + object));
    return true;
  }
  if (facts.method() == "POST" && facts.HasQueryParam("delete")) {
    const bool body_backup = NamesBackup(facts.body());
    out->push_back(MakeAction(backup || body_backup ? "backup.delete" : "cloud.delete", {object},
                              Reversibility::kIrreversible,
                              backup || body_backup ? Severity::kCritical : Severity::kHigh,
                              "S3 multi-object delete (POST ?delete) in bucket " + bucket));
    return true;
  }
  if (!facts.IsDelete()) {
    out->push_back(MakeAction("cloud.write", {object}, Reversibility::kReversible, Severity::kLow,
                              "writes to object storage"));
    return true;
  }
  for (const S3SubResource& sub : kS3SubResources) {
    if (facts.HasQueryParam(sub.param)) {
      out->push_back(MakeAction(std::string(sub.op_class), {object}, Reversibility::kReversible,
                                sub.severity, std::string(sub.reason) + " on " + object));
      return true;
    }
  }
  if (key.empty()) {
    out->push_back(
        MakeAction(backup ? "backup.delete" : "cloud.delete", {object},
                   Reversibility::kIrreversible, Severity::kCritical,
                   "deletes the bucket " + bucket + (backup ? ", which holds backups" : "")));
  } else {
    const bool version = facts.HasQueryParam("versionId");
    out->push_back(MakeAction(
        backup ? "backup.delete" : "cloud.delete", {object}, Reversibility::kIrreversible,
        backup    ? Severity::kCritical
        : version ? Severity::kHigh
                  : Severity::kMedium,
        std::string(version ? "permanently deletes a version of " : "deletes ") + object +
            (backup ? ", a backup" : "")));
  }
  return true;
}

}  // namespace

bool ClassifyAws(const Facts& facts, std::vector<Action>* out) {
  // JSON protocol: the operation is in the header, on any host (LocalStack,
  // VPC endpoints).
  if (std::string_view target = facts.Header("x-amz-target"); !target.empty()) {
    std::string_view operation = target.substr(target.rfind('.') + 1);
    ClassifyOperation(facts, operation, "X-Amz-Target", out);
    return true;
  }
  const bool aws_host = IsAwsHost(facts.url().host);
  // Query protocol: Action=Name. Off AWS hosts only with the Version that
  // every query API request carries.
  if (const std::string* action = facts.FormOrQueryParam("Action");
      action != nullptr && !action->empty() &&
      (aws_host || facts.FormOrQueryParam("Version") != nullptr) &&
      std::isupper(static_cast<unsigned char>(action->front()))) {
    ClassifyOperation(facts, *action, "query API", out);
    return true;
  }
  if (ClassifyS3(facts, out)) return true;
  if (!aws_host) return false;
  if (const Route* route = FindRoute(kAwsRoutes, facts)) {
    out->push_back(RouteAction(*route, facts));
    return true;
  }
  return false;
}

}  // namespace dualkey::http::internal
