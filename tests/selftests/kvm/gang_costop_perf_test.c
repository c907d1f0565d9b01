// SPDX-License-Identifier: GPL-2.0-only
/*
 * What one co-stop costs with IRQs off, at 2, 8, 32 and 64 vCPUs, gang off
 * against strict.  A benchmark: it prints figures and fails only when it
 * cannot measure.
 *
 * vCPU 0 and vCPU 1 spin in the guest, pinned to CPU 0 and CPU 1; the other
 * vCPUs are inside KVM_RUN but halted (they are members a co-stop must
 * visit, not ones that want to run).  A SCHED_FIFO thread on CPU 1 takes
 * the CPU from vCPU 1 for 1 ms every 10 ms.  Each such preemption runs
 * kvm_sched_out() in __schedule() (runqueue lock held, IRQs off); with a
 * strict gang it closes the gate and queues the kick pass, which runs as a
 * hard irq_work, kvm_gang_kick_work(), once the CPU has switched to the
 * hog.  Both run with IRQs off: a co-stop costs the two together.
 *
 * The function_graph tracer times both functions; only the lines of vCPU
 * 1's and the hog's thread count, so the figures are those of the
 * preemptions the hog makes.  Runs are interleaved (every vCPU count and mode, then again), and
 * each cell is the median over its runs of the per-run median, with the
 * smallest and largest per-run median beside it: TCG timings swing.
 *
 * usage: gang_costop_perf_test [-r RUNS] [-s SECONDS]
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "gang_util.h"
#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"

#define TRACING		"/sys/kernel/tracing"
#define RT_RUNTIME	"/proc/sys/kernel/sched_rt_runtime_us"
#define MAX_VCPUS	64
#define MAX_RUNS	16
#define MAX_SAMPLES	100000
#define HOG_BUSY_US	1000
#define HOG_IDLE_US	9000

static const unsigned int vcpu_counts[] = { 2, 8, 32, 64 };
static const char * const mode_names[] = { "off", "strict" };

/* Guest side: vCPUs 0 and 1 spin until told to stop, the others halt. */
static u32 guest_stop;

static void guest_code(u32 me)
{
	if (me >= 2) {
		/* IF is clear: only a signal to the vCPU thread ends this. */
		for (;;)
			asm volatile("hlt");
	}
	while (!READ_ONCE(guest_stop))
		cpu_relax();
	GUEST_DONE();
}

struct vcpu_thread {
	struct kvm_vcpu *vcpu;
	pthread_t thread;
	pid_t tid;
	bool stop;
};

static void sigusr1_handler(int sig)
{
}

static void *vcpu_worker(void *arg)
{
	struct vcpu_thread *t = arg;
	struct sched_param sp = {};

	/* Not the FIFO policy this thread inherited from the main thread. */
	TEST_ASSERT(!pthread_setschedparam(pthread_self(), SCHED_OTHER, &sp),
		    "SCHED_OTHER for a vCPU thread");
	kvm_pin_this_task_to_pcpu(t->vcpu->id % 2);
	WRITE_ONCE(t->tid, syscall(SYS_gettid));
	/* A signal (-EINTR) re-checks t->stop. */
	while (!READ_ONCE(t->stop)) {
		if (gang_vcpu_run(t->vcpu))
			break;
	}
	return NULL;
}

/* The preempting thread: 1 ms of every 10 on CPU 1, at SCHED_FIFO 2. */
struct hog {
	pthread_t thread;
	pid_t tid;
	bool stop;
};

static u64 now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000ull + ts.tv_nsec / 1000;
}

static void *hog_worker(void *arg)
{
	struct sched_param sp = { .sched_priority = 2 };
	struct hog *h = arg;
	u64 until;

	kvm_pin_this_task_to_pcpu(1);
	TEST_ASSERT(!pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp),
		    "SCHED_FIFO for the hog");
	WRITE_ONCE(h->tid, syscall(SYS_gettid));
	while (!READ_ONCE(h->stop)) {
		until = now_us() + HOG_BUSY_US;
		while (now_us() < until)
			;
		usleep(HOG_IDLE_US);
	}
	return NULL;
}

