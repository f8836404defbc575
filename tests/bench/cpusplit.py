#!/usr/bin/env python3
"""cpusplit.py [--watch NAME=PID]... [--out FILE] [--keep-output] -- CMD [ARG]...:
run CMD (its stdout to /dev/null unless --keep-output) and print one line
(or append it to FILE),

    wall=S postgres=S pg_dump=S ... rss_pgp=KB

the user+sys CPU seconds, during CMD's run, of every process in the trees
of CMD and of each watched PID (the postmaster, s3rver, the strict proxy),
by kind: postgres (backends and the postmaster's other children),
pg_dump (and pg_dumpall), pg_restore, pgp-backup (all its threads),
s3rver (node), proxy (the watched python), gzip, aws, other, and this
sampler itself; rss_pgp is pgp-backup's peak RSS (VmHWM).

/proc/PID/stat is read every --interval seconds (0.05): a process that
exits loses at most its last interval, and one born and gone between two
samples is missed (none here lives that briefly doing real work).  A
process alive at the start counts only what it used after it."""
import os
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")
KINDS = {"postgres": "postgres", "pg_dump": "pg_dump", "pg_dumpall": "pg_dump",
         "pg_restore": "pg_restore", "pgp-backup": "pgp-backup", "node": "s3rver",
         "gzip": "gzip", "aws": "aws"}
ORDER = ["postgres", "pg_dump", "pg_restore", "pgp-backup", "s3rver", "proxy", "gzip", "aws",
         "other", "sampler"]


def stat(pid):
    """(ppid, comm, cpu ticks, start time) of pid, or None when it is gone."""
    try:
        with open("/proc/%s/stat" % pid, "rb") as f:
            s = f.read().decode("ascii", "replace")
    except OSError:
        return None
    comm = s[s.index("(") + 1:s.rindex(")")]
    rest = s[s.rindex(")") + 2:].split()
    # fields after comm: state ppid ... utime(14th overall) stime starttime(22nd)
    return int(rest[1]), comm, int(rest[11]) + int(rest[12]), int(rest[19])


def hwm(pid):
    try:
        with open("/proc/%s/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main():
    args = sys.argv[1:]
    watch, interval, keep, out = {}, 0.05, False, None
    while args and args[0] != "--":
        opt = args.pop(0)
        if opt == "--watch":
            name, _, pid = args.pop(0).partition("=")
            watch[int(pid)] = name
        elif opt == "--interval":
            interval = float(args.pop(0))
        elif opt == "--keep-output":
            keep = True
        elif opt == "--out":
            out = args.pop(0)
        else:
            sys.exit("cpusplit.py: unknown option " + opt)
    cmd = args[1:]
    if not cmd:
        sys.exit(__doc__)
    roots = set(watch)
    kind_of_root = dict(watch)
    base = {}	# (pid, start) -> ticks at the start, for processes already there
    last = {}	# (pid, start) -> (kind, ticks)
    peak = 0

    def sample(first=False):
        nonlocal peak
        procs = {}
        for d in os.listdir("/proc"):
            if d.isdigit():
                st = stat(d)
                if st:
                    procs[int(d)] = st
        # descendants of the roots, in one pass per generation
        inside = {p: kind_of_root[p] for p in roots if p in procs}
        grew = True
        while grew:
            grew = False
            for p, st in procs.items():
                if p not in inside and st[0] in inside:
                    parent = inside[st[0]]
                    # the postmaster's children are postgres; CMD's by their name
                    inside[p] = parent if parent in ("postgres",) else KINDS.get(st[1], "other")
                    grew = True
        for p, kind in inside.items():
            if kind is None:
                kind = KINDS.get(procs[p][1], "other")
            key = (p, procs[p][3])
            if first:
                base[key] = procs[p][2]
            last[key] = (kind, procs[p][2])
            if kind == "pgp-backup":
                peak = max(peak, hwm(p))

    sample(first=True)
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        if not keep:
            fd = os.open(os.devnull, os.O_WRONLY)
            os.dup2(fd, 1)
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    roots.add(pid)
    kind_of_root[pid] = None
    status = None
    while status is None:
        sample()
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = st
        else:
            time.sleep(interval)
    wall = time.perf_counter() - t0
    sample()
    cpu = dict.fromkeys(ORDER, 0.0)
    for key, (kind, ticks) in last.items():
        cpu[kind] += (ticks - base.get(key, 0)) / TICK
    t = os.times()
    cpu["sampler"] = t.user + t.system
    line = "wall=%.2f %s rss_pgp=%d exit=%d\n" % (wall, " ".join("%s=%.2f" % (k, cpu[k]) for k in ORDER), peak,
                                                   os.waitstatus_to_exitcode(status))
    if out:
        with open(out, "a") as f:
            f.write(line)
    else:
        sys.stdout.write(line)
    sys.exit(os.waitstatus_to_exitcode(status))


main()
