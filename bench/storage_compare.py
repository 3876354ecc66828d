#!/usr/bin/env python3
"""Storage benchmark: DiffKeeper (dkctl) side by side with xdelta3, zstd --patch-from,
bsdiff, restic and borg, on four workloads of 10 versions each:

  a) a 64 MiB float32 checkpoint, 10% of the values changed per version
  b) a 32 MiB page file, 2% of its 4 KiB pages rewritten + 256 KiB appended per version
  c) 2,000 small files, 5% edited, 20 added, 10 deleted per version
  d) an 8 MiB file with small insertions/deletions at 50 places per version

For every tool it reports the bytes stored for all 10 versions, the total time to store them
and the time to get the latest version back. Single-file tools (xdelta3, zstd, bsdiff) store
version 1 compressed and each later version as a patch against the previous one; for the
multi-file workload they work on a deterministic tar of each version. restic and borg back up
the version directory (compression on). Data comes from a fixed seed.

Usage: python3 bench/storage_compare.py --dkctl build/bench/tools/dkctl [--workloads abcd]
       [--versions 10] [--work /tmp/dk-storage] [--tool-timeout 600]
"""
import argparse
import array
import os
import random
import shutil
import subprocess
import sys
import tarfile
import time

MiB = 1 << 20


def run(cmd, env=None, timeout=None, cwd=None):
    e = dict(os.environ)
    if env:
        e.update(env)
    subprocess.run(cmd, check=True, env=e, timeout=timeout, cwd=cwd,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def du(path):
    total = 0
    if os.path.isfile(path):
        return os.stat(path).st_blocks * 512
    for d, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(d, f)).st_blocks * 512
            except FileNotFoundError:
                pass
    return total


