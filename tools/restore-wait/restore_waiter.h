// restore-wait: the init container that holds a pod of a protected StatefulSet until the node
// agent has restored its state (docs/protocol.md, "The restore gate", step 4).
//
// It waits for the marker file <marker-dir>/<pod-uid>, which the agent writes (temp file +
// rename) as JSON {"result": "restored"|"empty"|"failed", "message": …, "set": …, "root": …}:
//   restored, empty          → exit 0 (the application starts)
//   failed                   → exit 1, or exit 0 with --on-timeout start-empty
//   no marker within timeout → exit 2, or exit 0 with --on-timeout start-empty
//   bad arguments            → exit 3
// Every outcome, and progress every 30 s while waiting, is explained on stderr in words a user
// can act on (the kubelet shows the last lines as the container's termination message).
//
// The waiting logic takes its file reads, clock, sleep and output through WaitEnv so tests run
// without real time.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace dk::restorewait {

enum class OnTimeout { kFail, kStartEmpty };

struct WaitOptions {
  std::string marker_dir;
  std::string pod_uid;
  std::chrono::milliseconds timeout{std::chrono::minutes(10)};
  OnTimeout on_timeout = OnTimeout::kFail;
  std::chrono::milliseconds poll{500};
  std::chrono::milliseconds progress_every{std::chrono::seconds(30)};
};

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitTimedOut = 2;
inline constexpr int kExitUsage = 3;

// Parses the command line (argv[0] is skipped); the pod UID comes from --pod-uid or, when that
// is absent, `pod_uid_env` (the POD_UID variable). False with `*error` (ending in the usage) on
// bad arguments. (No libstate here: restore-wait stays a small binary.)
bool ParseArgs(const std::vector<std::string>& args, const std::string& pod_uid_env,
               WaitOptions* out, std::string* error);

struct WaitEnv {
  // Contents of a file; nullopt when it does not exist (yet).
  std::function<std::optional<std::string>(const std::string& path)> read_file;
  std::function<std::chrono::steady_clock::time_point()> now;
  std::function<void(std::chrono::milliseconds)> sleep;
  std::function<void(const std::string& line)> print;
  std::function<bool()> cancelled;  // SIGTERM: stop waiting
};

struct WaitResult {
  int exit_code = kExitOk;
  std::string message;  // the last line printed
};

WaitResult WaitForRestore(const WaitOptions& options, const WaitEnv& env);

// The real environment (files, steady clock, stderr).
WaitEnv RealEnv(std::function<bool()> cancelled);

std::string Usage();

}  // namespace dk::restorewait
