#!/usr/bin/env python3
"""The application of the mission e2e StatefulSets (run by the node simulator as the pod's
container; the data directory is the pod's emptyDir, rewritten to its host path).

    workload.py DATA_DIR CONTROL_DIR [--blob-mib N] [--interval S]

Every tick it appends a line to log.txt, rewrites notes.txt, rewrites a 64 KiB region of
blob.bin (N MiB, default 20, created once), and inserts a row into the SQLite database app.db
in one transaction; state.json (written last, temp + rename) holds the tick number. A started
pod that finds state.json continues from it (it was restored) and says so on stdout.

CONTROL_DIR is a host directory outside the volume: while CONTROL_DIR/pause exists the
workload does not write, and it acknowledges that with CONTROL_DIR/<pod>.paused (the tick it
stopped at), so a test knows the volume is quiet. POD_NAME comes from the downward API.
"""
import json
import os
import random
import sqlite3
import sys
import time


def atomic_write(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


def main():
    args = sys.argv[1:]
    data, control = args[0], args[1]
    blob_mib, interval = 20, 0.5
    if "--blob-mib" in args:
        blob_mib = int(args[args.index("--blob-mib") + 1])
    if "--interval" in args:
        interval = float(args[args.index("--interval") + 1])
    pod = os.environ.get("POD_NAME", "pod")
    os.makedirs(data, exist_ok=True)
    os.makedirs(control, exist_ok=True)
    state_path = os.path.join(data, "state.json")
    tick = 0
    if os.path.exists(state_path):
        with open(state_path) as f:
            tick = json.load(f)["tick"]
        print(f"{pod}: found state.json at tick {tick}: continuing", flush=True)
    else:
        print(f"{pod}: empty volume: starting at tick 0", flush=True)

    rng = random.Random(f"{pod}-{tick}")
    blob = os.path.join(data, "blob.bin")
    if not os.path.exists(blob):
        atomic_write(blob, rng.randbytes(blob_mib << 20))
    db = sqlite3.connect(os.path.join(data, "app.db"))
    db.execute("CREATE TABLE IF NOT EXISTS ticks (n INTEGER PRIMARY KEY, pod TEXT, payload BLOB)")
    db.commit()

    paused = os.path.join(control, pod + ".paused")
    while True:
        if os.path.exists(os.path.join(control, "pause")):
            if not os.path.exists(paused):
                atomic_write(paused, str(tick).encode())
            time.sleep(0.1)
            continue
        if os.path.exists(paused):
            os.unlink(paused)
        tick += 1
        with open(os.path.join(data, "log.txt"), "a") as f:
            f.write(f"{time.time():.3f} {pod} tick {tick}\n")
        atomic_write(os.path.join(data, "notes.txt"), f"{pod} last tick {tick}\n".encode() * 20)
        with open(blob, "r+b") as f:
            regions = (blob_mib << 20) // 65536
            f.seek((tick * 7919 % regions) * 65536)
            f.write(rng.randbytes(65536))
        with db:
            db.execute("INSERT INTO ticks VALUES (?, ?, ?)", (tick, pod, rng.randbytes(512)))
        atomic_write(state_path, json.dumps({"tick": tick, "pod": pod}).encode())
        time.sleep(interval)


if __name__ == "__main__":
    main()
