// SPDX-License-Identifier: GPL-2.0-only
/*
 * /init of the Linux guest that make bench-guest and tests/guest/testbed-guest
 * boot inside the test bed: the test-bed kernel as a 2-vCPU KVM guest, this
 * program as the whole of its userspace.  It reports what the guest was told
 * (the KVM CPUID leaves: KVM_HINTS_REALTIME, PV_UNHALT, PV_TLB_FLUSH), waits
 * for "go" on the serial line so that the VMs of one run start together,
 * runs lock-heavy workloads for a fixed time each and prints their
 * operations per second, then powers the guest off.
 *
 * The workloads, each on both vCPUs at once:
 *   hackbench: 2 groups of 4 sender and 4 receiver threads, 100-byte
 *              messages through pipes (rt-tests' hackbench, thread mode)
 *   mmap:      a thread per vCPU maps 64 KiB, writes every page, write-protects
 *              and unmaps it: mmap_lock, page-table locks and TLB-shootdown
 *              IPIs to the other vCPU
 *   futex:     ping-pong between a thread on each vCPU (a wake-up IPI each way)
 *   flock:     a thread per vCPU takes and drops a write lock on one file
 *              (OFD fcntl locks: the inode's lock-context spinlock)
 *
 * Kernel command-line options (read from /proc/cmdline):
 *   gangbench.ms=N      time per workload in ms (default 2000)
 *   gangbench.wait=0    start at once instead of waiting for "go"
 * Output lines, on the serial line (/dev/ttyS0):
 *   GUEST cpuid kvm=1 hints_realtime=0|1 pv_unhalt=0|1 pv_tlb_flush=0|1
 *   GUEST ready
 *   GUEST result workload=NAME ops=N ms=N ops_per_s=N
 *   GUEST done
 * or "GUEST error ..." with errno's text, and then a power-off either way.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define NR_VCPUS 2
#define HB_GROUPS 2
#define HB_PAIRS 4		/* senders and receivers per group */
#define HB_MSG 100
#define MMAP_LEN (64 << 10)
#define DEBUG_EXIT_PORT 0xf4	/* isa-debug-exit, if the VM has one */

/* KVM's CPUID leaves (Documentation/virt/kvm/x86/cpuid.rst). */
#define KVM_CPUID_SIGNATURE 0x40000000
#define KVM_CPUID_FEATURES 0x40000001
#define KVM_FEATURE_PV_UNHALT 7
#define KVM_FEATURE_PV_TLB_FLUSH 9
#define KVM_HINTS_REALTIME 0

static FILE *serial;
static atomic_bool stop;
static atomic_ulong total_ops;

static void power_off(void)
{
	fflush(serial);
	sync();
	reboot(RB_POWER_OFF);
	/* No ACPI power-off: leave through isa-debug-exit, else halt here. */
	if (ioperm(DEBUG_EXIT_PORT, 1, 1) == 0)
		outb(1, DEBUG_EXIT_PORT);
	for (;;)
		pause();
}

static void die(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	fputs("GUEST error ", serial);
	va_start(ap, fmt);
	vfprintf(serial, fmt, ap);
	va_end(ap);
	fprintf(serial, ": %s\n", strerror(saved));
	power_off();
}

static void pin_to_vcpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	errno = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (errno)
		die("pinning a thread to vCPU %d", cpu);
}

/* --- hackbench: messages through pipes, thread mode --- */

struct hb_receiver {
	int fds[2];
};

static void *hb_sender(void *arg)
{
	struct hb_receiver *group = arg;
	char msg[HB_MSG] = { 0 };
	int i;

	while (!atomic_load(&stop)) {
		for (i = 0; i < HB_PAIRS; i++) {
			if (write(group[i].fds[1], msg, sizeof(msg)) != sizeof(msg))
				die("hackbench: write");
		}
	}
	return NULL;
}

static void *hb_receive(void *arg)
{
	struct hb_receiver *r = arg;
	unsigned long n = 0;
	char msg[HB_MSG];
	ssize_t got;

	/* Until every sender is gone: a sender blocked on a full pipe needs a reader. */
	while ((got = read(r->fds[0], msg, sizeof(msg))) > 0) {
		if (!atomic_load(&stop))
			n++;
	}
	if (got < 0)
		die("hackbench: read");
	atomic_fetch_add(&total_ops, n);
	return NULL;
}

