// SPDX-License-Identifier: GPL-2.0
/*
 * scx_gang: load the gang scheduler (scx_gang.bpf.c), follow KVM's gangs
 * as VMs come and go, and print what the scheduler measured.
 *
 * Membership comes from KVM: every VM whose gang is on has a "gang" file
 * in its debugfs directory (/sys/kernel/debug/kvm/<pid>-<fd>/gang) that
 * names its mode and, per vCPU, the thread that runs it.  The file is
 * read every POLL_MS; the members map and the gang_cfgs map follow.
 *
 * Exit status: 0 after SIGINT or SIGTERM, 1 on an error (one line on
 * stderr saying what) or when the kernel ejected the scheduler.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <scx/common.h>
#include <linux/compiler.h>
#include "scx_gang.bpf.skel.h"

#define MAX_GANGS	64
#define MAX_MEMBERS	64
#define NR_SKEW		256
#define POLL_MS		100
#define KVM_DEBUGFS	"/sys/kernel/debug/kvm"
#define SCX_SYSFS	"/sys/kernel/sched_ext"
#define BTF_SYSFS	"/sys/kernel/btf/vmlinux"

/* Must match scx_gang.bpf.c. */
struct member {
	__u32 gang;
	__u32 idx;
};

struct gang_cfg {
	__u32 active;
	__u32 nr_members;
};

struct gang_stats {
	__u64 slots;
	__u64 nr_skew;
	__u64 skew_ns[NR_SKEW];
};

/* What this loader knows of each gang id. */
struct gang {
	bool active;
	bool seen;			/* found in the current scan */
	char vm[64];			/* the VM's debugfs directory name */
	char mode[16];
	unsigned int nr_members;
	int tids[MAX_MEMBERS];		/* 0: the vCPU has not run yet */
	__u64 slots_reported;		/* stats at the last report */
	__u64 nr_skew_reported;
};

static const char help_fmt[] =
"Usage: %s [--slice-us N] [--stats SECS]\n"
"\n"
"Gang-schedule KVM's gangs: a gang's vCPU threads get the CPUs together\n"
"for a time slice, everything else shares the rest.\n"
"\n"
"  --slice-us N    gang time slice in microseconds (100..1000000, default 10000)\n"
"  --stats SECS    print per-gang figures every SECS seconds (0: never, default 1)\n"
"  --help          print this and exit\n";

static struct gang gangs[MAX_GANGS];
static int exit_req;

static void sig_handler(int sig)
{
	__atomic_store_n(&exit_req, 1, __ATOMIC_RELAXED);
}

static int libbpf_print_fn(enum libbpf_print_level level, const char *format, va_list args)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, format, args);
}

static int __printf(1, 2) fail(const char *fmt, ...)
{
	va_list ap;

	fputs("scx_gang: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

static bool read_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	bool ok;

	if (!f)
		return false;
	ok = fgets(buf, size, f);
	fclose(f);
	if (ok)
		buf[strcspn(buf, "\n")] = '\0';
	return ok;
}

/* What stops the scheduler from loading here, as one line; 0 if nothing. */
static int check_environment(void)
{
	char state[64], ops[64];
	bool no_btf, no_scx;

	if (geteuid())
		return fail("must run as root (%s)",
			    "loading a BPF scheduler needs CAP_SYS_ADMIN and CAP_BPF");
	no_btf = access(BTF_SYSFS, R_OK);
	no_scx = access(SCX_SYSFS "/state", R_OK);
	if (no_btf || no_scx)
		return fail("this kernel lacks %s%s%s: it cannot load a sched_ext scheduler",
			    no_scx ? "sched_ext (CONFIG_SCHED_CLASS_EXT)" : "",
			    no_scx && no_btf ? " and " : "",
			    no_btf ? "BTF (CONFIG_DEBUG_INFO_BTF)" : "");
	if (read_line(SCX_SYSFS "/state", state, sizeof(state)) && strcmp(state, "disabled")) {
		if (!read_line(SCX_SYSFS "/root/ops", ops, sizeof(ops)))
			snprintf(ops, sizeof(ops), "unknown");
		return fail("another sched_ext scheduler (%s) is %s: stop it first", ops, state);
	}
	if (access(KVM_DEBUGFS, R_OK))
		return fail("%s: %s (mount debugfs on /sys/kernel/debug; KVM must be loaded)",
			    KVM_DEBUGFS, strerror(errno));
	return 0;
}

static bool parse_u32(const char *s, unsigned long min, unsigned long max, __u32 *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/*
 * Read one VM's gang file into @g: its mode and its members' threads.
 * False if the VM has no gang, it is off, none of its vCPUs has run yet
 * (the thread ids are known from the first KVM_RUN on), or the VM went
 * away meanwhile.
 */
static bool read_gang_file(const char *vm, struct gang *g)
{
	char path[PATH_MAX], line[128];
	unsigned int idx;
	bool on = false;
	FILE *f;
	int tid;

	snprintf(path, sizeof(path), KVM_DEBUGFS "/%s/gang", vm);
	f = fopen(path, "r");
	if (!f)
		return false;
	memset(g->tids, 0, sizeof(g->tids));
	g->nr_members = 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "mode: %15s", g->mode) == 1) {
			on = strcmp(g->mode, "off") != 0;
		} else if (sscanf(line, "vcpu_tid: %u %d", &idx, &tid) == 2 &&
			   idx < MAX_MEMBERS) {
			g->tids[idx] = tid;
			if (idx + 1 > g->nr_members)
				g->nr_members = idx + 1;
		}
	}
	fclose(f);
	return on && g->nr_members && g->tids[0];
}

