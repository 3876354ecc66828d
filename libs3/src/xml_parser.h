// A tiny, tolerant XML reader for S3 responses (private to libs3; no dependency).
//
// Builds a tree of elements. Tolerant where S3 responses vary: the XML declaration, comments,
// processing instructions and a DOCTYPE are skipped; namespace prefixes are dropped from names;
// attributes are read and ignored; unknown elements are kept in the tree for callers to ignore.
// Character data is decoded (the five named entities, decimal and hex character references,
// CDATA sections). Strict where it matters: unbalanced or mismatched tags, an unknown entity,
// nesting deeper than 64 or a document over 64 MiB are errors. Never throws.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "libstate/result.h"

namespace dk::s3 {

struct XmlElement {
  std::string name;  // local name, e.g. "Contents"
  std::string text;  // this element's own character data, concatenated
  std::vector<XmlElement> children;

  // First child named `name`, or nullptr.
  const XmlElement* Child(std::string_view name) const;
  // Text of the first child named `name`, or "" when there is none.
  std::string ChildText(std::string_view name) const;
  // Every child named `name`, in document order.
  std::vector<const XmlElement*> ChildrenNamed(std::string_view name) const;
};

// The root element of `doc`. InvalidArgument("malformed XML: … at offset N") on bad input.
Result<XmlElement> ParseXml(std::string_view doc);

// Escapes & < > " ' for element content or attribute values.
std::string XmlEscape(std::string_view s);

}  // namespace dk::s3
