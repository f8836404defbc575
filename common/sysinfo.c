/*
 * Memory, CPU and storage facts, cgroup-aware.  Containers are the common
 * case where naive tools go wrong (a 4 GB container on a 256 GB host is a
 * 4 GB machine), so every limit on the path to the cgroup root counts.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "log.h"
#include "sysinfo.h"

#define LINE_MAX_LEN 4096

/* Read the first line of root + path into buf; 0 or -1. */
static int
read_line(const char *root, const char *path, char *buf, size_t size)
{
	char full[PATH_MAX];
	FILE *f;
	size_t len;

	snprintf(full, sizeof(full), "%s%s", strcmp(root, "/") ? root : "", path);
	f = fopen(full, "r");
	if (!f)
		return -1;
	if (!fgets(buf, (int) size, f)) {
		fclose(f);
		return -1;
	}
	fclose(f);
	len = strlen(buf);
	while (len > 0 && isspace((unsigned char) buf[len - 1]))
		buf[--len] = '\0';
	return 0;
}

static int
meminfo_total(const char *root, unsigned long long *bytes)
{
	char path[PATH_MAX], line[256];
	FILE *f;
	int found = -1;

	snprintf(path, sizeof(path), "%s/proc/meminfo", strcmp(root, "/") ? root : "");
	f = fopen(path, "r");
	if (!f)
		return pgp_fail("cannot read %s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		unsigned long long kb;

		if (sscanf(line, "MemTotal: %llu kB", &kb) == 1) {
			*bytes = kb * 1024;
			found = 0;
			break;
		}
	}
	fclose(f);
	if (found < 0)
		return pgp_fail("%s has no MemTotal line", path);
	return 0;
}

/* Where one cgroup hierarchy is mounted, and the process's place in it. */
struct cgroup_place {
	char dir[PATH_MAX];	/* mount point + relative path, below root */
	size_t mount_len;	/* length of the mount point part of dir */
};

/* Is word one item of the comma-separated list? */
static int
in_list(const char *list, const char *word)
{
	size_t wl = strlen(word);

	for (const char *p = list; p && *p;) {
		size_t l = strcspn(p, ",");

		if (l == wl && strncmp(p, word, wl) == 0)
			return 1;
		p += l;
		if (*p == ',')
			p++;
	}
	return 0;
}

/* The process's path in a hierarchy: v1 by controller, v2 (NULL) by "0::". */
static int
proc_cgroup_path(const char *root, const char *controller, char *out, size_t size)
{
	char path[PATH_MAX], line[LINE_MAX_LEN];
	FILE *f;
	int rc = -1;

	snprintf(path, sizeof(path), "%s/proc/self/cgroup", strcmp(root, "/") ? root : "");
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

		if (!c2)
			continue;
		*c2 = '\0';
		c2[1 + strcspn(c2 + 1, "\n")] = '\0';
		if ((controller && in_list(c1 + 1, controller)) ||
		    (!controller && strncmp(line, "0", 1) == 0 && c1[1] == '\0')) {
			snprintf(out, size, "%s", c2 + 1);
			rc = 0;
			break;
		}
	}
	fclose(f);
	return rc;
}

/*
 * Find the mount of a hierarchy in mountinfo: cgroup2, or cgroup v1 with
 * the controller in its super options.  Falls back to the usual places
 * when there is no mountinfo (a sparse fabricated root).
 */
static int
cgroup_mount(const char *root, const char *controller, char *mnt_root, size_t rsize,
	     char *mnt_point, size_t psize)
{
	char path[PATH_MAX], line[LINE_MAX_LEN], probe[PATH_MAX];
	const char *r = strcmp(root, "/") ? root : "";
	FILE *f;
	struct stat st;

	snprintf(path, sizeof(path), "%s/proc/self/mountinfo", r);
	f = fopen(path, "r");
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			char *fields[6] = {0}, *dash, *save = NULL, *tok, *fstype, *opts;
			int n = 0;

			dash = strstr(line, " - ");
			if (!dash)
				continue;
			*dash = '\0';
			for (tok = strtok_r(line, " ", &save); tok && n < 6; tok = strtok_r(NULL, " ", &save))
				fields[n++] = tok;
			save = NULL;
			fstype = strtok_r(dash + 3, " ", &save);
			(void) strtok_r(NULL, " ", &save);	/* source */
			opts = strtok_r(NULL, " \n", &save);
			if (n < 5 || !fstype)
				continue;
			if ((!controller && strcmp(fstype, "cgroup2") == 0) ||
			    (controller && strcmp(fstype, "cgroup") == 0 && opts && in_list(opts, controller))) {
				snprintf(mnt_root, rsize, "%s", fields[3]);
				snprintf(mnt_point, psize, "%s", fields[4]);
				fclose(f);
				return 0;
			}
		}
		fclose(f);
		return -1;
	}
	snprintf(mnt_root, rsize, "/");
	if (controller) {
		snprintf(mnt_point, psize, "/sys/fs/cgroup/%s", controller);
	} else {
		snprintf(probe, sizeof(probe), "%s/sys/fs/cgroup/cgroup.controllers", r);
		snprintf(mnt_point, psize, stat(probe, &st) == 0 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/unified");
	}
	snprintf(probe, sizeof(probe), "%s%s", r, mnt_point);
	return stat(probe, &st) == 0 ? 0 : -1;
}

