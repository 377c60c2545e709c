#include <gtest/gtest.h>

#include "recording_context.h"
#include "shell/internal/packs/packs.h"

namespace dualkey::shell {
namespace {

using testing::MakeInvocation;
using testing::RecordingContext;
using testing::RunPack;

RecordingContext Ct(const Invocation& inv) {
  RecordingContext ctx;
  EXPECT_TRUE(RunPack(ContainerPack(), inv, ctx)) << inv.name();
  return ctx;
}

RecordingContext Ct(std::initializer_list<std::string_view> words) {
  return Ct(MakeInvocation(words));
}

std::vector<std::string> InnerArgv(const RecordingContext& ctx, std::size_t index = 0) {
  std::vector<std::string> out;
  if (index < ctx.invocations.size())
    for (const Arg& arg : ctx.invocations[index].argv) out.push_back(arg.text);
  return out;
}

using Words = std::vector<std::string>;

// ----------------------------------------------------------------- docker

TEST(ContainersDocker, ExecHandsInnerCommandOn) {
  Invocation inv =
      MakeInvocation({"docker", "exec", "pg-prod", "rm", "-rf", "/var/lib/postgresql/data"});
  inv.depth = 2;
  auto ctx = Ct(inv);
  ASSERT_EQ(ctx.invocations.size(), 1u);
  EXPECT_EQ(InnerArgv(ctx), (Words{"rm", "-rf", "/var/lib/postgresql/data"}));
  EXPECT_EQ(ctx.invocations[0].depth, 3);
  EXPECT_TRUE(ctx.invocations[0].cwd.empty());
  EXPECT_TRUE(ctx.actions.empty());
}

TEST(ContainersDocker, ExecSkipsOptionsAndForwardsStdinOnlyWithI) {
  Invocation inv = MakeInvocation(
      {"docker", "exec", "-i", "-e", "PGPASSWORD=x", "-u", "postgres", "db", "psql", "-d", "app"});
  inv.has_stdin_text = true;
  inv.stdin_text = "DROP TABLE t;";
  auto ctx = Ct(inv);
  ASSERT_EQ(ctx.invocations.size(), 1u);
  EXPECT_EQ(InnerArgv(ctx), (Words{"psql", "-d", "app"}));
  EXPECT_TRUE(ctx.invocations[0].has_stdin_text);
  EXPECT_EQ(ctx.invocations[0].stdin_text, "DROP TABLE t;");

  Invocation no_i = MakeInvocation({"docker", "exec", "db", "psql"});
  no_i.has_stdin_text = true;
  no_i.stdin_text = "DROP TABLE t;";
  auto ctx2 = Ct(no_i);
  ASSERT_EQ(ctx2.invocations.size(), 1u);
  EXPECT_FALSE(ctx2.invocations[0].has_stdin_text);
}

TEST(ContainersDocker, ReadOnlyExecStillGoesInner) {
  auto ctx = Ct({"docker", "exec", "pg-prod", "psql", "-U", "postgres", "-c", "SELECT now()"});
  EXPECT_EQ(InnerArgv(ctx), (Words{"psql", "-U", "postgres", "-c", "SELECT now()"}));
}

TEST(ContainersDocker, RunMapsRootBindMountToHostPaths) {
  auto ctx = Ct({"docker", "run", "--rm", "-v", "/:/host", "alpine", "rm", "-rf", "/host/var/lib"});
  ASSERT_EQ(ctx.invocations.size(), 1u);
  EXPECT_EQ(InnerArgv(ctx), (Words{"rm", "-rf", "/var/lib"}));
}

TEST(ContainersDocker, RunMapsMountsInsideScripts) {
  auto ctx = Ct({"podman", "run", "-it", "--volume=/srv/data:/data:rw", "--name", "x", "busybox",
                 "sh", "-c", "rm -rf /data/* && ls /database"});
  ASSERT_EQ(ctx.invocations.size(), 1u);
  EXPECT_EQ(InnerArgv(ctx), (Words{"sh", "-c", "rm -rf /srv/data/* && ls /database"}));
}

TEST(ContainersDocker, RunNamedVolumeAndMountSyntax) {
  auto ctx = Ct({"docker", "run", "--mount", "type=volume,src=pgdata,dst=/var/lib/postgresql/data",
                 "postgres:16", "rm", "-rf", "/var/lib/postgresql/data"});
  EXPECT_EQ(InnerArgv(ctx), (Words{"rm", "-rf", "/var/lib/docker/volumes/pgdata/_data"}));
}

TEST(ContainersDocker, RunEntrypointAndNoCommand) {
  auto ctx = Ct({"docker", "run", "--entrypoint", "rm", "alpine", "-rf", "/data"});
  EXPECT_EQ(InnerArgv(ctx), (Words{"rm", "-rf", "/data"}));
  auto plain = Ct({"docker", "run", "-d", "-p", "8080:80", "nginx"});
  EXPECT_TRUE(plain.invocations.empty());
  EXPECT_FALSE(plain.AnyDestructive());
}

TEST(ContainersDocker, VolumeRmAndPruneAreHeld) {
  auto ctx = Ct({"docker", "volume", "rm", "pgdata_prod"});
  ASSERT_TRUE(ctx.HasClass("container.volume.delete"));
  EXPECT_EQ(ctx.Find("container.volume.delete")->targets, (Words{"pgdata_prod"}));
  EXPECT_TRUE(ctx.AnyDestructive());
  EXPECT_TRUE(Ct({"podman", "volume", "prune", "-f"}).AnyDestructive());
}

TEST(ContainersDocker, SystemPrune) {
  auto volumes = Ct({"docker", "system", "prune", "-a", "--volumes", "-f"});
  EXPECT_TRUE(volumes.HasClass("container.volume.delete"));
  EXPECT_TRUE(volumes.AnyDestructive());
  auto plain = Ct({"docker", "system", "prune", "-af"});
  EXPECT_TRUE(plain.HasClass("container.prune"));
  EXPECT_FALSE(plain.AnyDestructive());
}

TEST(ContainersDocker, ImagePruneAndRmiAllowed) {
  auto ctx = Ct({"docker", "image", "prune", "-f"});
  EXPECT_TRUE(ctx.HasClass("container.image.prune"));
  EXPECT_FALSE(ctx.AnyDestructive());
  EXPECT_FALSE(Ct({"docker", "rmi", "myapp:old"}).AnyDestructive());
  EXPECT_FALSE(Ct({"docker", "builder", "prune", "-af"}).AnyDestructive());
}

TEST(ContainersDocker, ContainerRm) {
  auto one = Ct({"docker", "rm", "-f", "web-1"});
  EXPECT_TRUE(one.HasClass("container.delete"));
  EXPECT_FALSE(one.AnyDestructive());
  EXPECT_TRUE(Ct({"docker", "container", "rm", "-v", "web-1"}).AnyDestructive());
  EXPECT_TRUE(Ct({"docker", "rm", "-f", "$(docker ps -aq)"}).AnyDestructive());
  EXPECT_TRUE(Ct({"docker", "rm", "-f", "pg-prod"}).AnyDestructive());
}

TEST(ContainersDocker, ReadsAreAllowed) {
  for (auto words : {std::vector<std::string_view>{"docker", "ps", "-a"},
                     {"docker", "volume", "ls"},
                     {"docker", "logs", "-f", "api"},
                     {"docker", "inspect", "pg-prod"},
                     {"docker", "--context", "prod", "ps"}}) {
    Invocation inv;
    for (auto word : words) inv.argv.push_back(Arg{std::string(word)});
    auto ctx = Ct(inv);
    EXPECT_FALSE(ctx.AnyDestructive()) << words[1];
    EXPECT_TRUE(ctx.invocations.empty());
  }
}

TEST(ContainersDocker, GlobalOptionsBeforeSubcommand) {
  auto ctx = Ct({"docker", "-H", "ssh://prod", "volume", "rm", "data"});
  EXPECT_TRUE(ctx.HasClass("container.volume.delete"));
}

TEST(ContainersCompose, DownWithVolumesHeldWithoutAllowed) {
  EXPECT_TRUE(Ct({"docker", "compose", "down", "-v"}).AnyDestructive());
  EXPECT_TRUE(Ct({"docker-compose", "-f", "prod.yml", "down", "--volumes"}).AnyDestructive());
  EXPECT_FALSE(Ct({"docker", "compose", "down"}).AnyDestructive());
}

TEST(ContainersCompose, ExecAndRunGoInner) {
  auto ctx = Ct({"docker", "compose", "exec", "-T", "db", "psql", "-c", "DROP TABLE t"});
  EXPECT_EQ(InnerArgv(ctx), (Words{"psql", "-c", "DROP TABLE t"}));
  auto run = Ct({"docker-compose", "run", "--rm", "-e", "X=1", "web", "rake", "db:drop"});
  EXPECT_EQ(InnerArgv(run), (Words{"rake", "db:drop"}));
}

// ---------------------------------------------------------------- kubectl

TEST(ContainersKubectl, DeleteNamespaceIsCritical) {
  auto ctx = Ct({"kubectl", "delete", "namespace", "prod"});
  const Action* action = ctx.Find("k8s.delete");
  ASSERT_NE(action, nullptr);
  EXPECT_EQ(action->severity, Severity::kCritical);
  EXPECT_EQ(action->targets, (Words{"namespace/prod"}));
}

TEST(ContainersKubectl, DeleteAllPvcsIsHigh) {
  auto ctx = Ct({"kubectl", "delete", "pvc", "--all", "-n", "production"});
  const Action* action = ctx.Find("k8s.delete");
  ASSERT_NE(action, nullptr);
  EXPECT_GE(action->severity, Severity::kHigh);
}

TEST(ContainersKubectl, DeleteSinglePodIsLowButBulkPodsHeld) {
  EXPECT_FALSE(Ct({"kubectl", "delete", "pod", "api-7d9f-abcde", "-n", "prod"}).AnyDestructive());
  EXPECT_TRUE(Ct({"kubectl", "delete", "pods", "--all", "-n", "prod"}).AnyDestructive());
  EXPECT_TRUE(Ct({"kubectl", "delete", "pods", "-l", "app=api"}).AnyDestructive());
}

TEST(ContainersKubectl, DeleteOtherKindsAndForms) {
  EXPECT_TRUE(Ct({"kubectl", "delete", "deployment/api", "-n", "prod"}).AnyDestructive());
  EXPECT_TRUE(Ct({"kubectl", "-n", "prod", "delete", "sts", "pg"}).AnyDestructive());
  EXPECT_TRUE(Ct({"kubectl", "delete", "-f", "k8s/"}).AnyDestructive());
  EXPECT_TRUE(Ct({"oc", "delete", "project", "shop-prod"}).AnyDestructive());
}

TEST(ContainersKubectl, DryRunDeleteIsRead) {
  EXPECT_FALSE(Ct({"kubectl", "delete", "ns", "prod", "--dry-run=client"}).AnyDestructive());
  EXPECT_FALSE(Ct({"kubectl", "delete", "ns", "prod", "--dry-run=server"}).AnyDestructive());
  EXPECT_TRUE(Ct({"kubectl", "delete", "ns", "prod", "--dry-run=none"}).AnyDestructive());
}

TEST(ContainersKubectl, ReadsAllowed) {
  EXPECT_FALSE(Ct({"kubectl", "get", "pods", "-n", "prod"}).AnyDestructive());
  EXPECT_FALSE(Ct({"kubectl", "describe", "namespace", "prod"}).AnyDestructive());
  EXPECT_FALSE(Ct({"kubectl", "logs", "deploy/api", "--tail", "100"}).AnyDestructive());
  EXPECT_FALSE(Ct({"kubectl", "top", "pods"}).AnyDestructive());
  EXPECT_FALSE(Ct({"kubectl", "get", "pods", "-o", "name", "-l", "delete=true"}).AnyDestructive());
}

TEST(ContainersKubectl, ExecAfterDashes) {
  auto ctx = Ct({"kubectl", "exec", "-n", "prod", "deploy/api", "--", "rm", "-rf", "/data"});
  ASSERT_EQ(ctx.invocations.size(), 1u);
  EXPECT_EQ(InnerArgv(ctx), (Words{"rm", "-rf", "/data"}));
  EXPECT_EQ(ctx.invocations[0].depth, 1);
  EXPECT_TRUE(ctx.invocations[0].cwd.empty());
  auto it = Ct({"kubectl", "exec", "-it", "pg-0", "-n", "prod", "--", "psql", "-U", "postgres",
                "-c", "DROP DATABASE app"});
  EXPECT_EQ(InnerArgv(it), (Words{"psql", "-U", "postgres", "-c", "DROP DATABASE app"}));
  auto ls = Ct({"kubectl", "exec", "-n", "prod", "deploy/api", "--", "ls", "/data"});
  EXPECT_EQ(InnerArgv(ls), (Words{"ls", "/data"}));
}

TEST(ContainersKubectl, ExecOldFormWithoutDashes) {
  auto ctx = Ct({"kubectl", "exec", "pg-0", "-c", "postgres", "dropdb", "app"});
  EXPECT_EQ(InnerArgv(ctx), (Words{"dropdb", "app"}));
}

TEST(ContainersKubectl, ApplyPruneAndReplaceForce) {
  EXPECT_TRUE(Ct({"kubectl", "apply", "-f", "k8s/", "--prune", "-l", "app=x"}).AnyDestructive());
  EXPECT_TRUE(Ct({"kubectl", "replace", "--force", "-f", "pvc.yaml"}).AnyDestructive());
  EXPECT_FALSE(Ct({"kubectl", "apply", "-f", "deploy.yaml"}).AnyDestructive());
}

TEST(ContainersKubectl, ScaleAndDrainAreLow) {
  EXPECT_FALSE(Ct({"kubectl", "scale", "deploy/api", "--replicas=0"}).AnyDestructive());
  EXPECT_FALSE(Ct({"kubectl", "drain", "node-1", "--ignore-daemonsets"}).AnyDestructive());
}

TEST(ContainersKubectl, EmbeddedKubectl) {
  EXPECT_TRUE(Ct({"k3s", "kubectl", "delete", "ns", "prod"}).HasClass("k8s.delete"));
  EXPECT_TRUE(Ct({"microk8s", "kubectl", "delete", "pvc", "data"}).HasClass("k8s.delete"));
}

// ------------------------------------------------------------------- helm

TEST(ContainersHelm, UninstallIsK8sDelete) {
  auto ctx = Ct({"helm", "uninstall", "postgres", "-n", "prod"});
  const Action* action = ctx.Find("k8s.delete");
  ASSERT_NE(action, nullptr);
  EXPECT_TRUE(IsDestructive(*action));
  EXPECT_EQ(action->targets, (Words{"prod/postgres"}));
  EXPECT_TRUE(Ct({"helm", "delete", "redis"}).AnyDestructive());
  EXPECT_FALSE(Ct({"helm", "uninstall", "redis", "--dry-run"}).AnyDestructive());
}

TEST(ContainersHelm, ReadsAllowed) {
  EXPECT_FALSE(Ct({"helm", "list", "-A"}).AnyDestructive());
  EXPECT_FALSE(Ct({"helm", "status", "postgres", "-n", "prod"}).AnyDestructive());
  EXPECT_FALSE(Ct({"helm", "upgrade", "--install", "api", "./chart"}).AnyDestructive());
}

TEST(ContainersLocal, LocalClusterDeleteAllowed) {
  EXPECT_FALSE(Ct({"kind", "delete", "cluster"}).AnyDestructive());
  EXPECT_FALSE(Ct({"minikube", "delete", "--all"}).AnyDestructive());
}

}  // namespace
}  // namespace dualkey::shell

namespace dualkey::shell {
namespace {

TEST(ContainersUnknown, UnknownVerbIsOpaque) {
  EXPECT_TRUE(Ct({"docker", "$CMD", "x"}).HasClass("opaque.exec"));
  EXPECT_TRUE(Ct({"kubectl", "$VERB", "ns", "prod"}).HasClass("opaque.exec"));
  EXPECT_TRUE(Ct({"kubectl", "delete", "$KIND", "x"}).AnyDestructive());
}

}  // namespace
}  // namespace dualkey::shell
