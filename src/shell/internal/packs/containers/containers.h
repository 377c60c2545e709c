// The container pack's internals (packs/containers/*.cc): the helpers the
// docker and Kubernetes handlers share, and the handlers the table names.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shell/internal/packs/packs.h"
#include "shell/internal/packs/shared.h"
#include "shell/internal/paths.h"

namespace dualkey::shell::containers {

// common.cc
using shared::ArgsOf;
using shared::Emit;
using shared::EmitRead;
using shared::OpaqueIfUnknown;
bool LooksProduction(std::string_view name);
std::string_view ValueOf(std::span<const Arg> args, std::string_view short_name,
                         std::string_view long_name);
bool HasFlag(std::span<const Arg> args, char short_flag, std::string_view long_flag);
void ClassifyInner(const Invocation& inv, std::span<const Arg> command, bool forwards_stdin,
                   std::string cwd, Context& ctx);

// handlers
void HandleDocker(const Invocation& inv, Context& ctx);
void HandleDockerCompose(const Invocation& inv, Context& ctx);
void HandleKubectl(const Invocation& inv, Context& ctx);
void HandleEmbeddedKubectl(const Invocation& inv, Context& ctx);
void HandleHelm(const Invocation& inv, Context& ctx);
void HandleLocalCluster(const Invocation& inv, Context& ctx);

}  // namespace dualkey::shell::containers
