// SPDX-License-Identifier: GPL-2.0-only
/*
 * Strict gang mode seen from the guest, and the ugly cases.
 *
 * skew_*: every vCPU advances a heartbeat in shared memory and records, by
 * guest TSC, the longest stretch it ran while a sibling's heartbeat stood
 * still (the skew), and how long in all it ran while a sibling stood still
 * for more than 1 ms.  vCPU threads are pinned one per CPU and a CPU hog
 * shares vCPU 0's CPU.  The same workload runs with the gang off and strict
 * in one boot; the test prints both and asserts only their contrast.
 *
 * The other cases: a halted sibling never stops the gang; a signal ends a
 * wait with -EINTR; switching the gang off releases waiters; killing the
 * process of a waiting VM destroys it; 100 create/destroy cycles leak
 * nothing (kmemleak, debug kernel).  A vCPU is made to wait by starving its
 * sibling with a SCHED_FIFO hog on the sibling's CPU.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "apic.h"
#include "gang_util.h"
#include "kselftest_harness.h"
#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"

#define MAX_VCPUS	8
#define NO_VCPU		0xffffffffu
#define RT_RUNTIME	"/proc/sys/kernel/sched_rt_runtime_us"

/* Guest and host view of the same memory: the host reaches it via gva2hva. */
struct shared {
	u64 heartbeat[MAX_VCPUS];
	u64 max_stall[MAX_VCPUS];	/* TSC cycles */
	/* Time run while a sibling stood still longer than long_cycles. */
	u64 long_stall[MAX_VCPUS];	/* TSC cycles */
	u64 long_cycles;
	u64 gap_cycles;			/* longer than this: the vCPU itself was out */
	u32 nr_vcpus;
	u32 halt_vcpu;
	u32 x2apic;			/* enable the x2APIC first (interrupts) */
	u32 stop;
};

static struct shared shared;

static void guest_code(u32 me)
{
	struct shared *s = &shared;
	u64 seen[MAX_VCPUS] = {}, seen_at[MAX_VCPUS];
	u64 prev, now, stall, worst, beat;
	u32 j, nr_vcpus = READ_ONCE(s->nr_vcpus);
	u64 gap_cycles = READ_ONCE(s->gap_cycles);
	u64 long_cycles = READ_ONCE(s->long_cycles);

	if (READ_ONCE(s->x2apic))
		x2apic_enable();
	if (me == READ_ONCE(s->halt_vcpu)) {
		for (;;)
			asm volatile("cli; hlt");
	}

	prev = rdtsc();
	for (j = 0; j < MAX_VCPUS; j++)
		seen_at[j] = prev;

	while (!READ_ONCE(s->stop)) {
		now = rdtsc();
		/* This vCPU did not run in between: no stretch to claim. */
		if (now - prev > gap_cycles)
			for (j = 0; j < MAX_VCPUS; j++)
				seen_at[j] = now;
		WRITE_ONCE(s->heartbeat[me], s->heartbeat[me] + 1);

		worst = 0;
		for (j = 0; j < nr_vcpus; j++) {
			if (j == me)
				continue;
			beat = READ_ONCE(s->heartbeat[j]);
			if (beat != seen[j]) {
				seen[j] = beat;
				seen_at[j] = now;
				continue;
			}
			stall = now - seen_at[j];
			worst = stall > worst ? stall : worst;
		}
		if (worst > s->max_stall[me])
			WRITE_ONCE(s->max_stall[me], worst);
		if (worst > long_cycles && now - prev <= gap_cycles)
			WRITE_ONCE(s->long_stall[me], s->long_stall[me] + now - prev);
		prev = now;
	}
	GUEST_DONE();
}

struct vcpu_thread {
	struct kvm_vcpu *vcpu;
	pthread_t thread;
	int cpu;
	bool done;		/* guest reached GUEST_DONE */
	int nr_eintr;		/* KVM_RUN returned -EINTR */
	bool eintr_exit_reason_ok;
	bool stop_on_eintr;
	bool fifo;		/* SCHED_FIFO 1, below the hogs' 2 */
};

struct gang_vm {
	struct kvm_vm *vm;
	struct shared *shared;
	struct vcpu_thread threads[MAX_VCPUS];
	/* Opened up front: a vCPU ioctl would wait for the vCPU's KVM_RUN. */
	int vm_stats_fd;
	int vcpu_stats_fd[MAX_VCPUS];
	unsigned int nr_vcpus;
	u64 tsc_khz;
};

static void sigusr1_handler(int sig)
{
}

static void set_policy(int policy, int prio)
{
	struct sched_param sp = { .sched_priority = prio };

	TEST_ASSERT(!pthread_setschedparam(pthread_self(), policy, &sp),
		    "pthread_setschedparam(%d, %d)", policy, prio);
}

static void *vcpu_worker(void *arg)
{
	struct vcpu_thread *t = arg;

	kvm_pin_this_task_to_pcpu(t->cpu);
	if (t->fifo)
		set_policy(SCHED_FIFO, 1);
	else
		set_policy(SCHED_OTHER, 0);
	while (!gang_vcpu_run(t->vcpu)) {
		/* KVM_RUN returned -EINTR. */
		WRITE_ONCE(t->eintr_exit_reason_ok,
			   t->vcpu->run->exit_reason == KVM_EXIT_INTR);
		WRITE_ONCE(t->nr_eintr, t->nr_eintr + 1);
		if (READ_ONCE(t->stop_on_eintr))
			return NULL;
	}
	WRITE_ONCE(t->done, true);
	return NULL;
}

/* Create a VM with the gang in @mode; vCPU i will run on CPU i. */
/*
 * Create a VM with the gang in @mode (relaxed: threshold @skew_ns); vCPU i
 * will run on CPU i modulo the CPUs online.
 */
