#pragma once

// The dataset card: README.md in every output directory, as the Hugging Face Hub reads it. Its
// YAML header names the shards as the data files, so `datasets.load_dataset(DIR)` and an upload
// take the records and never the side files or the manifest; its body says what the data is
// (synthetic, from personas), how it was made and what it cost.

#include <cstdint>
#include <string>
#include <string_view>

#include "personagen/options.h"
#include "store/manifest.h"

namespace personagen {

inline constexpr const char* kDatasetCardName = "README.md";

// The Hub's size category of a dataset of `records` rows: "n<1K", "1K<n<10K", ..., "n>1T".
std::string_view size_category(uint64_t records);

// The card of the run described by `manifest`, with --license and the prices from `options`
// (nothing else of them): a YAML header (license when given, tags, task category, size
// category, configs with the closed shards as the train split's files) and a Markdown body
// (task and method, that the data is synthetic and how it was made, the configuration table,
// the templates, counts, tokens, and the cost when a price was given). Every user value in the
// header is a JSON-style double-quoted string, which YAML reads as the same text. Pure: no I/O.
// Holds no base URL and no key: the manifest has neither.
std::string format_dataset_card(const Manifest& manifest, const Options& options);

// Writes the card atomically as README.md in the directory of `manifest_path` (the run's
// manifest.json), so that it always describes the manifest beside it. A README.md there that
// personagen did not write (one kept through --restart) is left as it is, with a warning.
// Throws Error naming the file on an I/O error.
void write_dataset_card_beside(const std::string& manifest_path, const Manifest& manifest,
                               const Options& options);

}  // namespace personagen
