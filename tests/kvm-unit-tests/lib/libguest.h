/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The guest-side test library: port I/O, CPUID and TSC, COM1 output and
 * input, printf, report()/report_summary(), the kernel command line, SMP
 * start with INIT-SIPI-SIPI, and exit through QEMU's isa-debug-exit device
 * (QEMU then exits with status (code << 1) | 1: 1 means every report passed).
 */
#ifndef GANG_LIBGUEST_H
#define GANG_LIBGUEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "asm.h"

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;

#define barrier()	asm volatile("" ::: "memory")
#define READ_ONCE(x)	(*(volatile typeof(x) *)&(x))
#define WRITE_ONCE(x, v)	(*(volatile typeof(x) *)&(x) = (v))

static inline void outb(u8 value, u16 port)
{
	asm volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

static inline u8 inb(u16 port)
{
	u8 value;

	asm volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
	return value;
}

static inline void outl(u32 value, u16 port)
{
	asm volatile("outl %0, %1" : : "a"(value), "Nd"(port));
}

static inline void cpuid(u32 leaf, u32 *eax, u32 *ebx, u32 *ecx, u32 *edx)
{
	asm volatile("cpuid"
		     : "=a"(*eax), "=b"(*ebx), "=c"(*ecx), "=d"(*edx)
		     : "a"(leaf), "c"(0));
}

static inline u64 rdtsc(void)
{
	u32 lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((u64)hi << 32) | lo;
}

static inline void cpu_relax(void)
{
	asm volatile("pause" ::: "memory");
}

void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
void report(bool pass, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void report_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int report_summary(void);
void __attribute__((noreturn)) exit(int code);

/* A byte typed on the test's serial console (COM1), if one is waiting. */
bool serial_input_ready(void);
u8 serial_read(void);

/* "KEY=VALUE" words of the kernel command line (QEMU's -append). */
const char *arg_get(const char *key);
u32 arg_u32(const char *key, u32 fallback);

/*
 * Start every other CPU in fn(cpu), cpu 1..nr-1; returns the number of CPUs
 * running (the caller's CPU 0 included) once nr_wanted started or ~1 s of
 * TSC-calibrated waiting ran out.  fn must not return.
 */
int smp_start(void (*fn)(int cpu), int nr_wanted);

/* The CPU this code runs on: 0 is the boot CPU, then in start order. */
int smp_id(void);

/* TSC ticks per millisecond, measured against the PIT at boot. */
extern u32 tsc_khz;
u64 udiv64(u64 n, u32 d);
static inline u32 tsc_to_us(u64 cycles)
{
	return udiv64(cycles * 1000, tsc_khz);
}

static inline u64 us_to_tsc(u32 us)
{
	return udiv64((u64)us * tsc_khz, 1000);
}

static inline u32 atomic_fetch_inc(volatile u32 *v)
{
	return __atomic_fetch_add(v, 1, __ATOMIC_SEQ_CST);
}

/*
 * Interrupts: handle_irq() installs fn for vector (IRQ_VECTOR_FIRST ..
 * + NR_IRQ_VECTORS - 1) on every CPU; fn runs with interrupts off and the
 * local APIC's EOI is written after it.  send_ipi() sends a fixed IPI to
 * one CPU (by smp_id()), send_ipi_all_but_self() to every other CPU.
 */
void handle_irq(int vector, void (*fn)(void));
void send_ipi(int cpu, int vector);
void send_ipi_all_but_self(int vector);

static inline void irq_enable(void)
{
	asm volatile("sti" ::: "memory");
}

static inline void irq_disable(void)
{
	asm volatile("cli" ::: "memory");
}

/* Sleep until an interrupt: sti's shadow covers hlt, so none is lost. */
static inline void safe_halt(void)
{
	asm volatile("sti; hlt" ::: "memory");
}

int main(void);

#endif
