#include "libkube/bearer_token_source.h"

#include "file_util.h"

namespace dk::kube {

BearerTokenSource::BearerTokenSource(std::string literal_token, std::string token_file,
                                     Clock* clock, Clock::Duration reload_interval)
    : literal_(std::move(literal_token)),
      file_(std::move(token_file)),
      clock_(clock),
      reload_interval_(reload_interval) {}

Result<std::string> BearerTokenSource::Token() {
  if (file_.empty()) return literal_;
  std::lock_guard<std::mutex> g(mu_);
  const Clock::TimePoint now = clock_->Now();
  if (loaded_ && now - loaded_at_ < reload_interval_) return cached_;
  Result<std::string> content = ReadSmallFile(file_, 1u << 20);
  if (!content.ok()) {
    if (!cached_.empty()) return cached_;  // keep the last good token
    return content.status().WithContext("bearer token file");
  }
  std::string token = std::move(content).value();
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ' ||
                            token.back() == '\t')) {
    token.pop_back();
  }
  if (token.empty()) {
    if (!cached_.empty()) return cached_;
    return Status::InvalidArgument("bearer token file " + file_ + ": empty");
  }
  cached_ = std::move(token);
  loaded_ = true;
  loaded_at_ = now;
  return cached_;
}

void BearerTokenSource::Invalidate() {
  std::lock_guard<std::mutex> g(mu_);
  loaded_ = false;
}

}  // namespace dk::kube
