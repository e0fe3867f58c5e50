"""A photo upload at the evening peak: what the user waits for, and how many workers each queue needs."""
import math

PEAK_PER_S = 40            # 1.2 million photos a day is about 14 a second; the evening peak is about 3x that
UPLOAD_S = 4 * 8 / 10      # a 4 MB photo over a 10 Mbit/s phone uplink, paid in every design
TARGET_BUSY = 0.7          # keep each pool 70% busy so a burst queues briefly instead of piling up

# step: median seconds per photo, 95th percentile
STEPS = {
    "record + upload URL": (0.02, 0.05),
    "malware scan": (0.40, 1.50),
    "thumbnails (3 sizes)": (0.25, 0.60),
    "tags and caption": (0.90, 3.40),
    "notify the owner": (0.10, 0.30),
}
p50 = {step: times[0] for step, times in STEPS.items()}

print(f"all inline: the upload screen spins {UPLOAD_S + sum(p50.values()):.2f} s at the median")
print(f"queued:     it says 'processing' after {UPLOAD_S + p50['record + upload URL']:.2f} s")
visible = max(p50["malware scan"], p50["thumbnails (3 sizes)"])  # both gate visibility; they run side by side
print(f"            others may see the photo {visible:.2f} s after that")
print()
print(f"{'queue':<22}{'busy at peak':>13}{'workers':>9}")
for step, (median, _) in STEPS.items():
    if step.startswith("record"):
        continue  # answered inside the request
    busy = PEAK_PER_S * median  # Little's law: work in progress = arrival rate x time per item
    print(f"{step:<22}{busy:>13.1f}{math.ceil(busy / TARGET_BUSY):>9}")
print()
print("polling until the caption is ready (median 0.9 s, p95 3.4 s):")
for interval in (0.5, 1.0, 2.0):
    polls = [math.ceil(done / interval) for done in STEPS["tags and caption"]]
    late = [n * interval - done for n, done in zip(polls, STEPS["tags and caption"], strict=True)]
    print(f"  every {interval} s: {polls[0]} reads, {late[0]:.1f} s late (median);"
          f" {polls[1]} reads, {late[1]:.1f} s late (p95); {polls[0] * PEAK_PER_S} reads/s at peak")