static void gang_vm_create_skew(struct gang_vm *g, unsigned int nr_vcpus,
				u64 mode, u64 skew_ns, u32 halt_vcpu)
{
	long nr_cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned int i;

	memset(g, 0, sizeof(*g));
	g->nr_vcpus = nr_vcpus;
	g->vm = vm_create(nr_vcpus);
	TEST_ASSERT(!gang_enable(g->vm, mode, skew_ns), "enable gang mode %lu", mode);
	for (i = 0; i < nr_vcpus; i++) {
		g->threads[i].vcpu = vm_vcpu_add(g->vm, i, guest_code);
		vcpu_args_set(g->threads[i].vcpu, 1, i);
		g->threads[i].cpu = i % nr_cpus;
	}
	g->vm_stats_fd = vm_get_stats_fd(g->vm);
	for (i = 0; i < nr_vcpus; i++)
		g->vcpu_stats_fd[i] = vcpu_get_stats_fd(g->threads[i].vcpu);
	g->tsc_khz = __vcpu_ioctl(g->threads[0].vcpu, KVM_GET_TSC_KHZ, NULL);
	TEST_ASSERT(g->tsc_khz > 0, "KVM_GET_TSC_KHZ");

	g->shared = addr_gva2hva(g->vm, (vm_vaddr_t)&shared);
	g->shared->nr_vcpus = nr_vcpus;
	g->shared->halt_vcpu = halt_vcpu;
	/* 50 us: far below a host time slice, far above a loop iteration. */
	g->shared->gap_cycles = g->tsc_khz * 50 / 1000;
	/* 1 ms: well above a kick's latency, well below a host time slice. */
	g->shared->long_cycles = g->tsc_khz;
}

static void gang_vm_create(struct gang_vm *g, unsigned int nr_vcpus, u64 mode,
			   u32 halt_vcpu)
{
	gang_vm_create_skew(g, nr_vcpus, mode, 0, halt_vcpu);
}

static void rt_throttling(bool on);

/*
 * vCPU threads at SCHED_FIFO 1: a FIFO hog (priority 2) then takes a vCPU's
 * CPU for exactly as long as it runs, which neither CFS nor 6.12's fair
 * deadline server can shorten.
 */
static void gang_vm_make_fifo(struct gang_vm *g)
{
	unsigned int i;

	for (i = 0; i < g->nr_vcpus; i++)
		g->threads[i].fifo = true;
}

static void gang_vm_start(struct gang_vm *g)
{
	unsigned int i;

	/* FIFO vCPUs spin on every CPU: the test thread must stay above them. */
	if (g->threads[0].fifo)
		rt_throttling(false);
	for (i = 0; i < g->nr_vcpus; i++)
		TEST_ASSERT(!pthread_create(&g->threads[i].thread, NULL,
					    vcpu_worker, &g->threads[i]),
			    "pthread_create");
}

static void gang_vm_stop(struct gang_vm *g)
{
	unsigned int i;

	WRITE_ONCE(g->shared->stop, 1);
	for (i = 0; i < g->nr_vcpus; i++)
		pthread_join(g->threads[i].thread, NULL);
	if (g->threads[0].fifo)
		rt_throttling(true);
}

static u64 vm_stat(struct gang_vm *g, const char *name)
{
	return gang_read_stat(g->vm_stats_fd, name, NULL);
}

static u64 vcpu_stat(struct gang_vm *g, int i, const char *name)
{
	return gang_read_stat(g->vcpu_stats_fd[i], name, NULL);
}

static void gang_vm_free(struct gang_vm *g)
{
	unsigned int i;

	close(g->vm_stats_fd);
	for (i = 0; i < g->nr_vcpus; i++)
		close(g->vcpu_stats_fd[i]);
	kvm_vm_free(g->vm);
}

/* "@key: N" from the VM's gang debugfs file. */
static unsigned int gang_debugfs(struct kvm_vm *vm, const char *key)
{
	char path[128], line[64], name[32];
	unsigned int value, nr = ~0u;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/debug/kvm/%d-%d/gang",
		 getpid(), vm->fd);
	f = fopen(path, "r");
	TEST_ASSERT(f, "open %s", path);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%31[^:]: %u", name, &value) == 2 &&
		    !strcmp(name, key))
			nr = value;
	}
	fclose(f);
	TEST_ASSERT(nr != ~0u, "%s has no %s line", path, key);
	return nr;
}

/* Print the VM's gang debugfs file, for a failure's context. */
static void gang_dump(struct kvm_vm *vm)
{
	char path[128], line[64];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/debug/kvm/%d-%d/gang",
		 getpid(), vm->fd);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		printf("#   gang %s", line);
	fclose(f);
}

static unsigned int gang_nr_absent(struct kvm_vm *vm)
{
	return gang_debugfs(vm, "absent");
}

static u64 now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

/* Poll @cond every 10 ms for up to @timeout_ms; a hang detector, not a figure. */
#define wait_for(cond, timeout_ms)					\
({									\
	u64 __deadline = now_ms() + (timeout_ms);			\
	bool __ok;							\
									\
	while (!(__ok = (cond)) && now_ms() < __deadline)		\
		usleep(10000);						\
	__ok;								\
})

static u64 now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000ull + ts.tv_nsec / 1000;
}

/*
 * A thread that keeps one CPU busy until told to stop; with @busy_us set,
 * busy for @busy_us then asleep for @idle_us, again and again (a SCHED_FIFO
 * one preempts the vCPU on its CPU for about @busy_us each time).
 */
struct hog {
	pthread_t thread;
	int cpu;
	bool fifo;
	bool stop;
	u64 busy_us;
	u64 idle_us;
};

static void *hog_worker(void *arg)
{
	struct hog *h = arg;
	u64 until;

	kvm_pin_this_task_to_pcpu(h->cpu);
	if (h->fifo)
		set_policy(SCHED_FIFO, 2);
	else
		set_policy(SCHED_OTHER, 0);
	while (!READ_ONCE(h->stop)) {
		if (!h->busy_us)
			continue;
		until = now_us() + h->busy_us;
		while (now_us() < until)
			;
		usleep(h->idle_us);
	}
	return NULL;
}

