"""One 10-minute upload, transcoded three ways, and the worker pool a busy hour needs."""
import math

VIDEO_S = 600
CHUNK_S = 30
PROBE_S, PACKAGE_S = 2, 20         # read the file's metadata first; stitch and package at the end
SPEED = {"1080p": 1, "720p": 2, "480p": 4, "360p": 6}   # seconds of video encoded per second of work

work = {name: VIDEO_S / speed for name, speed in SPEED.items()}
total_work = sum(work.values())
chunks = math.ceil(VIDEO_S / CHUNK_S)

print(f"encoding work per video: {total_work:.0f} worker-seconds in every design")
print(f"one worker, rendition after rendition: ready after {PROBE_S + total_work + PACKAGE_S:.0f} s")
print(f"a worker per rendition:                ready after {PROBE_S + max(work.values()) + PACKAGE_S:.0f} s")
slowest_chunk = CHUNK_S / min(SPEED.values())
print(f"{chunks} chunks x {len(SPEED)} renditions = {chunks * len(SPEED)} tasks: ready after"
      f" {PROBE_S + slowest_chunk + PACKAGE_S:.0f} s; 720p playable after {PROBE_S + CHUNK_S / SPEED['720p'] + PACKAGE_S:.0f} s")
print()

UPLOADS_PER_HOUR = 500               # peak hour, 10-minute videos on average
busy = UPLOADS_PER_HOUR * total_work / 3600
print(f"peak hour: {busy:.1f} workers busy on average; {math.ceil(busy / 0.75)} keep them 75% busy")
for pool in (120, 213):
    growth = busy - pool
    if growth > 0:
        waiting = growth * 3600 / total_work
        print(f"  {pool} workers: the backlog grows {growth:.1f} worker-seconds a second, {waiting:.0f} videos behind after the hour")
    else:
        print(f"  {pool} workers: no backlog; spare capacity {-growth:.1f} worker-seconds a second")
