// SPDX-License-Identifier: GPL-2.0-only
/*
 * gang_ipi: IPI round trip between CPU 0 and an idle (halted) CPU 1, n
 * times; prints the mean and worst.  With nothing preempted, gang on and
 * off should be within noise: this is what the gang costs when idle.
 * Passes when every ping was answered within a second.
 *
 * Command line: cpus=2 n=ROUND_TRIPS.
 */
#include "libguest.h"

#define PING_VECTOR	0x41

static volatile u32 ping, pong;

static void answer(void)
{
	pong = ping;
}

static void ap(int cpu)
{
	(void)cpu;
	for (;;)
		safe_halt();
}

int main(void)
{
	u32 i, n = arg_u32("n", 2000), answered = 0;
	u64 t, sum = 0, worst = 0, limit;
	int nr_cpus;

	handle_irq(PING_VECTOR, answer);
	nr_cpus = smp_start(ap, 2);
	report(nr_cpus == 2, "CPU 1 started");
	limit = (u64)1000 * tsc_khz;
	for (i = 1; i <= n && nr_cpus == 2; i++) {
		u64 start = rdtsc();

		ping = i;
		send_ipi(1, PING_VECTOR);
		while (pong != i && rdtsc() - start < limit)
			cpu_relax();
		t = rdtsc() - start;
		if (pong != i)
			break;
		answered++;
		sum += t;
		worst = t > worst ? t : worst;
	}
	report(answered == n, "%u of %u IPIs answered", answered, n);
	printf("BENCH ipi n=%u mean_ns=%u worst_us=%u\n", answered,
	       answered ? (u32)udiv64(udiv64(sum * 1000000, tsc_khz), answered) : 0, tsc_to_us(worst));
	return 0;
}
