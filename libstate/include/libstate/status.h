// Status: the outcome of an operation that can fail.
//
// A Status is cheap to copy when OK (no allocation). A failed Status carries a code,
// a human-readable message that names the input and what is wrong, and a retryable flag
// (true when repeating the same call later may succeed, e.g. a transient I/O error or
// an unavailable peer). Thread-compatible: distinct objects may be used from distinct threads.
#pragma once

#include <memory>
#include <ostream>
#include <string>
#include <string_view>

namespace dk {

enum class StatusCode {
  kOk = 0,
  kNotFound,
  kCorruption,
  kInvalidArgument,
  kIOError,
  kNoSpace,
  kConflict,
  kUnavailable,
  kPermissionDenied,
  kFailedPrecondition,
  kInternal,
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message, bool retryable = false);

  static Status Ok() { return Status(); }
  static Status NotFound(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
  static Status Corruption(std::string msg) { return {StatusCode::kCorruption, std::move(msg)}; }
  static Status InvalidArgument(std::string msg) {
    return {StatusCode::kInvalidArgument, std::move(msg)};
  }
  static Status IOError(std::string msg, bool retryable = false) {
    return {StatusCode::kIOError, std::move(msg), retryable};
  }
  static Status NoSpace(std::string msg) { return {StatusCode::kNoSpace, std::move(msg)}; }
  static Status Conflict(std::string msg) { return {StatusCode::kConflict, std::move(msg), true}; }
  static Status Unavailable(std::string msg) {
    return {StatusCode::kUnavailable, std::move(msg), true};
  }
  static Status PermissionDenied(std::string msg) {
    return {StatusCode::kPermissionDenied, std::move(msg)};
  }
  static Status FailedPrecondition(std::string msg) {
    return {StatusCode::kFailedPrecondition, std::move(msg)};
  }
  static Status Internal(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }
  // An IOError/NoSpace/NotFound... built from errno, with `what` naming the path or call.
  static Status FromErrno(int err, std::string_view what);

  bool ok() const { return rep_ == nullptr; }
  StatusCode code() const { return rep_ ? rep_->code : StatusCode::kOk; }
  bool retryable() const { return rep_ && rep_->retryable; }
  const std::string& message() const;
  bool IsNotFound() const { return code() == StatusCode::kNotFound; }
  bool IsCorruption() const { return code() == StatusCode::kCorruption; }

  // Returns a copy whose message is "context: message" (same code and retryable flag).
  Status WithContext(std::string_view context) const;
  // "Corruption: file a.txt version 3: ..." or "OK".
  std::string ToString() const;

 private:
  struct Rep {
    StatusCode code;
    bool retryable;
    std::string message;
  };
  std::shared_ptr<const Rep> rep_;  // immutable; shared only to keep copies cheap
};

inline std::ostream& operator<<(std::ostream& os, const Status& s) { return os << s.ToString(); }

}  // namespace dk

// Returns the failed status of `expr` from the enclosing function.
#define DK_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::dk::Status dk_status_ = (expr);        \
    if (!dk_status_.ok()) return dk_status_; \
  } while (0)

// Same, adding "context: " in front of the message on the way up.
#define DK_RETURN_IF_ERROR_CTX(expr, context)                     \
  do {                                                            \
    ::dk::Status dk_status_ = (expr);                             \
    if (!dk_status_.ok()) return dk_status_.WithContext(context); \
  } while (0)
