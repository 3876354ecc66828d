#include "libkube/informer.h"

#include <random>

#include "libkube/api_error.h"
#include "libkube/object_meta.h"

namespace dk::kube {
namespace {

InformerOptions Normalize(InformerOptions o) {
  if (o.name.empty()) o.name = o.resource.resource;
  if (o.page_size < 0) o.page_size = 0;
  if (o.watch_timeout.count() <= 0) o.watch_timeout = std::chrono::seconds(300);
  return o;
}

int64_t Millis(std::chrono::nanoseconds d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

}  // namespace

Informer::Informer(Client* client, InformerOptions options)
    : client_(client), options_(Normalize(std::move(options))), logger_(client->logger()) {}

Informer::~Informer() { Stop(); }

void Informer::AddEventHandlers(EventHandlers handlers) {
  handlers_.push_back(std::move(handlers));
}

void Informer::Start() {
  {
    std::lock_guard<std::mutex> g(mu_);
    if (started_ || stopping_) return;
    started_ = true;
  }
  dispatcher_ = std::thread(&Informer::RunDispatcher, this);
  reflector_ = std::thread(&Informer::RunReflector, this);
}

void Informer::Stop() {
  stop_.Cancel();
  {
    std::lock_guard<std::mutex> g(mu_);
    stopping_ = true;
    if (current_watch_ != nullptr) current_watch_->Cancel();
  }
  cv_.notify_all();
  if (reflector_.joinable()) reflector_.join();
  if (dispatcher_.joinable()) dispatcher_.join();
}

bool Informer::WaitForSync(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return synced_.load() || stopping_; });
  return synced_.load();
}

std::optional<nlohmann::json> Informer::Get(std::string_view ns, std::string_view name) const {
  std::string key = ns.empty() ? std::string(name) : std::string(ns) + "/" + std::string(name);
  return cache_.Get(key);
}

std::string Informer::LastResourceVersion() const {
  std::lock_guard<std::mutex> g(mu_);
  return last_rv_;
}

void Informer::SetResourceVersion(const std::string& rv) {
  std::lock_guard<std::mutex> g(mu_);
  last_rv_ = rv;
}

void Informer::PauseWatchForTest() {
  std::unique_lock<std::mutex> lock(mu_);
  paused_ = true;
  if (current_watch_ != nullptr) current_watch_->Cancel();
  cv_.wait(lock, [&] { return current_watch_ == nullptr; });
}

void Informer::ResumeWatchForTest(const std::string& resource_version) {
  {
    std::lock_guard<std::mutex> g(mu_);
    if (!resource_version.empty()) last_rv_ = resource_version;
    paused_ = false;
  }
  cv_.notify_all();
}

bool Informer::WaitWhilePaused() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !paused_ || stopping_; });
  return !stopping_;
}

void Informer::Notify(Notification n) {
  {
    std::lock_guard<std::mutex> g(mu_);
    notifications_.push_back(std::move(n));
  }
  cv_.notify_all();
}

void Informer::RunDispatcher() {
  for (;;) {
    Notification n;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !notifications_.empty(); });
      if (stopping_) return;
      n = std::move(notifications_.front());
      notifications_.pop_front();
    }
    switch (n.kind) {
      case Notification::kSynced: {
        std::lock_guard<std::mutex> g(mu_);
        synced_.store(true);
      }
        cv_.notify_all();
        break;
      case Notification::kAdd:
        for (auto& h : handlers_) {
          if (h.on_add) h.on_add(n.obj);
        }
        break;
      case Notification::kUpdate:
        for (auto& h : handlers_) {
          if (h.on_update) h.on_update(n.old_obj, n.obj);
        }
        break;
      case Notification::kDelete:
        for (auto& h : handlers_) {
          if (h.on_delete) h.on_delete(n.obj);
        }
        break;
    }
  }
}