/* Wait until @vcpu sits in kvm_vcpu_block() (its HLT); fail after 30 s. */
static void wait_until_blocking(struct kvm_vcpu *vcpu)
{
	int stats_fd = vcpu_get_stats_fd(vcpu);
	unsigned int ms;

	for (ms = 0; ms < 30000; ms++) {
		if (gang_read_stat(stats_fd, "blocking", NULL))
			break;
		usleep(1000);
	}
	close(stats_fd);
	TEST_ASSERT(ms < 30000, "vCPU %u did not halt within 30 s", vcpu->id);
}

/*
 * A halted vCPU leaves KVM_RUN only for a signal: signal until its thread
 * is gone, so one that was between two KVM_RUNs is not missed.
 */
static void stop_vcpu_thread(struct vcpu_thread *t)
{
	struct timespec deadline;

	WRITE_ONCE(t->stop, true);
	for (;;) {
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_nsec += 100 * 1000 * 1000;
		if (deadline.tv_nsec >= 1000 * 1000 * 1000) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000 * 1000 * 1000;
		}
		if (!pthread_timedjoin_np(t->thread, NULL, &deadline))
			return;
		pthread_kill(t->thread, SIGUSR1);
	}
}

static void write_file(const char *path, const char *value)
{
	FILE *f = fopen(path, "w");

	TEST_ASSERT(f, "open %s: %s", path, strerror(errno));
	TEST_ASSERT(fputs(value, f) >= 0 && !fclose(f), "write '%s' to %s: %s",
		    value, path, strerror(errno));
}

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

static u64 median(u64 *v, unsigned int n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[n / 2];
}

/* One run's figures: medians and maxima in ns. */
struct run_result {
	u64 sched_out_med, sched_out_max, nr_sched_out;
	u64 kick_med, kick_max, nr_kick;
	u64 costops;
};

/* On the heap: the test's .bss is loaded into every guest too. */
static u64 *sched_out_ns, *kick_ns;

/*
 * Collect the durations of the two functions from the function_graph
 * trace: lines like " 1) + 12.345 us   |  kvm_sched_out();".
 */
static void read_trace(struct run_result *res, pid_t vcpu_tid, pid_t hog_tid)
{
	FILE *f = fopen(TRACING "/trace", "r");
	unsigned int nr_out = 0, nr_kick = 0;
	char line[512], vcpu[16], hog[16], *p;
	double us;

	/* funcgraph-proc: the task's "comm-pid" follows the CPU. */
	snprintf(vcpu, sizeof(vcpu), "-%d ", vcpu_tid);
	snprintf(hog, sizeof(hog), "-%d ", hog_tid);
	TEST_ASSERT(f, "open " TRACING "/trace");
	while (fgets(line, sizeof(line), f)) {
		p = strchr(line, '|');
		if (line[0] == '#' || !p || !strstr(line, " us ") ||
		    (!strstr(line, vcpu) && !strstr(line, hog)))
			continue;
		p += strcspn(p, "0123456789");
		if (sscanf(p, "%lf", &us) != 1)
			continue;
		if (strstr(line, "kvm_sched_out();") && nr_out < MAX_SAMPLES)
			sched_out_ns[nr_out++] = us * 1000;
		else if (strstr(line, "kvm_gang_kick_work();") && nr_kick < MAX_SAMPLES)
			kick_ns[nr_kick++] = us * 1000;
	}
	fclose(f);
	res->nr_sched_out = nr_out;
	res->sched_out_med = median(sched_out_ns, nr_out);
	res->sched_out_max = nr_out ? sched_out_ns[nr_out - 1] : 0;
	res->nr_kick = nr_kick;
	res->kick_med = median(kick_ns, nr_kick);
	res->kick_max = nr_kick ? kick_ns[nr_kick - 1] : 0;
}

