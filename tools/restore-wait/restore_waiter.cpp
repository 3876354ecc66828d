#include "restore_waiter.h"

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

namespace dk::restorewait {
namespace {

std::string Seconds(std::chrono::milliseconds d) {
  auto s = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  if (s % 3600 == 0 && s >= 3600) return std::to_string(s / 3600) + "h";
  if (s % 60 == 0 && s >= 60) return std::to_string(s / 60) + "m";
  if (s >= 60) return std::to_string(s / 60) + "m" + std::to_string(s % 60) + "s";
  return std::to_string(s) + "s";
}

bool ValidUid(const std::string& uid) {
  if (uid.empty() || uid.size() > 64) return false;
  for (char c : uid) {
    bool ok =
        (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::string Usage() {
  return "usage: restore-wait --marker-dir DIR --timeout SECONDS [--on-timeout fail|start-empty] "
         "[--pod-uid UID]\n"
         "Waits for the DiffKeeper node agent to restore this pod's state: exits 0 once "
         "DIR/<pod-uid> says the state was restored (or there was none). The pod UID comes "
         "from --pod-uid or $POD_UID.\n";
}

bool ParseArgs(const std::vector<std::string>& args, const std::string& pod_uid_env,
               WaitOptions* out, std::string* error) {
  WaitOptions o;
  o.pod_uid = pod_uid_env;
  auto bad = [error](const std::string& why) {
    *error = "restore-wait: " + why + "\n" + Usage();
    return false;
  };
  bool have_timeout = false;
  for (size_t i = 1; i < args.size(); ++i) {
    std::string a = args[i];
    std::string value;
    bool inline_value = false;
    if (size_t eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
      inline_value = true;
    }
    auto next = [&](std::string* dst) -> bool {
      if (inline_value) {
        *dst = value;
        return true;
      }
      if (i + 1 >= args.size()) return false;
      *dst = args[++i];
      return true;
    };
    std::string v;
    if (a == "--marker-dir") {
      if (!next(&v)) return bad("--marker-dir needs a value");
      o.marker_dir = v;
    } else if (a == "--pod-uid") {
      if (!next(&v)) return bad("--pod-uid needs a value");
      o.pod_uid = v;
    } else if (a == "--timeout") {
      if (!next(&v)) return bad("--timeout needs a value");
      char* end = nullptr;
      long secs = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || secs <= 0 || secs > 7 * 24 * 3600) {
        return bad("--timeout wants a number of seconds (1 to 604800), got \"" + v + "\"");
      }
      o.timeout = std::chrono::seconds(secs);
      have_timeout = true;
    } else if (a == "--on-timeout") {
      if (!next(&v)) return bad("--on-timeout needs a value");
      if (v == "fail") {
        o.on_timeout = OnTimeout::kFail;
      } else if (v == "start-empty") {
        o.on_timeout = OnTimeout::kStartEmpty;
      } else {
        return bad("--on-timeout wants fail or start-empty, got \"" + v + "\"");
      }
    } else {
      return bad("unknown argument \"" + args[i] + "\"");
    }
  }
  if (o.marker_dir.empty()) return bad("--marker-dir is required");
  if (!have_timeout) return bad("--timeout is required");
  if (o.pod_uid.empty())
    return bad("no pod UID: set POD_UID (downward API metadata.uid) or --pod-uid");
  if (!ValidUid(o.pod_uid)) return bad("\"" + o.pod_uid + "\" is not a pod UID");
  *out = o;
  return true;
}

WaitResult WaitForRestore(const WaitOptions& o, const WaitEnv& env) {
  const std::string marker = o.marker_dir + "/" + o.pod_uid;
  const bool start_empty = o.on_timeout == OnTimeout::kStartEmpty;
  const std::string policy_hint =
      start_empty
          ? "starting the application without the restored state (restore.onTimeout: StartEmpty)"
          : "not starting the application (restore.onTimeout: Fail); the pod's StateRestore "
            "and its events say more (kubectl describe staterestore -l diffkeeper.io/pod-uid=" +
                o.pod_uid + ")";
  WaitResult r;
  auto say = [&](const std::string& line) {
    r.message = line;
    env.print("restore-wait: " + line);
  };
  say("waiting up to " + Seconds(o.timeout) +
      " for the node agent to restore this pod's state (marker " + marker + ")");
  const auto start = env.now();
  auto next_progress = start + o.progress_every;
  std::string unreadable;
  for (;;) {
    if (auto text = env.read_file(marker)) {
      nlohmann::json m = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
      std::string result = m.is_object() && m.contains("result") && m["result"].is_string()
                               ? m["result"].get<std::string>()
                               : "";
      std::string msg = m.is_object() && m.contains("message") && m["message"].is_string()
                            ? m["message"].get<std::string>()
                            : "";
      if (result == "restored") {
        std::string detail;
        if (m.contains("set") && m["set"].is_number_integer()) {
          detail += "capture set " + std::to_string(m["set"].get<int64_t>());
        }
        if (m.contains("root") && m["root"].is_string()) {
          std::string root = m["root"].get<std::string>().substr(0, 12);
          detail += (detail.empty() ? "" : ", ") + std::string("verified root ") + root;
        }
        say("state restored" + (detail.empty() ? "" : " (" + detail + ")") +
            (msg.empty() ? "" : ": " + msg) + "; starting the application");
        r.exit_code = kExitOk;
        return r;
      }
      if (result == "empty") {
        say("no captured state for this pod" + (msg.empty() ? "" : " (" + msg + ")") +
            "; starting with empty volumes");
        r.exit_code = kExitOk;
        return r;
      }
      if (result == "failed") {
        say("the restore failed: " + (msg.empty() ? std::string("no reason given") : msg) + "; " +
            policy_hint);
        r.exit_code = start_empty ? kExitOk : kExitFailed;
        return r;
      }
      // Not (yet) a valid marker: keep waiting, but say so once.
      std::string why = result.empty() ? "is not a JSON object with a \"result\""
                                       : "has an unknown result \"" + result + "\"";
      if (why != unreadable) {
        unreadable = why;
        say("marker " + marker + " " + why + "; still waiting");
      }
    }
    if (env.cancelled && env.cancelled()) {
      say("stopped by a signal before the restore finished");
      r.exit_code = 128 + 15;
      return r;
    }
    auto now = env.now();
    auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(now - start);
    if (elapsed >= o.timeout) {
      say("timed out after " + Seconds(o.timeout) + ": the node agent did not finish restoring" +
          (unreadable.empty() ? "" : " (its marker " + unreadable + ")") + "; " + policy_hint);
      r.exit_code = start_empty ? kExitOk : kExitTimedOut;
      return r;
    }
    if (now >= next_progress) {
      say("still waiting after " + Seconds(elapsed) + " of " + Seconds(o.timeout) +
          ": the restore has not finished (kubectl get staterestore -l diffkeeper.io/pod-uid=" +
          o.pod_uid + ")");
      next_progress += o.progress_every;
    }
    env.sleep(std::min(o.poll,
                       std::chrono::duration_cast<std::chrono::milliseconds>(o.timeout - elapsed)));
  }
}

WaitEnv RealEnv(std::function<bool()> cancelled) {
  WaitEnv env;
  env.read_file = [](const std::string& path) -> std::optional<std::string> {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  env.now = [] { return std::chrono::steady_clock::now(); };
  env.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
  env.print = [](const std::string& line) {
    std::fprintf(stderr, "%s\n", line.c_str());
    std::fflush(stderr);
  };
  env.cancelled = std::move(cancelled);
  return env;
}

}  // namespace dk::restorewait