static void hog_start_periodic(struct hog *h, int cpu, bool fifo, u64 busy_us,
			       u64 idle_us)
{
	h->cpu = cpu;
	h->fifo = fifo;
	h->stop = false;
	h->busy_us = busy_us;
	h->idle_us = idle_us;
	TEST_ASSERT(!pthread_create(&h->thread, NULL, hog_worker, h),
		    "pthread_create hog");
}

static void hog_start(struct hog *h, int cpu, bool fifo)
{
	hog_start_periodic(h, cpu, fifo, 0, 0);
}

static void hog_stop(struct hog *h)
{
	WRITE_ONCE(h->stop, true);
	pthread_join(h->thread, NULL);
}

static void write_file(const char *path, const char *value)
{
	FILE *f = fopen(path, "w");

	TEST_ASSERT(f && fputs(value, f) >= 0 && !fclose(f), "write %s", path);
}

/*
 * Let SCHED_FIFO threads keep a CPU for as long as a test needs (RT
 * throttling would hand CFS 5% of it).  The test's own thread runs at the
 * highest FIFO priority of the test meanwhile, so that it can stop the hogs
 * even when they hold every CPU; it mostly sleeps.  Windows stay short:
 * kernel threads bound to a hogged CPU wait meanwhile.
 */
static void rt_throttling(bool on)
{
	long cpu, nr_cpus = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t all;

	if (on) {
		write_file(RT_RUNTIME, "950000");
		set_policy(SCHED_OTHER, 0);
		CPU_ZERO(&all);
		for (cpu = 0; cpu < nr_cpus; cpu++)
			CPU_SET(cpu, &all);
		TEST_ASSERT(!sched_setaffinity(0, sizeof(all), &all), "unpin");
	} else {
		/*
		 * On CPU 0, where the tests starve vCPU 0 anyway: the test's
		 * own polling must not preempt the other vCPUs.
		 */
		kvm_pin_this_task_to_pcpu(0);
		set_policy(SCHED_FIFO, 3);
		write_file(RT_RUNTIME, "-1");
	}
}

struct skew_result {
	u64 max_skew_us;
	u64 long_stall_us;
	u64 costops;
	u64 stopped_us;
	u64 forced_exits;
	u64 waits;
	u64 wait_us;
};

/*
 * Run the heartbeat guest for @seconds while a hog shaped like @spec shares
 * vCPU 0's CPU (continuous CFS, or periodic SCHED_FIFO).
 */
static void run_skew(unsigned int nr_vcpus, u64 mode, u64 skew_ns,
		     const struct hog *spec, unsigned int seconds,
		     struct skew_result *res)
{
	struct gang_vm g;
	u64 max = 0, long_stall = 0;
	struct hog hog;
	unsigned int i;

	gang_vm_create_skew(&g, nr_vcpus, mode, skew_ns, NO_VCPU);
	if (spec && spec->fifo)
		gang_vm_make_fifo(&g);
	gang_vm_start(&g);
	TEST_ASSERT(wait_for(g.shared->heartbeat[nr_vcpus - 1] > 0, 10000),
		    "vCPUs did not start");
	/* Measure only while the hog, if any, competes with vCPU 0. */
	if (spec)
		hog_start_periodic(&hog, 0, spec->fifo, spec->busy_us, spec->idle_us);
	for (i = 0; i < nr_vcpus; i++) {
		g.shared->max_stall[i] = 0;
		g.shared->long_stall[i] = 0;
	}
	sleep(seconds);
	for (i = 0; i < nr_vcpus; i++) {
		max = max > g.shared->max_stall[i] ? max : g.shared->max_stall[i];
		long_stall += g.shared->long_stall[i];
	}
	if (spec)
		hog_stop(&hog);
	gang_vm_stop(&g);

	memset(res, 0, sizeof(*res));
	res->max_skew_us = max * 1000 / g.tsc_khz;
	res->long_stall_us = long_stall * 1000 / g.tsc_khz;
	res->costops = vm_stat(&g, "gang_costops");
	res->stopped_us = vm_stat(&g, "gang_stopped_ns") / 1000;
	for (i = 0; i < nr_vcpus; i++) {
		TEST_ASSERT(g.threads[i].done, "vCPU %u did not finish", i);
		res->forced_exits += vcpu_stat(&g, i, "gang_forced_exits");
		res->waits += vcpu_stat(&g, i, "gang_waits");
		res->wait_us += vcpu_stat(&g, i, "gang_wait_ns") / 1000;
	}
	gang_vm_free(&g);
}

static void print_skew(const char *mode, unsigned int nr_vcpus,
		       struct skew_result *r)
{
	printf("# gang %-7s %u vCPUs: max skew %6lu us, ran %7lu us beside a stopped one, ",
	       mode, nr_vcpus, r->max_skew_us, r->long_stall_us);
	printf("costops %6lu, stopped %8lu us, ", r->costops, r->stopped_us);
	printf("forced exits %6lu, waits %6lu, waited %8lu us\n",
	       r->forced_exits, r->waits, r->wait_us);
}

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

static u64 median(u64 *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[n / 2];
}

#define SKEW_ROUNDS	3

/*
 * Gang off and strict, interleaved, SKEW_ROUNDS times each, at the default
 * kvm.gang_spin_ns, while a CFS hog shares vCPU 0's CPU.  Prints every run
 * and the medians with their spread; asserts the contrast of the medians.
 */