static void run_once(unsigned int nr_vcpus, bool strict, unsigned int seconds,
		     struct run_result *res)
{
	struct vcpu_thread threads[MAX_VCPUS] = {};
	struct hog hog = {};
	struct kvm_vm *vm;
	unsigned int i;
	int stats_fd;

	vm = vm_create(nr_vcpus);
	if (strict)
		TEST_ASSERT(!gang_enable(vm, KVM_GANG_MODE_STRICT, 0),
			    "enable a strict gang: %s", strerror(errno));
	for (i = 0; i < nr_vcpus; i++) {
		threads[i].vcpu = vm_vcpu_add(vm, i, guest_code);
		vcpu_args_set(threads[i].vcpu, 1, i);
	}
	/*
	 * The halted vCPUs first, one at a time: a strict gang whose members
	 * all want to run at once on two CPUs would never let them reach HLT.
	 */
	for (i = 2; i < nr_vcpus; i++) {
		TEST_ASSERT(!pthread_create(&threads[i].thread, NULL, vcpu_worker,
					    &threads[i]), "pthread_create");
		wait_until_blocking(threads[i].vcpu);
	}
	for (i = 0; i < 2; i++)
		TEST_ASSERT(!pthread_create(&threads[i].thread, NULL, vcpu_worker,
					    &threads[i]), "pthread_create");
	TEST_ASSERT(!pthread_create(&hog.thread, NULL, hog_worker, &hog),
		    "pthread_create hog");
	while (!READ_ONCE(threads[1].tid) || !READ_ONCE(hog.tid))
		usleep(1000);

	write_file(TRACING "/trace", "");
	write_file(TRACING "/tracing_on", "1");
	sleep(seconds);
	write_file(TRACING "/tracing_on", "0");

	hog.stop = true;
	pthread_join(hog.thread, NULL);
	WRITE_ONCE(*(u32 *)addr_gva2hva(vm, (vm_vaddr_t)&guest_stop), 1);
	for (i = 0; i < nr_vcpus; i++)
		stop_vcpu_thread(&threads[i]);

	read_trace(res, threads[1].tid, hog.tid);
	stats_fd = vm_get_stats_fd(vm);
	res->costops = gang_read_stat(stats_fd, "gang_costops", NULL);
	close(stats_fd);
	kvm_vm_free(vm);
}

static void tracer_setup(void)
{
	write_file(TRACING "/tracing_on", "0");
	write_file(TRACING "/current_tracer", "nop");
	write_file(TRACING "/set_ftrace_filter", "kvm_sched_out kvm_gang_kick_work");
	write_file(TRACING "/options/funcgraph-proc", "1");
	write_file(TRACING "/current_tracer", "function_graph");
}

/* At exit, also after a failed assertion: the tracer and RT throttling as they were. */
static void tracer_teardown(void)
{
	write_file(RT_RUNTIME, "950000");
	write_file(TRACING "/tracing_on", "0");
	write_file(TRACING "/current_tracer", "nop");
	write_file(TRACING "/set_ftrace_filter", "");
	write_file(TRACING "/options/funcgraph-proc", "0");
	write_file(TRACING "/trace", "");
	write_file(TRACING "/tracing_on", "1");
}

static void median_min_max(u64 *v, unsigned int n, u64 *med, u64 *min, u64 *max)
{
	*med = median(v, n);
	*min = v[0];
	*max = v[n - 1];
}

