#include "core/op_class.h"

#include <algorithm>

namespace dualkey::op_class {
namespace {

using enum Destructive;
constexpr Reversibility kRev = Reversibility::kReversible;
constexpr Reversibility kRec = Reversibility::kRecoverable;
constexpr Reversibility kIrr = Reversibility::kIrreversible;
constexpr Reversibility kUnk = Reversibility::kUnknown;

// Sorted by name (a test checks). One line each: what an Action of the class
// does, as a person writing policy needs to know it.
constexpr Info kClasses[] = {
    {"account.credentials", kYes, kRec,
     "resets an account's password or credentials; whoever used the old ones is locked out"},
    {"account.delete", kYes, kIrr,
     "deletes a user account or its permissions; clients that log in with it fail"},
    {"app.task", kNo, kRev,
     "runs an application's own task that builds, tests, serves or migrates forward"},
    {"auth.logout", kNo, kRev, "logs a CLI out of a service; logging in again restores it"},
    {"backup.create", kNo, kRev, "makes a new backup or snapshot; nothing is lost"},
    {"backup.delete", kYes, kIrr,
     "deletes backups or snapshots (also prunes and retention cuts): the way back from mistakes"},
    {"backup.modify", kYes, kIrr,
     "changes a backup file in place, so it may no longer restore what it held"},
    {"backup.overwrite", kYes, kIrr,
     "replaces a backup with other content (often an empty archive)"},
    {"backup.read", kNo, kRev,
     "reads or restores from a backup into a fresh place; the backup stays"},
    {"backup.unknown", kYes, kUnk,
     "a backup tool's subcommand dualkey does not know; it may delete backups"},
    {"build", kNo, kRev, "builds, tests or packages locally"},
    {"cache.delete", kNo, kRec, "deletes a cache or build artifact that is rebuilt on demand"},
    {"cd.delete", kDepends, kRec,
     "deletes a continuous-delivery application or pipeline (Argo CD, Spinnaker, Flux)"},
    {"cdn.cache.purge", kNo, kRec, "purges cached content from a CDN; the origin serves it again"},
    {"cdn.delete", kYes, kIrr, "deletes a CDN service, property or zone: the sites it serves stop"},
    {"ci.cache.delete", kNo, kRec, "deletes CI build caches, which rebuild"},
    {"ci.delete", kYes, kIrr, "deletes a CI pipeline, project or its build history"},
    {"ci.secret.delete", kYes, kIrr,
     "deletes a CI secret, variable or context; jobs that need it fail"},
    {"ci.write", kNo, kRev, "uploads or changes CI pipeline steps or settings"},
    {"cloud.config.delete", kDepends, kIrr,
     "deletes a cloud resource's configuration (a bucket policy, lifecycle or replication rule)"},
    {"cloud.create", kNo, kRev, "creates or updates a cloud or SaaS object; nothing is lost"},
    {"cloud.delete", kDepends, kIrr,
     "deletes a cloud resource (instance, bucket, database service, app, project)"},
    {"cloud.maintenance", kNo, kRec,
     "garbage-collects or tidies cloud-side state that is already finished"},
    {"cloud.protection.remove", kYes, kIrr,
     "removes a protection (object lock, versioning, deletion protection) so data can be lost "
     "later"},
    {"cloud.write", kNo, kRev,
     "copies, lists or configures cloud resources without deleting anything"},
    {"cluster.member.remove", kYes, kIrr,
     "removes a node from a cluster (etcd, Cassandra, RabbitMQ); its share of the data may go with "
     "it"},
    {"container.cache.prune", kNo, kRec, "removes container build cache, which rebuilds"},
    {"container.delete", kDepends, kRec,
     "removes containers; their writable layers are lost, named volumes stay"},
    {"container.image.prune", kNo, kRec,
     "removes container images or build cache, which can be pulled or rebuilt"},
    {"container.prune", kNo, kRec, "removes stopped containers, unused images and networks"},
    {"container.volume.delete", kYes, kIrr, "deletes container volumes and the data in them"},
    {"container.volume.write", kNo, kRev,
     "creates or changes a container volume without deleting its data"},
    {"credentials.create", kYes, kIrr,
     "creates a file among keys or credentials (~/.ssh, ~/.aws ...)"},
    {"credentials.delete", kYes, kIrr, "deletes stored keys or credentials"},
    {"credentials.edit", kYes, kIrr, "edits a file of keys or credentials"},
    {"credentials.write", kYes, kIrr, "overwrites a file of keys or credentials"},
    {"db.admin.cancel", kYes, kIrr, "cancels queries running on other connections"},
    {"db.admin.destructive", kYes, kIrr,
     "a server administration function that loses state (drops a replication slot, promotes a "
     "standby)"},
    {"db.admin.terminate", kYes, kIrr,
     "terminates other server connections; their open transactions are lost"},
    {"db.alter", kNo, kRev, "changes a definition (table, view, function) without dropping data"},
    {"db.alter.destructive", kYes, kIrr,
     "ALTER that destroys data: drops a column or a constraint"},
    {"db.alter.rename", kNo, kRev,
     "renames a database object; no data is lost and it can be renamed back"},
    {"db.alter.rewrite", kYes, kIrr,
     "ALTER that rewrites a table's data (a column type change), losing what does not convert"},
    {"db.alter.triggers_disabled", kYes, kRec,
     "disables a table's triggers, so the rules they enforce stop applying"},
    {"db.attach", kYes, kRec,
     "attaches (and may create) a database file at any path (SQLite ATTACH)"},
    {"db.call", kNo, kUnk, "calls a stored procedure"},
    {"db.config", kNo, kRev, "changes a setting of this session or database file (SET, PRAGMA)"},
    {"db.config.delete", kNo, kRec,
     "deletes a database's configuration object (an index or component template)"},
    {"db.config.destructive", kYes, kRec,
     "changes a database setting that can lose or corrupt data (PRAGMA writable_schema, fsync "
     "off)"},
    {"db.config.system", kYes, kRec,
     "changes the server's persistent or global configuration (ALTER SYSTEM, SET GLOBAL)"},
    {"db.corrupt", kYes, kIrr,
     "writes into a database's own files behind its back, which corrupts it"},
    {"db.create", kNo, kRev, "creates a database, table or other object"},
    {"db.credential.change", kNo, kRec, "changes a database account's password"},
    {"db.delete", kDepends, kIrr, "deletes some rows, points, documents or keys of a database"},
    {"db.delete.largeobject", kYes, kIrr, "deletes or truncates PostgreSQL large objects"},
    {"db.delete.unbounded", kYes, kIrr,
     "deletes every row of a table (DELETE without a real WHERE); snapshot-capable"},
    {"db.drop", kDepends, kIrr,
     "drops a database, schema, table, collection or index with its data"},
    {"db.drop.index", kNo, kRec, "drops an index; no data is lost, it can be rebuilt"},
    {"db.drop.partial", kYes, kIrr,
     "drops part of a table with its data: a column, partition or part"},
    {"db.drop.temp", kNo, kIrr, "drops a temporary table made in the same session"},
    {"db.export", kNo, kRev, "writes a copy of data out (SELECT INTO OUTFILE, VACUUM INTO)"},
    {"db.file.delete", kYes, kIrr, "deletes a file on the database server"},
    {"db.file.write", kYes, kIrr, "writes or renames a file on the database server"},
    {"db.index.drop", kYes, kRec,
     "drops every index of a collection; queries slow down until rebuilt"},
    {"db.lock", kNo, kRev, "locks tables until the transaction ends"},
    {"db.log.purge", kYes, kIrr,
     "deletes binary logs or replication state that point-in-time recovery depends on"},
    {"db.maintenance", kNo, kRev, "maintenance: statistics, vacuum, reindex, refresh, optimize"},
    {"db.migrate", kNo, kRec, "applies, inspects or marks schema migrations forward"},
    {"db.migrate.down", kYes, kIrr,
     "rolls migrations back, usually dropping the tables and columns they added"},
    {"db.overwrite", kYes, kIrr,
     "replaces a database's contents (a restore into a live database or branch)"},
    {"db.prepare", kNo, kRev, "defines a prepared statement; nothing runs yet"},
    {"db.privilege", kNo, kRev, "grants or revokes privileges; it can be undone"},
    {"db.read", kNo, kRev, "reads data without changing it"},
    {"db.restore", kDepends, kRec, "loads a dump into a database without dropping what is there"},
    {"db.restore.overwrite", kYes, kIrr,
     "restores a snapshot over a live database or data directory, replacing its data"},
    {"db.role.alter", kYes, kRec,
     "changes or renames a database role; logins that use it may break"},
    {"db.role.drop", kYes, kIrr, "drops a database role or user"},
    {"db.schema.change", kNo, kRec, "changes a schema without dropping data"},
    {"db.schema.drop", kYes, kIrr,
     "drops a schema object that holds no rows (a view, function, keyspace type)"},
    {"db.session", kNo, kRev, "session bookkeeping: SET, SHOW, DISCARD, LISTEN, DETACH"},
    {"db.session.delete", kNo, kRec,
     "clears server-side session state (scroll contexts, async searches)"},
    {"db.truncate", kYes, kIrr, "TRUNCATE: deletes every row of a table; snapshot-capable"},
    {"db.tx", kNo, kRev, "transaction control: BEGIN, COMMIT, ROLLBACK, SAVEPOINT"},
    {"db.update", kDepends, kIrr, "changes existing rows or documents in place"},
    {"db.update.unbounded", kYes, kIrr,
     "changes every row of a table (UPDATE without a real WHERE); snapshot-capable"},
    {"db.write", kDepends, kRec,
     "adds or changes data without deleting any (INSERT, MERGE, upserts)"},
    {"db.write.bounded", kNo, kIrr,
     "UPDATE or DELETE limited by its WHERE clause; the proxy checks its blast radius; "
     "snapshot-capable"},
    {"db.write.temp", kNo, kIrr, "writes to a temporary table made in the same input"},
    {"disk.format", kYes, kIrr,
     "creates a new file system or pool on a device, erasing what was there"},
    {"disk.key.delete", kYes, kIrr,
     "removes an encryption key slot; data locked only by it is unreadable"},
    {"disk.partition", kDepends, kIrr, "edits a partition table"},
    {"disk.volume.delete", kYes, kIrr,
     "destroys a volume, pool or dataset (LVM, ZFS) with its data"},
    {"disk.wipe", kYes, kIrr, "overwrites, discards or erases a whole device or its signatures"},
    {"disk.write", kYes, kIrr, "writes to a raw device directly"},
    {"dns.delete", kYes, kIrr, "deletes DNS zones or records: what they name stops resolving"},
    {"dns.write", kYes, kIrr, "pushes DNS changes that delete records the configuration lacks"},
    {"exec.unverified", kNo, kUnk,
     "what a project script does that dualkey cannot see through (computed eval, a run-time path)"},
    {"flag.delete", kYes, kIrr, "deletes a feature flag and its targeting rules"},
    {"fs.create", kNo, kRev, "creates a new file in the project"},
    {"fs.create.disposable", kNo, kRev, "creates a temporary or rebuildable file"},
    {"fs.create.home", kYes, kIrr, "creates a file in place of the home directory itself"},
    {"fs.create.outside_project", kNo, kRev, "creates a new file outside the project"},
    {"fs.create.startup", kYes, kRec,
     "creates a shell startup file, which runs in every new shell"},
    {"fs.create.system", kYes, kIrr, "creates a file among system files (/etc, /usr ...)"},
    {"fs.create.unresolved", kYes, kUnk, "creates a file at a path dualkey cannot resolve"},
    {"fs.delete", kDepends, kRec, "deletes files (one file in the project, or a tool's own paths)"},
    {"fs.delete.data", kYes, kIrr, "deletes database or service data files"},
    {"fs.delete.database", kYes, kIrr, "deletes a database file (SQLite, data directory files)"},
    {"fs.delete.device", kYes, kRec, "deletes a device node"},
    {"fs.delete.disposable", kNo, kRec, "deletes a temporary or rebuildable file"},
    {"fs.delete.empty", kNo, kRev, "deletes empty directories"},
    {"fs.delete.home", kYes, kIrr, "deletes the home directory, or everything in it"},
    {"fs.delete.outside_project", kYes, kIrr, "deletes a file outside the project"},
    {"fs.delete.recursive", kYes, kIrr, "deletes a directory tree of ordinary files"},
    {"fs.delete.root", kYes, kIrr, "deletes the root file system"},
    {"fs.delete.scoped", kNo, kRec,
     "deletes build output, caches, or what the same command line just created"},
    {"fs.delete.startup", kYes, kRec, "deletes a shell startup file"},
    {"fs.delete.system", kYes, kIrr, "deletes system files (/etc, /usr, /boot ...)"},
    {"fs.delete.temp", kNo, kRec, "deletes temporary files"},
    {"fs.delete.unresolved", kYes, kUnk, "deletes a path dualkey cannot resolve"},
    {"fs.edit", kNo, kRev, "edits part of a file in the project"},
    {"fs.edit.data", kYes, kRec, "edits database or service data files in place"},
    {"fs.edit.disposable", kNo, kRec, "edits a temporary or rebuildable file"},
    {"fs.edit.home", kYes, kIrr, "edits the home directory itself as a file"},
    {"fs.edit.outside_project", kNo, kRec, "edits part of a file outside the project"},
    {"fs.edit.startup", kYes, kRec, "edits a shell startup file, which runs in every new shell"},
    {"fs.edit.system", kYes, kIrr, "edits a system file (/etc, /usr ...)"},
    {"fs.edit.unresolved", kYes, kUnk, "edits a path dualkey cannot resolve"},
    {"fs.move", kDepends, kRec,
     "moves or renames files; data that services expect in place may go missing"},
    {"fs.overwrite", kDepends, kIrr,
     "replaces files' content with other content (a copy, restore or redirect over them)"},
    {"fs.permissions", kYes, kRec,
     "changes permissions or ownership the system or its services rely on"},
    {"fs.rollback", kYes, kIrr,
     "rolls a file system back to a snapshot, discarding every later change"},
    {"fs.shred", kDepends, kIrr, "overwrites files so they cannot be recovered"},
    {"fs.sync", kNo, kRec, "syncs a directory to another, keeping replaced files aside"},
    {"fs.truncate", kDepends, kIrr, "truncates files to a size, losing their content"},
    {"fs.write", kDepends, kRev, "writes files (in the project, or a tool's own output)"},
    {"fs.write.data", kYes, kIrr, "overwrites database or service data files"},
    {"fs.write.disposable", kNo, kIrr, "overwrites a temporary or rebuildable file"},
    {"fs.write.home", kYes, kIrr, "overwrites the home directory itself as a file"},
    {"fs.write.outside_project", kYes, kIrr,
     "overwrites a file outside the project; its old content is lost"},
    {"fs.write.startup", kYes, kRec,
     "overwrites a shell startup file, which runs in every new shell"},
    {"fs.write.system", kYes, kIrr, "overwrites a system file (/etc, /usr ...)"},
    {"fs.write.unresolved", kYes, kUnk, "overwrites a path dualkey cannot resolve"},
    {"gateway.delete", kYes, kIrr, "deletes API gateway entities (services, routes, consumers)"},
    {"gateway.write", kYes, kIrr,
     "syncs an API gateway to a file, deleting entities the file lacks"},
    {"git.branch.delete", kYes, kIrr,
     "deletes git branches (locally with unmerged work, or on a remote)"},
    {"git.clean", kYes, kIrr, "deletes untracked files; git keeps no copy"},
    {"git.discard", kDepends, kIrr, "discards uncommitted changes in the working tree"},
    {"git.history.delete", kYes, kIrr,
     "deletes history or the reflog entries that recover lost commits"},
    {"git.history.rewrite", kYes, kRec,
     "rewrites a repository's history (filter-branch, filter-repo, rebase of pushed work)"},
    {"git.merge", kNo, kRev, "merges a pull or merge request; the commits stay"},
    {"git.push.force", kYes, kIrr, "force-pushes, overwriting remote history others may have"},
    {"git.stash.delete", kYes, kIrr, "drops or clears stashed, uncommitted work"},
    {"git.tag.delete", kYes, kIrr, "deletes git tags on a remote"},
    {"graphql.mutation", kNo, kRev,
     "a GraphQL mutation that creates or changes data without deleting any"},
    {"guard.deny", kNo, kRev, "refuses a held dualkey action; always safe"},
    {"guard.tamper", kYes, kIrr,
     "changes or reads dualkey itself (state, keys, socket, policy, binary, hooks); never below "
     "hold2"},
    {"http.delete", kYes, kIrr,
     "an HTTP call that deletes what it names, on an API no route table knows"},
    {"http.write", kNo, kRev,
     "an HTTP call that sends data to an API; no rule marks it destructive"},
    {"iac.apply", kDepends, kRec, "applies infrastructure changes to match the configuration"},
    {"iac.destroy", kYes, kIrr, "destroys every resource an infrastructure configuration manages"},
    {"iac.replace", kYes, kIrr, "destroys and recreates a resource, losing its data"},
    {"iac.state.change", kNo, kRec,
     "changes infrastructure state without touching the resources (mv, import, lock)"},
    {"iac.state.delete", kYes, kIrr, "removes resources or stacks from infrastructure state"},
    {"iac.state.overwrite", kYes, kIrr, "overwrites the remote infrastructure state"},
    {"iac.workspace.delete", kYes, kIrr, "deletes an infrastructure workspace and its state"},
    {"incident.delete", kYes, kIrr, "deletes incidents, services or schedules in an incident tool"},
    {"incident.write", kNo, kRev, "acknowledges, resolves or annotates incidents"},
    {"k8s.cluster.delete", kNo, kRec, "deletes a local development cluster (kind, minikube)"},
    {"k8s.delete", kDepends, kIrr, "deletes Kubernetes objects (namespaces, workloads, volumes)"},
    {"k8s.deploy", kNo, kRec, "deploys or upgrades workloads"},
    {"k8s.replace", kYes, kIrr,
     "deletes and recreates Kubernetes objects, or prunes those not in the manifests"},
    {"k8s.restore", kNo, kRec, "recreates Kubernetes objects from a backup"},
    {"k8s.scale", kNo, kRec, "scales workloads up or down"},
    {"kv.cluster.admin", kYes, kRec, "administers a key-value cluster (slots, nodes, failover)"},
    {"kv.config.write", kYes, kUnk,
     "changes a key-value server's configuration, including where it writes files"},
    {"kv.delete", kDepends, kIrr, "deletes keys from a key-value store"},
    {"kv.delete.bulk", kYes, kIrr, "deletes keys only known at run time (from a scan or a script)"},
    {"kv.flush", kYes, kIrr,
     "deletes every key of a key-value database (FLUSHALL, FLUSHDB, REPLICAOF)"},
    {"kv.history.delete", kYes, kIrr, "discards a key-value store's history (etcd compaction)"},
    {"kv.write", kNo, kRec, "writes individual keys or settings"},
    {"mcp.delete", kYes, kIrr,
     "an MCP tool whose name says it destroys, on an object dualkey cannot place"},
    {"mcp.destructive_hint", kYes, kUnk,
     "an MCP tool that declares itself destructive (destructiveHint)"},
    {"mcp.write", kNo, kRev, "an MCP tool that creates or changes something ordinary"},
    {"monitoring.delete", kYes, kIrr, "deletes dashboards, alerts, monitors or their data"},
    {"monitoring.silence", kNo, kRev, "silences or unsilences alerts"},
    {"monitoring.write", kNo, kRev, "creates or changes monitoring data or configuration"},
    {"net.shell.expose", kYes, kUnk,
     "serves a shell or program to whoever connects (socat EXEC:, nc -e): remote control of the "
     "machine"},
    {"network.delete", kYes, kIrr,
     "deletes a network resource (a tunnel, VPC, load balancer): what it exposes goes offline"},
    {"notify", kNo, kRev, "posts a message (chat, webhook)"},
    {"opaque.exec", kYes, kUnk,
     "runs code dualkey cannot read: decoded, downloaded, computed or from a file"},
    {"opaque.file", kYes, kUnk,
     "a file tool call without a usable path or with an unknown operation"},
    {"opaque.http", kYes, kUnk, "an HTTP request whose method or body is only known when it runs"},
    {"opaque.mcp", kYes, kUnk,
     "an MCP call dualkey cannot read: unknown tool, or arguments beyond what it reads"},
    {"opaque.sql", kYes, kUnk, "SQL dualkey cannot read: from a file, computed, or unparseable"},
    {"payment.delete", kYes, kIrr, "deletes or cancels payment objects (customers, subscriptions)"},
    {"payment.transfer", kYes, kIrr, "moves money out of an account; it cannot be called back"},
    {"pkg.cache", kNo, kRec, "cleans or manages a package manager's cache"},
    {"pkg.install", kNo, kRev, "installs, updates or lists packages from the configured sources"},
    {"pkg.install.untrusted", kYes, kRec,
     "installs code from a URL or source that no index vetted"},
    {"pkg.local", kNo, kRev, "builds, tests or changes this project's packages locally"},
    {"pkg.publish", kDepends, kIrr,
     "publishes a package release; once fetched, a version cannot be taken back"},
    {"pkg.registry.access", kYes, kRec, "removes an owner or maintainer of a published package"},
    {"pkg.registry.delete", kYes, kRec, "yanks or unpublishes a published package version"},
    {"pkg.registry.write", kNo, kRev,
     "changes a published package's metadata (tags, deprecation, un-yank)"},
    {"pkg.remove", kNo, kRec,
     "removes a local package, plugin or extension that can be installed again"},
    {"pkg.system.remove", kYes, kRec,
     "removes system or environment packages (and maybe their configuration)"},
    {"pkg.write", kNo, kRev, "runs package scripts, builds, tests or reports"},
    {"process.signal", kNo, kRev, "signals or kills ordinary processes"},
    {"queue.config", kDepends, kRec, "changes a queue or topic's partitions or configuration"},
    {"queue.delete", kYes, kIrr, "deletes queues, topics or the messages waiting in them"},
    {"queue.offset.reset", kYes, kIrr,
     "moves a consumer group's offsets: messages are skipped or read again"},
    {"queue.worker", kNo, kRev, "runs, inspects or calls queue workers"},
    {"read.only", kNo, kRev, "reads, lists or prints; changes nothing"},
    {"repo.archive", kNo, kRec, "archives a hosted repository (read-only; it can be unarchived)"},
    {"repo.branch.delete", kYes, kIrr, "deletes branches of a hosted repository through its API"},
    {"repo.content.delete", kYes, kIrr,
     "deletes hosted repository content: releases, comments, issues, wiki pages"},
    {"repo.delete", kYes, kIrr,
     "deletes a hosted repository with its issues, pull requests and wiki"},
    {"repo.file.delete", kNo, kRec,
     "commits a file deletion through an API (recoverable from history)"},
    {"repo.label.delete", kNo, kRec, "deletes a repository label; issues keep their history"},
    {"repo.maintain", kNo, kRec,
     "maintenance of a backup repository that frees space of already deleted snapshots"},
    {"repo.meta.delete", kNo, kRec, "removes labels, assignees or review requests"},
    {"repo.protection.delete", kYes, kRec, "removes branch protection or rulesets"},
    {"repo.ref.delete", kDepends, kIrr,
     "deletes a git ref (tag or other) of a hosted repository through its API"},
    {"repo.release.delete", kYes, kIrr, "deletes a release and its assets"},
    {"repo.transfer", kYes, kRec, "transfers a repository to another owner"},
    {"repo.visibility", kYes, kRec,
     "changes a repository's visibility, which can publish private code"},
    {"schedule.delete", kYes, kIrr, "deletes scheduled jobs (a crontab)"},
    {"schedule.replace", kNo, kIrr, "replaces scheduled jobs with a file"},
    {"secret.config.delete", kYes, kIrr,
     "deletes a secret store's policy or auth method; what used it loses access"},
    {"secret.delete", kDepends, kRec, "deletes secrets from a secret store"},
    {"secret.read", kYes, kIrr, "reads secrets an agent must not see"},
    {"secret.revoke", kDepends, kIrr,
     "revokes tokens, leases or credentials; what uses them stops working"},
    {"service.control", kNo, kRev, "starts, restarts or inspects an ordinary service"},
    {"service.stop", kDepends, kRec, "stops, disables or masks a service that others depend on"},
    {"system.power", kYes, kIrr, "powers off, reboots or crashes the machine"},
    {"system.tune", kYes, kRec, "changes kernel settings at run time"},
    {"unknown.delete", kYes, kIrr,
     "a tool's destroying verb that no rule names (the default destroy_class)"},
    {"vcs.branch", kNo, kRev, "changes a remote-tracking ref; the remote keeps the branch"},
    {"vcs.internal.create", kYes, kRec,
     "creates a file in git's internals (.git), where hooks and config run code"},
    {"vcs.internal.delete", kYes, kRec, "deletes a file in git's internals (.git)"},
    {"vcs.internal.edit", kYes, kRec,
     "edits a file in git's internals (.git), where hooks and config run code"},
    {"vcs.internal.write", kYes, kRec,
     "overwrites a file in git's internals (.git), where hooks and config run code"},
    {"vcs.push", kNo, kRev, "an ordinary push that adds commits"},
    {"vcs.worktree", kNo, kRev, "adds or removes a git worktree that has no changes"},
    {"vm.config.delete", kNo, kRec, "removes a virtual machine's definition; its disks stay"},
    {"vm.delete", kDepends, kIrr, "deletes virtual machines and their disks"},
    {"vm.power", kNo, kRev, "powers a virtual machine off or restarts it"},
};

constexpr Family kFamilies[] = {
    {"account", "user accounts and their credentials in a service"},
    {"app", "an application's own tasks (rails, rake)"},
    {"auth", "a CLI's own login session"},
    {"backup",
     "backups and snapshots: the way back from every mistake; losses never go below hold"},
    {"build", "local builds and tests"},
    {"cache", "caches and build artifacts that rebuild"},
    {"cd", "continuous delivery: Argo CD, Spinnaker, Flux applications"},
    {"cdn", "content delivery networks: services, zones, cached content"},
    {"ci", "continuous integration: pipelines, their caches and secrets"},
    {"cloud", "cloud and SaaS resources: instances, buckets, apps, projects"},
    {"cluster", "membership of clustered services (etcd, Cassandra, RabbitMQ)"},
    {"container", "containers, images and volumes (Docker, Podman, Compose)"},
    {"credentials", "files of keys and credentials in the home directory (file channel)"},
    {"db", "databases: SQL statements, database CLIs, data APIs"},
    {"disk", "block devices, partitions, volumes and pools"},
    {"dns", "DNS zones and records"},
    {"exec", "code run from this machine's own scripts"},
    {"flag", "feature flags"},
    {"fs", "files and directories"},
    {"gateway", "API gateways (Kong)"},
    {"git", "local git repositories and their history"},
    {"graphql", "GraphQL calls"},
    {"guard", "dualkey itself"},
    {"http", "HTTP calls to APIs no route table knows"},
    {"iac", "infrastructure as code: Terraform, Pulumi, CDK and their state"},
    {"incident", "incident and on-call tools"},
    {"k8s", "Kubernetes objects and clusters"},
    {"kv", "key-value stores (Redis, etcd, Consul KV)"},
    {"mcp", "MCP tool calls the adapter reads by their name and hints"},
    {"monitoring", "dashboards, alerts, monitors and metrics"},
    {"net", "programs exposed to the network"},
    {"network", "networks, tunnels, load balancers"},
    {"notify", "messages to people (chat, webhooks)"},
    {"opaque", "what dualkey cannot see through: always held"},
    {"payment", "payments and billing (Stripe)"},
    {"pkg", "packages: installs, removals, publishing and registries"},
    {"process", "processes on this machine"},
    {"queue", "message queues and topics (Kafka, RabbitMQ, Celery)"},
    {"read", "reads"},
    {"repo", "hosted repositories (GitHub, GitLab, Gitea) and backup repositories"},
    {"schedule", "scheduled jobs (cron)"},
    {"secret", "secret stores, tokens and secrets"},
    {"service", "system and data services (systemd and the like)"},
    {"system", "the machine itself: power and kernel settings"},
    {"unknown", "tools that no pack or rule describes"},
    {"vcs", "version-control plumbing: ordinary pushes, worktrees, .git internals"},
    {"vm", "virtual machines"},
};

}  // namespace

std::span<const Info> Builtin() {
  return kClasses;
}
std::span<const Family> Families() {
  return kFamilies;
}

const Info* Lookup(std::string_view name) {
  const auto it =
      std::lower_bound(std::begin(kClasses), std::end(kClasses), name,
                       [](const Info& info, std::string_view n) { return info.name < n; });
  return it != std::end(kClasses) && it->name == name ? it : nullptr;
}

std::string_view FamilyOf(std::string_view name) {
  return name.substr(0, name.find('.'));
}

const Family* LookupFamily(std::string_view family) {
  for (const Family& f : kFamilies)
    if (f.name == family) return &f;
  return nullptr;
}

bool IsWellFormed(std::string_view name) {
  if (name.empty() || name.size() > 100) return false;
  bool word = false;  // inside a word
  for (char c : name) {
    if (c == '.') {
      if (!word) return false;
      word = false;
    } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-') {
      word = true;
    } else {
      return false;
    }
  }
  return word;
}

