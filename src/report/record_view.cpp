#include "report/record_view.h"

#include <simdjson.h>

namespace personagen {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

std::string_view string_member(object o, std::string_view key) {
  std::string_view text;
  if (o[key].get(text)) return {};
  return text;
}

bool has_member(object o, std::string_view key) {
  element e;
  return !o[key].get(e);
}

// Appends every string inside `e`, depth first, each on a line of its own.
void append_strings(element e, std::string& out) {
  switch (e.type()) {
    case simdjson::dom::element_type::STRING: {
      if (!out.empty()) out += '\n';
      std::string_view text;
      if (!e.get(text)) out += text;
      break;
    }
    case simdjson::dom::element_type::ARRAY:
      if (array a; !e.get(a))
        for (element child : a) append_strings(child, out);
      break;
    case simdjson::dom::element_type::OBJECT:
      if (object o; !e.get(o))
        for (auto member : o) append_strings(member.value, out);
      break;
    default:
      break;
  }
}

// An object or array output: its strings as the text, its keys and names for the figures.
void read_structured(element e, std::string& text, RecordView& view) {
  text.clear();
  append_strings(e, text);
  view.text = text;
  view.has_text = true;
  view.structured = true;
  auto names_of = [&](object o) {
    if (std::string_view name = string_member(o, "name"); !name.empty()) view.names.push_back(name);
  };
  if (object o; !e.get(o)) {
    for (auto member : o) view.keys.push_back(member.key);
    names_of(o);
  } else if (array a; !e.get(a)) {
    for (element child : a)
      if (object o; !child.get(o)) names_of(o);
  }
}

// Reads `e` as the text measured: a string, or an object or array. False for anything else.
bool read_text(element e, std::string& text, RecordView& view) {
  if (std::string_view s; !e.get(s)) {
    view.text = s;
    view.has_text = true;
    return true;
  }
  if (e.is_object() || e.is_array()) {
    read_structured(e, text, view);
    return true;
  }
  return false;
}

// The assistant turns of a chat or converse record, one after another.
void read_turns(array messages, std::string& text, RecordView& view) {
  text.clear();
  for (element message : messages) {
    object m;
    if (message.get(m) || string_member(m, "role") != "assistant") continue;
    if (!text.empty()) text += '\n';
    text += string_member(m, "content");
  }
  view.text = text;
  view.has_text = true;
}

// A solve record's text: its solution, else the first sample's output.
void read_solution(object o, RecordView& view) {
  if (std::string_view solution; !o["solution"].get(solution)) {
    view.text = solution;
    view.has_text = true;
    return;
  }
  array samples;
  if (o["samples"].get(samples)) return;
  for (element sample : samples) {
    object s;
    std::string_view output;
    if (sample.get(s) || s["output"].get(output)) continue;
    view.text = output;
    view.has_text = true;
    return;
  }
}

// The text of a record without the default "output" field, by its kind.
void read_kind(object o, std::string& text, RecordView& view) {
  element e;
  if (!o["synthesized text"].get(e) && read_text(e, text, view)) return;
  if (array messages; !o["messages"].get(messages)) return read_turns(messages, text, view);
  if (view.solve) return read_solution(o, view);
  if (view.judge) {
    if (std::string_view judged; !o["text"].get(judged)) {
      view.text = judged;
      view.has_text = true;
    }
    return;
  }
  if (has_member(o, "relation") && view.has_persona) {
    view.text = view.persona;
    view.has_text = true;
  }
}

void read_reply_fields(object o, RecordView& view) {
  view.task = string_member(o, "task");
  view.finish_reason = string_member(o, "finish_reason");
  if (int64_t attempts = 0; !o["attempts"].get(attempts)) view.attempts = attempts;
  if (object usage; !o["usage"].get(usage)) {
    uint64_t tokens = 0;
    view.has_usage = true;
    if (!usage["prompt_tokens"].get(tokens)) view.prompt_tokens = tokens;
    if (!usage["completion_tokens"].get(tokens)) view.completion_tokens = tokens;
  }
}

void read_task_fields(object o, RecordView& view) {
  if (!o["agreement"].get(view.agreement)) {
    view.solve = true;
    bool verified = false;
    view.verified = !o["verified"].get(verified) && verified;
  }
  if (object scores; !o["scores"].get(scores)) {
    view.judge = true;
    for (auto member : scores)
      if (double score = 0; !member.value.get(score)) view.scores.emplace_back(member.key, score);
    if (double overall = 0; !o["overall"].get(overall)) view.overall = overall;
  }
}

}  // namespace

RecordParser::RecordParser(std::string field, std::string persona_field)
    : parser_(std::make_unique<simdjson::dom::parser>()),
      field_(std::move(field)),
      persona_field_(std::move(persona_field)) {}

RecordParser::~RecordParser() = default;

bool RecordParser::parse(std::string& line, RecordView& view) {
  view = RecordView();
  // The parser reads SIMDJSON_PADDING bytes past the end: reserved once, kept by the string.
  if (line.capacity() < line.size() + simdjson::SIMDJSON_PADDING)
    line.reserve(line.size() + simdjson::SIMDJSON_PADDING);
  object o;
  if (parser_->parse(line).get(o)) return false;

  if (std::string_view persona; !o[persona_field_].get(persona)) {
    view.persona = persona;
    view.has_persona = true;
  } else if (persona_field_ == "persona" && !o["input persona"].get(persona)) {
    view.persona = persona;  // Persona Hub's name for it
    view.has_persona = true;
  }
  read_reply_fields(o, view);
  read_task_fields(o, view);

  element e;
  if (field_ == "output") {
    if (!o["parsed"].get(e) && (e.is_object() || e.is_array())) {
      read_structured(e, text_, view);
    } else if (!o["output"].get(e)) {
      read_text(e, text_, view);
    } else {
      read_kind(o, text_, view);
    }
  } else if (!o[field_].get(e)) {
    read_text(e, text_, view);
  }
  return true;
}

}  // namespace personagen