Status Informer::ListAndReplace(bool initial) {
  ListOptions lo;
  lo.label_selector = options_.label_selector;
  lo.field_selector = options_.field_selector;
  lo.limit = options_.page_size;
  Result<ObjectList> list = client_->ListAll(options_.resource, options_.ns, lo);
  if (!list.ok() && IsGone(list.status()) && lo.limit > 0) {
    // A continue token expired between pages: list in one go instead.
    lo.limit = 0;
    list = client_->ListAll(options_.resource, options_.ns, lo);
  }
  if (!list.ok()) return list.status();
  const size_t n = list->items.size();
  ObjectCache::ReplaceResult diff = cache_.Replace(std::move(list->items));
  SetResourceVersion(list->resource_version);
  list_count_.fetch_add(1);
  logger_->Info("Listed objects", {{"informer", options_.name},
                                   {"objects", n},
                                   {"resourceVersion", list->resource_version},
                                   {"added", diff.added.size()},
                                   {"updated", diff.updated.size()},
                                   {"deleted", diff.deleted.size()}});
  for (auto& o : diff.deleted) Notify({Notification::kDelete, {}, std::move(o)});
  for (auto& [old_obj, new_obj] : diff.updated) {
    Notify({Notification::kUpdate, std::move(old_obj), std::move(new_obj)});
  }
  for (auto& o : diff.added) Notify({Notification::kAdd, {}, std::move(o)});
  if (initial) Notify({Notification::kSynced, {}, {}});
  return Status::Ok();
}

bool Informer::HandleEvent(const WatchEvent& e) {
  const std::string rv = GetResourceVersion(e.object);
  if (!rv.empty()) SetResourceVersion(rv);
  switch (e.type) {
    case WatchEventType::kAdded:
    case WatchEventType::kModified: {
      std::optional<nlohmann::json> old = cache_.Upsert(e.object);
      if (old) {
        Notify({Notification::kUpdate, std::move(*old), e.object});
      } else {
        Notify({Notification::kAdd, {}, e.object});
      }
      break;
    }
    case WatchEventType::kDeleted: {
      std::optional<nlohmann::json> old = cache_.Remove(ObjectKey(e.object));
      if (old) Notify({Notification::kDelete, {}, e.object});
      break;
    }
    case WatchEventType::kBookmark:
    case WatchEventType::kError:
      break;
  }
  return true;
}

Status Informer::WatchOnce(Cancellation* attempt, bool* got_events) {
  WatchOptions wo;
  wo.label_selector = options_.label_selector;
  wo.field_selector = options_.field_selector;
  wo.allow_bookmarks = true;
  {
    std::lock_guard<std::mutex> g(mu_);
    if (stopping_ || paused_) return Status::Ok();
    current_watch_ = attempt;
    wo.resource_version = last_rv_;
  }
  thread_local std::mt19937_64 rng(std::random_device{}());
  const int64_t t = options_.watch_timeout.count();
  wo.timeout = std::chrono::seconds(t + static_cast<int64_t>(rng() % static_cast<uint64_t>(t)));
  Status s = client_->Watch(
      options_.resource, options_.ns, wo,
      [&](const WatchEvent& e) {
        *got_events = true;
        return HandleEvent(e);
      },
      attempt);
  {
    std::lock_guard<std::mutex> g(mu_);
    current_watch_ = nullptr;
  }
  cv_.notify_all();
  return s;
}

void Informer::RunReflector() {
  Backoff backoff(options_.backoff);
  Clock* clock = client_->clock();
  bool need_list = true;
  while (!stop_.IsCancelled()) {
    if (!WaitWhilePaused()) break;
    if (need_list) {
      Status s = ListAndReplace(list_count_.load() == 0);
      if (!s.ok()) {
        const auto d = backoff.Next();
        logger_->Warn(
            "List failed; retrying",
            {{"informer", options_.name}, {"error", s.ToString()}, {"retryInMs", Millis(d)}});
        if (!stop_.SleepFor(clock, d)) break;
        continue;
      }
      need_list = false;
    }
    Cancellation attempt;
    bool got_events = false;
    const Clock::TimePoint started = clock->Now();
    Status s = WatchOnce(&attempt, &got_events);
    if (stop_.IsCancelled()) break;
    if (got_events) backoff.Reset();
    if (s.ok()) {
      // The server closed the watch (timeoutSeconds) or a test paused it. A watch that ends at
      // once without events would spin: back off.
      if (!got_events && clock->Now() - started < std::chrono::seconds(1) &&
          !attempt.IsCancelled()) {
        if (!stop_.SleepFor(clock, backoff.Next())) break;
      }
      continue;
    }
    if (IsGone(s)) {
      logger_->Info("Watch expired; re-listing",
                    {{"informer", options_.name}, {"error", s.ToString()}});
      need_list = true;
      continue;
    }
    const auto d = backoff.Next();
    logger_->Warn("Watch failed; reconnecting",
                  {{"informer", options_.name}, {"error", s.ToString()}, {"retryInMs", Millis(d)}});
    if (!stop_.SleepFor(clock, d)) break;
  }
}

}  // namespace dk::kube
