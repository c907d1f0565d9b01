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

#include "gang_util.h"
#include "kselftest_harness.h"
#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"

#define MAX_VCPUS	3
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

static void *vcpu_worker(void *arg)
{
	struct vcpu_thread *t = arg;
	struct ucall uc;
	int r;

	kvm_pin_this_task_to_pcpu(t->cpu);
	for (;;) {
		r = __vcpu_run(t->vcpu);
		if (r == -1 && errno == EINTR) {
			WRITE_ONCE(t->eintr_exit_reason_ok,
				   t->vcpu->run->exit_reason == KVM_EXIT_INTR);
			WRITE_ONCE(t->nr_eintr, t->nr_eintr + 1);
			if (READ_ONCE(t->stop_on_eintr))
				return NULL;
			continue;
		}
		TEST_ASSERT(!r, "KVM_RUN: %s", strerror(errno));
		switch (get_ucall(t->vcpu, &uc)) {
		case UCALL_DONE:
			WRITE_ONCE(t->done, true);
			return NULL;
		case UCALL_ABORT:
			REPORT_GUEST_ASSERT(uc);
		default:
			TEST_FAIL("unexpected exit %s",
				  exit_reason_str(t->vcpu->run->exit_reason));
		}
	}
}

/* Create a VM with the gang in @mode; vCPU i will run on CPU i. */
static void gang_vm_create(struct gang_vm *g, unsigned int nr_vcpus, u64 mode,
			   u32 halt_vcpu)
{
	unsigned int i;

	memset(g, 0, sizeof(*g));
	g->nr_vcpus = nr_vcpus;
	g->vm = vm_create(nr_vcpus);
	TEST_ASSERT(!gang_enable(g->vm, mode, 0), "enable gang mode %lu", mode);
	for (i = 0; i < nr_vcpus; i++) {
		g->threads[i].vcpu = vm_vcpu_add(g->vm, i, guest_code);
		vcpu_args_set(g->threads[i].vcpu, 1, i);
		g->threads[i].cpu = i;
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

static void gang_vm_start(struct gang_vm *g)
{
	unsigned int i;

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

/* "absent: N" from the VM's gang debugfs file. */
static unsigned int gang_nr_absent(struct kvm_vm *vm)
{
	char path[128], line[64];
	unsigned int nr = ~0u;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/debug/kvm/%d-%d/gang",
		 getpid(), vm->fd);
	f = fopen(path, "r");
	TEST_ASSERT(f, "open %s", path);
	while (fgets(line, sizeof(line), f))
		sscanf(line, "absent: %u", &nr);
	fclose(f);
	TEST_ASSERT(nr != ~0u, "%s has no absent line", path);
	return nr;
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

/* A thread that keeps one CPU busy until told to stop. */
struct hog {
	pthread_t thread;
	int cpu;
	bool fifo;
	bool stop;
};

static void *hog_worker(void *arg)
{
	struct hog *h = arg;
	struct sched_param sp = { .sched_priority = 1 };

	kvm_pin_this_task_to_pcpu(h->cpu);
	if (h->fifo)
		TEST_ASSERT(!pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp),
			    "SCHED_FIFO");
	while (!READ_ONCE(h->stop))
		;
	return NULL;
}

static void hog_start(struct hog *h, int cpu, bool fifo)
{
	h->cpu = cpu;
	h->fifo = fifo;
	h->stop = false;
	TEST_ASSERT(!pthread_create(&h->thread, NULL, hog_worker, h),
		    "pthread_create hog");
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
 * Let a SCHED_FIFO hog keep a CPU for as long as a test needs (RT throttling
 * would hand CFS 5% of it).  Windows stay short: kernel threads bound to that
 * CPU wait meanwhile.
 */
static void rt_throttling(bool on)
{
	write_file(RT_RUNTIME, on ? "950000" : "-1");
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

static void run_skew(unsigned int nr_vcpus, u64 mode, unsigned int seconds,
		     struct skew_result *res)
{
	struct gang_vm g;
	u64 max = 0, long_stall = 0;
	struct hog hog;
	unsigned int i;

	gang_vm_create(&g, nr_vcpus, mode, NO_VCPU);
	gang_vm_start(&g);
	TEST_ASSERT(wait_for(g.shared->heartbeat[nr_vcpus - 1] > 0, 10000),
		    "vCPUs did not start");
	/* Measure only while the hog competes with vCPU 0. */
	hog_start(&hog, 0, false);
	for (i = 0; i < nr_vcpus; i++) {
		g.shared->max_stall[i] = 0;
		g.shared->long_stall[i] = 0;
	}
	sleep(seconds);
	for (i = 0; i < nr_vcpus; i++) {
		printf("#   vCPU %u saw a sibling stand still for %lu us at most\n",
		       i, g.shared->max_stall[i] * 1000 / g.tsc_khz);
		max = max > g.shared->max_stall[i] ? max : g.shared->max_stall[i];
		long_stall += g.shared->long_stall[i];
	}
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
	printf("# gang %-6s %u vCPUs: max skew %6lu us, ran %7lu us beside a stopped one, ",
	       mode, nr_vcpus, r->max_skew_us, r->long_stall_us);
	printf("costops %6lu, stopped %8lu us, ", r->costops, r->stopped_us);
	printf("forced exits %6lu, waits %6lu, waited %8lu us\n",
	       r->forced_exits, r->waits, r->wait_us);
}

#define SPIN_PARAM	"/sys/module/kvm/parameters/gang_spin_ns"

static void set_spin_ns(const char *ns)
{
	write_file(SPIN_PARAM, ns);
	printf("# kvm.gang_spin_ns = %s%s", ns, strchr(ns, '\n') ? "" : "\n");
}

/*
 * A waiter spins for kvm.gang_spin_ns before it sleeps.  Waking a sleeping
 * vCPU thread takes milliseconds in the TCG test bed (microseconds on real
 * hardware), so the strict run spins for 2 ms there, as an operator tunes the
 * spin to the host like halt_poll_ns; the default spin is measured and
 * printed too, for information.
 */
static void check_skew(unsigned int nr_vcpus, bool assert_contrast)
{
	struct skew_result off, strict, strict_default;
	char default_spin[32] = "";
	FILE *f = fopen(SPIN_PARAM, "r");

	TEST_ASSERT(f && fgets(default_spin, sizeof(default_spin), f), SPIN_PARAM);
	fclose(f);

	TEST_ASSERT(sysconf(_SC_NPROCESSORS_ONLN) >= nr_vcpus,
		    "needs %u CPUs (vm-run --smp %u)", nr_vcpus, nr_vcpus);
	run_skew(nr_vcpus, KVM_GANG_MODE_OFF, 3, &off);
	print_skew("off", nr_vcpus, &off);
	run_skew(nr_vcpus, KVM_GANG_MODE_STRICT, 3, &strict_default);
	print_skew("strict", nr_vcpus, &strict_default);
	set_spin_ns("2000000");
	run_skew(nr_vcpus, KVM_GANG_MODE_STRICT, 3, &strict);
	set_spin_ns(default_spin);
	print_skew("strict", nr_vcpus, &strict);

	/* Off: nothing co-stops, and the hog makes siblings stand still. */
	TEST_ASSERT(!off.costops && !off.waits, "gang off co-stopped");
	TEST_ASSERT(strict.costops > 0 && strict.waits > 0,
		    "strict gang never co-stopped under a hog");
	if (!assert_contrast)
		return;
	/*
	 * The contrast, measured in this boot: the time a vCPU ran while a
	 * sibling stood still for more than 1 ms is below a third of what
	 * it is with the gang off.  The maximum skew is printed, not asserted:
	 * a busy host stalls the emulated CPUs themselves for milliseconds now
	 * and then, below anything the gang in the test bed can see.
	 */
	TEST_ASSERT(strict.long_stall_us * 3 < off.long_stall_us,
		    "strict: ran %lu us beside a stopped sibling, off: %lu us",
		    strict.long_stall_us, off.long_stall_us);
}

TEST(skew_2vcpus)
{
	check_skew(2, true);
}

/*
 * Three test-bed CPUs on a two-core host: the host itself takes the emulated
 * CPUs away for milliseconds, below anything the gang in the test bed can
 * see, so only the co-stop machinery is checked here and the skews printed.
 */
TEST(skew_3vcpus)
{
	check_skew(3, false);
}

/* Make vCPU 1 wait: starve vCPU 0 with a FIFO hog on CPU 0. */
static void starve_vcpu0(struct gang_vm *g, struct hog *hog)
{
	u64 beat;

	rt_throttling(false);
	hog_start(hog, 0, true);
	TEST_ASSERT(wait_for(gang_nr_absent(g->vm) >= 1, 10000),
		    "vCPU 0 not counted as preempted");
	/* vCPU 1 stands still: it waits for the gang. */
	do {
		beat = g->shared->heartbeat[1];
		usleep(100000);
	} while (beat != g->shared->heartbeat[1]);
}

static void release_vcpu0(struct hog *hog)
{
	hog_stop(hog);
	rt_throttling(true);
}

TEST(halted_sibling_does_not_stop_gang)
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

TEST(signal_ends_wait_with_eintr)
{
	struct gang_vm g;
	struct hog hog;
	bool released;

	gang_vm_create(&g, 2, KVM_GANG_MODE_STRICT, NO_VCPU);
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

TEST(mode_off_releases_waiters)
{
	struct gang_vm g;
	struct hog hog;
	bool released;
	u64 beat;

	gang_vm_create(&g, 2, KVM_GANG_MODE_STRICT, NO_VCPU);
	gang_vm_start(&g);
	ASSERT_TRUE(wait_for(g.shared->heartbeat[1] > 0, 10000));
	starve_vcpu0(&g, &hog);

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

/* Any debugfs directory of a VM that @pid created. */
static bool vm_dirs_of(pid_t pid)
{
	char pattern[64], cmd[128];

	snprintf(pattern, sizeof(pattern), "/sys/kernel/debug/kvm/%d-*", pid);
	snprintf(cmd, sizeof(cmd), "ls -d %s >/dev/null 2>&1", pattern);
	return system(cmd) == 0;
}

TEST(kill_with_waiters_destroys_vm)
{
	int ready[2], status;
	struct gang_vm g;
	struct hog hog;
	pid_t child;
	char c;

	ASSERT_EQ(pipe(ready), 0);
	child = fork();
	ASSERT_GE(child, 0);
	if (!child) {
		gang_vm_create(&g, 2, KVM_GANG_MODE_STRICT, NO_VCPU);
		gang_vm_start(&g);
		TEST_ASSERT(wait_for(g.shared->heartbeat[1] > 0, 10000), "start");
		starve_vcpu0(&g, &hog);
		TEST_ASSERT(write(ready[1], "r", 1) == 1, "ready");
		pause();
		_exit(0);
	}
	close(ready[1]);
	ASSERT_EQ(read(ready[0], &c, 1), 1);
	ASSERT_TRUE(vm_dirs_of(child));

	kill(child, SIGKILL);
	ASSERT_TRUE(wait_for(waitpid(child, &status, WNOHANG) == child, 30000));
	ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	rt_throttling(true);
	/* The VM went away with its process. */
	ASSERT_TRUE(wait_for(!vm_dirs_of(child), 10000));
}

TEST(create_destroy_100_no_leak)
{
	FILE *f;
	char line[256];
	int i, leaks = 0;

	f = fopen("/sys/kernel/debug/kmemleak", "w");
	ASSERT_NE(f, NULL) TH_LOG("needs kmemleak: run under the debug kernel");
	fputs("clear", f);
	fclose(f);

	for (i = 0; i < 100; i++) {
		struct gang_vm g;

		gang_vm_create(&g, 2, KVM_GANG_MODE_STRICT, NO_VCPU);
		WRITE_ONCE(g.shared->stop, 1);
		gang_vm_start(&g);
		gang_vm_stop(&g);
		ASSERT_TRUE(g.threads[0].done && g.threads[1].done);
		gang_vm_free(&g);
	}

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

static void __attribute__((constructor)) setup(void)
{
	struct sigaction sa = { .sa_handler = sigusr1_handler };

	/* No SA_RESTART: KVM_RUN must come back with -EINTR. */
	sigaction(SIGUSR1, &sa, NULL);
}

TEST_HARNESS_MAIN