static void check_skew(unsigned int nr_vcpus, bool assert_contrast)
{
	u64 off_max[SKEW_ROUNDS], strict_max[SKEW_ROUNDS], quiet_max[SKEW_ROUNDS];
	u64 off_long[SKEW_ROUNDS], strict_long[SKEW_ROUNDS];
	struct skew_result off, strict, quiet;
	const struct hog cfs = {};
	u64 min_off, min_strict;
	int r;

	TEST_ASSERT(sysconf(_SC_NPROCESSORS_ONLN) >= nr_vcpus,
		    "needs %u CPUs (vm-run --smp %u)", nr_vcpus, nr_vcpus);
	for (r = 0; r < SKEW_ROUNDS; r++) {
		run_skew(nr_vcpus, KVM_GANG_MODE_OFF, 0, &cfs, 2, &off);
		print_skew("off", nr_vcpus, &off);
		run_skew(nr_vcpus, KVM_GANG_MODE_STRICT, 0, &cfs, 2, &strict);
		print_skew("strict", nr_vcpus, &strict);
		/* No hog: what the test bed itself stalls an emulated CPU for. */
		run_skew(nr_vcpus, KVM_GANG_MODE_STRICT, 0, NULL, 2, &quiet);
		print_skew("quiet", nr_vcpus, &quiet);
		quiet_max[r] = quiet.max_skew_us;

		/* Off: nothing co-stops.  Strict: the hog makes it co-stop. */
		TEST_ASSERT(!off.costops && !off.waits, "gang off co-stopped");
		TEST_ASSERT(strict.costops > 0 && strict.waits > 0,
			    "strict gang never co-stopped under a hog");
		off_max[r] = off.max_skew_us;
		strict_max[r] = strict.max_skew_us;
		off_long[r] = off.long_stall_us;
		strict_long[r] = strict.long_stall_us;
	}
	min_off = off_max[0];
	min_strict = strict_max[0];
	for (r = 1; r < SKEW_ROUNDS; r++) {
		min_off = off_max[r] < min_off ? off_max[r] : min_off;
		min_strict = strict_max[r] < min_strict ? strict_max[r] : min_strict;
	}
	printf("# max skew, median of %d (min): off %lu us (%lu), strict %lu us (%lu)\n",
	       SKEW_ROUNDS, median(off_max, SKEW_ROUNDS), min_off,
	       median(strict_max, SKEW_ROUNDS), min_strict);
	printf("# max skew without a hog (the test bed's floor), strict, median of %d: %lu us\n",
	       SKEW_ROUNDS, median(quiet_max, SKEW_ROUNDS));
	printf("# ran beside a stopped sibling, median of %d: off %lu us, strict %lu us\n",
	       SKEW_ROUNDS, median(off_long, SKEW_ROUNDS),
	       median(strict_long, SKEW_ROUNDS));
	if (!assert_contrast)
		return;
	/*
	 * The contrast, measured in this boot, medians of interleaved runs:
	 * the time a vCPU ran beside a sibling stopped for more than 1 ms is
	 * at least ten times shorter with the gang strict, and the longest
	 * such stretch is shorter.  The longest stretch is not held to ten
	 * times: the host stalls an emulated CPU of the test bed for a
	 * millisecond or more now and then, below anything the gang can see
	 * (docs/test-bed.md).
	 */
	TEST_ASSERT(median(strict_max, SKEW_ROUNDS) < median(off_max, SKEW_ROUNDS),
		    "strict: max skew %lu us, off: %lu us (medians)",
		    median(strict_max, SKEW_ROUNDS), median(off_max, SKEW_ROUNDS));
	TEST_ASSERT(median(strict_long, SKEW_ROUNDS) * 10 <= median(off_long, SKEW_ROUNDS),
		    "strict: ran %lu us beside a stopped sibling, off: %lu us (medians)",
		    median(strict_long, SKEW_ROUNDS), median(off_long, SKEW_ROUNDS));
}

/*
 * Every test runs in a child of its own; whatever way it ends, the teardown
 * gives the CPUs back to CFS (a failed assertion may leave RT throttling
 * and the fair servers off).
 */
FIXTURE(gang) {
};

FIXTURE_SETUP(gang)
{
}

FIXTURE_TEARDOWN(gang)
{
	FILE *f = fopen(RT_RUNTIME, "r");
	char runtime[32] = "";

	if (f) {
		if (!fgets(runtime, sizeof(runtime), f))
			runtime[0] = 0;
		fclose(f);
	}
	if (strcmp(runtime, "950000\n"))
		rt_throttling(true);
}

TEST_F_TIMEOUT(gang, skew_2vcpus, 300)
{
	check_skew(2, true);
}

/*
 * Three test-bed CPUs on a two-core host: the host itself takes the emulated
 * CPUs away for milliseconds, below anything the gang in the test bed can
 * see, so only the co-stop machinery is checked here and the skews printed.
 */
TEST_F_TIMEOUT(gang, skew_3vcpus, 300)
{
	check_skew(3, false);
}

/* Make vCPU 1 wait at the gate: starve vCPU 0 with a FIFO hog on CPU 0. */
static void starve_vcpu0(struct gang_vm *g, struct hog *hog)
{
	u64 beat;

	TEST_ASSERT(g->threads[0].fifo, "starving a CFS vCPU: CFS would still run it");
	hog_start(hog, 0, true);
	TEST_ASSERT(wait_for(gang_nr_absent(g->vm) >= 1, 10000),
		    "vCPU 0 not counted as preempted");
	/* vCPU 1 stands still: it waits for the gang. */
	do {
		beat = g->shared->heartbeat[1];
		usleep(100000);
	} while (beat != g->shared->heartbeat[1]);
}

/* Same, and wait until vCPU 1 sleeps at the gate. */
static void starve_vcpu0_until_asleep(struct gang_vm *g, struct hog *hog)
{
	starve_vcpu0(g, hog);
	TEST_ASSERT(wait_for(gang_debugfs(g->vm, "asleep") >= 1, 10000),
		    "vCPU 1 never slept at the gate");
}

/*
 * vCPU 0 starved and vCPU 1 asleep at the gate: put a FIFO hog on CPU 1, so
 * that vCPU 1, once woken, stays queued.  If vCPU 1 happened to be awake
 * when the hog started, the hog preempted it instead: try again.
 */
static void queue_vcpu1_behind(struct gang_vm *g, struct hog *hog1)
{
	int tries;

	for (tries = 0; tries < 10; tries++) {
		TEST_ASSERT(wait_for(gang_debugfs(g->vm, "asleep") == 1, 10000),
			    "vCPU 1 never slept at the gate");
		hog_start(hog1, 1, true);
		usleep(100000);
		if (gang_debugfs(g->vm, "preempted") == 1 &&
		    gang_debugfs(g->vm, "asleep") == 1)
			return;
		hog_stop(hog1);
	}
	TEST_FAIL("vCPU 1 was never asleep when the hog took its CPU");
}

