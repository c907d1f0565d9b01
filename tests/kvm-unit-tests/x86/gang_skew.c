// SPDX-License-Identifier: GPL-2.0-only
/*
 * gang_skew: every CPU advances a heartbeat and records, by TSC, the
 * longest stretch it ran while a sibling's heartbeat stood still (the
 * skew), and the total time it ran beside a sibling stopped for over 1 ms.
 * A CPU that was itself away (a TSC gap over 50 us) claims nothing for that
 * gap.  run_tests.sh runs it with a host hog on vCPU 0's CPU, gang on and
 * off; the figures are printed, not judged (TCG timings).
 *
 * Command line: cpus=N ms=MEASURE warmup_ms=W.
 */
#include "libguest.h"

static volatile u32 heartbeat[MAX_CPUS];
static volatile u64 max_stall[MAX_CPUS], long_stall[MAX_CPUS];
static volatile bool measuring, stop;
static volatile u32 nr_done;
static u64 warmup_end, measure_end;	/* TSC; CPU 0 keeps the clock */
static int nr_cpus;

static void run(int me)
{
	u64 seen_at[MAX_CPUS], prev, now, stall, worst;
	u64 gap = us_to_tsc(50), long_cycles = us_to_tsc(1000);
	u32 seen[MAX_CPUS] = { 0 }, beat;
	int j;

	prev = rdtsc();
	for (j = 0; j < MAX_CPUS; j++)
		seen_at[j] = prev;
	while (!stop) {
		now = rdtsc();
		if (me == 0) {
			measuring = now >= warmup_end;
			stop = now >= measure_end;
		}
		/* This CPU did not run in between: no stretch to claim. */
		if (now - prev > gap)
			for (j = 0; j < MAX_CPUS; j++)
				seen_at[j] = now;
		heartbeat[me]++;
		worst = 0;
		for (j = 0; j < nr_cpus; j++) {
			if (j == me)
				continue;
			beat = heartbeat[j];
			if (beat != seen[j]) {
				seen[j] = beat;
				seen_at[j] = now;
				continue;
			}
			stall = now - seen_at[j];
			worst = stall > worst ? stall : worst;
		}
		if (measuring) {
			if (worst > max_stall[me])
				max_stall[me] = worst;
			if (worst > long_cycles && now - prev <= gap)
				long_stall[me] += now - prev;
		}
		prev = now;
	}
	atomic_fetch_inc(&nr_done);
}

static void ap(int cpu)
{
	run(cpu);
	for (;;)
		asm volatile("cli; hlt");
}

int main(void)
{
	u32 ms = arg_u32("ms", 3000), warmup_ms = arg_u32("warmup_ms", 1000);
	int cpu, nr_wanted = arg_u32("cpus", 2);
	u64 worst = 0, total_long = 0;

	nr_cpus = smp_start(ap, nr_wanted);
	report(nr_cpus == nr_wanted && nr_cpus >= 2, "%d of %d CPUs started", nr_cpus, nr_wanted);
	warmup_end = rdtsc() + (u64)warmup_ms * tsc_khz;
	measure_end = warmup_end + (u64)ms * tsc_khz;
	run(0);
	while (nr_done < (u32)nr_cpus)
		cpu_relax();
	for (cpu = 0; cpu < nr_cpus; cpu++) {
		report(heartbeat[cpu] > 0, "CPU %d heartbeat advanced (%u)", cpu, heartbeat[cpu]);
		printf("CPU %d: max skew %u us, ran %u us beside a sibling stopped > 1 ms\n",
		       cpu, tsc_to_us(max_stall[cpu]), tsc_to_us(long_stall[cpu]));
		worst = max_stall[cpu] > worst ? max_stall[cpu] : worst;
		total_long += long_stall[cpu];
	}
	printf("BENCH skew cpus=%d ms=%u max_skew_us=%u long_stall_us=%u\n",
	       nr_cpus, ms, tsc_to_us(worst), tsc_to_us(total_long));
	return 0;
}
