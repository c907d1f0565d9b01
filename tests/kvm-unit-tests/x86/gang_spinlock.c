// SPDX-License-Identifier: GPL-2.0-only
/*
 * gang_spinlock: every CPU takes a ticket spinlock, runs a short critical
 * section and lets go, as fast as it can.  Reports acquisitions per second
 * and the worst wait for the lock.  With pv=1 a waiter halts after
 * spin_budget spins and the unlocker wakes the next ticket holder with an
 * IPI, which is what paravirtual spinlocks do (KVM_HC_KICK_CPU): the KVM
 * baseline the gang is compared with.  Passes when the lock kept mutual
 * exclusion, every CPU got it and the measured acquisitions are a part of
 * all of them; throughput is printed, not judged.
 *
 * Command line: cpus=N ms=MEASURE warmup_ms=W cs=LOOPS pv=0|1 spin_budget=S.
 */
#include "libguest.h"

#define WAKE_VECTOR	0x40
#define NO_TICKET	0xffffffffu

static volatile u32 next_ticket, now_serving;
static volatile u32 waiting_ticket[MAX_CPUS];
static volatile u64 acquisitions[MAX_CPUS], worst_wait[MAX_CPUS];
static volatile u32 in_critical, nr_done, exclusion_broken;
static volatile u64 counter;
static volatile bool measuring, stop;
static u64 warmup_end, measure_end;	/* TSC; CPU 0 keeps the clock */
static u32 cs_loops, spin_budget;
static bool pv;
static int nr_cpus;

static void wake(void)
{
}

static void lock(int me)
{
	u32 ticket = atomic_fetch_inc(&next_ticket), spins = 0;

	while (now_serving != ticket) {
		cpu_relax();
		if (!pv || ++spins < spin_budget)
			continue;
		/* Publish, then re-check: pairs with the fence in unlock(). */
		waiting_ticket[me] = ticket;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		irq_disable();
		if (now_serving != ticket)
			safe_halt();
		else
			irq_enable();
		waiting_ticket[me] = NO_TICKET;
		spins = 0;
	}
}

static void unlock(void)
{
	u32 next = now_serving + 1;
	int j;

	now_serving = next;
	if (!pv)
		return;
	/* Pairs with the fence in lock(): a halted waiter is seen. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (j = 0; j < nr_cpus; j++)
		if (waiting_ticket[j] == next)
			send_ipi(j, WAKE_VECTOR);
}

static void run(int me)
{
	u64 start, wait;
	u32 i;

	irq_enable();
	while (!stop) {
		if (me == 0) {
			u64 now = rdtsc();

			measuring = now >= warmup_end;
			stop = now >= measure_end;
		}
		start = rdtsc();
		lock(me);
		wait = rdtsc() - start;
		if (atomic_fetch_inc(&in_critical) != 0)
			exclusion_broken = 1;
		counter++;
		for (i = 0; i < cs_loops; i++)
			barrier();
		in_critical--;
		unlock();
		if (measuring) {
			acquisitions[me]++;
			if (wait > worst_wait[me])
				worst_wait[me] = wait;
		}
	}
	atomic_fetch_inc(&nr_done);
}

static void ap(int cpu)
{
	run(cpu);
	for (;;)
		safe_halt();
}

int main(void)
{
	u32 ms = arg_u32("ms", 3000), warmup_ms = arg_u32("warmup_ms", 1000);
	int cpu, nr_wanted = arg_u32("cpus", 2);
	u64 total = 0, worst = 0, all = 0;

	cs_loops = arg_u32("cs", 200);
	spin_budget = arg_u32("spin_budget", 2000);
	pv = arg_u32("pv", 0);
	for (cpu = 0; cpu < MAX_CPUS; cpu++)
		waiting_ticket[cpu] = NO_TICKET;
	handle_irq(WAKE_VECTOR, wake);
	warmup_end = rdtsc() + (u64)warmup_ms * tsc_khz;
	measure_end = warmup_end + (u64)ms * tsc_khz;
	nr_cpus = smp_start(ap, nr_wanted);
	report(nr_cpus == nr_wanted, "%d of %d CPUs started", nr_cpus, nr_wanted);
	run(0);
	while (nr_done < (u32)nr_cpus)
		cpu_relax();
	for (cpu = 0; cpu < nr_cpus; cpu++) {
		report(acquisitions[cpu] > 0, "CPU %d took the lock %u times, worst wait %u us", cpu,
		       (u32)acquisitions[cpu], tsc_to_us(worst_wait[cpu]));
		total += acquisitions[cpu];
		worst = worst_wait[cpu] > worst ? worst_wait[cpu] : worst;
	}
	all = counter;
	report(!exclusion_broken && all == next_ticket, "mutual exclusion held (%u acquisitions, %u tickets)",
	       (u32)all, next_ticket);
	/* The measured ones are a part of all: a larger sum is a corrupt count. */
	report(total <= all, "%u acquisitions measured of %u in all", (u32)total, (u32)all);
	printf("BENCH spinlock cpus=%d pv=%d ms=%u acq_per_s=%u worst_wait_us=%u\n",
	       nr_cpus, pv, ms, (u32)udiv64(total * 1000, ms), tsc_to_us(worst));
	return 0;
}