static void release_vcpu0(struct hog *hog)
{
	hog_stop(hog);
}

/* The heartbeat of @vcpu does not move for @ms. */
static bool stands_still(struct gang_vm *g, unsigned int vcpu, unsigned int ms)
{
	u64 beat = READ_ONCE(g->shared->heartbeat[vcpu]);

	usleep(ms * 1000);
	return READ_ONCE(g->shared->heartbeat[vcpu]) == beat;
}

static bool moves(struct gang_vm *g, unsigned int vcpu)
{
	u64 beat = READ_ONCE(g->shared->heartbeat[vcpu]);

	return wait_for(READ_ONCE(g->shared->heartbeat[vcpu]) > beat + 1000, 10000);
}

/*
 * End vCPU @i's KVM_RUN with SIGUSR1 @nr times.  A signal that lands while
 * the thread is between two KVM_RUNs is handled in userspace and ends
 * nothing, so it is sent again until KVM_RUN returns -EINTR.
 */
static void signal_vcpu(struct gang_vm *g, unsigned int i, int nr)
{
	u64 deadline, resend;
	int n, before;

	for (n = 0; n < nr; n++) {
		before = READ_ONCE(g->threads[i].nr_eintr);
		deadline = now_ms() + 10000;
		resend = 0;
		while (READ_ONCE(g->threads[i].nr_eintr) == before) {
			TEST_ASSERT(now_ms() < deadline,
				    "vCPU %u: signal %d did not end KVM_RUN", i, n);
			if (now_us() >= resend) {
				pthread_kill(g->threads[i].thread, SIGUSR1);
				resend = now_us() + 10000;
			}
			usleep(50);
		}
	}
}

TEST_F_TIMEOUT(gang, halted_sibling_does_not_stop_gang, 120)
{
	struct gang_vm g;
	struct hog hog;
	u64 beat, waits;

	gang_vm_create(&g, 2, KVM_GANG_MODE_STRICT, 1);
	g.threads[1].stop_on_eintr = true;
	gang_vm_start(&g);
	/* Let vCPU 1 reach its cli; hlt. */
	ASSERT_TRUE(wait_for(g.shared->heartbeat[0] > 0, 10000));
	sleep(1);
	/* A hog on the halted vCPU's CPU: halted is not runnable, not preempted. */
	hog_start(&hog, 1, false);
	beat = g.shared->heartbeat[0];
	waits = vcpu_stat(&g, 0, "gang_waits");
	sleep(3);
	ASSERT_GT(g.shared->heartbeat[0], beat + 1000);
	ASSERT_EQ(vcpu_stat(&g, 0, "gang_waits"), waits);
	hog_stop(&hog);

	pthread_kill(g.threads[1].thread, SIGUSR1);
	ASSERT_TRUE(wait_for(READ_ONCE(g.threads[1].nr_eintr) > 0, 10000));
	gang_vm_stop(&g);
	ASSERT_TRUE(g.threads[0].done);
	ASSERT_EQ(g.threads[1].nr_eintr, 1);
	gang_vm_free(&g);
}

TEST_F_TIMEOUT(gang, signal_ends_wait_with_eintr, 120)
{
	struct gang_vm g;
	struct hog hog;
	bool released;

	gang_vm_create(&g, 2, KVM_GANG_MODE_STRICT, NO_VCPU);
	gang_vm_make_fifo(&g);
	gang_vm_start(&g);
	ASSERT_TRUE(wait_for(g.shared->heartbeat[1] > 0, 10000));
	starve_vcpu0(&g, &hog);

	pthread_kill(g.threads[1].thread, SIGUSR1);
	released = wait_for(READ_ONCE(g.threads[1].nr_eintr) > 0, 10000);
	/* Still co-stopped: the signal, not a co-start, ended the wait. */
	ASSERT_GE(gang_nr_absent(g.vm), 1);
	release_vcpu0(&hog);

	ASSERT_TRUE(released);
	ASSERT_TRUE(g.threads[1].eintr_exit_reason_ok);
	ASSERT_GE(vcpu_stat(&g, 1, "gang_waits"), 1);
	gang_vm_stop(&g);
	ASSERT_TRUE(g.threads[0].done && g.threads[1].done);
	gang_vm_free(&g);
}

/*
 * The co-stop is not lost after a signal: a member that KVM_RUN left with
 * -EINTR while its sibling is preempted waits again at its next KVM_RUN, as
 * QEMU's vCPU threads do after every kick.
 */
TEST_F_TIMEOUT(gang, signal_reentry_waits_again, 120)
{
	struct gang_vm g;
	struct hog hog;
	bool still;
	u64 beat;

	gang_vm_create(&g, 2, KVM_GANG_MODE_STRICT, NO_VCPU);
	gang_vm_make_fifo(&g);
	gang_vm_start(&g);
	ASSERT_TRUE(wait_for(g.shared->heartbeat[1] > 0, 10000));
	starve_vcpu0(&g, &hog);

	beat = g.shared->heartbeat[1];
	signal_vcpu(&g, 1, 20);
	still = stands_still(&g, 1, 300) && g.shared->heartbeat[1] == beat;
	ASSERT_GE(gang_nr_absent(g.vm), 1);
	release_vcpu0(&hog);

	ASSERT_TRUE(still)
		TH_LOG("vCPU 1 ran guest code after a signal while vCPU 0 was preempted");
	ASSERT_TRUE(moves(&g, 1));
	gang_vm_stop(&g);
	ASSERT_TRUE(g.threads[0].done && g.threads[1].done);
	gang_vm_free(&g);
}

/*
 * A vCPU created and started while the gang is co-stopped waits too.  vCPU
 * 1 leaves first, so that the new vCPU 2 has CPU 1 to itself: a strict gang
 * with more members that want to run than CPUs never runs.
 */