static void hackbench(unsigned int ms)
{
	static struct hb_receiver receivers[HB_GROUPS][HB_PAIRS];
	pthread_t senders[HB_GROUPS][HB_PAIRS], readers[HB_GROUPS][HB_PAIRS];
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };
	int g, i;

	for (g = 0; g < HB_GROUPS; g++) {
		for (i = 0; i < HB_PAIRS; i++) {
			if (pipe(receivers[g][i].fds))
				die("hackbench: pipe");
			pthread_create(&readers[g][i], NULL, hb_receive, &receivers[g][i]);
		}
		for (i = 0; i < HB_PAIRS; i++)
			pthread_create(&senders[g][i], NULL, hb_sender, receivers[g]);
	}
	nanosleep(&t, NULL);
	atomic_store(&stop, true);
	for (g = 0; g < HB_GROUPS; g++) {
		for (i = 0; i < HB_PAIRS; i++)
			pthread_join(senders[g][i], NULL);
		for (i = 0; i < HB_PAIRS; i++)
			close(receivers[g][i].fds[1]);
		for (i = 0; i < HB_PAIRS; i++) {
			pthread_join(readers[g][i], NULL);
			close(receivers[g][i].fds[0]);
		}
	}
}

/* --- the per-vCPU workloads: one thread on each vCPU --- */

static void *mmap_loop(void *arg)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned long n = 0;
	char *p;
	long off;

	pin_to_vcpu((intptr_t)arg);
	while (!atomic_load(&stop)) {
		p = mmap(NULL, MMAP_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			die("mmap");
		for (off = 0; off < MMAP_LEN; off += page)
			p[off] = 1;
		if (mprotect(p, MMAP_LEN, PROT_READ) || munmap(p, MMAP_LEN))
			die("mprotect or munmap");
		n++;
	}
	atomic_fetch_add(&total_ops, n);
	return NULL;
}

/* Whose turn it is in the futex ping-pong: the vCPU number. */
static _Atomic uint32_t turn;

static void futex_call(int op, uint32_t val)
{
	/* A bounded wait: the partner may have seen "stop" and left. */
	struct timespec timeout = { 0, 10 * 1000000L };

	if (syscall(SYS_futex, &turn, op, val, op == FUTEX_WAIT ? &timeout : NULL, NULL, 0) < 0 &&
	    errno != EAGAIN && errno != ETIMEDOUT && errno != EINTR)
		die("futex");
}

static void *futex_loop(void *arg)
{
	uint32_t self = (intptr_t)arg;
	unsigned long n = 0;

	pin_to_vcpu(self);
	while (!atomic_load(&stop)) {
		uint32_t now = atomic_load(&turn);

		if (now != self) {
			futex_call(FUTEX_WAIT, now);
			continue;
		}
		atomic_store(&turn, !self);
		futex_call(FUTEX_WAKE, 1);
		n++;
	}
	atomic_fetch_add(&total_ops, n);
	return NULL;
}

static void *flock_loop(void *arg)
{
	struct flock lock = { .l_whence = SEEK_SET };
	unsigned long n = 0;
	int fd;

	pin_to_vcpu((intptr_t)arg);
	/* An open file description of its own: OFD locks conflict between them. */
	fd = open("/flock", O_RDWR | O_CREAT, 0600);
	if (fd < 0)
		die("open /flock");
	while (!atomic_load(&stop)) {
		lock.l_type = F_WRLCK;
		if (fcntl(fd, F_OFD_SETLKW, &lock))
			die("F_OFD_SETLKW");
		lock.l_type = F_UNLCK;
		if (fcntl(fd, F_OFD_SETLK, &lock))
			die("F_OFD_SETLK unlock");
		n++;
	}
	close(fd);
	atomic_fetch_add(&total_ops, n);
	return NULL;
}