static void drop_members(struct scx_gang *skel, const struct gang *g)
{
	unsigned int i;

	for (i = 0; i < g->nr_members; i++)
		if (g->tids[i])
			bpf_map_delete_elem(bpf_map__fd(skel->maps.members), &g->tids[i]);
}

static void push_gang(struct scx_gang *skel, __u32 id, const struct gang *old,
		      const struct gang *now)
{
	struct gang_cfg cfg = { .active = 1, .nr_members = now->nr_members };
	struct member m = { .gang = id };
	unsigned int i;

	for (i = 0; i < old->nr_members; i++)
		if (old->tids[i] && (i >= now->nr_members || old->tids[i] != now->tids[i]))
			bpf_map_delete_elem(bpf_map__fd(skel->maps.members), &old->tids[i]);
	for (i = 0; i < now->nr_members; i++) {
		if (!now->tids[i])
			continue;
		m.idx = i;
		bpf_map_update_elem(bpf_map__fd(skel->maps.members), &now->tids[i], &m, BPF_ANY);
	}
	bpf_map_update_elem(bpf_map__fd(skel->maps.gang_cfgs), &id, &cfg, BPF_ANY);
}

static int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

/* Gang @id's slots run and co-start skew since its last report. */
static void report_gang(struct scx_gang *skel, __u32 id)
{
	struct gang *g = &gangs[id];
	__u64 skew[NR_SKEW], nr, i;
	struct gang_stats st;
	unsigned int n;

	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.gang_stats), &id, &st))
		return;
	nr = st.nr_skew - g->nr_skew_reported;
	if (nr > NR_SKEW)
		nr = NR_SKEW;
	for (n = 0, i = st.nr_skew - nr; i < st.nr_skew; i++)
		skew[n++] = st.skew_ns[i % NR_SKEW];
	qsort(skew, n, sizeof(skew[0]), cmp_u64);
	printf("scx_gang: gang %u (VM %s, %u vCPUs, %s): %llu slices", id, g->vm,
	       g->nr_members, g->mode, (unsigned long long)(st.slots - g->slots_reported));
	if (!n) {
		printf(", no co-start of two members\n");
	} else {
		printf(", co-start skew p50 %llu us, p99 %llu us, max %llu us",
		       (unsigned long long)skew[n / 2] / 1000,
		       (unsigned long long)skew[(n * 99) / 100] / 1000,
		       (unsigned long long)skew[n - 1] / 1000);
		printf(" (%u samples)\n", n);
	}
	g->slots_reported = st.slots;
	g->nr_skew_reported = st.nr_skew;
}

static void report(struct scx_gang *skel)
{
	static __u64 gang_slots_reported, others_slots_reported;
	__u64 gang_slots = skel->bss->nr_gang_slots;
	__u64 others_slots = skel->bss->nr_others_slots;
	__u32 id;

	for (id = 0; id < MAX_GANGS; id++)
		if (gangs[id].active)
			report_gang(skel, id);
	/* Every slot switch takes the CPUs from a gang or gives them to one. */
	printf("scx_gang: slots begun: %llu gangs', %llu the others'\n",
	       (unsigned long long)(gang_slots - gang_slots_reported),
	       (unsigned long long)(others_slots - others_slots_reported));
	gang_slots_reported = gang_slots;
	others_slots_reported = others_slots;
	fflush(stdout);
}

/* A new gang's figures start from what an earlier gang of the same id left. */
static void reset_reported(struct scx_gang *skel, __u32 id)
{
	struct gang_stats st;

	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.gang_stats), &id, &st))
		return;
	gangs[id].slots_reported = st.slots;
	gangs[id].nr_skew_reported = st.nr_skew;
}

