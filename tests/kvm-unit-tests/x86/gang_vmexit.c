// SPDX-License-Identifier: GPL-2.0-only
/*
 * gang_vmexit: n CPUID round trips on CPU 0 (each one an exit that KVM
 * handles in the kernel and a guest entry through the gang's gate), CPU 1
 * halted; prints the mean and worst.  With nothing preempted, gang on and
 * off should be within noise: this is what the gate costs when idle.
 * Passes when the second CPU started and every round trip was timed.
 *
 * Command line: cpus=2 n=ROUND_TRIPS.
 */
#include "libguest.h"

static void ap(int cpu)
{
	(void)cpu;
	for (;;)
		safe_halt();
}

int main(void)
{
	u32 eax, ebx, ecx, edx, i, n = arg_u32("n", 20000);
	u64 start, t, sum = 0, worst = 0;
	int nr_cpus;

	nr_cpus = smp_start(ap, 2);
	report(nr_cpus == 2, "CPU 1 started");
	for (i = 0; i < n; i++) {
		start = rdtsc();
		cpuid(0, &eax, &ebx, &ecx, &edx);
		t = rdtsc() - start;
		sum += t;
		worst = t > worst ? t : worst;
	}
	report(n > 0 && sum > 0, "%u CPUID round trips timed", n);
	printf("BENCH vmexit n=%u mean_ns=%u worst_us=%u\n", n,
	       n ? (u32)udiv64(udiv64(sum * 1000000, tsc_khz), n) : 0, tsc_to_us(worst));
	return 0;
}
