#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace personagen {

// Parses a size as `--memory` takes it: a number of bytes, or a number (decimals allowed) with
// K, M, G or T, powers of 1024, optionally followed by "B" or "iB" ("512M", "1.5G", "4GiB").
// Nullopt for anything else, zero, or more than size_t holds.
std::optional<size_t> parse_byte_size(std::string_view text);

// A size for messages: "4.0 GiB", "512.0 MiB", "900 B".
std::string format_byte_size(size_t bytes);

// The machine's physical memory in bytes, or 0 if it cannot be told.
size_t physical_memory_bytes();

}  // namespace personagen