/* One pass over KVM's VMs: new gangs join, changed ones follow, gone ones leave. */
static void scan_gangs(struct scx_gang *skel)
{
	struct gang_cfg off = {};
	struct dirent *de;
	struct gang now;
	__u32 id, free_id;
	DIR *dir;

	for (id = 0; id < MAX_GANGS; id++)
		gangs[id].seen = false;
	dir = opendir(KVM_DEBUGFS);
	while (dir && (de = readdir(dir))) {
		if (de->d_name[0] == '.' || strlen(de->d_name) >= sizeof(now.vm))
			continue;
		memset(&now, 0, sizeof(now));
		if (!read_gang_file(de->d_name, &now))
			continue;
		snprintf(now.vm, sizeof(now.vm), "%s", de->d_name);
		free_id = MAX_GANGS;
		for (id = 0; id < MAX_GANGS; id++) {
			if (gangs[id].active && !strcmp(gangs[id].vm, now.vm))
				break;
			if (!gangs[id].active && free_id == MAX_GANGS)
				free_id = id;
		}
		if (id == MAX_GANGS) {
			if (free_id == MAX_GANGS) {
				fail("VM %s: more than %d gangs, not scheduled as a gang",
				     now.vm, MAX_GANGS);
				continue;
			}
			id = free_id;
			memset(&gangs[id], 0, sizeof(gangs[id]));
			reset_reported(skel, id);
			printf("scx_gang: gang %u: VM %s joined (%u vCPUs, %s)\n", id, now.vm,
			       now.nr_members, now.mode);
		} else if (now.nr_members != gangs[id].nr_members) {
			printf("scx_gang: gang %u: VM %s now has %u vCPUs\n", id, now.vm,
			       now.nr_members);
		}
		push_gang(skel, id, &gangs[id], &now);
		now.active = true;
		now.seen = true;
		now.slots_reported = gangs[id].slots_reported;
		now.nr_skew_reported = gangs[id].nr_skew_reported;
		gangs[id] = now;
	}
	if (dir)
		closedir(dir);

	for (id = 0; id < MAX_GANGS; id++) {
		if (!gangs[id].active || gangs[id].seen)
			continue;
		bpf_map_update_elem(bpf_map__fd(skel->maps.gang_cfgs), &id, &off, BPF_ANY);
		drop_members(skel, &gangs[id]);
		gangs[id].active = false;
		report_gang(skel, id);
		printf("scx_gang: gang %u: VM %s left\n", id, gangs[id].vm);
	}
	fflush(stdout);
}

static __u64 now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "slice-us", required_argument, NULL, 's' },
		{ "stats", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	__u32 slice_us = 10000, stats_secs = 1;
	struct scx_gang *skel;
	struct bpf_link *link;
	__u64 next_report;
	int opt, ret = 0;

	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (!parse_u32(optarg, 100, 1000000, &slice_us))
				return fail("--slice-us %s: %s", optarg,
					    "expected microseconds from 100 to 1000000");
			break;
		case 't':
			if (!parse_u32(optarg, 0, 3600, &stats_secs))
				return fail("--stats %s: expected seconds from 0 to 3600", optarg);
			break;
		case 'h':
			printf(help_fmt, argv[0]);
			return 0;
		default:
			fprintf(stderr, help_fmt, argv[0]);
			return 1;
		}
	}
	if (optind < argc)
		return fail("unexpected argument '%s' (see --help)", argv[optind]);
	if (check_environment())
		return 1;

	libbpf_set_print(libbpf_print_fn);
	signal(SIGINT, sig_handler);
	signal(SIGTERM, sig_handler);

	skel = SCX_OPS_OPEN(gang_ops, scx_gang);
	skel->data->slice_ns = slice_us * 1000ULL;
	SCX_OPS_LOAD(skel, gang_ops, scx_gang, uei);
	link = SCX_OPS_ATTACH(skel, gang_ops, scx_gang);
	printf("scx_gang: attached, slice %u us; following the gangs in %s\n",
	       slice_us, KVM_DEBUGFS);
	fflush(stdout);

	next_report = now_ms() + stats_secs * 1000ULL;
	while (!__atomic_load_n(&exit_req, __ATOMIC_RELAXED) && !UEI_EXITED(skel, uei)) {
		scan_gangs(skel);
		if (stats_secs && now_ms() >= next_report) {
			report(skel);
			next_report += stats_secs * 1000ULL;
		}
		usleep(POLL_MS * 1000);
	}

	/* The figures since the last report, or of the whole run with --stats 0. */
	report(skel);
	if (UEI_EXITED(skel, uei))
		ret = 1;
	bpf_link__destroy(link);
	UEI_REPORT(skel, uei);
	scx_gang__destroy(skel);
	printf("scx_gang: detached%s\n", ret ? " (the kernel ended it)" : "");
	return ret;
}
