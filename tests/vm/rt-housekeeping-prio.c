// SPDX-License-Identifier: GPL-2.0-only
/*
 * rt-housekeeping-prio: on a PREEMPT_RT kernel, put the kernel threads that
 * expire timers, run softirqs and lazy irq_work and drive RCU at SCHED_FIFO
 * PRIO, above every thread the tests make real-time.
 *
 * usage: rt-housekeeping-prio PRIO
 *
 * On PREEMPT_RT the timer softirq, the other softirqs, irq_work not marked
 * hard, RCU's grace-period kthread and its per-CPU callback kthreads all run
 * in threads at SCHED_FIFO 1 (RCU's at rcutree.kthread_prio).  The gang
 * tests run vCPU threads at SCHED_FIFO 1 and CPU hogs at 2, busy on every
 * CPU of a 2-CPU test bed: left at 1, those kernel threads never run, RCU
 * stalls and every synchronize_rcu() hangs.  A real-time KVM host is tuned
 * the same way: housekeeping threads above the vCPU threads.  Exits 1,
 * naming the problem, on a kernel that is not PREEMPT_RT or where a thread
 * of each kind is missing.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Kernel threads by name prefix (the per-CPU ones end in "/CPU"): timers,
 * softirqs, lazy irq_work, RCU's grace periods, expedited grace periods,
 * callbacks and priority boosting.
 */
static const char *const kinds[] = {
	"ktimers/", "ksoftirqd/", "irq_work/", "rcu_preempt", "rcu_exp_", "rcuc/", "rcub/",
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define NR_KINDS ARRAY_SIZE(kinds)

static int read_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	int ok;

	if (!f)
		return -1;
	ok = !!fgets(buf, size, f);
	fclose(f);
	if (!ok)
		return -1;
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

int main(int argc, char **argv)
{
	unsigned int found[NR_KINDS] = { 0 };
	struct sched_param sp;
	char path[300], comm[64];
	struct dirent *d;
	unsigned int i;
	char *end;
	DIR *proc;
	long prio;
	int ret = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: rt-housekeeping-prio PRIO\n");
		return 2;
	}
	prio = strtol(argv[1], &end, 10);
	if (*end || prio < 1 || prio > 99) {
		fprintf(stderr, "rt-housekeeping-prio: PRIO must be 1 to 99, got '%s'\n", argv[1]);
		return 2;
	}
	if (read_line("/sys/kernel/realtime", comm, sizeof(comm)) || strcmp(comm, "1")) {
		fprintf(stderr,
			"rt-housekeeping-prio: not a PREEMPT_RT kernel (no /sys/kernel/realtime = 1)\n");
		return 1;
	}

	proc = opendir("/proc");
	if (!proc) {
		perror("rt-housekeeping-prio: /proc");
		return 1;
	}
	sp.sched_priority = prio;
	while ((d = readdir(proc))) {
		if (!isdigit((unsigned char)d->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", d->d_name);
		if (read_line(path, comm, sizeof(comm)))
			continue;
		for (i = 0; i < NR_KINDS; i++) {
			if (strncmp(comm, kinds[i], strlen(kinds[i])))
				continue;
			if (sched_setscheduler(atoi(d->d_name), SCHED_FIFO, &sp)) {
				fprintf(stderr, "rt-housekeeping-prio: SCHED_FIFO %ld for %s: %s\n",
					prio, comm, strerror(errno));
				ret = 1;
			}
			found[i]++;
			break;
		}
	}
	closedir(proc);

	for (i = 0; i < NR_KINDS; i++) {
		if (!found[i]) {
			fprintf(stderr, "rt-housekeeping-prio: no %s kernel thread\n", kinds[i]);
			ret = 1;
		} else {
			printf("%s: %u thread(s) at SCHED_FIFO %ld\n", kinds[i], found[i], prio);
		}
	}
	return ret;
}
