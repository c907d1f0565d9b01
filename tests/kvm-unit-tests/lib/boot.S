/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Boot code of the guest-side tests: a multiboot header so that QEMU's
 * -kernel loads the test at 1 MiB in 32-bit protected mode, a flat GDT, one
 * stack per CPU, and the real-mode trampoline that application processors
 * start in after INIT-SIPI-SIPI (copied to SIPI_PAGE by smp_init()).
 */
#include "asm.h"

#define MB_MAGIC	0x1badb002
#define MB_FLAGS	0x00000003	/* page-aligned modules, memory info */

	.section .multiboot, "a"
	.align 4
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

	.text
	.code32
	.globl start
start:
	/* %ebx: the multiboot information block */
	lgdt gdt_desc
	ljmp $CODE_SEL, $1f
1:	mov $DATA_SEL, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov %ax, %fs
	mov %ax, %gs
	mov $stacks + STACK_SIZE, %esp
	push %ebx
	call boot_main
halt:	cli
	hlt
	jmp halt

/* Application processors arrive here from the trampoline. */
ap_start32:
	mov $DATA_SEL, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov %ax, %fs
	mov %ax, %gs
	mov $1, %eax
	lock xadd %eax, nr_cpus_started
	mov %eax, %esp
	inc %esp
	shl $STACK_SHIFT, %esp
	add $stacks, %esp
	push %eax
	call ap_main
	jmp halt

/*
 * Interrupt entry for the vectors the tests use (IRQ_VECTOR_FIRST and up):
 * save the registers, irq_dispatch(vector), return.
 */
.macro IRQ_STUB vec
	.globl irq_stub_\vec
irq_stub_\vec:
	pushal
	push $\vec
	call irq_dispatch
	add $4, %esp
	popal
	iret
.endm
	IRQ_STUB 0x40
	IRQ_STUB 0x41
	IRQ_STUB 0x42
	IRQ_STUB 0x43

	.code16
	.globl sipi_start, sipi_end
sipi_start:
	cli
	mov %cs, %ax
	mov %ax, %ds
	lgdtl sipi_gdt_desc - sipi_start
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	ljmpl $CODE_SEL, $ap_start32
sipi_gdt_desc:
	.word gdt_end - gdt - 1
	.long gdt
sipi_end:

	.data
	.align 8
gdt:
	.quad 0
	.quad 0x00cf9a000000ffff	/* CODE_SEL: flat 32-bit code */
	.quad 0x00cf92000000ffff	/* DATA_SEL: flat data */
gdt_end:
gdt_desc:
	.word gdt_end - gdt - 1
	.long gdt

	.globl nr_cpus_started
	.align 4
nr_cpus_started:
	.long 1				/* the BSP */

	.bss
	.align 4096
	.globl stacks
stacks:
	.skip STACK_SIZE * MAX_CPUS

	.section .note.GNU-stack, "", @progbits
