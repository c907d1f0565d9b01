/* SPDX-License-Identifier: GPL-2.0-only */
/* Constants shared by boot.S and the C library. */
#ifndef GANG_ASM_H
#define GANG_ASM_H

#define CODE_SEL	0x08
#define DATA_SEL	0x10
#define MAX_CPUS	8
#define STACK_SHIFT	14
#define STACK_SIZE	(1 << STACK_SHIFT)
#define SIPI_PAGE	0x8000
#define IRQ_VECTOR_FIRST	0x40	/* boot.S has stubs for 0x40..0x43 */
#define NR_IRQ_VECTORS	4

#endif
