#include "grader/inspector/json.h"

#include <cstdio>
#include <optional>

namespace ipclab::json {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// How many bytes a sequence starting with `lead` has, or 0 if `lead` cannot
// start one (a continuation byte, an overlong C0/C1, or past U+10FFFF).
std::size_t sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

// Whether `byte` may follow `lead` as the second byte. The ranges exclude
// overlong forms (E0, F0), surrogates (ED) and code points past U+10FFFF (F4).
bool valid_second(unsigned char lead, unsigned char byte) {
  if (lead == 0xE0) return byte >= 0xA0 && byte <= 0xBF;
  if (lead == 0xED) return byte >= 0x80 && byte <= 0x9F;
  if (lead == 0xF0) return byte >= 0x90 && byte <= 0xBF;
  if (lead == 0xF4) return byte >= 0x80 && byte <= 0x8F;
  return byte >= 0x80 && byte <= 0xBF;
}

bool continuation(unsigned char byte) { return byte >= 0x80 && byte <= 0xBF; }

// A recursive-descent reader of Python's JSON grammar that only says whether
// the text is valid; it builds nothing but the top-level "event" check.
class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}

  bool harness_record() {
    skip_space();
    bool event_is_string = false;
    if (!object(&event_is_string)) return false;
    skip_space();
    return at_ == text_.size() && event_is_string;
  }

 private:
  // Deeper than any record the harness writes; Python itself gives up near
  // a thousand, with an error that is not a parse error.
  static constexpr int kMaxDepth = 256;

  bool value() {
    if (at_ >= text_.size()) return false;
    switch (text_[at_]) {
      case '{': return object(nullptr);
      case '[': return array();
      case '"': return string(nullptr);
      case 'n': return word("null");
      case 't': return word("true");
      case 'f': return word("false");
      case 'N': return word("NaN");
      case 'I': return word("Infinity");
      default: return number();
    }
  }

  // `event_is_string`: when not null, set to whether the last top-level
  // "event" member holds a string.
  bool object(bool* event_is_string) {
    if (!enter('{')) return false;
    skip_space();
    if (take('}')) return leave();
    while (true) {
      std::string key;
      if (!string(&key)) return false;
      skip_space();
      if (!take(':')) return false;
      skip_space();
      const bool is_string = peek('"');
      if (!value()) return false;
      if (event_is_string != nullptr && key == "event") *event_is_string = is_string;
      skip_space();
      if (take('}')) return leave();
      if (!take(',')) return false;
      skip_space();
    }
  }

  bool array() {
    if (!enter('[')) return false;
    skip_space();
    if (take(']')) return leave();
    while (true) {
      if (!value()) return false;
      skip_space();
      if (take(']')) return leave();
      if (!take(',')) return false;
      skip_space();
    }
  }

  // A string literal; its value goes to `decoded` when not null, with every
  // escape that is not ASCII kept as a byte no key compared with can hold.
  bool string(std::string* decoded) {
    if (!take('"')) return false;
    while (at_ < text_.size()) {
      const unsigned char c = static_cast<unsigned char>(text_[at_++]);
      if (c == '"') return true;
      if (c < 0x20) return false;  // Python is strict: no raw control characters
      if (c != '\\') {
        if (decoded) *decoded += static_cast<char>(c);
        continue;
      }
      const std::optional<char> escaped = escape();
      if (!escaped) return false;
      if (decoded) *decoded += *escaped;
    }
    return false;  // no closing quote
  }

  // After a backslash: the character it stands for (0xFF for any \u escape
  // beyond ASCII), or nothing when the escape is not valid.
  std::optional<char> escape() {
    if (at_ >= text_.size()) return std::nullopt;
    switch (text_[at_++]) {
      case '"': return '"';
      case '\\': return '\\';
      case '/': return '/';
      case 'b': return '\b';
      case 'f': return '\f';
      case 'n': return '\n';
      case 'r': return '\r';
      case 't': return '\t';
      case 'u': return unicode_escape();
      default: return std::nullopt;
    }
  }

  std::optional<char> unicode_escape() {
    unsigned value = 0;
    for (int digit = 0; digit < 4; ++digit) {
      if (at_ >= text_.size()) return std::nullopt;
      const char c = text_[at_++];
      value <<= 4;
      if (c >= '0' && c <= '9') {
        value |= static_cast<unsigned>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        value |= static_cast<unsigned>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        value |= static_cast<unsigned>(c - 'A' + 10);
      } else {
        return std::nullopt;
      }
    }
    return value < 0x80 ? static_cast<char>(value) : '\xFF';
  }

  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?, or -Infinity.
  bool number() {
    take('-');
    if (peek('I')) return word("Infinity");
    if (take('0')) {
      // a leading zero stands alone: "01" is a 0 followed by extra data
    } else if (!digits()) {
      return false;
    }
    if (take('.') && !digits()) return false;
    if (take('e') || take('E')) {
      if (!take('+')) take('-');
      if (!digits()) return false;
    }
    return true;
  }

  bool digits() {
    const std::size_t start = at_;
    while (at_ < text_.size() && text_[at_] >= '0' && text_[at_] <= '9') ++at_;
    return at_ > start;
  }

  bool word(std::string_view expected) {
    if (text_.substr(at_, expected.size()) != expected) return false;
    at_ += expected.size();
    return true;
  }

  bool enter(char open) {
    if (!take(open)) return false;
    return ++depth_ <= kMaxDepth;
  }

  bool leave() {
    --depth_;
    return true;
  }

  void skip_space() {
    while (at_ < text_.size() &&
           (text_[at_] == ' ' || text_[at_] == '\t' || text_[at_] == '\n' || text_[at_] == '\r')) {
      ++at_;
    }
  }

  bool peek(char c) const { return at_ < text_.size() && text_[at_] == c; }

  bool take(char c) {
    if (!peek(c)) return false;
    ++at_;
    return true;
  }

  std::string_view text_;
  std::size_t at_ = 0;
  int depth_ = 0;
};

}  // namespace

std::string valid_utf8(std::string_view bytes) {
  std::string text;
  text.reserve(bytes.size());
  std::size_t at = 0;
  while (at < bytes.size()) {
    const auto lead = static_cast<unsigned char>(bytes[at]);
    const std::size_t length = sequence_length(lead);
    if (length == 0) {
      text += kReplacement;
      ++at;
      continue;
    }
    // The longest valid beginning of the sequence; a cut sequence is one
    // replacement, and the byte that broke it starts afresh.
    std::size_t good = 1;
    while (good < length && at + good < bytes.size()) {
      const auto next = static_cast<unsigned char>(bytes[at + good]);
      if (good == 1 ? !valid_second(lead, next) : !continuation(next)) break;
      ++good;
    }
    if (good == length) {
      text += bytes.substr(at, length);
    } else {
      text += kReplacement;
    }
    at += good;
  }
  return text;
}

std::string first_code_points(std::string_view text, std::size_t count) {
  std::size_t at = 0;
  for (std::size_t seen = 0; seen < count && at < text.size(); ++seen) {
    const std::size_t length = sequence_length(static_cast<unsigned char>(text[at]));
    at += length == 0 ? 1 : length;
  }
  return std::string(text.substr(0, at));
}

std::string literal(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

bool is_harness_record(std::string_view text) { return Reader(text).harness_record(); }

std::string_view trimmed(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\n";
  const std::size_t start = text.find_first_not_of(kSpace);
  if (start == std::string_view::npos) return {};
  return text.substr(start, text.find_last_not_of(kSpace) - start + 1);
}

}  // namespace ipclab::json
