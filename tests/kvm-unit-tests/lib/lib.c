// SPDX-License-Identifier: GPL-2.0-only
/*
 * The guest-side test library (see libguest.h): everything a test needs
 * between QEMU's multiboot entry and its exit through isa-debug-exit.
 */
#include "libguest.h"

#define COM1		0x3f8
#define DEBUG_EXIT_PORT	0xf4	/* -device isa-debug-exit,iobase=0xf4,iosize=4 */
#define APIC_BASE	0xfee00000
#define APIC_ICR_LO	0x300
#define APIC_ICR_HI	0x310
#define ICR_ALL_BUT_SELF	(3 << 18)
#define ICR_INIT	0x4500
#define ICR_STARTUP	0x4600
#define ICR_BUSY	(1 << 12)
#define APIC_ID		0x20
#define APIC_EOI	0xb0
#define APIC_SVR	0xf0
#define APIC_SVR_ENABLE	(1 << 8)
#define PIT_HZ		1193182

u32 tsc_khz;
static u8 cpu_apic_id[MAX_CPUS];
static u8 apic_to_cpu[256];
static void (*irq_handlers[NR_IRQ_VECTORS])(void);

struct idt_gate {
	u16 offset_lo, selector;
	u8 zero, type;
	u16 offset_hi;
} __attribute__((packed));

static struct idt_gate idt[256] __attribute__((aligned(8)));

extern char irq_stub_0x40[], irq_stub_0x41[], irq_stub_0x42[], irq_stub_0x43[];

extern char sipi_start[], sipi_end[];
extern volatile int nr_cpus_started;

static const char *cmdline = "";
/* gcc may emit calls to these even with -ffreestanding. */