int main(int argc, char *argv[])
{
	static struct run_result results[ARRAY_SIZE(vcpu_counts)][2][MAX_RUNS];
	unsigned int runs = 3, seconds = 2, run, c, mode;
	u64 v[MAX_RUNS], med, min, max, out_med, kick_med;
	struct sigaction sa = { .sa_handler = sigusr1_handler };
	struct sched_param sp = { .sched_priority = 3 };
	struct run_result *r;
	int opt;

	while ((opt = getopt(argc, argv, "r:s:h")) != -1) {
		switch (opt) {
		case 'r':
			runs = atoi_positive("runs (-r)", optarg);
			TEST_ASSERT(runs <= MAX_RUNS, "-r: at most %d runs", MAX_RUNS);
			break;
		case 's':
			seconds = atoi_positive("seconds (-s)", optarg);
			break;
		default:
			printf("usage: %s [-r RUNS] [-s SECONDS]\n", argv[0]);
			exit(opt == 'h' ? 0 : KSFT_FAIL);
		}
	}

	sched_out_ns = calloc(MAX_SAMPLES, sizeof(*sched_out_ns));
	kick_ns = calloc(MAX_SAMPLES, sizeof(*kick_ns));
	TEST_ASSERT(sched_out_ns && kick_ns, "calloc");
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_GANG));
	TEST_REQUIRE(sysconf(_SC_NPROCESSORS_ONLN) >= 2);
	TEST_REQUIRE(!access(TRACING "/current_tracer", W_OK));
	TEST_ASSERT(!sigaction(SIGUSR1, &sa, NULL), "sigaction");
	/*
	 * The hog must keep CPU 1 for its whole millisecond; this thread
	 * stays above it on CPU 0 and mostly sleeps.
	 */
	write_file(RT_RUNTIME, "-1");
	kvm_pin_this_task_to_pcpu(0);
	TEST_ASSERT(!sched_setscheduler(0, SCHED_FIFO, &sp), "SCHED_FIFO");

	tracer_setup();
	atexit(tracer_teardown);
	for (run = 0; run < runs; run++)
		for (c = 0; c < ARRAY_SIZE(vcpu_counts); c++)
			for (mode = 0; mode < 2; mode++) {
				r = &results[c][mode][run];
				run_once(vcpu_counts[c], mode, seconds, r);
				printf("DATA costop_run run=%u vcpus=%u mode=%s",
				       run, vcpu_counts[c], mode_names[mode]);
				printf(" sched_out_ns=%lu sched_out_max_ns=%lu nr_sched_out=%lu",
				       r->sched_out_med, r->sched_out_max, r->nr_sched_out);
				printf(" kick_ns=%lu kick_max_ns=%lu nr_kick=%lu costops=%lu\n",
				       r->kick_med, r->kick_max, r->nr_kick, r->costops);
				fflush(stdout);
				TEST_ASSERT(r->nr_sched_out,
					    "no preemption of vCPU 1 was traced");
				TEST_ASSERT(!mode || r->nr_kick,
					    "strict: no kick pass was traced");
			}
	sp.sched_priority = 0;
	sched_setscheduler(0, SCHED_OTHER, &sp);

	/* Per cell: median of the per-run medians, their min and max. */
	for (c = 0; c < ARRAY_SIZE(vcpu_counts); c++)
		for (mode = 0; mode < 2; mode++) {
			for (run = 0; run < runs; run++)
				v[run] = results[c][mode][run].sched_out_med;
			median_min_max(v, runs, &out_med, &min, &max);
			printf("DATA costop vcpus=%u mode=%s", vcpu_counts[c], mode_names[mode]);
			printf(" sched_out_ns=%lu sched_out_min_ns=%lu sched_out_max_ns=%lu",
			       out_med, min, max);
			for (run = 0; run < runs; run++)
				v[run] = results[c][mode][run].kick_med;
			median_min_max(v, runs, &kick_med, &min, &max);
			printf(" kick_ns=%lu kick_min_ns=%lu kick_max_ns=%lu", kick_med, min, max);
			for (run = 0; run < runs; run++)
				v[run] = results[c][mode][run].sched_out_med +
					 results[c][mode][run].kick_med;
			median_min_max(v, runs, &med, &min, &max);
			printf(" irqs_off_ns=%lu irqs_off_min_ns=%lu irqs_off_max_ns=%lu runs=%u\n",
			       med, min, max, runs);
		}
	return 0;
}
