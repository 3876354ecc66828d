// Informer: list + watch of one resource into a local ObjectCache, with change notifications.
//
// Start() launches two threads. The reflector lists (paginated), replaces the cache, then
// watches from the list's resourceVersion with bookmarks; each watch ends after about
// watch_timeout and is re-opened from the last seen resourceVersion. On 410 Gone (HTTP 410 or
// an ERROR event with code 410) it lists again and reconciles the cache: objects that vanished
// during the gap produce on_delete, new ones on_add, changed ones on_update. On connection
// failures (an API server restart) it reconnects with exponential backoff and jitter.
//
// The dispatcher thread calls the handlers, one at a time and in order, from that one thread;
// a slow handler delays notifications but never the watch. Handlers see the cache already
// updated. HasSynced() turns true once the first list is in the cache and its on_add
// notifications have all been delivered.
//
// Handlers must not call Stop() (deadlock). Level-based consumers (work_queue.h) only take the
// key from a notification and read the current object from the cache.
//
// Thread-safe after construction; AddEventHandlers()/AddIndex() only before Start().
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "libkube/backoff.h"
#include "libkube/cancellation.h"
#include "libkube/client.h"
#include "libkube/object_cache.h"
#include "libkube/resource_ref.h"

namespace dk::kube {

struct EventHandlers {
  std::function<void(const nlohmann::json& obj)> on_add;
  std::function<void(const nlohmann::json& old_obj, const nlohmann::json& new_obj)> on_update;
  // The last state the informer knew (after a re-list, possibly older than the real delete).
  std::function<void(const nlohmann::json& obj)> on_delete;
};

struct InformerOptions {
  ResourceRef resource;
  std::string ns;  // "" = all namespaces (or a cluster-scoped resource)
  std::string label_selector;
  std::string field_selector;
  int64_t page_size = 500;
  // Watches last a random time in [watch_timeout, 2 * watch_timeout) so that many informers do
  // not reconnect together.
  std::chrono::seconds watch_timeout{300};
  BackoffOptions backoff;  // between failed lists / watch connections
  std::string name;        // for logs; defaults to the resource name
};

class Informer {
 public:
  Informer(Client* client, InformerOptions options);
  ~Informer();  // Stop()
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  void AddEventHandlers(EventHandlers handlers);
  Status AddIndex(const std::string& name, IndexFunc fn) { return cache_.AddIndex(name, fn); }

  void Start();
  // Stops both threads and waits for them; pending notifications are dropped. Idempotent.
  void Stop();

  bool HasSynced() const { return synced_.load(); }
  // Blocks (real time) until HasSynced() or `timeout`; false on timeout or Stop().
  bool WaitForSync(std::chrono::milliseconds timeout);

  // The cache (read it; the informer is the only writer).
  const ObjectCache& cache() const { return cache_; }
  std::optional<nlohmann::json> Get(std::string_view ns, std::string_view name) const;

  // Last resourceVersion seen (list, event or bookmark).
  std::string LastResourceVersion() const;
  // Number of completed lists (1 after the initial one; +1 per re-list).
  int ListCount() const { return list_count_.load(); }

  // Test hooks. PauseWatchForTest() ends the current watch and keeps the reflector from
  // reconnecting; ResumeWatchForTest() lets it reconnect, first overriding the resourceVersion
  // to resume from when `resource_version` is not empty (e.g. "1" to force a 410).
  void PauseWatchForTest();
  void ResumeWatchForTest(const std::string& resource_version);

 private:
  struct Notification {
    enum Kind { kAdd, kUpdate, kDelete, kSynced } kind;
    nlohmann::json old_obj;
    nlohmann::json obj;
  };

  void RunReflector();
  Status ListAndReplace(bool initial);
  Status WatchOnce(Cancellation* attempt, bool* got_events);
  bool HandleEvent(const WatchEvent& e);
  void Notify(Notification n);
  void RunDispatcher();
  void SetResourceVersion(const std::string& rv);
  bool WaitWhilePaused();

  Client* const client_;
  const InformerOptions options_;
  Logger* const logger_;
  ObjectCache cache_;
  std::vector<EventHandlers> handlers_;

  Cancellation stop_;
  std::thread reflector_;
  std::thread dispatcher_;
  bool started_ = false;
  std::atomic<bool> synced_{false};
  std::atomic<int> list_count_{0};

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string last_rv_;
  Cancellation* current_watch_ = nullptr;  // the running attempt, for Pause/Stop
  bool paused_ = false;
  std::deque<Notification> notifications_;
  bool stopping_ = false;
};

}  // namespace dk::kube
