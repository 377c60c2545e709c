// The audit log's signing key file: the 32-byte Ed25519 seed in hex and a
// newline, mode 0600.
#pragma once

#include <sodium.h>

#include <array>
#include <string>

#include "audit/internal/format.h"
#include "base/status.h"

namespace dualkey::audit::internal {

// Created when missing; refused when others can read it, because whoever
// reads it can sign forged checkpoints.
Status LoadOrCreateKey(const std::string& path, SecretKey* sk, PublicKeyBytes* pk);

// Reads a key file's seed without creating one; refuses nothing but garbage.
Status ReadSeed(const std::string& path, std::array<unsigned char, crypto_sign_SEEDBYTES>* seed);

}  // namespace dualkey::audit::internal