static int
cgroup_locate(const char *root, const char *controller, struct cgroup_place *place)
{
	char cg[PATH_MAX], mroot[PATH_MAX], mpoint[PATH_MAX];
	const char *rel;
	size_t rl;

	if (proc_cgroup_path(root, controller, cg, sizeof(cg)) < 0)
		snprintf(cg, sizeof(cg), "/");
	if (cgroup_mount(root, controller, mroot, sizeof(mroot), mpoint, sizeof(mpoint)) < 0)
		return -1;
	/* Inside a cgroup namespace the mount root is a prefix of our path. */
	rl = strlen(mroot);
	rel = cg;
	if (strcmp(mroot, "/") != 0 && strncmp(cg, mroot, rl) == 0)
		rel = cg + rl;
	place->mount_len = strlen(mpoint);
	snprintf(place->dir, sizeof(place->dir), "%s%s%s", mpoint,
		 *rel && strcmp(rel, "/") ? (*rel == '/' ? "" : "/") : "",
		 strcmp(rel, "/") ? rel : "");
	return 0;
}

/* Move dir one level up; 0 when it was already at the mount point. */
static int
cgroup_up(struct cgroup_place *place)
{
	char *slash;

	if (strlen(place->dir) <= place->mount_len)
		return 0;
	slash = strrchr(place->dir, '/');
	if (!slash || (size_t) (slash - place->dir) < place->mount_len)
		return 0;
	*slash = '\0';
	return 1;
}

/*
 * Smallest value of a limit file on the way up; parse() turns a line into
 * a limit (0: no limit there).
 */
static unsigned long long
cgroup_min(const char *root, const char *controller, const char *file,
	   unsigned long long (*parse)(const char *root, const char *dir, const char *line))
{
	struct cgroup_place place;
	unsigned long long best = 0;
	char path[PATH_MAX], line[256];

	if (cgroup_locate(root, controller, &place) < 0)
		return 0;
	do {
		snprintf(path, sizeof(path), "%s/%s", place.dir, file);
		if (read_line(root, path, line, sizeof(line)) == 0) {
			unsigned long long v = parse(root, place.dir, line);

			if (v && (!best || v < best))
				best = v;
		}
	} while (cgroup_up(&place));
	return best;
}

static unsigned long long
parse_bytes_limit(const char *root, const char *dir, const char *line)
{
	char *end;
	unsigned long long v;

	(void) root;
	(void) dir;
	if (strcmp(line, "max") == 0)
		return 0;
	errno = 0;
	v = strtoull(line, &end, 10);
	if (errno || end == line)
		return 0;
	/* cgroup v1 says "unlimited" as a huge page-aligned number. */
	return v >= (1ULL << 62) ? 0 : v;
}

int
pgp_sys_memory(const char *root, unsigned long long *bytes, const char **source)
{
	unsigned long long total, v1, v2;

	if (meminfo_total(root, &total) < 0)
		return -1;
	*bytes = total;
	*source = "meminfo";
	v1 = cgroup_min(root, "memory", "memory.limit_in_bytes", parse_bytes_limit);
	v2 = cgroup_min(root, NULL, "memory.max", parse_bytes_limit);
	/* A limit above the machine's memory limits nothing. */
	if (v1 && v1 < *bytes) {
		*bytes = v1;
		*source = "cgroup v1";
	}
	if (v2 && v2 < *bytes) {
		*bytes = v2;
		*source = "cgroup v2";
	}
	return 0;
}

