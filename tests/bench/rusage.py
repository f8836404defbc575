#!/usr/bin/env python3
"""rusage.py CMD [ARG]...: run CMD (output to /dev/null) and print
"wall_s user_s sys_s maxrss_kB exit" for it and every descendant it
waited for (wait4), with microsecond resolution, which /usr/bin/time's
centiseconds lack for a 10 ms program.  (tests/bench/alert.sh)"""
import os
import sys
import time

t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    fd = os.open(os.devnull, os.O_WRONLY)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    try:
        os.execvp(sys.argv[1], sys.argv[1:])
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
wall = time.perf_counter() - t0
print("%.6f %.6f %.6f %d %d" % (wall, ru.ru_utime, ru.ru_stime, ru.ru_maxrss, os.waitstatus_to_exitcode(status)))
