/*
 * Facts about the machine a server runs on: memory and CPUs as the
 * process really gets them (cgroup v1 and v2 limits and CPU quotas, CPU
 * affinity), and whether a disk spins.  Every function reads below a root
 * directory ("/" on a real system) so tests can fabricate any layout.
 */
#ifndef PGP_SYSINFO_H
#define PGP_SYSINFO_H

/*
 * Usable memory: MemTotal, lowered by any cgroup memory limit on the way
 * from the process's cgroup to the hierarchy's root.  *source says which
 * ("meminfo", "cgroup v1", "cgroup v2").  0 or -1 (logged).
 */
int pgp_sys_memory(const char *root, unsigned long long *bytes, const char **source);

/*
 * Usable CPUs: online CPUs (the affinity mask on a real root), lowered by a
 * cpuset and a CFS quota (rounded up).  *source as above plus "affinity",
 * "online".  0 or -1 (logged).
 */
int pgp_sys_cpus(const char *root, int *cpus, const char **source);

/* Rotational flag of block device major:minor: 1 spins, 0 not, -1 unknown. */
int pgp_sys_rotational(const char *root, unsigned major, unsigned minor);

/* Same for the device holding path (stat(2) on the real file system). */
int pgp_sys_path_rotational(const char *root, const char *path);

/* Parse a CPU list such as "0-3,8,10-11"; the count, or -1 if malformed. */
int pgp_sys_count_cpu_list(const char *list);

#endif
