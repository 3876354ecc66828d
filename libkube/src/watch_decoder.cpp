#include "libkube/watch_decoder.h"

namespace dk::kube {

std::string_view WatchEventTypeName(WatchEventType t) {
  switch (t) {
    case WatchEventType::kAdded:
      return "ADDED";
    case WatchEventType::kModified:
      return "MODIFIED";
    case WatchEventType::kDeleted:
      return "DELETED";
    case WatchEventType::kBookmark:
      return "BOOKMARK";
    case WatchEventType::kError:
      return "ERROR";
  }
  return "UNKNOWN";
}

Status WatchDecoder::Feed(std::string_view chunk, std::vector<WatchEvent>* out) {
  size_t start = 0;
  while (start < chunk.size()) {
    size_t nl = chunk.find('\n', start);
    if (nl == std::string_view::npos) {
      if (pending_.size() + (chunk.size() - start) > max_line_bytes_) {
        return Status::Corruption("watch stream: a line exceeds " +
                                  std::to_string(max_line_bytes_) + " bytes");
      }
      pending_.append(chunk.substr(start));
      break;
    }
    std::string_view piece = chunk.substr(start, nl - start);
    start = nl + 1;
    if (pending_.size() + piece.size() > max_line_bytes_) {
      return Status::Corruption("watch stream: a line exceeds " + std::to_string(max_line_bytes_) +
                                " bytes");
    }
    if (pending_.empty()) {
      DK_RETURN_IF_ERROR(DecodeLine(piece, out));
    } else {
      pending_.append(piece);
      std::string line;
      line.swap(pending_);
      DK_RETURN_IF_ERROR(DecodeLine(line, out));
    }
  }
  return Status::Ok();
}

Status WatchDecoder::Finish() const {
  for (char c : pending_) {
    if (c != ' ' && c != '\r' && c != '\t') {
      return Status::Corruption("watch stream: ended inside an event (" +
                                std::to_string(pending_.size()) + " bytes without newline)");
    }
  }
  return Status::Ok();
}

Status WatchDecoder::DecodeLine(std::string_view line, std::vector<WatchEvent>* out) const {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
  while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
  if (line.empty()) return Status::Ok();
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::Corruption("watch stream: a line is not a JSON object (" +
                              std::to_string(line.size()) + " bytes)");
  }
  auto type_it = j.find("type");
  auto obj_it = j.find("object");
  if (type_it == j.end() || !type_it->is_string()) {
    return Status::Corruption("watch stream: event without a string \"type\"");
  }
  if (obj_it == j.end() || !obj_it->is_object()) {
    return Status::Corruption("watch stream: " + type_it->get<std::string>() +
                              " event without an \"object\"");
  }
  const std::string& type = type_it->get_ref<const std::string&>();
  WatchEvent e;
  if (type == "ADDED") {
    e.type = WatchEventType::kAdded;
  } else if (type == "MODIFIED") {
    e.type = WatchEventType::kModified;
  } else if (type == "DELETED") {
    e.type = WatchEventType::kDeleted;
  } else if (type == "BOOKMARK") {
    e.type = WatchEventType::kBookmark;
  } else if (type == "ERROR") {
    e.type = WatchEventType::kError;
  } else {
    return Status::Corruption("watch stream: unknown event type \"" + type + "\"");
  }
  e.object = std::move(*obj_it);
  out->push_back(std::move(e));
  return Status::Ok();
}

}  // namespace dk::kube
