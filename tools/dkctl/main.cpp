// dkctl: DiffKeeper's local command. Records every version of a directory in a store and
// gives any version back, verified.
#include <cstdio>
#include <cstring>
#include <string>

#include "commands.h"

namespace {
constexpr char kUsage[] = R"(usage: dkctl [--store PATH] COMMAND [ARGS] [FLAGS]

Commands:
  init                      create a store (--chunk-avg BYTES sets the chunker; fixed afterwards)
  capture DIR               record the current state of DIR as one capture set
  watch DIR                 capture continuously (inotify; --debounce-ms, --max-delay-ms)
  log [PATH]                history of PATH, or the list of capture sets
  restore DIR               write a verified state into DIR (--set N | --time T, --path P...)
  verify                    check every object, version and set of the store
  gc                        apply retention (--keep-last N, --keep-within 7d), recompress data at
                            rest (--recompress 19) and shrink the store
  stats                     logical vs stored bytes, objects, dedup and delta savings
  diff PATH A B             what changed in PATH between versions A and B

Common flags:
  --store PATH              the store directory (or DK_STORE)
  --include GLOB --exclude GLOB   (capture, watch) paths relative to DIR; repeatable
  --snapshot-every N (10) --max-chain N (16) --delta auto|bsdiff|zstd|none
  --log-level debug|info|warn|error (warn)   JSON log lines on stderr
  --no-sync                 skip fsync on commit (benchmarks only)

Exit codes: 0 ok, 1 bad usage, 2 operation failed, 3 integrity problem (verify found
problems or restore skipped damaged files), 4 store busy (another writer).
)";
}  // namespace

int main(int argc, char** argv) {
  using namespace dk::cli;
  if (argc < 2 || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help") ||
      !std::strcmp(argv[1], "help")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? kExitUsage : kExitOk;
  }
  auto args = Args::Parse(argc - 1, argv + 1, {"no-sync", "no-compact", "no-owner"});
  if (!args.ok()) {
    std::fprintf(stderr, "dkctl: %s\n", args.status().message().c_str());
    return kExitUsage;
  }
  if (args->positional().empty()) {
    std::fputs(kUsage, stderr);
    return kExitUsage;
  }
  // The command is the first positional; the rest are its arguments.
  Args rest = *args;
  std::string cmd = rest.Shift();
  struct {
    const char* name;
    int (*fn)(const Args&);
  } const table[] = {{"init", CmdInit}, {"capture", CmdCapture}, {"watch", CmdWatch},
                     {"log", CmdLog},   {"restore", CmdRestore}, {"verify", CmdVerify},
                     {"gc", CmdGc},     {"stats", CmdStats},     {"diff", CmdDiff}};
  for (const auto& c : table)
    if (cmd == c.name) return c.fn(rest);
  std::fprintf(stderr, "dkctl: unknown command '%s'\n\n%s", cmd.c_str(), kUsage);
  return kExitUsage;
}
