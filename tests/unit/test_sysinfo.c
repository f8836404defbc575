/*
 * System facts from fabricated roots: plain machines, cgroup v2, cgroup
 * v1, hybrid trees, nested limits, namespaced mounts, CPU quotas, cpusets,
 * and the rotational flag of a partition's disk.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sysinfo.h"
#include "tap.h"
#include "testutil.h"

#define GB (1024ULL * 1024 * 1024)
#define MEMINFO_256G "MemTotal:       268435456 kB\nMemFree: 1 kB\n"

static void
check_memory(const char *root, unsigned long long want, const char *want_source, const char *name)
{
	unsigned long long bytes = 0;
	const char *source = NULL;
	int rc = pgp_sys_memory(root, &bytes, &source);

	ok(rc == 0 && bytes == want && source && strcmp(source, want_source) == 0,
	   "%s: %llu bytes from %s", name, bytes, source ? source : "?");
}

static void
check_cpus(const char *root, int want, const char *want_source, const char *name)
{
	int cpus = 0;
	const char *source = NULL;
	int rc = pgp_sys_cpus(root, &cpus, &source);

	ok(rc == 0 && cpus == want && source && strcmp(source, want_source) == 0,
	   "%s: %d CPUs from %s", name, cpus, source ? source : "?");
}

int
main(void)
{
	char *root;

	pgp_log_init("pgp-test");

	/* A plain machine, no cgroup files at all. */
	root = make_tmpdir();
	put_file(root, "proc/meminfo", MEMINFO_256G);
	put_file(root, "sys/devices/system/cpu/online", "0-63\n");
	check_memory(root, 256 * GB, "meminfo", "bare machine");
	check_cpus(root, 64, "online", "bare machine");
	rm_rf(root);
	free(root);

	/* cgroup v2: a 4 GB container on a 256 GB host, 2.5 CPUs of quota. */
	root = make_tmpdir();
	put_file(root, "proc/meminfo", MEMINFO_256G);
	put_file(root, "sys/devices/system/cpu/online", "0-63\n");
	put_file(root, "proc/self/cgroup", "0::/kubepods/pod1/ctr\n");
	put_file(root, "proc/self/mountinfo",
		 "30 22 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n");
	put_file(root, "sys/fs/cgroup/cgroup.controllers", "cpu memory\n");
	put_file(root, "sys/fs/cgroup/kubepods/memory.max", "max\n");
	put_file(root, "sys/fs/cgroup/kubepods/pod1/memory.max", "8589934592\n");
	put_file(root, "sys/fs/cgroup/kubepods/pod1/ctr/memory.max", "4294967296\n");
	put_file(root, "sys/fs/cgroup/kubepods/pod1/ctr/cpu.max", "250000 100000\n");
	check_memory(root, 4 * GB, "cgroup v2", "v2 container limit");
	check_cpus(root, 3, "cgroup v2", "v2 quota 2.5 rounds up");
	/* A tighter limit on a parent wins. */
	put_file(root, "sys/fs/cgroup/kubepods/memory.max", "2147483648\n");
	check_memory(root, 2 * GB, "cgroup v2", "v2 parent limit wins");
	put_file(root, "sys/fs/cgroup/kubepods/pod1/ctr/cpu.max", "max 100000\n");
	check_cpus(root, 64, "online", "v2 cpu.max max means no quota");
	put_file(root, "sys/fs/cgroup/kubepods/pod1/ctr/cpuset.cpus.effective", "2-3\n");
	check_cpus(root, 2, "cgroup v2", "v2 cpuset");
	rm_rf(root);
	free(root);

	/* cgroup v2 inside a cgroup namespace: the mount root is our path. */
	root = make_tmpdir();
	put_file(root, "proc/meminfo", MEMINFO_256G);
	put_file(root, "sys/devices/system/cpu/online", "0-7\n");
	put_file(root, "proc/self/cgroup", "0::/\n");
	put_file(root, "proc/self/mountinfo",
		 "30 22 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
	put_file(root, "sys/fs/cgroup/memory.max", "1073741824\n");
	put_file(root, "sys/fs/cgroup/cpu.max", "100000 100000\n");
	check_memory(root, 1 * GB, "cgroup v2", "v2 namespaced root limit");
	check_cpus(root, 1, "cgroup v2", "v2 namespaced quota");
	rm_rf(root);
	free(root);

	/* cgroup v1: limit and CFS quota in separate hierarchies. */
	root = make_tmpdir();
	put_file(root, "proc/meminfo", MEMINFO_256G);
	put_file(root, "sys/devices/system/cpu/online", "0-15\n");
	put_file(root, "proc/self/cgroup",
		 "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n2:cpuset:/docker/abc\n1:name=systemd:/\n");
	put_file(root, "proc/self/mountinfo",
		 "31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
		 "34 30 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
		 "33 30 0:30 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset\n");
	put_file(root, "sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");
	put_file(root, "sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes", "536870912\n");
	put_file(root, "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "200000\n");
	put_file(root, "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
	check_memory(root, 512ULL * 1024 * 1024, "cgroup v1", "v1 container limit");
	check_cpus(root, 2, "cgroup v1", "v1 CFS quota");
	put_file(root, "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "-1\n");
	check_cpus(root, 16, "online", "v1 quota -1 means none");
	put_file(root, "sys/fs/cgroup/cpuset/docker/abc/cpuset.cpus", "0,2,4-5\n");
	check_cpus(root, 4, "cgroup v1", "v1 cpuset list");
	/* "Unlimited" in v1 is a huge number, and never counts. */
	put_file(root, "sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes", "9223372036854771712\n");
	check_memory(root, 256 * GB, "meminfo", "v1 unlimited sentinel ignored");
	/* A limit above the machine's memory limits nothing. */
	put_file(root, "sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes", "549755813888\n");
	check_memory(root, 256 * GB, "meminfo", "v1 limit above MemTotal ignored");
	rm_rf(root);
	free(root);

	/* Hybrid: v1 memory controller and the v2 unified tree both present. */
	root = make_tmpdir();
	put_file(root, "proc/meminfo", MEMINFO_256G);
	put_file(root, "sys/devices/system/cpu/online", "0-3\n");
	put_file(root, "proc/self/cgroup", "4:memory:/job\n1:cpu:/\n0::/job\n");
	put_file(root, "proc/self/mountinfo",
		 "34 30 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
		 "31 30 0:28 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"
		 "40 30 0:37 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n");
	put_file(root, "sys/fs/cgroup/memory/job/memory.limit_in_bytes", "3221225472\n");
	put_file(root, "sys/fs/cgroup/unified/job/memory.max", "max\n");
	check_memory(root, 3 * GB, "cgroup v1", "hybrid: v1 limit");
	put_file(root, "sys/fs/cgroup/unified/job/memory.max", "1073741824\n");
	check_memory(root, 1 * GB, "cgroup v2", "hybrid: the smaller v2 limit");
	check_cpus(root, 4, "online", "hybrid: no quota");
	rm_rf(root);
	free(root);

	/* Fallback layout when mountinfo is missing (v1 default mounts). */
	root = make_tmpdir();
	put_file(root, "proc/meminfo", "MemTotal: 1048576 kB\n");
	put_file(root, "sys/devices/system/cpu/online", "0\n");
	put_file(root, "proc/self/cgroup", "4:memory:/\n");
	put_file(root, "sys/fs/cgroup/memory/memory.limit_in_bytes", "268435456\n");
	check_memory(root, 256ULL * 1024 * 1024, "cgroup v1", "no mountinfo: default v1 mount");
	check_cpus(root, 1, "online", "single CPU");
	rm_rf(root);
	free(root);

	/* Rotational flag: a partition's disk, an SSD, an unknown device. */
	root = make_tmpdir();
	put_file(root, "sys/block/sda/queue/rotational", "1\n");
	put_file(root, "sys/block/sda/sda1/partition", "1\n");
	put_file(root, "sys/block/nvme0n1/queue/rotational", "0\n");
	{
		char link[512], target[512];

		snprintf(link, sizeof(link), "%s/sys/dev/block", root);
		mkdirs(link);
		snprintf(link, sizeof(link), "%s/sys/dev/block/8:1", root);
		snprintf(target, sizeof(target), "../../block/sda/sda1");
		ok(symlink(target, link) == 0, "fabricate 8:1 link");
		snprintf(link, sizeof(link), "%s/sys/dev/block/259:0", root);
		snprintf(target, sizeof(target), "../../block/nvme0n1");
		ok(symlink(target, link) == 0, "fabricate 259:0 link");
	}
	is_int(pgp_sys_rotational(root, 8, 1), 1, "partition of a spinning disk");
	is_int(pgp_sys_rotational(root, 259, 0), 0, "NVMe disk does not spin");
	is_int(pgp_sys_rotational(root, 0, 42), -1, "unknown device (overlay, tmpfs)");
	rm_rf(root);
	free(root);

	is_int(pgp_sys_count_cpu_list("0-3,8,10-11"), 7, "cpu list with ranges");
	is_int(pgp_sys_count_cpu_list("5"), 1, "single cpu");
	is_int(pgp_sys_count_cpu_list("3-1"), -1, "backward range refused");
	is_int(pgp_sys_count_cpu_list("x"), -1, "garbage refused");

	/* The real machine answers something sane. */
	{
		unsigned long long bytes = 0;
		int cpus = 0, rc, rot;
		const char *src = "?";

		rc = pgp_sys_memory("/", &bytes, &src);
		ok(rc == 0 && bytes > 64ULL * 1024 * 1024, "this machine: %llu bytes (%s)", bytes, src);
		rc = pgp_sys_cpus("/", &cpus, &src);
		ok(rc == 0 && cpus >= 1, "this machine: %d CPUs (%s)", cpus, src);
		rot = pgp_sys_path_rotational("/", "/");
		ok(rot >= -1 && rot <= 1, "this machine's / rotational flag: %d", rot);
	}
	return done_testing();
}