def logical_size(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


# ---------------------------------------------------------------- workloads

def gen_checkpoint(rng, versions, out):
    n = 16 * MiB // 4 * 4  # 16M float32 = 64 MiB
    vals = array.array('f', (rng.gauss(0.0, 0.05) for _ in range(n)))
    for v in range(versions):
        if v:
            for i in rng.sample(range(n), n // 10):
                vals[i] += rng.gauss(0.0, 0.001)
        d = os.path.join(out, f"v{v + 1}")
        os.makedirs(d)
        with open(os.path.join(d, "model.ckpt"), "wb") as f:
            vals.tofile(f)


def gen_pagefile(rng, versions, out):
    page = 4096
    data = bytearray(rng.randbytes(32 * MiB))
    # pages look like database pages: a header and half-filled rows that compress ~2:1
    for p in range(0, len(data), page):
        data[p + page // 2:p + page] = bytes(page // 2)
    for v in range(versions):
        if v:
            pages = len(data) // page
            for p in rng.sample(range(pages), pages * 2 // 100):
                data[p * page:p * page + page // 2] = rng.randbytes(page // 2)
            tail = bytearray(rng.randbytes(256 * 1024))
            for p in range(0, len(tail), page):
                tail[p + page // 2:p + page] = bytes(page // 2)
            data += tail
        d = os.path.join(out, f"v{v + 1}")
        os.makedirs(d)
        with open(os.path.join(d, "pages.db"), "wb") as f:
            f.write(data)


WORDS = ("state pod volume capture restore chunk delta merkle root node agent kube "
         "config replica leader lease watch informer queue store version").split()


def text(rng, n):
    out = []
    size = 0
    while size < n:
        w = " ".join(rng.choice(WORDS) for _ in range(8)) + f" {rng.randrange(10**6)}\n"
        out.append(w)
        size += len(w)
    return "".join(out)[:n].encode()


def gen_smallfiles(rng, versions, out):
    files = {}
    for i in range(2000):
        files[f"dir{i % 40:02d}/file{i:05d}.txt"] = text(rng, rng.randrange(200, 8000))
    next_id = 2000
    for v in range(versions):
        if v:
            names = sorted(files)
            for name in rng.sample(names, len(names) * 5 // 100):
                b = bytearray(files[name])
                pos = rng.randrange(len(b))
                b[pos:pos + 40] = text(rng, 60)
                files[name] = bytes(b)
            for name in rng.sample(sorted(files), 10):
                del files[name]
            for _ in range(20):
                files[f"dir{next_id % 40:02d}/file{next_id:05d}.txt"] = text(rng, rng.randrange(200, 8000))
                next_id += 1
        d = os.path.join(out, f"v{v + 1}")
        for name, content in files.items():
            p = os.path.join(d, name)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(content)


def gen_inserts(rng, versions, out):
    data = bytearray(text(rng, 8 * MiB))
    for v in range(versions):
        if v:
            for _ in range(50):
                pos = rng.randrange(len(data))
                if rng.random() < 0.5:
                    data[pos:pos] = text(rng, rng.randrange(1, 200))
                else:
                    del data[pos:pos + rng.randrange(1, 200)]
        d = os.path.join(out, f"v{v + 1}")
        os.makedirs(d)
        with open(os.path.join(d, "document.txt"), "wb") as f:
            f.write(data)


WORKLOADS = {
    "a": ("64 MiB float32 checkpoint, 10% values changed", gen_checkpoint),
    "b": ("32 MiB page file, 2% pages + 256 KiB appended", gen_pagefile),
    "c": ("2,000 small files, 5% edited, +20, -10", gen_smallfiles),
    "d": ("8 MiB file, 50 small inserts/deletes", gen_inserts),
}

# ---------------------------------------------------------------- tools


def single_file(vdir):
    """The one file of a version dir, or a deterministic tar of the dir."""
    entries = os.listdir(vdir)
    if len(entries) == 1 and os.path.isfile(os.path.join(vdir, entries[0])):
        return os.path.join(vdir, entries[0])
    tar = vdir.rstrip("/") + ".tar"
    if not os.path.exists(tar):
        with tarfile.open(tar, "w", format=tarfile.GNU_FORMAT) as t:
            for d, dirs, files in os.walk(vdir):
                dirs.sort()
                for f in sorted(files):
                    p = os.path.join(d, f)
                    info = t.gettarinfo(p, arcname=os.path.relpath(p, vdir))
                    info.mtime = 0
                    info.uid = info.gid = 0
                    info.uname = info.gname = ""
                    with open(p, "rb") as fh:
                        t.addfile(info, fh)
    return tar


def tool_dkctl(args, vdirs, work, recompress=0):
    store = os.path.join(work, "store")
    data = os.path.join(work, "data")
    env = {"DK_STORE": store}
    run([args.dkctl, "init"], env)
    t0 = time.time()
    for v in vdirs:
        # the "application" replaces its data dir content with the next version
        shutil.rmtree(data, ignore_errors=True)
        shutil.copytree(v, data)
        run([args.dkctl, "capture", data], env)
    if recompress:
        run([args.dkctl, "gc", "--recompress", str(recompress)], env)
    t_store = time.time() - t0
    out = os.path.join(work, "restored")
    t0 = time.time()
    run([args.dkctl, "restore", out, "--no-owner"], env)
    t_restore = time.time() - t0
    # The data file and the pack files (lock.mdb and writer.lock hold no data).
    stored = du(os.path.join(store, "data.mdb")) + du(os.path.join(store, "packs"))
    return stored, t_store, t_restore


def chain_tool(make_full, make_patch, apply_full, apply_patch):
    def tool(args, vdirs, work):
        files = [single_file(v) for v in vdirs]
        t0 = time.time()
        stored = []
        first = os.path.join(work, "v1.full")
        make_full(files[0], first)
        stored.append(first)
        for i in range(1, len(files)):
            p = os.path.join(work, f"v{i + 1}.patch")
            make_patch(files[i - 1], files[i], p)
            stored.append(p)
        t_store = time.time() - t0
        t0 = time.time()
        cur = os.path.join(work, "r1")
        apply_full(stored[0], cur)
        for i, p in enumerate(stored[1:], start=2):
            nxt = os.path.join(work, f"r{i}")
            apply_patch(cur, p, nxt)
            os.remove(cur)
            cur = nxt
        t_restore = time.time() - t0
        with open(cur, "rb") as a, open(files[-1], "rb") as b:
            if a.read() != b.read():
                raise RuntimeError("chain did not reproduce the latest version")
        return sum(du(p) for p in stored), t_store, t_restore
    return tool


T = None  # per-tool timeout, set from args

tool_xdelta3 = chain_tool(
    lambda src, out: run(["xdelta3", "-e", "-9", "-f", src, out], timeout=T),
    lambda old, new, out: run(["xdelta3", "-e", "-9", "-f", "-s", old, new, out], timeout=T),
    lambda full, out: run(["xdelta3", "-d", "-f", full, out], timeout=T),
    lambda old, patch, out: run(["xdelta3", "-d", "-f", "-s", old, patch, out], timeout=T))

tool_zstd = chain_tool(
    lambda src, out: run(["zstd", "-q", "-19", "--long=27", "-f", src, "-o", out], timeout=T),
    lambda old, new, out: run(["zstd", "-q", "-19", "-f", f"--patch-from={old}", new, "-o", out],
                              timeout=T),
    lambda full, out: run(["zstd", "-q", "-d", "--long=27", "-f", full, "-o", out], timeout=T),
    lambda old, patch, out: run(["zstd", "-q", "-d", "--long=31", "-f", f"--patch-from={old}",
                                 patch, "-o", out], timeout=T))

tool_bsdiff = chain_tool(
    lambda src, out: run(["sh", "-c", f"bzip2 -9 -c '{src}' > '{out}'"], timeout=T),
    lambda old, new, out: run(["bsdiff", old, new, out], timeout=T),
    lambda full, out: run(["sh", "-c", f"bzip2 -d -c '{full}' > '{out}'"], timeout=T),
    lambda old, patch, out: run(["bspatch", old, out, patch], timeout=T))


def tool_restic(args, vdirs, work):
    repo = os.path.join(work, "repo")
    env = {"RESTIC_PASSWORD": "bench", "RESTIC_REPOSITORY": repo, "RESTIC_CACHE_DIR": os.path.join(work, "cache")}
    run(["restic", "init", "--repository-version", "2"], env, timeout=T)
    data = os.path.join(work, "data")
    t0 = time.time()
    for v in vdirs:
        shutil.rmtree(data, ignore_errors=True)
        shutil.copytree(v, data)
        run(["restic", "backup", "--compression", "max", "--host", "bench", data], env, timeout=T)
    t_store = time.time() - t0
    t0 = time.time()
    run(["restic", "restore", "latest", "--target", os.path.join(work, "restored")], env, timeout=T)
    t_restore = time.time() - t0
    return du(repo), t_store, t_restore


def tool_borg(args, vdirs, work):
    repo = os.path.join(work, "repo")
    env = {"BORG_PASSPHRASE": "", "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "yes",
           "BORG_BASE_DIR": os.path.join(work, "base")}
    run(["borg", "init", "-e", "none", repo], env, timeout=T)
    data = os.path.join(work, "data")
    t0 = time.time()
    for i, v in enumerate(vdirs):
        shutil.rmtree(data, ignore_errors=True)
        shutil.copytree(v, data)
        run(["borg", "create", "--compression", "zstd,19", f"{repo}::v{i + 1}", "data"], env,
            timeout=T, cwd=work)
    t_store = time.time() - t0
    out = os.path.join(work, "restored")
    os.makedirs(out)
    t0 = time.time()
    run(["borg", "extract", f"{repo}::v{len(vdirs)}"], env, timeout=T, cwd=out)
    t_restore = time.time() - t0
    return du(repo), t_store, t_restore


def tool_dkctl_at_rest(args, vdirs, work):
    return tool_dkctl(args, vdirs, work, recompress=19)


TOOLS = [("diffkeeper", tool_dkctl), ("diffkeeper +gc -19", tool_dkctl_at_rest), ("xdelta3 -9", tool_xdelta3), ("zstd -19 --patch-from", tool_zstd),
         ("bsdiff", tool_bsdiff), ("restic (max)", tool_restic), ("borg (zstd 19)", tool_borg)]


def fmt_bytes(b):
    return f"{b / MiB:9.2f} MiB"


def main():
    global T
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dkctl", required=True)
    ap.add_argument("--workloads", default="abcd")
    ap.add_argument("--versions", type=int, default=10)
    ap.add_argument("--work", default="/tmp/dk-storage")
    ap.add_argument("--tools", default=",".join(n for n, _ in TOOLS))
    ap.add_argument("--tool-timeout", type=int, default=900)
    args = ap.parse_args()
    T = args.tool_timeout
    args.dkctl = os.path.abspath(args.dkctl)
    wanted = args.tools.split(",")
    rows = []
    for w in args.workloads:
        title, gen = WORKLOADS[w]
        base = os.path.join(args.work, w)
        shutil.rmtree(base, ignore_errors=True)
        vroot = os.path.join(base, "versions")
        os.makedirs(vroot)
        print(f"workload {w}: {title}: generating {args.versions} versions", file=sys.stderr)
        gen(random.Random(1000 + ord(w)), args.versions, vroot)
        vdirs = [os.path.join(vroot, f"v{i + 1}") for i in range(args.versions)]
        logical = sum(logical_size(v) for v in vdirs)
        ours = None
        for name, fn in TOOLS:
            if name not in wanted:
                continue
            work = os.path.join(base, "tool-" + "".join(c if c.isalnum() else "_" for c in name))
            os.makedirs(work)
            print(f"  {name} ...", file=sys.stderr)
            try:
                stored, ts, tr = fn(args, vdirs, work)
                if name == "diffkeeper":
                    ours = stored
                rows.append((w, name, stored, ts, tr, logical, None))
                print(f"    {name}: stored {fmt_bytes(stored)}, store {ts:.2f}s, restore {tr:.2f}s",
                      file=sys.stderr)
            except subprocess.TimeoutExpired:
                rows.append((w, name, None, None, None, logical, f"timed out after {T}s"))
            except subprocess.CalledProcessError as e:
                rows.append((w, name, None, None, None, logical, "failed: " + e.stderr.decode()[-200:].strip()))
            shutil.rmtree(work, ignore_errors=True)
        for i, r in enumerate(rows):
            if r[0] == w and ours:
                rows[i] = r[:6] + (r[6] or "",) + (ours,)
        shutil.rmtree(base, ignore_errors=True)
    print()
    print(f"{'wl':3} {'tool':24} {'stored':>14} {'vs ours':>8} {'store time':>11} {'restore':>9}  note")
    for r in rows:
        w, name, stored, ts, tr, logical = r[:6]
        note = r[6] if len(r) > 6 else ""
        ours = r[7] if len(r) > 7 else None
        if stored is None:
            print(f"{w:3} {name:24} {'-':>14} {'-':>8} {'-':>11} {'-':>9}  {note}")
            continue
        ratio = f"{stored / ours:7.2f}x" if ours else "-"
        print(f"{w:3} {name:24} {fmt_bytes(stored)} {ratio:>8} {ts:10.2f}s {tr:8.2f}s  "
              f"logical {logical / MiB:.0f} MiB")
    print("\n'vs ours' = the tool's stored bytes / DiffKeeper's (above 1.00x: DiffKeeper stores less).")


if __name__ == "__main__":
    main()