TEST_F_TIMEOUT(gang, vcpu_created_during_costop_waits, 120)
{
	struct vcpu_thread *t;
	struct gang_vm g;
	struct hog hog;
	bool still;

	gang_vm_create(&g, 2, KVM_GANG_MODE_STRICT, NO_VCPU);
	gang_vm_make_fifo(&g);
	g.threads[1].stop_on_eintr = true;
	gang_vm_start(&g);
	ASSERT_TRUE(wait_for(g.shared->heartbeat[1] > 0, 10000));
	starve_vcpu0(&g, &hog);
	pthread_kill(g.threads[1].thread, SIGUSR1);
	pthread_join(g.threads[1].thread, NULL);
	g.threads[1].done = true;

	t = &g.threads[2];
	t->vcpu = vm_vcpu_add(g.vm, 2, guest_code);
	vcpu_args_set(t->vcpu, 1, 2);
	t->cpu = 1;
	t->fifo = true;
	g.vcpu_stats_fd[2] = vcpu_get_stats_fd(t->vcpu);
	g.nr_vcpus = 3;
	ASSERT_EQ(gang_debugfs(g.vm, "members"), 3);
	ASSERT_EQ(pthread_create(&t->thread, NULL, vcpu_worker, t), 0);
	still = stands_still(&g, 2, 500) && !g.shared->heartbeat[2];
	release_vcpu0(&hog);

	ASSERT_TRUE(still) TH_LOG("a vCPU created during a co-stop ran guest code");
	ASSERT_TRUE(moves(&g, 2));
	WRITE_ONCE(g.shared->stop, 1);
	pthread_join(g.threads[0].thread, NULL);
	pthread_join(g.threads[2].thread, NULL);
	ASSERT_TRUE(g.threads[0].done && g.threads[2].done);
	gang_vm_free(&g);
}

TEST_F_TIMEOUT(gang, mode_off_releases_waiters, 120)
{
	struct gang_vm g;
	struct hog hog;
	bool released;
	u64 beat;

	gang_vm_create(&g, 2, KVM_GANG_MODE_STRICT, NO_VCPU);
	gang_vm_make_fifo(&g);
	gang_vm_start(&g);
	ASSERT_TRUE(wait_for(g.shared->heartbeat[1] > 0, 10000));
	starve_vcpu0_until_asleep(&g, &hog);

	beat = g.shared->heartbeat[1];
	ASSERT_EQ(gang_enable(g.vm, KVM_GANG_MODE_OFF, 0), 0);
	released = wait_for(g.shared->heartbeat[1] > beat + 1000, 10000);
	ASSERT_GE(gang_nr_absent(g.vm), 1);
	release_vcpu0(&hog);

	ASSERT_TRUE(released);
	gang_vm_stop(&g);
	ASSERT_TRUE(g.threads[0].done && g.threads[1].done);
	ASSERT_EQ(gang_nr_absent(g.vm), 0);
	gang_vm_free(&g);
}

#define TRACING "/sys/kernel/tracing"

static void trace_events(bool on)
{
	static const char * const events[] = {
		"kvm_gang_costop", "kvm_gang_costart", "kvm_gang_wait",
	};
	char path[128];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(events); i++) {
		snprintf(path, sizeof(path), TRACING "/events/kvm/%s/enable", events[i]);
		write_file(path, on ? "1" : "0");
	}
	if (on)
		write_file(TRACING "/trace", "");
}

/* Lines of the trace buffer that contain every one of @a and @b. */
static int trace_count(const char *a, const char *b)
{
	FILE *f = fopen(TRACING "/trace", "r");
	char line[512];
	int nr = 0;

	TEST_ASSERT(f, "open " TRACING "/trace");
	while (fgets(line, sizeof(line), f))
		nr += strstr(line, a) && (!b || strstr(line, b));
	fclose(f);
	return nr;
}

/*
 * A member asleep at the gate is a blocked vCPU: an interrupt's kick
 * (kvm_vcpu_kick() of the MSI's destination) wakes it, it goes back to the
 * run loop for the request and waits again.  Seen through the gang's
 * tracepoints in tracefs, which must also show the co-stop and co-start.
 */
TEST_F_TIMEOUT(gang, sleeping_waiter_woken_by_kick, 120)
{
	struct kvm_msi msi = {
		.address_lo = 0xfee00000 | (1 << 12),	/* APIC ID 1 */
		.data = 0x40,				/* fixed, vector 0x40 */
	};
	struct gang_vm g;
	struct hog hog;
	int woken, ended;

	gang_vm_create(&g, 2, KVM_GANG_MODE_STRICT, NO_VCPU);
	gang_vm_make_fifo(&g);
	g.shared->x2apic = 1;
	gang_vm_start(&g);
	ASSERT_TRUE(wait_for(g.shared->heartbeat[1] > 0, 10000));
	trace_events(true);
	starve_vcpu0_until_asleep(&g, &hog);

	ended = trace_count("vcpu 1 waited", "ended by request");
	ASSERT_EQ(__vm_ioctl(g.vm, KVM_SIGNAL_MSI, &msi), 1);
	woken = wait_for(trace_count("vcpu 1 waited", "ended by request") > ended, 5000);
	/* Back at the gate, asleep again. */
	ASSERT_TRUE(wait_for(gang_debugfs(g.vm, "asleep") >= 1, 5000));
	ASSERT_TRUE(stands_still(&g, 1, 200));
	release_vcpu0(&hog);
	ASSERT_TRUE(moves(&g, 1));
	trace_events(false);

	ASSERT_TRUE(woken) TH_LOG("the MSI's kick did not wake vCPU 1 at the gate");
	ASSERT_GE(trace_count("kvm_gang_costop", "gang co-stopped"), 1);
	ASSERT_GE(trace_count("kvm_gang_costart", "gang co-started"), 1);
	ASSERT_GE(trace_count("vcpu 1 waited", "ended by open"), 1);
	gang_vm_stop(&g);
	ASSERT_TRUE(g.threads[0].done && g.threads[1].done);
	gang_vm_free(&g);
}

