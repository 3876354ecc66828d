#include "xml_parser.h"

#include <cstdint>

namespace dk::s3 {
namespace {

constexpr int kMaxDepth = 64;
constexpr size_t kMaxDocument = 64u << 20;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsNameChar(char c) {
  return !IsSpace(c) && c != '>' && c != '/' && c != '=' && c != '<' && c != '"' && c != '\'';
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

class Parser {
 public:
  explicit Parser(std::string_view doc) : doc_(doc) {}

  Result<XmlElement> ParseDocument() {
    if (doc_.size() > kMaxDocument) return Error("document larger than 64 MiB");
    Status s = SkipMisc();
    if (!s.ok()) return s;
    if (AtEnd() || doc_[pos_] != '<') return Error("no root element");
    XmlElement root;
    s = ParseElement(&root, 1);
    if (!s.ok()) return s;
    s = SkipMisc();
    if (!s.ok()) return s;
    if (!AtEnd()) return Error("content after the root element");
    return root;
  }

 private:
  bool AtEnd() const { return pos_ >= doc_.size(); }
  bool StartsWith(std::string_view s) const { return doc_.substr(pos_).starts_with(s); }

  Status Error(std::string_view what) const {
    return Status::InvalidArgument("malformed XML: " + std::string(what) + " at offset " +
                                   std::to_string(pos_));
  }

  // Skips to just past `end`; error when it never comes.
  Status SkipPast(std::string_view end, std::string_view what) {
    const size_t at = doc_.find(end, pos_);
    if (at == std::string_view::npos) return Error("unterminated " + std::string(what));
    pos_ = at + end.size();
    return Status::Ok();
  }

  // Whitespace, comments, processing instructions (incl. the XML declaration) and DOCTYPE.
  Status SkipMisc() {
    for (;;) {
      while (!AtEnd() && IsSpace(doc_[pos_])) ++pos_;
      if (StartsWith("<?")) {
        DK_RETURN_IF_ERROR(SkipPast("?>", "processing instruction"));
      } else if (StartsWith("<!--")) {
        DK_RETURN_IF_ERROR(SkipPast("-->", "comment"));
      } else if (StartsWith("<!DOCTYPE")) {
        DK_RETURN_IF_ERROR(SkipDoctype());
      } else {
        return Status::Ok();
      }
    }
  }

  Status SkipDoctype() {
    int brackets = 0;
    for (; !AtEnd(); ++pos_) {
      const char c = doc_[pos_];
      if (c == '[') ++brackets;
      if (c == ']') --brackets;
      if (c == '>' && brackets <= 0) {
        ++pos_;
        return Status::Ok();
      }
    }
    return Error("unterminated DOCTYPE");
  }

  std::string_view ReadName() {
    const size_t start = pos_;
    while (!AtEnd() && IsNameChar(doc_[pos_])) ++pos_;
    return doc_.substr(start, pos_ - start);
  }

  static std::string LocalName(std::string_view qname) {
    const size_t colon = qname.rfind(':');
    return std::string(colon == std::string_view::npos ? qname : qname.substr(colon + 1));
  }

  // Decodes character data with entity references into `out`.
  Status DecodeText(std::string_view raw, std::string* out) {
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] != '&') {
        out->push_back(raw[i]);
        continue;
      }
      const size_t semi = raw.find(';', i);
      if (semi == std::string_view::npos || semi - i > 12) return Error("unterminated entity");
      const std::string_view ent = raw.substr(i + 1, semi - i - 1);
      if (ent == "amp") {
        out->push_back('&');
      } else if (ent == "lt") {
        out->push_back('<');
      } else if (ent == "gt") {
        out->push_back('>');
      } else if (ent == "quot") {
        out->push_back('"');
      } else if (ent == "apos") {
        out->push_back('\'');
      } else if (ent.size() >= 2 && ent[0] == '#') {
        const bool hex = ent[1] == 'x' || ent[1] == 'X';
        const std::string_view digits = ent.substr(hex ? 2 : 1);
        if (digits.empty()) return Error("empty character reference");
        uint32_t cp = 0;
        for (char d : digits) {
          uint32_t v;
          if (d >= '0' && d <= '9') {
            v = static_cast<uint32_t>(d - '0');
          } else if (hex && d >= 'a' && d <= 'f') {
            v = static_cast<uint32_t>(d - 'a' + 10);
          } else if (hex && d >= 'A' && d <= 'F') {
            v = static_cast<uint32_t>(d - 'A' + 10);
          } else {
            return Error("bad character reference");
          }
          cp = cp * (hex ? 16 : 10) + v;
          if (cp > 0x10FFFF) return Error("character reference out of range");
        }
        if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF)) return Error("invalid character reference");
        AppendUtf8(cp, out);
      } else {
        return Error("unknown entity &" + std::string(ent) + ";");
      }
      i = semi;
    }
    return Status::Ok();
  }

  // At '<' of a start tag.
  Status ParseElement(XmlElement* el, int depth) {
    if (depth > kMaxDepth) return Error("nesting deeper than 64");
    ++pos_;  // '<'
    const std::string_view qname = ReadName();
    if (qname.empty()) return Error("element without a name");
    el->name = LocalName(qname);
    // Attributes: name="value" or name='value', ignored.
    for (;;) {
      while (!AtEnd() && IsSpace(doc_[pos_])) ++pos_;
      if (AtEnd()) return Error("unterminated start tag <" + std::string(qname));
      if (doc_[pos_] == '>') {
        ++pos_;
        break;
      }
      if (StartsWith("/>")) {
        pos_ += 2;
        return Status::Ok();
      }
      if (ReadName().empty()) return Error("bad attribute in <" + std::string(qname));
      while (!AtEnd() && IsSpace(doc_[pos_])) ++pos_;
      if (AtEnd() || doc_[pos_] != '=') return Error("attribute without a value");
      ++pos_;
      while (!AtEnd() && IsSpace(doc_[pos_])) ++pos_;
      if (AtEnd() || (doc_[pos_] != '"' && doc_[pos_] != '\'')) {
        return Error("unquoted attribute value");
      }
      const char quote = doc_[pos_++];
      const size_t end = doc_.find(quote, pos_);
      if (end == std::string_view::npos) return Error("unterminated attribute value");
      pos_ = end + 1;
    }
    // Content.
    for (;;) {
      if (AtEnd()) return Error("missing </" + std::string(qname) + ">");
      if (doc_[pos_] != '<') {
        const size_t lt = doc_.find('<', pos_);
        const size_t end = lt == std::string_view::npos ? doc_.size() : lt;
        DK_RETURN_IF_ERROR(DecodeText(doc_.substr(pos_, end - pos_), &el->text));
        pos_ = end;
      } else if (StartsWith("</")) {
        pos_ += 2;
        const std::string_view close = ReadName();
        if (close != qname) {
          return Error("</" + std::string(close) + "> closes <" + std::string(qname) + ">");
        }
        while (!AtEnd() && IsSpace(doc_[pos_])) ++pos_;
        if (AtEnd() || doc_[pos_] != '>') return Error("unterminated end tag");
        ++pos_;
        return Status::Ok();
      } else if (StartsWith("<![CDATA[")) {
        pos_ += 9;
        const size_t end = doc_.find("]]>", pos_);
        if (end == std::string_view::npos) return Error("unterminated CDATA section");
        el->text.append(doc_.substr(pos_, end - pos_));
        pos_ = end + 3;
      } else if (StartsWith("<!--")) {
        DK_RETURN_IF_ERROR(SkipPast("-->", "comment"));
      } else if (StartsWith("<?")) {
        DK_RETURN_IF_ERROR(SkipPast("?>", "processing instruction"));
      } else {
        el->children.emplace_back();
        DK_RETURN_IF_ERROR(ParseElement(&el->children.back(), depth + 1));
      }
    }
  }

  std::string_view doc_;
  size_t pos_ = 0;
};

}  // namespace

const XmlElement* XmlElement::Child(std::string_view child_name) const {
  for (const XmlElement& c : children) {
    if (c.name == child_name) return &c;
  }
  return nullptr;
}

std::string XmlElement::ChildText(std::string_view child_name) const {
  const XmlElement* c = Child(child_name);
  return c ? c->text : std::string();
}

std::vector<const XmlElement*> XmlElement::ChildrenNamed(std::string_view child_name) const {
  std::vector<const XmlElement*> out;
  for (const XmlElement& c : children) {
    if (c.name == child_name) out.push_back(&c);
  }
  return out;
}

Result<XmlElement> ParseXml(std::string_view doc) { return Parser(doc).ParseDocument(); }

std::string XmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

}  // namespace dk::s3
