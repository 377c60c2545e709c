// Containers and Kubernetes: docker, podman, nerdctl, docker-compose,
// kubectl (and oc), helm.
//
// Commands run inside a container (`docker exec C cmd`, `docker run IMG cmd`,
// `kubectl exec POD -- cmd`) are handed back to the dispatcher as an inner
// Invocation. For `docker run`, bind mounts are mapped back to host paths so
// `-v /:/host alpine rm -rf /host/var/lib` is judged as a delete of /var/lib.
//
// Decisions the corpus leaves open, made here on purpose:
// - `docker rm` of a container is kLow: containers are rebuilt from images and
//   their data belongs in volumes. `rm -v` (anonymous volumes) is held.
// - `compose down -v` is held (kMedium): it deletes the project's named
//   volumes, which is where local databases keep their data.
// - `kubectl delete pod NAME` is kLow: a pod is recreated by its controller.
//   Pods by selector or --all, and everything else, are held.
// - `kubectl scale --replicas=0`, drain, cordon, rollout: outages that can be
//   undone, not data loss: kLow.
//
// This file holds the pack table; the handlers live under packs/containers/.
#include "shell/internal/packs/containers/containers.h"

#include "shell/internal/packs/packs.h"

namespace dualkey::shell {
namespace {

constexpr PackEntry kContainerPack[] = {
    {"docker", containers::HandleDocker},
    {"podman", containers::HandleDocker},
    {"nerdctl", containers::HandleDocker},
    {"docker-compose", containers::HandleDockerCompose},
    {"podman-compose", containers::HandleDockerCompose},
    {"kubectl", containers::HandleKubectl},
    {"oc", containers::HandleKubectl},
    {"k3s", containers::HandleEmbeddedKubectl},
    {"microk8s", containers::HandleEmbeddedKubectl},
    {"microk8s.kubectl", containers::HandleEmbeddedKubectl},
    {"helm", containers::HandleHelm},
    {"minikube", containers::HandleLocalCluster},
    {"kind", containers::HandleLocalCluster},
    {"k3d", containers::HandleLocalCluster},
};

}  // namespace

std::span<const PackEntry> ContainerPack() {
  return kContainerPack;
}

}  // namespace dualkey::shell
