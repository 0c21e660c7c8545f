#pragma once

// Small POSIX file helpers that several units need, so that each is written once: the error for
// a failed system call, the size of a file, and a write that cannot stop halfway.

#include <cerrno>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace personagen {

// strerror(err): the text of a failed system call's errno.
std::string errno_text(int err = errno);

// Throws Error("<path>: <what>: <strerror(err)>"), the one shape of a failed file operation.
[[noreturn]] void throw_io_error(const std::string& path, std::string_view what, int err = errno);

// The size of the file at `path`, or nullopt if it does not exist. Throws Error naming the file
// if it cannot be examined for another reason (no permission, an I/O error).
std::optional<uint64_t> file_size(const std::string& path);

// `path` made absolute against the working directory and normalized ("a/../b" -> "b"), so that
// a file recorded now is found again from any directory. "" and "-" (stdin) stay as they are.
std::string absolute_path(const std::string& path);

// The whole content of the file at `path`, or nullopt when it cannot be opened or read.
std::optional<std::string> read_text_file(const std::string& path);

// Writes all of `data` to `fd`, going on after a partial write or EINTR. Throws Error
// ("<name>: write failed: <reason>") if a write fails.
void write_all(int fd, std::string_view data, const std::string& name);

}  // namespace personagen