/*
 * The co-start barrier: vCPU 1 sleeps at the gate, then a FIFO hog takes its
 * CPU.  When vCPU 0 is back, vCPU 1 is woken but stays queued behind that
 * hog: it counts as gathering, and vCPU 0 runs no guest code until vCPU 1
 * is on its CPU.
 */
TEST_F_TIMEOUT(gang, costart_waits_for_woken_sibling, 120)
{
	struct hog hog0, hog1;
	struct gang_vm g;
	unsigned int gathering, stopped;
	bool still;

	gang_vm_create(&g, 2, KVM_GANG_MODE_STRICT, NO_VCPU);
	gang_vm_make_fifo(&g);
	gang_vm_start(&g);
	ASSERT_TRUE(wait_for(g.shared->heartbeat[1] > 0, 10000));
	starve_vcpu0_until_asleep(&g, &hog0);
	queue_vcpu1_behind(&g, &hog1);
	hog_stop(&hog0);

	usleep(100000);
	still = stands_still(&g, 0, 500);
	gang_dump(g.vm);
	gathering = gang_debugfs(g.vm, "gathering");
	stopped = gang_debugfs(g.vm, "stopped");
	hog_stop(&hog1);

	ASSERT_TRUE(still) TH_LOG("vCPU 0 ran while its woken sibling was queued");
	ASSERT_EQ(gathering, 1);
	ASSERT_EQ(stopped, 1);
	ASSERT_TRUE(moves(&g, 0) && moves(&g, 1));
	gang_vm_stop(&g);
	ASSERT_TRUE(g.threads[0].done && g.threads[1].done);
	ASSERT_EQ(gang_nr_absent(g.vm), 0);
	gang_vm_free(&g);
}

/* A vCPU thread that leaves KVM_RUN for good holds nobody back. */
TEST_F_TIMEOUT(gang, thread_exit_while_sibling_preempted, 120)
{
	struct gang_vm g;
	struct hog hog;

	gang_vm_create(&g, 2, KVM_GANG_MODE_STRICT, NO_VCPU);
	gang_vm_make_fifo(&g);
	g.threads[1].stop_on_eintr = true;
	gang_vm_start(&g);
	ASSERT_TRUE(wait_for(g.shared->heartbeat[1] > 0, 10000));
	starve_vcpu0_until_asleep(&g, &hog);

	/* vCPU 1's thread returns from its start routine: pthread_exit(). */
	pthread_kill(g.threads[1].thread, SIGUSR1);
	pthread_join(g.threads[1].thread, NULL);
	gang_dump(g.vm);
	ASSERT_EQ(g.threads[1].nr_eintr, 1);
	ASSERT_EQ(gang_debugfs(g.vm, "asleep"), 0);
	release_vcpu0(&hog);

	ASSERT_TRUE(moves(&g, 0));
	/* Read once vCPU 0 is done: this thread's polling preempts it. */
	WRITE_ONCE(g.shared->stop, 1);
	pthread_join(g.threads[0].thread, NULL);
	ASSERT_TRUE(g.threads[0].done);
	ASSERT_EQ(gang_nr_absent(g.vm), 0);
	gang_vm_free(&g);
}

/*
 * Thousands of signals while the gang is stopped and while it gathers; each
 * ends a KVM_RUN that is then called again.  Afterwards the gang runs and
 * nobody is counted absent.
 */
TEST_F_TIMEOUT(gang, signal_storm_while_stopped_and_gathering, 300)
{
	struct hog hog0, hog1;
	struct gang_vm g;

	gang_vm_create(&g, 2, KVM_GANG_MODE_STRICT, NO_VCPU);
	gang_vm_make_fifo(&g);
	gang_vm_start(&g);
	ASSERT_TRUE(wait_for(g.shared->heartbeat[1] > 0, 10000));
	starve_vcpu0_until_asleep(&g, &hog0);
	signal_vcpu(&g, 1, 1500);
	ASSERT_TRUE(stands_still(&g, 1, 100));

	/* Gathering: vCPU 1 woken behind a FIFO hog, vCPU 0 waits for it. */
	queue_vcpu1_behind(&g, &hog1);
	hog_stop(&hog0);
	ASSERT_TRUE(wait_for(gang_debugfs(g.vm, "gathering") == 1, 5000));
	signal_vcpu(&g, 0, 1500);
	ASSERT_TRUE(stands_still(&g, 0, 100));
	hog_stop(&hog1);

	ASSERT_TRUE(moves(&g, 0) && moves(&g, 1));
	gang_vm_stop(&g);
	ASSERT_TRUE(g.threads[0].done && g.threads[1].done);
	ASSERT_EQ(gang_nr_absent(g.vm), 0);
	ASSERT_EQ(gang_debugfs(g.vm, "asleep"), 0);
	gang_vm_free(&g);
}

/*
 * Eight vCPUs on two CPUs with a CFS hog on each: a strict gang that can
 * never have all its members on CPUs.  Nothing hangs: signals still end
 * KVM_RUN, turning the gang off lets every vCPU finish, the counts balance.
 */
TEST_F_TIMEOUT(gang, eight_vcpus_on_two_cpus_with_hogs, 120)
{
	struct hog hog0, hog1;
	struct gang_vm g;
	unsigned int i;

	gang_vm_create(&g, 8, KVM_GANG_MODE_STRICT, NO_VCPU);
	hog_start(&hog0, 0, false);
	hog_start(&hog1, 1, false);
	gang_vm_start(&g);
	sleep(3);
	for (i = 0; i < 8; i++)
		signal_vcpu(&g, i, 10);
	printf("# costops %lu, stopped %lu us\n", vm_stat(&g, "gang_costops"),
	       vm_stat(&g, "gang_stopped_ns") / 1000);
	ASSERT_GT(vm_stat(&g, "gang_costops"), 0);
	ASSERT_EQ(gang_enable(g.vm, KVM_GANG_MODE_OFF, 0), 0);
	hog_stop(&hog0);
	hog_stop(&hog1);
	gang_vm_stop(&g);
	for (i = 0; i < 8; i++)
		ASSERT_TRUE(g.threads[i].done) TH_LOG("vCPU %u did not finish", i);
	ASSERT_TRUE(wait_for(gang_nr_absent(g.vm) == 0, 5000));
	gang_vm_free(&g);
}

