#include "commands.h"

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <memory>

#include "libstate/delta.h"
#include "libstate/store.h"
#include "libstate/watcher.h"

namespace dk::cli {
namespace {

// Flags every command accepts.
const std::vector<std::string> kCommon = {"store",     "log-level", "snapshot-every",
                                          "max-chain", "delta",     "no-sync"};

std::unique_ptr<JsonLogger> g_logger;

int Fail(const Status& s) {
  std::fprintf(stderr, "dkctl: %s\n", s.ToString().c_str());
  if (s.code() == StatusCode::kInvalidArgument) return kExitUsage;
  if (s.code() == StatusCode::kUnavailable) return kExitBusy;
  if (s.code() == StatusCode::kCorruption) return kExitIntegrity;
  return kExitFailed;
}

Result<StoreOptions> OptionsFrom(const Args& a) {
  StoreOptions o;
  std::string level = a.Get("log-level").value_or("warn");
  LogLevel lv;
  if (!JsonLogger::ParseLevel(level, &lv))
    return Status::InvalidArgument("--log-level=" + level +
                                   ": expected debug, info, warn or error");
  g_logger = std::make_unique<JsonLogger>(lv, "dkctl");
  o.logger = g_logger.get();
  DK_ASSIGN_OR_RETURN(uint64_t se, a.GetUint("snapshot-every", o.snapshot_every));
  DK_ASSIGN_OR_RETURN(uint64_t mc, a.GetUint("max-chain", o.max_chain));
  o.snapshot_every = static_cast<uint32_t>(se);
  o.max_chain = static_cast<uint32_t>(mc);
  std::string d = a.Get("delta").value_or("auto");
  if (d == "auto")
    o.delta = DeltaChoice::kAuto;
  else if (d == "bsdiff")
    o.delta = DeltaChoice::kBsdiff;
  else if (d == "zstd")
    o.delta = DeltaChoice::kZstd;
  else if (d == "none")
    o.delta = DeltaChoice::kNone;
  else
    return Status::InvalidArgument("--delta=" + d + ": expected auto, bsdiff, zstd or none");
  o.sync = !a.Has("no-sync");
  if (a.Has("chunk-avg")) {
    DK_ASSIGN_OR_RETURN(uint64_t avg, a.GetUint("chunk-avg", 0));
    o.chunker.avg_size = static_cast<uint32_t>(avg);
    o.chunker.min_size = static_cast<uint32_t>(avg / 4);
    o.chunker.max_size = static_cast<uint32_t>(avg * 4);
  }
  DK_RETURN_IF_ERROR(o.Validate());
  return o;
}

Result<std::string> StorePath(const Args& a) {
  if (auto s = a.Get("store")) return *s;
  if (const char* e = std::getenv("DK_STORE")) return std::string(e);
  return Status::InvalidArgument("no store given: pass --store PATH or set DK_STORE");
}

Result<std::unique_ptr<Store>> OpenStore(const Args& a, OpenMode mode) {
  DK_ASSIGN_OR_RETURN(std::string path, StorePath(a));
  DK_ASSIGN_OR_RETURN(StoreOptions o, OptionsFrom(a));
  return Store::Open(path, o, mode);
}

ProgressFn ProgressPrinter() {
  bool tty = isatty(STDERR_FILENO);
  return [tty](const dk::Progress& p) {
    if (p.total == 0) return;
    if (tty) {
      std::fprintf(stderr, "\r%s: %llu/%llu %s\033[K", p.phase.c_str(),
                   static_cast<unsigned long long>(p.done),
                   static_cast<unsigned long long>(p.total), p.item.c_str());
      if (p.done == p.total) std::fprintf(stderr, "\n");
    } else if (p.total >= 1000 && (p.done * 10 / p.total) != ((p.done - 1) * 10 / p.total)) {
      std::fprintf(stderr, "%s: %llu/%llu\n", p.phase.c_str(),
                   static_cast<unsigned long long>(p.done),
                   static_cast<unsigned long long>(p.total));
    }
  };
}

CaptureFilter FilterFrom(const Args& a) {
  CaptureFilter f;
  f.include = a.GetAll("include");
  f.exclude = a.GetAll("exclude");
  return f;
}

std::vector<std::string> With(std::vector<std::string> extra) {
  extra.insert(extra.end(), kCommon.begin(), kCommon.end());
  return extra;
}

void PrintCapture(const CaptureResult& r) {
  if (r.set == 0) {
    std::printf("no changes (%llu entries scanned)\n", static_cast<unsigned long long>(r.scanned));
  } else {
    std::printf(
        "set %llu: %llu changed, %llu deleted, %llu unchanged; read %s, stored %s; root %s\n",
        static_cast<unsigned long long>(r.set), static_cast<unsigned long long>(r.changed),
        static_cast<unsigned long long>(r.deleted), static_cast<unsigned long long>(r.unchanged),
        FormatBytes(r.bytes_read).c_str(), FormatBytes(r.bytes_stored).c_str(),
        r.root.ShortHex().c_str());
  }
  for (const auto& d : r.deferred) std::printf("  deferred (changing while read): %s\n", d.c_str());
  for (const auto& s : r.skipped) std::printf("  skipped: %s\n", s.c_str());
}

volatile sig_atomic_t g_stop = 0;
TreeWatcher* g_watcher = nullptr;
void OnSignal(int) {
  g_stop = 1;
  if (g_watcher) g_watcher->Stop();
}

}  // namespace

int CmdInit(const Args& a) {
  if (Status s = a.Check(With({"chunk-avg"})); !s.ok()) return Fail(s);
  auto st = OpenStore(a, OpenMode::kCreate);
  if (!st.ok()) return Fail(st.status());
  auto stats = (*st)->Stats();
  if (!stats.ok()) return Fail(stats.status());
  std::printf("store ready: schema %u, chunker %s\n", stats->schema_version,
              stats->chunker.c_str());
  return kExitOk;
}

int CmdCapture(const Args& a) {
  if (Status s = a.Check(With({"include", "exclude"})); !s.ok()) return Fail(s);
  if (a.positional().size() != 1) return Fail(Status::InvalidArgument("usage: dkctl capture DIR"));
  auto st = OpenStore(a, OpenMode::kReadWrite);
  if (!st.ok()) return Fail(st.status());
  auto r = (*st)->Capture(a.positional()[0], FilterFrom(a), ProgressPrinter());
  if (!r.ok()) return Fail(r.status());
  PrintCapture(*r);
  return kExitOk;
}

int CmdWatch(const Args& a) {
  if (Status s = a.Check(With({"include", "exclude", "debounce-ms", "max-delay-ms"})); !s.ok())
    return Fail(s);
  if (a.positional().size() != 1) return Fail(Status::InvalidArgument("usage: dkctl watch DIR"));
  const std::string dir = a.positional()[0];
  auto st = OpenStore(a, OpenMode::kReadWrite);
  if (!st.ok()) return Fail(st.status());
  WatchOptions wo;
  auto deb = a.GetUint("debounce-ms", wo.debounce_ms);
  auto md = a.GetUint("max-delay-ms", wo.max_delay_ms);
  if (!deb.ok()) return Fail(deb.status());
  if (!md.ok()) return Fail(md.status());
  wo.debounce_ms = static_cast<uint32_t>(*deb);
  wo.max_delay_ms = static_cast<uint32_t>(*md);
  auto w = TreeWatcher::Create(dir, wo);
  if (!w.ok()) return Fail(w.status());
  g_watcher = w->get();
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  CaptureFilter filter = FilterFrom(a);
  auto first = (*st)->Capture(dir, filter, ProgressPrinter());
  if (!first.ok()) return Fail(first.status());
  PrintCapture(*first);
  std::printf("watching %s (%zu directories); Ctrl-C to stop\n", dir.c_str(), (*w)->watched_dirs());
  std::fflush(stdout);
  while (!g_stop) {
    auto b = (*w)->Next();
    if (!b.ok()) return Fail(b.status());
    if (b->events == 0 && b->stopped) break;
    // A capture in flight always finishes before we exit.
    auto r = (*st)->Capture(dir, filter, ProgressPrinter());
    if (!r.ok()) {
      std::fprintf(stderr, "dkctl: capture failed: %s\n", r.status().ToString().c_str());
      if (!r.status().retryable()) return Fail(r.status());
      continue;
    }
    if (r->set || !r->deferred.empty()) PrintCapture(*r);
    std::fflush(stdout);
    if (b->stopped) break;
  }
  std::printf("stopped\n");
  return kExitOk;
}

int CmdLog(const Args& a) {
  if (Status s = a.Check(With({})); !s.ok()) return Fail(s);
  auto st = OpenStore(a, OpenMode::kReadOnly);
  if (!st.ok()) return Fail(st.status());
  if (a.positional().empty()) {
    auto sets = (*st)->Sets();
    if (!sets.ok()) return Fail(sets.status());
    std::printf("%-6s %-24s %-8s %-7s %-10s %s\n", "SET", "TIME", "CHANGED", "FILES", "SIZE",
                "ROOT");
    for (const auto& s : *sets) {
      std::printf("%-6llu %-24s %-8llu %-7llu %-10s %s\n", static_cast<unsigned long long>(s.set),
                  FormatTime(s.time_ns).c_str(), static_cast<unsigned long long>(s.changed),
                  static_cast<unsigned long long>(s.live_entries),
                  FormatBytes(s.logical_bytes).c_str(), s.root.ShortHex().c_str());
    }
    return kExitOk;
  }
  if (a.positional().size() != 1) return Fail(Status::InvalidArgument("usage: dkctl log [PATH]"));
  auto log = (*st)->Log(a.positional()[0]);
  if (!log.ok()) return Fail(log.status());
  std::printf("%-5s %-6s %-24s %-9s %-8s %-10s %-6s %-10s %s\n", "SEQ", "SET", "TIME", "KIND",
              "TYPE", "SIZE", "MODE", "STORED", "ROOT");
  for (const auto& v : *log) {
    std::printf("%-5llu %-6llu %-24s %-9s %-8s %-10s %04o   %-10s %s\n",
                static_cast<unsigned long long>(v.seq), static_cast<unsigned long long>(v.set),
                FormatTime(v.time_ns).c_str(), std::string(VersionKindName(v.kind)).c_str(),
                std::string(EntryTypeName(v.type)).c_str(), FormatBytes(v.size).c_str(), v.mode,
                FormatBytes(v.new_stored_bytes).c_str(), v.root.ShortHex().c_str());
  }
  return kExitOk;
}

int CmdRestore(const Args& a) {
  if (Status s = a.Check(With({"set", "time", "path", "no-owner"})); !s.ok()) return Fail(s);
  if (a.positional().size() != 1)
    return Fail(
        Status::InvalidArgument("usage: dkctl restore DIR [--set N | --time T] [--path P]..."));
  auto st = OpenStore(a, OpenMode::kReadOnly);
  if (!st.ok()) return Fail(st.status());
  RestoreRequest req;
  if (a.Has("set")) {
    auto n = a.GetUint("set", 0);
    if (!n.ok()) return Fail(n.status());
    req.set = *n;
  }
  if (auto t = a.Get("time")) {
    auto ns = ParseTime(*t);
    if (!ns.ok()) return Fail(ns.status());
    req.time_ns = *ns;
  }
  if (req.set && req.time_ns)
    return Fail(Status::InvalidArgument("give --set or --time, not both"));
  req.paths = a.GetAll("path");
  req.restore_owner = !a.Has("no-owner");
  req.progress = ProgressPrinter();
  auto r = (*st)->Restore(a.positional()[0], req);
  if (!r.ok()) return Fail(r.status());
  std::printf(
      "restored set %llu into %s: %llu files (%s), %llu dirs, %llu symlinks, %llu removed; "
      "root %s verified\n",
      static_cast<unsigned long long>(r->set), a.positional()[0].c_str(),
      static_cast<unsigned long long>(r->files), FormatBytes(r->bytes).c_str(),
      static_cast<unsigned long long>(r->dirs), static_cast<unsigned long long>(r->symlinks),
      static_cast<unsigned long long>(r->deleted), r->root.ShortHex().c_str());
  for (const auto& f : r->failures)
    std::printf("  FAILED %s (version %llu): %s\n", f.path.c_str(),
                static_cast<unsigned long long>(f.seq), f.error.c_str());
  return r->failures.empty() ? kExitOk : kExitIntegrity;
}

int CmdVerify(const Args& a) {
  if (Status s = a.Check(With({})); !s.ok()) return Fail(s);
  auto st = OpenStore(a, OpenMode::kReadOnly);
  if (!st.ok()) return Fail(st.status());
  auto r = (*st)->Verify(ProgressPrinter());
  if (!r.ok()) return Fail(r.status());
  std::printf("checked %llu objects (%s), %llu versions, %llu sets: %s\n",
              static_cast<unsigned long long>(r->objects), FormatBytes(r->bytes_checked).c_str(),
              static_cast<unsigned long long>(r->versions),
              static_cast<unsigned long long>(r->sets),
              r->problems.empty() ? "OK" : "PROBLEMS FOUND");
  for (const auto& p : r->problems) std::printf("  %s\n", p.c_str());
  return r->problems.empty() ? kExitOk : kExitIntegrity;
}

int CmdGc(const Args& a) {
  if (Status s = a.Check(With({"keep-last", "keep-within", "no-compact", "recompress"})); !s.ok())
    return Fail(s);
  RetentionPolicy p;
  auto kl = a.GetUint("keep-last", 0);
  if (!kl.ok()) return Fail(kl.status());
  p.keep_last = static_cast<uint32_t>(*kl);
  if (auto kw = a.Get("keep-within")) {
    auto d = ParseDuration(*kw);
    if (!d.ok()) return Fail(d.status());
    p.keep_within_ns = *d;
  }
  p.compact = !a.Has("no-compact");
  auto rl = a.GetUint("recompress", 0);
  if (!rl.ok()) return Fail(rl.status());
  p.recompress_level = static_cast<int>(*rl);
  auto st = OpenStore(a, OpenMode::kReadWrite);
  if (!st.ok()) return Fail(st.status());
  auto r = (*st)->Gc(p);
  if (!r.ok()) return Fail(r.status());
  std::printf(
      "dropped %llu versions and %llu sets; freed %llu objects, rebased %llu; "
      "recompression saved %s; %llu objects moved out of %llu removed packs; "
      "on disk %s -> %s (reclaimed %s)\n",
      static_cast<unsigned long long>(r->versions_dropped),
      static_cast<unsigned long long>(r->sets_dropped),
      static_cast<unsigned long long>(r->objects_freed),
      static_cast<unsigned long long>(r->objects_rebased), FormatBytes(r->recompress_saved).c_str(),
      static_cast<unsigned long long>(r->objects_repacked),
      static_cast<unsigned long long>(r->packs_removed), FormatBytes(r->bytes_before).c_str(),
      FormatBytes(r->bytes_after).c_str(),
      FormatBytes(r->bytes_before > r->bytes_after ? r->bytes_before - r->bytes_after : 0).c_str());
  return kExitOk;
}

int CmdStats(const Args& a) {
  if (Status s = a.Check(With({})); !s.ok()) return Fail(s);
  auto st = OpenStore(a, OpenMode::kReadOnly);
  if (!st.ok()) return Fail(st.status());
  auto r = (*st)->Stats();
  if (!r.ok()) return Fail(r.status());
  auto ratio = [](uint64_t a1, uint64_t b1) { return b1 ? static_cast<double>(a1) / b1 : 0.0; };
  std::printf("schema          %u\nchunker         %s\n", r->schema_version, r->chunker.c_str());
  std::printf("paths           %llu (%llu live, %s)\n", static_cast<unsigned long long>(r->files),
              static_cast<unsigned long long>(r->live_files), FormatBytes(r->live_bytes).c_str());
  std::printf("versions        %llu in %llu capture sets\n",
              static_cast<unsigned long long>(r->versions),
              static_cast<unsigned long long>(r->sets));
  std::printf("logical bytes   %s (every version's size added up)\n",
              FormatBytes(r->logical_bytes).c_str());
  std::printf("stored bytes    %s in %llu objects (%llu whole, %llu deltas)\n",
              FormatBytes(r->stored_bytes).c_str(), static_cast<unsigned long long>(r->objects),
              static_cast<unsigned long long>(r->full_objects),
              static_cast<unsigned long long>(r->delta_objects));
  std::printf("saving          %.1fx (logical / stored)\n",
              ratio(r->logical_bytes, r->stored_bytes));
  std::printf("data file       %s on disk\n", FormatBytes(r->file_bytes).c_str());
  std::printf(
      "pack files      %llu, %s on disk, %s of it in use (`dkctl gc` rewrites packs at "
      "least a quarter unused)\n",
      static_cast<unsigned long long>(r->packs), FormatBytes(r->pack_bytes).c_str(),
      FormatBytes(r->packed_live_bytes).c_str());
  // Where the data file's pages go; "other" is LMDB's own (meta pages, freelist, catalog).
  uint64_t accounted = r->free_pages;
  std::printf("pages           %llu of %s:\n", static_cast<unsigned long long>(r->pages),
              FormatBytes(r->page_size).c_str());
  for (const auto& d : r->databases) {
    accounted += d.pages;
    std::printf("  %-13s %8llu pages %10s  %llu entries, %llu overflow pages\n", d.name.c_str(),
                static_cast<unsigned long long>(d.pages),
                FormatBytes(d.pages * r->page_size).c_str(),
                static_cast<unsigned long long>(d.entries),
                static_cast<unsigned long long>(d.overflow_pages));
  }
  std::printf("  %-13s %8llu pages %10s  reused by later writes; `dkctl gc` compacts\n", "free",
              static_cast<unsigned long long>(r->free_pages),
              FormatBytes(r->free_pages * r->page_size).c_str());
  uint64_t other = r->pages > accounted ? r->pages - accounted : 0;
  std::printf("  %-13s %8llu pages %10s\n", "other", static_cast<unsigned long long>(other),
              FormatBytes(other * r->page_size).c_str());
  return kExitOk;
}

int CmdDiff(const Args& a) {
  if (Status s = a.Check(With({})); !s.ok()) return Fail(s);
  if (a.positional().size() != 3)
    return Fail(Status::InvalidArgument("usage: dkctl diff PATH A B"));
  auto st = OpenStore(a, OpenMode::kReadOnly);
  if (!st.ok()) return Fail(st.status());
  const std::string& path = a.positional()[0];
  uint64_t va = std::strtoull(a.positional()[1].c_str(), nullptr, 10);
  uint64_t vb = std::strtoull(a.positional()[2].c_str(), nullptr, 10);
  auto log = (*st)->Log(path);
  if (!log.ok()) return Fail(log.status());
  const VersionInfo *ia = nullptr, *ib = nullptr;
  for (const auto& v : *log) {
    if (v.seq == va) ia = &v;
    if (v.seq == vb) ib = &v;
  }
  if (!ia || !ib)
    return Fail(Status::NotFound("versions " + a.positional()[1] + " and " + a.positional()[2] +
                                 " of " + path + " must both exist"));
  std::printf(
      "%s: version %llu (%s, %s, mode %04o) -> version %llu (%s, %s, mode %04o)\n", path.c_str(),
      static_cast<unsigned long long>(va), std::string(VersionKindName(ia->kind)).c_str(),
      FormatBytes(ia->size).c_str(), ia->mode, static_cast<unsigned long long>(vb),
      std::string(VersionKindName(ib->kind)).c_str(), FormatBytes(ib->size).c_str(), ib->mode);
  if (ia->kind == VersionKind::kDeleted || ib->kind == VersionKind::kDeleted) return kExitOk;
  size_t shared = 0;
  for (const auto& c : ib->chunks)
    for (const auto& d : ia->chunks)
      if (c == d) {
        ++shared;
        break;
      }
  std::printf("chunks: %zu of %zu unchanged\n", shared, ib->chunks.size());
  auto ca = (*st)->ReadVersion(path, va);
  auto cb = (*st)->ReadVersion(path, vb);
  if (!ca.ok()) return Fail(ca.status());
  if (!cb.ok()) return Fail(cb.status());
  // Differing byte ranges (aligned comparison) — up to 20 shown.
  size_t n = std::min(ca->size(), cb->size()), shown = 0, ranges = 0, changed = 0;
  for (size_t i = 0; i < n;) {
    if ((*ca)[i] == (*cb)[i]) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < n && (*ca)[j] != (*cb)[j]) ++j;
    ++ranges;
    changed += j - i;
    if (shown++ < 20) std::printf("  bytes %zu..%zu differ\n", i, j - 1);
    i = j;
  }
  if (ca->size() != cb->size())
    std::printf("  size %zu -> %zu (%+lld bytes)\n", ca->size(), cb->size(),
                static_cast<long long>(cb->size()) - static_cast<long long>(ca->size()));
  std::printf("%zu differing ranges, %zu bytes differ in the common prefix\n", ranges, changed);
  return kExitOk;
}

}  // namespace dk::cli
