#include "app/config_file.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <memory>
#include <regex>
#include <set>
#include <string_view>

#include "personagen/error.h"
#include "util/file_io.h"
#include "util/json_text.h"

namespace personagen {

namespace {

// Whether `text` names `flag` ("--max-tokens") as a whole: not as the start of a longer flag
// ("--max-tokens-x").
bool names_flag(std::string_view text, std::string_view flag) {
  for (size_t at = text.find(flag); at != std::string_view::npos; at = text.find(flag, at + 1)) {
    const size_t end = at + flag.size();
    if (end == text.size()) return true;
    const auto next = static_cast<unsigned char>(text[end]);
    if (!std::isalnum(next) && next != '-' && next != '_') return true;
  }
  return false;
}

// The option of `app` whose long name is `key` and that a config file may set, or null.
const CLI::Option* long_option(const CLI::App& app, const std::string& key) {
  for (const CLI::Option* opt : app.get_options())
    if (opt->get_configurable() && opt->check_lname(key)) return opt;
  return nullptr;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// "personagen batch export" for the subcommand `app`.
std::string command_name(const CLI::App* app) {
  std::string name;
  for (; app->get_parent() != nullptr; app = app->get_parent()) name = " " + app->get_name() + name;
  return "personagen" + name;
}

// The chain of subcommands given on the command line, innermost last; empty for none.
std::vector<const CLI::App*> given_subcommands(const CLI::App& root) {
  std::vector<const CLI::App*> chain;
  for (const CLI::App* app = &root; !app->get_subcommands().empty();)
    chain.push_back(app = app->get_subcommands().front());
  return chain;
}

// CLI11's Config for personagen's files: the entries read at --config, routed to the
// subcommand given and checked against its flags. It does not read the stream CLI11 opens
// again: the file was read (and any error reported) when --config was parsed.
class ConfigReader : public CLI::Config {
 public:
  ConfigReader(const CLI::App& root, const ConfigFile& config) : root_(root), config_(config) {}

  std::string to_config(const CLI::App* app, bool, bool, std::string) const override {
    return dump_config(*app);
  }

  std::vector<CLI::ConfigItem> from_config(std::istream&) const override {
    std::vector<const CLI::App*> given = given_subcommands(root_);
    std::vector<CLI::ConfigItem> in_tables, borrowed, flat;
    for (const ConfigEntry& entry : config_.entries) {
      const CLI::App* table = table_app(entry);
      // `render` prints what `synth` would send, so it reads the [synth] table too (below its
      // own [render] table, above flat keys).
      bool borrow = !given.empty() && given.back()->get_name() == "render" &&
                    table->get_name() == "synth" && entry.table.size() == 1;
      if (borrow) table = given.back();
      std::vector<CLI::ConfigItem>& items =
          entry.table.empty() ? flat : (borrow ? borrowed : in_tables);
      // Look for the key from the table's subcommand (the one given, for a flat key) up.
      const CLI::App* start = entry.table.empty() ? (given.empty() ? &root_ : given.back()) : table;
      const CLI::App* owner = start;
      const CLI::Option* opt = long_option(*owner, entry.key);
      while (opt == nullptr && owner->get_parent() != nullptr) {
        owner = owner->get_parent();
        opt = long_option(*owner, entry.key);
      }
      if (opt == nullptr) unknown_key(entry, *start);
      check_value(entry, *opt);
      bool used =
          entry.table.empty() || std::find(given.begin(), given.end(), table) != given.end();
      if (!used) continue;
      CLI::ConfigItem& item = items.emplace_back();
      for (const CLI::App* app = owner; app->get_parent() != nullptr; app = app->get_parent())
        item.parents.insert(item.parents.begin(), app->get_name());
      item.name = entry.key;
      item.inputs = entry.values;
    }
    // CLI11 keeps the first value an option gets: a subcommand's table wins over flat keys.
    in_tables.insert(in_tables.end(), borrowed.begin(), borrowed.end());
    in_tables.insert(in_tables.end(), flat.begin(), flat.end());
    return in_tables;
  }

 private:
  [[noreturn]] void fail(const ConfigEntry& entry, const std::string& what) const {
    throw usage_error(config_.path + ":" + std::to_string(entry.line) + ": " + what);
  }

  const CLI::App* table_app(const ConfigEntry& entry) const {
    const CLI::App* app = &root_;
    for (const std::string& name : entry.table) {
      const CLI::App* sub = nullptr;
      for (const CLI::App* candidate : app->get_subcommands({}))
        if (candidate->get_name() == name) sub = candidate;
      if (sub == nullptr) {
        std::string table;
        for (const auto& part : entry.table) table += (table.empty() ? "" : ".") + part;
        fail(entry, "unknown table [" + table + "] (expected a subcommand, e.g. [synth])");
      }
      app = sub;
    }
    return app;
  }

  [[noreturn]] void unknown_key(const ConfigEntry& entry, const CLI::App& app) const {
    std::string normalized = entry.key;
    std::replace(normalized.begin(), normalized.end(), '_', '-');
    if (normalized == "api-key")
      fail(entry,
           "api-key is not accepted, as a key in a config file ends up in backups and "
           "repositories: use OPENAI_API_KEY or api-key-file");
    std::string nearest;
    size_t best = SIZE_MAX;
    for (const CLI::App* a = &app; a != nullptr; a = a->get_parent())
      for (const CLI::Option* opt : a->get_options())
        for (const std::string& name : opt->get_lnames())
          if (size_t distance = edit_distance(entry.key, name);
              opt->get_configurable() && distance < best) {
            best = distance;
            nearest = name;
          }
    fail(entry, "unknown key \"" + entry.key + "\" (expected a long flag of " + command_name(&app) +
                    (nearest.empty() ? "" : ", e.g. " + nearest) + ")");
  }

  void check_value(const ConfigEntry& entry, const CLI::Option& opt) const {
    if (opt.get_expected_min() == 0) {
      if (!entry.is_bool || entry.values.size() != 1)
        fail(entry, entry.key + " is a flag: expected true or false");
    } else if (entry.values.size() > 1 && opt.get_expected_max() <= 1) {
      fail(entry, entry.key + " takes one value, not an array");
    } else if (entry.values.empty()) {
      fail(entry, entry.key + ": expected a value, not an empty array");
    }
  }

  const CLI::App& root_;
  const ConfigFile& config_;
};

// `text` as a TOML value: a plain decimal number or true/false bare, as the reader returns
// them, anything else a basic string (a JSON string is one: its escapes are TOML's too).
std::string toml_value(const std::string& text) {
  static const std::regex kPlain(R"(true|false|-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?)");
  if (std::regex_match(text, kPlain)) return text;
  std::string out;
  append_json_string(out, text);
  return out;
}

}  // namespace

std::vector<std::string> ConfigFile::values() const {
  std::vector<std::string> out;
  for (const ConfigEntry& entry : entries)
    out.insert(out.end(), entry.values.begin(), entry.values.end());
  return out;
}

std::string ConfigFile::where(const std::string& message, std::span<char* const> args) const {
  for (const ConfigEntry& entry : entries) {
    const std::string flag = "--" + entry.key;
    // "--max-tokens 5" and "--max-tokens=5" give the flag; "--max-tokens-x" is another one.
    const bool on_command_line = std::any_of(args.begin(), args.end(), [&flag](const char* arg) {
      const std::string_view given(arg);
      return given.substr(0, given.find('=')) == flag;
    });
    if (!on_command_line && names_flag(message, flag))
      return path + ":" + std::to_string(entry.line) + ": ";
  }
  return "";
}

void add_config_flags(CLI::App& app, ConfigFile& config) {
  app.config_formatter(std::make_shared<ConfigReader>(app, config));
  app.set_config("--config", "",
                 "Read flags from a TOML file: the long names as keys (max-tokens = 512), flat or "
                 "in a [synth] table; flags on the command line win")
      ->each([&config](const std::string& path) {
        std::error_code error;
        if (!std::filesystem::is_regular_file(path, error))
          throw usage_error("--config " + path + ": no such file");
        std::optional<std::string> text = read_text_file(path);
        if (!text) throw usage_error("--config " + path + ": cannot read the file");
        config.path = path;
        config.entries = parse_config_text(*text, path);
      })
      ->trigger_on_parse();
  app.add_flag("--dump-config", config.dump,
               "Print the resolved configuration (file, flags, defaults) as TOML and exit")
      ->configurable(false);
}

std::string dump_config(const CLI::App& app) {
  std::vector<const CLI::App*> chain = given_subcommands(app);
  chain.insert(chain.begin(), &app);
  std::string out = "# " + command_name(chain.back()) + " --config FILE\n";
  std::set<std::string> written;
  // The innermost subcommand first: a flat key goes to it before its parents.
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    for (const CLI::Option* opt : (*it)->get_options()) {
      if (!opt->get_configurable() || opt->get_lnames().empty()) continue;
      const std::string& name = opt->get_lnames().front();
      if (!written.insert(name).second) continue;
      std::vector<std::string> values = opt->reduced_results();
      bool flag = opt->get_expected_min() == 0;
      if (flag) {
        values = {opt->count() > 0 && opt->as<bool>() ? "true" : "false"};
      } else if (values.empty() && opt->get_expected_max() <= 1 &&
                 !opt->get_default_str().empty()) {
        values = {opt->get_default_str()};
      }
      if (values.empty()) continue;
      out += name + " = ";
      if (values.size() == 1 && opt->get_expected_max() <= 1) {
        out += toml_value(values[0]) + "\n";
        continue;
      }
      std::string array;
      for (const std::string& v : values) array += (array.empty() ? "" : ", ") + toml_value(v);
      out += "[" + array + "]\n";
    }
  }
  return out;
}

}  // namespace personagen
