// SPDX-License-Identifier: GPL-2.0-only
/*
 * gang_spin: every CPU spins on a heartbeat until a byte arrives on COM1,
 * so that the host can preempt a vCPU thread and watch the gang's stats
 * while all vCPUs want to run.  Passes when cpus=N CPUs started and each
 * one's heartbeat advanced.
 */
#include "libguest.h"

static volatile u32 heartbeat[MAX_CPUS];
static volatile bool stop;

static void spin(int cpu)
{
	while (!stop)
		heartbeat[cpu]++;
	for (;;)
		asm volatile("cli; hlt");
}

int main(void)
{
	int cpu, nr_wanted = arg_u32("cpus", 1), nr_cpus;

	nr_cpus = nr_wanted > 1 ? smp_start(spin, nr_wanted) : 1;
	report(nr_cpus == nr_wanted, "%d of %d CPUs started", nr_cpus, nr_wanted);
	printf("spinning on %d CPUs until a byte arrives on the serial port\n", nr_cpus);
	while (!serial_input_ready())
		heartbeat[0]++;
	stop = true;
	printf("got '%c'\n", serial_read());
	for (cpu = 0; cpu < nr_cpus; cpu++)
		report(heartbeat[cpu] > 0, "CPU %d heartbeat advanced (%u)", cpu, heartbeat[cpu]);
	return 0;
}