void *memcpy(void *dst, const void *src, size_t n)
{
	char *d = dst;
	const char *s = src;

	while (n--)
		*d++ = *s++;
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	char *d = dst;

	while (n--)
		*d++ = c;
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

static int nr_pass, nr_fail;
static void (*volatile ap_fn)(int cpu);

static void serial_putc(char c)
{
	while (!(inb(COM1 + 5) & 0x20))
		;
	outb(c, COM1);
}

bool serial_input_ready(void)
{
	return inb(COM1 + 5) & 0x01;
}

u8 serial_read(void)
{
	return inb(COM1);
}

static void serial_init(void)
{
	outb(0x00, COM1 + 1);	/* no interrupts */
	outb(0x80, COM1 + 3);	/* divisor latch */
	outb(0x01, COM1 + 0);	/* 115200 baud */
	outb(0x00, COM1 + 1);
	outb(0x03, COM1 + 3);	/* 8n1 */
	outb(0x07, COM1 + 2);	/* FIFOs on and cleared */
}

/* Division by 10 without libgcc's __udivdi3: a 32-bit guest has none. */
static u64 div10(u64 v, unsigned int *rem)
{
	u64 q = (v >> 1) + (v >> 2);

	q += q >> 4;
	q += q >> 8;
	q += q >> 16;
	q += q >> 32;
	q >>= 3;
	*rem = v - q * 10;
	if (*rem > 9) {
		q++;
		*rem -= 10;
	}
	return q;
}

struct out {
	char *buf;
	size_t size, len;
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void put_num(struct out *o, u64 v, unsigned int base, bool neg)
{
	char digits[24];
	unsigned int rem;
	int n = 0;

	do {
		if (base == 16) {
			rem = v & 15;
			v >>= 4;
		} else {
			v = div10(v, &rem);
		}
		digits[n++] = "0123456789abcdef"[rem];
	} while (v);
	if (neg)
		put(o, '-');
	while (n)
		put(o, digits[--n]);
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = { buf, size, 0 };

	for (; *fmt; fmt++) {
		int longs = 0;
		const char *s;
		u64 v;

		if (*fmt != '%') {
			put(&o, *fmt);
			continue;
		}
		while (*++fmt == 'l')
			longs++;
		switch (*fmt) {
		case 'd':
			if (longs >= 2) {
				long long sv = va_arg(ap, long long);

				put_num(&o, sv < 0 ? -sv : sv, 10, sv < 0);
			} else {
				long sv = va_arg(ap, long);

				put_num(&o, sv < 0 ? -sv : sv, 10, sv < 0);
			}
			break;
		case 'u':
		case 'x':
			v = longs >= 2 ? va_arg(ap, u64) : va_arg(ap, unsigned long);
			put_num(&o, v, *fmt == 'x' ? 16 : 10, false);
			break;
		case 'c':
			put(&o, va_arg(ap, int));
			break;
		case 's':
			for (s = va_arg(ap, const char *); *s; s++)
				put(&o, *s);
			break;
		case '%':
			put(&o, '%');
			break;
		default:
			put(&o, '?');
			break;
		}
	}
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return o.len;
}

int printf(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int len;
	char *p;

	va_start(ap, fmt);
	len = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (p = buf; *p; p++) {
		if (*p == '\n')
			serial_putc('\r');
		serial_putc(*p);
	}
	return len;
}

void report(bool pass, const char *fmt, ...)
{
	char buf[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printf("%s: %s\n", pass ? "PASS" : "FAIL", buf);
	if (pass)
		nr_pass++;
	else
		nr_fail++;
}

void report_info(const char *fmt, ...)
{
	char buf[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printf("INFO: %s\n", buf);
}

int report_summary(void)
{
	printf("SUMMARY: %d tests, %d unexpected failures\n", nr_pass + nr_fail, nr_fail);
	return nr_fail || !nr_pass;
}

void exit(int code)
{
	outl(code, DEBUG_EXIT_PORT);
	/* Without the exit device: stop here, the runner's timeout reports it. */
	for (;;)
		asm volatile("cli; hlt");
}

const char *arg_get(const char *key)
{
	const char *p = cmdline;
	size_t len = 0;

	while (key[len])
		len++;
	while (*p) {
		while (*p == ' ')
			p++;
		if (!memcmp(p, key, len) && p[len] == '=')
			return p + len + 1;
		while (*p && *p != ' ')
			p++;
	}
	return NULL;
}

u32 arg_u32(const char *key, u32 fallback)
{
	const char *p = arg_get(key);
	u32 v = 0;

	if (!p || *p < '0' || *p > '9')
		return fallback;
	while (*p >= '0' && *p <= '9')
		v = v * 10 + (*p++ - '0');
	return v;
}

static void apic_icr(u32 value)
{
	volatile u32 *apic = (volatile u32 *)APIC_BASE;

	apic[APIC_ICR_HI / 4] = 0;
	apic[APIC_ICR_LO / 4] = value;
	while (apic[APIC_ICR_LO / 4] & ICR_BUSY)
		cpu_relax();
}

static inline volatile u32 *apic_reg(u32 offset)
{
	return (volatile u32 *)(APIC_BASE + offset);
}

u64 udiv64(u64 n, u32 d)
{
	u64 q = 0, r = 0;
	int bit;

	for (bit = 63; bit >= 0; bit--) {
		r = (r << 1) | ((n >> bit) & 1);
		if (r >= d) {
			r -= d;
			q |= 1ull << bit;
		}
	}
	return q;
}

void irq_dispatch(u32 vector);
void irq_dispatch(u32 vector)
{
	void (*fn)(void) = irq_handlers[vector - IRQ_VECTOR_FIRST];

	if (fn)
		fn();
	*apic_reg(APIC_EOI) = 0;
}

void handle_irq(int vector, void (*fn)(void))
{
	irq_handlers[vector - IRQ_VECTOR_FIRST] = fn;
}

static void set_gate(int vector, void *entry)
{
	u32 addr = (u32)entry;

	idt[vector] = (struct idt_gate) {
		.offset_lo = addr, .selector = CODE_SEL,
		.type = 0x8e,	/* present, 32-bit interrupt gate */
		.offset_hi = addr >> 16,
	};
}

/* Every CPU: load the IDT, enable its local APIC, learn its APIC ID. */
static void cpu_init(int cpu)
{
	struct {
		u16 limit;
		u32 base;
	} __attribute__((packed)) idt_desc = { sizeof(idt) - 1, (u32)idt };
	u8 id = *apic_reg(APIC_ID) >> 24;

	asm volatile("lidt %0" : : "m"(idt_desc));
	*apic_reg(APIC_SVR) = APIC_SVR_ENABLE | 0xff;
	cpu_apic_id[cpu] = id;
	apic_to_cpu[id] = cpu;
}

int smp_id(void)
{
	return apic_to_cpu[*apic_reg(APIC_ID) >> 24];
}

void send_ipi(int cpu, int vector)
{
	*apic_reg(APIC_ICR_HI) = (u32)cpu_apic_id[cpu] << 24;
	*apic_reg(APIC_ICR_LO) = vector;
	while (*apic_reg(APIC_ICR_LO) & ICR_BUSY)
		cpu_relax();
}

void send_ipi_all_but_self(int vector)
{
	*apic_reg(APIC_ICR_HI) = 0;
	*apic_reg(APIC_ICR_LO) = ICR_ALL_BUT_SELF | vector;
	while (*apic_reg(APIC_ICR_LO) & ICR_BUSY)
		cpu_relax();
}

/* TSC rate against PIT channel 2 counting down 10 ms (gate on port 0x61). */
static void tsc_calibrate(void)
{
	u16 count = PIT_HZ / 100;
	u64 t0, t1;

	outb((inb(0x61) & ~0x02) | 0x01, 0x61);
	outb(0xb0, 0x43);	/* channel 2, lobyte/hibyte, mode 0 */
	outb(count & 0xff, 0x42);
	outb(count >> 8, 0x42);
	t0 = rdtsc();
	while (!(inb(0x61) & 0x20))
		;
	t1 = rdtsc();
	tsc_khz = udiv64(t1 - t0, 10);
}

void ap_main(int cpu);
void ap_main(int cpu)
{
	cpu_init(cpu);
	ap_fn(cpu);
}

/* Spin for about @loops pause instructions: no timer is needed. */
static void delay(u32 loops)
{
	while (loops--)
		cpu_relax();
}

int smp_start(void (*fn)(int cpu), int nr_wanted)
{
	u32 waited;

	if (nr_wanted > MAX_CPUS)
		nr_wanted = MAX_CPUS;
	ap_fn = fn;
	memcpy((void *)SIPI_PAGE, sipi_start, sipi_end - sipi_start);
	apic_icr(ICR_ALL_BUT_SELF | ICR_INIT);
	delay(10000);
	apic_icr(ICR_ALL_BUT_SELF | ICR_STARTUP | (SIPI_PAGE >> 12));
	delay(200);
	apic_icr(ICR_ALL_BUT_SELF | ICR_STARTUP | (SIPI_PAGE >> 12));
	for (waited = 0; READ_ONCE(nr_cpus_started) < nr_wanted && waited < 100000000; waited++)
		cpu_relax();
	return READ_ONCE(nr_cpus_started);
}

struct multiboot_info {
	u32 flags, mem_lower, mem_upper, boot_device, cmdline;
};

void boot_main(struct multiboot_info *mbi);
void boot_main(struct multiboot_info *mbi)
{
	serial_init();
	if (mbi->flags & (1 << 2))
		cmdline = (const char *)mbi->cmdline;
	printf("cmdline: %s\n", cmdline);
	/* Mask the 8259s: the BIOS left the timer on a vector with no gate. */
	outb(0xff, 0x21);
	outb(0xff, 0xa1);
	set_gate(0x40, irq_stub_0x40);
	set_gate(0x41, irq_stub_0x41);
	set_gate(0x42, irq_stub_0x42);
	set_gate(0x43, irq_stub_0x43);
	cpu_init(0);
	tsc_calibrate();
	printf("TSC: %u kHz\n", tsc_khz);
	main();
	exit(report_summary());
}
