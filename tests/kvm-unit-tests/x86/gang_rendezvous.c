// SPDX-License-Identifier: GPL-2.0-only
/*
 * gang_rendezvous: CPU 0 interrupts every other (idle) CPU and waits until
 * all of them have arrived, as a TLB shootdown does; n rounds, mean and
 * worst time printed.  With nothing preempted, gang on and off should be
 * within noise.  Passes when every round completed within a second.
 *
 * Command line: cpus=N n=ROUNDS.
 */
#include "libguest.h"

#define RENDEZVOUS_VECTOR	0x42

static volatile u32 arrived, release_round;

static void arrive(void)
{
	u32 round = release_round + 1;

	atomic_fetch_inc(&arrived);
	while (release_round != round)
		cpu_relax();
}

static void ap(int cpu)
{
	(void)cpu;
	for (;;)
		safe_halt();
}

int main(void)
{
	u32 i, n = arg_u32("n", 1000), done = 0;
	int nr_wanted = arg_u32("cpus", 2), nr_cpus;
	u64 t, sum = 0, worst = 0, limit;

	handle_irq(RENDEZVOUS_VECTOR, arrive);
	nr_cpus = smp_start(ap, nr_wanted);
	report(nr_cpus == nr_wanted && nr_cpus >= 2, "%d of %d CPUs started", nr_cpus, nr_wanted);
	limit = (u64)1000 * tsc_khz;
	for (i = 1; i <= n && nr_cpus >= 2; i++) {
		u64 start = rdtsc();

		arrived = 0;
		send_ipi_all_but_self(RENDEZVOUS_VECTOR);
		while (arrived < (u32)nr_cpus - 1 && rdtsc() - start < limit)
			cpu_relax();
		t = rdtsc() - start;
		release_round = i;
		if (arrived < (u32)nr_cpus - 1)
			break;
		done++;
		sum += t;
		worst = t > worst ? t : worst;
	}
	report(done == n, "%u of %u rendezvous rounds completed", done, n);
	printf("BENCH rendezvous cpus=%d n=%u mean_ns=%u worst_us=%u\n", nr_cpus, done,
	       done ? (u32)udiv64(udiv64(sum * 1000000, tsc_khz), done) : 0, tsc_to_us(worst));
	return 0;
}