/* Any debugfs directory of a VM that @pid created. */
static bool vm_dirs_of(pid_t pid)
{
	char pattern[64], cmd[128];

	snprintf(pattern, sizeof(pattern), "/sys/kernel/debug/kvm/%d-*", pid);
	snprintf(cmd, sizeof(cmd), "ls -d %s >/dev/null 2>&1", pattern);
	return system(cmd) == 0;
}

/*
 * In a child: a strict gang VM with a real co-stop and vCPU 1 asleep at the
 * gate; then the parent kills the child.  The VM goes away with it.
 */
static void costop_then_kill(void)
{
	int ready[2], status;
	struct gang_vm g;
	struct hog hog;
	pid_t child;
	char c;

	TEST_ASSERT(!pipe(ready), "pipe");
	child = fork();
	TEST_ASSERT(child >= 0, "fork");
	if (!child) {
		gang_vm_create(&g, 2, KVM_GANG_MODE_STRICT, NO_VCPU);
		gang_vm_make_fifo(&g);
	gang_vm_make_fifo(&g);
		gang_vm_start(&g);
		TEST_ASSERT(wait_for(g.shared->heartbeat[1] > 0, 10000), "start");
		starve_vcpu0_until_asleep(&g, &hog);
		TEST_ASSERT(vm_stat(&g, "gang_costops") > 0, "no co-stop");
		TEST_ASSERT(write(ready[1], "r", 1) == 1, "ready");
		pause();
		_exit(0);
	}
	close(ready[1]);
	TEST_ASSERT(read(ready[0], &c, 1) == 1, "child did not get its co-stop");
	close(ready[0]);
	TEST_ASSERT(vm_dirs_of(child), "no VM of the child");

	kill(child, SIGKILL);
	TEST_ASSERT(wait_for(waitpid(child, &status, WNOHANG) == child, 30000),
		    "killed child did not exit");
	TEST_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		    "child status %#x", status);
	rt_throttling(true);
	/* The VM went away with its process. */
	TEST_ASSERT(wait_for(!vm_dirs_of(child), 10000), "VM outlived its process");
}

TEST_F_TIMEOUT(gang, kill_with_waiters_destroys_vm, 120)
{
	costop_then_kill();
}

/* 100 times: create, co-stop with a sleeping waiter, kill; kmemleak after. */
TEST_F_TIMEOUT(gang, costop_kill_100_no_leak, 900)
{
	FILE *f;
	char line[256];
	int i, leaks = 0;

	f = fopen("/sys/kernel/debug/kmemleak", "w");
	ASSERT_NE(f, NULL) TH_LOG("needs kmemleak: run under the debug kernel");
	fputs("clear", f);
	fclose(f);

	for (i = 0; i < 100; i++)
		costop_then_kill();

	write_file("/sys/kernel/debug/kmemleak", "scan");
	f = fopen("/sys/kernel/debug/kmemleak", "r");
	ASSERT_NE(f, NULL);
	while (fgets(line, sizeof(line), f)) {
		fputs(line, stdout);
		if (strstr(line, "unreferenced object"))
			leaks++;
	}
	fclose(f);
	ASSERT_EQ(leaks, 0);
}

/*
 * Relaxed mode, threshold 20 ms (far above the kick latency and the host
 * noise of the test bed): a SCHED_FIFO hog on vCPU 0's CPU that runs for
 * 1 ms at a time costs the siblings nothing, no co-stop at all.
 */
TEST_F_TIMEOUT(gang, relaxed_short_preemptions_no_costop, 120)
{
	const struct hog short_hog = { .fifo = true, .busy_us = 1000, .idle_us = 4000 };
	struct skew_result r;

	run_skew(2, KVM_GANG_MODE_RELAXED, 20000000, &short_hog, 3, &r);
	print_skew("relaxed", 2, &r);
	ASSERT_EQ(r.costops, 0);
	ASSERT_EQ(r.waits, 0);
}

/*
 * Relaxed mode, threshold 20 ms, a FIFO hog that keeps vCPU 0 off its CPU
 * for 200 ms at a time: the gang co-stops, and the time vCPU 1 runs while
 * vCPU 0's heartbeat stands still (guest TSC) shrinks to about the threshold
 * per co-stop.  Asserted: relaxed co-stops, still lets some of that time
 * through (it is not strict), and at most half of what the same hog gives
 * with the gang off in this boot; the per-co-stop figure is printed.
 */
TEST_F_TIMEOUT(gang, relaxed_long_preemption_bounds_stall, 120)
{
	const struct hog long_hog = { .fifo = true, .busy_us = 200000, .idle_us = 100000 };
	struct skew_result off, relaxed;
	u64 threshold_us = 20000;

	run_skew(2, KVM_GANG_MODE_OFF, 0, &long_hog, 3, &off);
	print_skew("off", 2, &off);
	run_skew(2, KVM_GANG_MODE_RELAXED, threshold_us * 1000, &long_hog, 3, &relaxed);
	print_skew("relaxed", 2, &relaxed);
	printf("# relaxed, threshold %lu us: ran %lu us beside a stopped sibling per co-stop\n",
	       threshold_us, relaxed.costops ? relaxed.long_stall_us / relaxed.costops : 0);

	ASSERT_EQ(off.costops, 0);
	ASSERT_GT(relaxed.costops, 0);
	ASSERT_GT(relaxed.waits, 0);
	ASSERT_GT(relaxed.long_stall_us, 0);
	ASSERT_LT(relaxed.long_stall_us * 2, off.long_stall_us);
}

static void __attribute__((constructor)) setup(void)
{
	struct sigaction sa = { .sa_handler = sigusr1_handler };

	/* No SA_RESTART: KVM_RUN must come back with -EINTR. */
	sigaction(SIGUSR1, &sa, NULL);
}

TEST_HARNESS_MAIN
