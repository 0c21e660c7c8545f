#pragma once

#include <string>
#include <string_view>

#include "personagen/error.h"
#include "personagen/options.h"

namespace personagen {

// The API key from --api-key-file (trimmed), else $OPENAI_API_KEY (trimmed), else empty. Never
// logged. The one reader of the key: everything that needs it calls this. Throws a usage Error,
// which shows neither the key nor the file's path (the path may be the key, given in the wrong
// place), when the file cannot be read, is a directory, is empty or over 64 KiB, or when the
// key holds a space, a control character (a second line) or a non-ASCII byte.
std::string read_api_key(const Options& options);

// The key as personagen's own messages mask it: read_api_key's, or empty when it is under 8
// bytes (it would mask parts of ordinary words) or cannot be read (then it cannot be in any
// message either). Never throws.
std::string api_key_to_mask(const Options& options);

// `text` with the API key masked as redacted() does, literal or JSON-escaped, for personagen's
// own messages: a safety net for one that quotes outside text or an argument given in the wrong
// place. A key under 8 bytes is left alone here, since it would mask parts of ordinary words;
// server replies are masked in the transport whatever the key's length. The key is read again,
// not passed around; a key that cannot be read cannot be in any message either.
std::string without_api_key(std::string_view text, const Options& options);

// `message`, a command-line parse error, with every value given on the command line (an
// argument that is not an option name, or the part of `--name=value` after "=") replaced by
// "(not shown)" where it appears as a whole word: it may be the key, pasted in the wrong place.
// Numbers are shown.
std::string without_argument_values(std::string_view message, int argc, const char* const* argv);

}  // namespace personagen
