# Writes OUTPUT, a C++ file that defines personagen::embedded_prompt_files() with the content of
# every file under PROMPTS_DIR, as byte arrays (no escaping pitfalls). The build runs it with
# `cmake -P`, so an edit to prompts/ is picked up by the next build.
file(GLOB_RECURSE files RELATIVE ${PROMPTS_DIR} ${PROMPTS_DIR}/*)
list(SORT files)
set(arrays "")
set(entries "")
set(index 0)
foreach(rel IN LISTS files)
  file(READ ${PROMPTS_DIR}/${rel} hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(APPEND arrays "const unsigned char file_${index}[] = {${bytes}0};\n")
  string(APPEND entries "    {\"${rel}\", std::string_view(reinterpret_cast<const char*>(file_${index}), sizeof(file_${index}) - 1)},\n")
  math(EXPR index "${index} + 1")
endforeach()
file(WRITE ${OUTPUT}.new "// Generated from prompts/ by cmake/embed_prompts.cmake. Do not edit.
#include <span>
#include <string_view>
#include <utility>

namespace personagen {
namespace {
${arrays}
const std::pair<std::string_view, std::string_view> files[] = {
${entries}    {\"\", std::string_view()},
};
}  // namespace

std::span<const std::pair<std::string_view, std::string_view>> embedded_prompt_files() {
  return {files, sizeof(files) / sizeof(files[0]) - 1};
}

}  // namespace personagen
")
file(COPY_FILE ${OUTPUT}.new ${OUTPUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUTPUT}.new)