static void per_vcpu(void *(*fn)(void *), unsigned int ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };
	pthread_t threads[NR_VCPUS];
	intptr_t cpu;

	for (cpu = 0; cpu < NR_VCPUS; cpu++)
		pthread_create(&threads[cpu], NULL, fn, (void *)cpu);
	nanosleep(&t, NULL);
	atomic_store(&stop, true);
	for (cpu = 0; cpu < NR_VCPUS; cpu++)
		pthread_join(threads[cpu], NULL);
}

static void mmap_bench(unsigned int ms) { per_vcpu(mmap_loop, ms); }
static void futex_bench(unsigned int ms) { per_vcpu(futex_loop, ms); }
static void flock_bench(unsigned int ms) { per_vcpu(flock_loop, ms); }

static const struct workload {
	const char *name;
	void (*run)(unsigned int ms);
} workloads[] = {
	{ "hackbench", hackbench },
	{ "mmap", mmap_bench },
	{ "futex", futex_bench },
	{ "flock", flock_bench },
};

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000ULL + t.tv_nsec;
}

/* The value of "NAME=" on the kernel command line, else @def. */
static unsigned long cmdline_value(const char *cmdline, const char *name, unsigned long def)
{
	const char *p = strstr(cmdline, name);

	return p ? strtoul(p + strlen(name), NULL, 10) : def;
}

static void report_cpuid(void)
{
	unsigned int eax, ebx, ecx, edx;
	char sig[13] = { 0 };

	__cpuid(KVM_CPUID_SIGNATURE, eax, ebx, ecx, edx);
	memcpy(sig, &ebx, 4);
	memcpy(sig + 4, &ecx, 4);
	memcpy(sig + 8, &edx, 4);
	if (strcmp(sig, "KVMKVMKVM") != 0 || eax < KVM_CPUID_FEATURES) {
		fprintf(serial, "GUEST cpuid kvm=0\n");
		return;
	}
	__cpuid(KVM_CPUID_FEATURES, eax, ebx, ecx, edx);
	fprintf(serial, "GUEST cpuid kvm=1 hints_realtime=%u pv_unhalt=%u pv_tlb_flush=%u\n",
		(edx >> KVM_HINTS_REALTIME) & 1, (eax >> KVM_FEATURE_PV_UNHALT) & 1,
		(eax >> KVM_FEATURE_PV_TLB_FLUSH) & 1);
}

int main(void)
{
	char cmdline[4096] = "", go[16];
	unsigned long ms, wait;
	unsigned int i;
	uint64_t t0;
	FILE *f;

	mount("proc", "/proc", "proc", 0, NULL);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	serial = fopen("/dev/ttyS0", "r+");
	if (!serial)
		return 1;	/* nowhere to report: the kernel's panic says it */
	setvbuf(serial, NULL, _IOLBF, 0);
	f = fopen("/proc/cmdline", "r");
	if (!f || !fgets(cmdline, sizeof(cmdline), f))
		die("reading /proc/cmdline");
	fclose(f);
	ms = cmdline_value(cmdline, "gangbench.ms=", 2000);
	wait = cmdline_value(cmdline, "gangbench.wait=", 1);
	if (sysconf(_SC_NPROCESSORS_ONLN) != NR_VCPUS) {
		errno = EINVAL;
		die("the guest has %ld vCPUs online, the workloads want %d",
		    sysconf(_SC_NPROCESSORS_ONLN), NR_VCPUS);
	}

	report_cpuid();
	fprintf(serial, "GUEST ready\n");
	if (wait && !fgets(go, sizeof(go), serial))
		die("reading \"go\" from the serial line");
	for (i = 0; i < sizeof(workloads) / sizeof(workloads[0]); i++) {
		atomic_store(&stop, false);
		atomic_store(&total_ops, 0);
		t0 = now_ns();
		workloads[i].run(ms);
		/* Per the time asked for: the ops were counted until "stop". */
		fprintf(serial, "GUEST result workload=%s ops=%lu ms=%lu ops_per_s=%lu wall_ms=%llu\n",
			workloads[i].name, atomic_load(&total_ops), ms,
			atomic_load(&total_ops) * 1000 / ms,
			(unsigned long long)(now_ns() - t0) / 1000000);
	}
	fprintf(serial, "GUEST done\n");
	power_off();
}