std::string_view ToString(Destructive destructive) {
  switch (destructive) {
    case Destructive::kNo:
      return "no";
    case Destructive::kDepends:
      return "depends";
    case Destructive::kYes:
      return "yes";
  }
  return "depends";
}

Registry::Registry() {
  entries_.reserve(std::size(kClasses));
  for (const Info& info : kClasses)
    entries_.push_back(Entry{std::string(info.name), std::string(info.meaning), info.destructive,
                             info.reversibility, ""});
}

bool Registry::Declare(Entry entry, std::string* error) {
  if (!IsWellFormed(entry.name)) {
    *error = "\"" + entry.name + "\" is not a class name (dotted lower-case words: acme.delete)";
    return false;
  }
  if (entry.meaning.empty()) {
    *error = "class \"" + entry.name + "\" needs a one-line description";
    return false;
  }
  const auto at = std::lower_bound(entries_.begin(), entries_.end(), entry.name,
                                   [](const Entry& e, const std::string& n) { return e.name < n; });
  if (at != entries_.end() && at->name == entry.name) {
    *error = "class \"" + entry.name + "\" is already registered" +
             (at->origin.empty() ? std::string(" (built in)") : " by " + at->origin);
    return false;
  }
  entries_.insert(at, std::move(entry));
  return true;
}

const Registry::Entry* Registry::Find(std::string_view name) const {
  const auto at = std::lower_bound(entries_.begin(), entries_.end(), name,
                                   [](const Entry& e, std::string_view n) { return e.name < n; });
  return at != entries_.end() && at->name == name ? &*at : nullptr;
}

std::vector<const Registry::Entry*> Registry::List(std::string_view family) const {
  std::vector<const Entry*> out;
  for (const Entry& e : entries_)
    if (family.empty() || FamilyOf(e.name) == family) out.push_back(&e);
  return out;
}

std::vector<std::string> Registry::FamilyNames() const {
  std::vector<std::string> names;
  for (const Family& f : kFamilies) names.emplace_back(f.name);
  for (const Entry& e : entries_) names.emplace_back(FamilyOf(e.name));
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

}  // namespace dualkey::op_class