int
pgp_sys_count_cpu_list(const char *list)
{
	int count = 0;
	const char *p = list;

	while (*p) {
		char *end;
		long a = strtol(p, &end, 10), b;

		if (end == p || a < 0)
			return -1;
		b = a;
		p = end;
		if (*p == '-') {
			b = strtol(p + 1, &end, 10);
			if (end == p + 1 || b < a)
				return -1;
			p = end;
		}
		count += (int) (b - a + 1);
		if (*p == ',')
			p++;
		else if (*p && !isspace((unsigned char) *p))
			return -1;
		else
			break;
	}
	return count;
}

/* ceil(quota / period) for v2's "QUOTA PERIOD" line ("max ..." = none). */
static unsigned long long
parse_cpu_max(const char *root, const char *dir, const char *line)
{
	unsigned long long quota, period;

	(void) root;
	(void) dir;
	if (sscanf(line, "%llu %llu", &quota, &period) != 2 || period == 0)
		return 0;
	return (quota + period - 1) / period;
}

/* v1 keeps quota and period in two files: read the period beside it. */
static unsigned long long
parse_cfs_quota(const char *root, const char *dir, const char *line)
{
	char path[PATH_MAX], pline[64];
	long long quota = strtoll(line, NULL, 10);
	unsigned long long period;

	if (quota <= 0)
		return 0;
	snprintf(path, sizeof(path), "%s/cpu.cfs_period_us", dir);
	if (read_line(root, path, pline, sizeof(pline)) < 0)
		return 0;
	period = strtoull(pline, NULL, 10);
	if (period == 0)
		return 0;
	return ((unsigned long long) quota + period - 1) / period;
}

static unsigned long long
parse_cpuset(const char *root, const char *dir, const char *line)
{
	int n = pgp_sys_count_cpu_list(line);

	(void) root;
	(void) dir;
	return n > 0 ? (unsigned long long) n : 0;
}

int
pgp_sys_cpus(const char *root, int *cpus, const char **source)
{
	char line[LINE_MAX_LEN];
	unsigned long long limits[4];
	const char *limit_sources[4] = {"cgroup v2", "cgroup v1", "cgroup v2", "cgroup v1"};

	if (strcmp(root, "/") == 0) {
		cpu_set_t set;

		/* The affinity mask already reflects taskset and cpusets. */
		if (sched_getaffinity(0, sizeof(set), &set) != 0)
			return pgp_fail("cannot read the CPU affinity: %s", strerror(errno));
		*cpus = CPU_COUNT(&set);
		*source = "affinity";
	} else {
		int n;

		if (read_line(root, "/sys/devices/system/cpu/online", line, sizeof(line)) < 0 ||
		    (n = pgp_sys_count_cpu_list(line)) <= 0)
			return pgp_fail("cannot read the online CPUs under %s", root);
		*cpus = n;
		*source = "online";
	}
	limits[0] = cgroup_min(root, NULL, "cpu.max", parse_cpu_max);
	limits[1] = cgroup_min(root, "cpu", "cpu.cfs_quota_us", parse_cfs_quota);
	limits[2] = cgroup_min(root, NULL, "cpuset.cpus.effective", parse_cpuset);
	limits[3] = cgroup_min(root, "cpuset", "cpuset.cpus", parse_cpuset);
	for (int i = 0; i < 4; i++) {
		if (limits[i] && limits[i] < (unsigned long long) *cpus) {
			*cpus = (int) limits[i];
			*source = limit_sources[i];
		}
	}
	return 0;
}

int
pgp_sys_rotational(const char *root, unsigned major, unsigned minor)
{
	char dev[PATH_MAX], full[PATH_MAX], real[PATH_MAX], path[PATH_MAX], line[16];
	const char *r = strcmp(root, "/") ? root : "";
	char *slash;

	snprintf(dev, sizeof(dev), "%s/sys/dev/block/%u:%u", r, major, minor);
	if (!realpath(dev, real))
		return -1;
	/* A partition has no queue/ of its own: its parent disk has. */
	for (int up = 0; up < 2; up++) {
		snprintf(full, sizeof(full), "%s/queue/rotational", real);
		snprintf(path, sizeof(path), "%s", full + strlen(r));
		if (read_line(r[0] ? r : "/", path, line, sizeof(line)) == 0)
			return strcmp(line, "1") == 0 ? 1 : 0;
		slash = strrchr(real, '/');
		if (!slash)
			break;
		*slash = '\0';
	}
	return -1;
}

int
pgp_sys_path_rotational(const char *root, const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return -1;
	return pgp_sys_rotational(root, major(st.st_dev), minor(st.st_dev));
}
