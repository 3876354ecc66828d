// Result<T>: a value or a failed Status (GCC 12 has no std::expected).
//
// Access value() only when ok(); doing otherwise is a broken invariant and aborts.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <utility>

#include "libstate/status.h"

namespace dk {

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    if (status_.ok()) {
      std::fprintf(stderr, "Result constructed from an OK Status\n");
      std::abort();
    }
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  T& value() & {
    Check();
    return *value_;
  }
  const T& value() const& {
    Check();
    return *value_;
  }
  T&& value() && {
    Check();
    return std::move(*value_);
  }
  T* operator->() {
    Check();
    return &*value_;
  }
  const T* operator->() const {
    Check();
    return &*value_;
  }
  T& operator*() & {
    Check();
    return *value_;
  }
  const T& operator*() const& {
    Check();
    return *value_;
  }

 private:
  void Check() const {
    if (!value_) {
      std::fprintf(stderr, "Result::value() on error: %s\n", status_.ToString().c_str());
      std::abort();
    }
  }
  Status status_;
  std::optional<T> value_;
};

}  // namespace dk

#define DK_CONCAT_INNER_(a, b) a##b
#define DK_CONCAT_(a, b) DK_CONCAT_INNER_(a, b)

// DK_ASSIGN_OR_RETURN(auto x, Foo()); declares x from a Result or returns its Status.
#define DK_ASSIGN_OR_RETURN(lhs, expr) \
  DK_ASSIGN_OR_RETURN_IMPL_(DK_CONCAT_(dk_result_, __LINE__), lhs, expr, "")
#define DK_ASSIGN_OR_RETURN_CTX(lhs, expr, context) \
  DK_ASSIGN_OR_RETURN_IMPL_(DK_CONCAT_(dk_result_, __LINE__), lhs, expr, context)
#define DK_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr, context)                                       \
  auto tmp = (expr);                                                                             \
  if (!tmp.ok()) {                                                                               \
    return std::string_view(context).empty() ? tmp.status() : tmp.status().WithContext(context); \
  }                                                                                              \
  lhs = std::move(tmp).value()
