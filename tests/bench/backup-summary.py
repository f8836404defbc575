#!/usr/bin/env python3
"""backup-summary.py RESULTS: the medians, ratios and CPU split of
tests/bench/backup.sh's result lines ("SET CASE ROUND bytes=N wall=S
postgres=S ... rss_pgp=KB exit=N"), against issue 12's targets.  A ratio
is the median of each round's own ratio (the cases of one round ran
minutes apart, under the same load), with the range over the rounds."""
import sys
from collections import defaultdict
from statistics import median

KINDS = ["postgres", "pg_dump", "pg_restore", "pgp-backup", "s3rver", "proxy", "gzip", "aws", "other", "sampler"]
NAMES = {"A": "pgp-backup to S3 (zstd)", "A0": "A by the --compare build",
         "AD": "A, endpoint --delay away", "A0D": "A0, endpoint --delay away", "E": "pgp-backup to S3 (zstd+age)",
         "L": "pgp-backup to a directory", "B": "pg_dump -Fc to a file", "C": "pg_dump|gzip -6|aws s3 cp",
         "R1": "restore streamed from S3", "R1E": "restore of E (--identity)", "R2": "createdb + pg_restore, file"}
# (numerator, denominator, target, on which set or None for both)
RATIOS = [("A", "B", 1.0, "pgbench"), ("A", "B", 0.6, "real"), ("E", "A", 1.10, None),
          ("E", "B", 1.1, "pgbench"), ("E", "B", 0.66, "real"),
          ("A", "A0", None, None), ("AD", "A0D", None, None), ("AD", "A", None, None),
          ("L", "B", None, None), ("A", "L", None, None), ("C", "A", None, None),
          ("R1", "R2", 1.2, None), ("R1E", "R2", 1.2, None), ("R1E", "R1", None, None)]

runs = defaultdict(dict)	# (set, case) -> {round: {key: value}}
failed = []
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) < 5:
        continue
    d = {k: float(v) for k, v in (kv.split("=", 1) for kv in f[3:])}
    if d.get("exit", 0) != 0:
        failed.append(line.strip())
    runs[(f[0], f[1])][f[2]] = d


def med(s, c, key):
    v = [d[key] for d in runs.get((s, c), {}).values() if key in d]
    return median(v) if v else None


for line in failed:
    print("FAILED (its figures are in the medians: rerun):", line)
for s in dict.fromkeys(k[0] for k in runs):
    n = max(len(v) for (s2, _), v in runs.items() if s2 == s)
    print("\n== %s: %d round(s), medians ==" % (s, n))
    print("%-4s %-29s %8s %11s  %s" % ("", "", "wall s", "bytes", "CPU s by process (% of one core over the wall)"))
    for c in NAMES:
        if (s, c) not in runs:
            continue
        wall = med(s, c, "wall")
        cpu = {k: med(s, c, k) or 0.0 for k in KINDS}
        busy = sorted((k for k in KINDS if cpu[k] >= 0.05 and k != "sampler"), key=lambda k: -cpu[k])
        split = "  ".join("%s %.1f (%d%%)" % (k, cpu[k], 100 * cpu[k] / wall) for k in busy)
        b = med(s, c, "bytes")
        walls = "/".join("%.1f" % runs[(s, c)][r]["wall"] for r in sorted(runs[(s, c)]))
        print("%-4s %-29s %8.1f %11s  %s" % (c, NAMES[c], wall, "%d" % b if b else "", split))
        if busy:
            total = sum(cpu[k] for k in KINDS)
            print("%-34s rounds %s s; CPU %.1f s = %.2f cores; busiest: %s at %d%% of a core"
                  % ("", walls, total, total / wall, busy[0], 100 * cpu[busy[0]] / wall))
    for num, den, target, only in RATIOS:
        if only not in (None, s) or (s, num) not in runs or (s, den) not in runs:
            continue
        rs = [runs[(s, num)][r]["wall"] / runs[(s, den)][r]["wall"] for r in runs[(s, num)] if r in runs[(s, den)]]
        if not rs:
            continue
        r = median(rs)
        verdict = "  (want <= %.2f: %s)" % (target, "met" if r <= target else "NOT met") if target else ""
        print("  %-3s / %-3s wall: %.2f [%.2f-%.2f]%s   %s / %s" % (num, den, r, min(rs), max(rs), verdict,
                                                              NAMES[num], NAMES[den]))
    for c in ("A", "E", "L", "C"):
        if (s, c) in runs and med(s, "B", "bytes") and med(s, c, "bytes"):
            print("  bytes %s / B: %.3f" % (c, med(s, c, "bytes") / med(s, "B", "bytes")))
    for c in ("A", "E", "R1", "R1E"):
        if (s, c) in runs:
            peak = max(d["rss_pgp"] for d in runs[(s, c)].values())
            print("  peak RSS of pgp-backup in %s: %d kB (%s 64 MB)" % (c, peak, "under" if peak < 65536 else "OVER"))
