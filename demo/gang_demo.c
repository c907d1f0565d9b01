// SPDX-License-Identifier: GPL-2.0-only
/*
 * gang_demo: create a multi-vCPU VM with raw KVM ioctls, turn its gang on
 * with KVM_ENABLE_CAP(KVM_CAP_GANG), run every vCPU in its own thread, and
 * print what the guest did together with the gang's state and binary stats.
 * It shows the UAPI the way a VMM uses it; `make demo` runs it in the test bed.
 *
 * usage: gang_demo [--vcpus N] [--mode off|strict|relaxed] [--skew-ns N]
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/types.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_VCPUS	64
#define GUEST_MEM_SIZE	0x10000
#define COUNTERS_GPA	0x1000
#define DONE_PORT	0x10
#define LOOPS		0x400000

/*
 * 16-bit real-mode guest, loaded at GPA 0.  BX holds 4 * vCPU index, so each
 * vCPU counts in its own dword at COUNTERS_GPA + BX, then reports on
 * DONE_PORT:
 *
 *	mov  ecx, LOOPS
 * 1:	inc  dword [bx + COUNTERS_GPA]
 *	dec  ecx
 *	jnz  1b
 *	out  DONE_PORT, al
 *	hlt
 */
static const __u8 guest_code[] = {
	0x66, 0xb9, LOOPS & 0xff, (LOOPS >> 8) & 0xff,
	(LOOPS >> 16) & 0xff, (LOOPS >> 24) & 0xff,
	0x66, 0xff, 0x87, COUNTERS_GPA & 0xff, COUNTERS_GPA >> 8,
	0x66, 0x49,
	0x75, 0xf7,
	0xe6, DONE_PORT,
	0xf4,
};

struct vcpu {
	int fd;
	int index;
	struct kvm_run *run;
	pthread_t thread;
	const char *error;
};

static const char * const mode_names[] = { "off", "strict", "relaxed" };

static void die(const char *what)
{
	fprintf(stderr, "gang_demo: %s: %s\n", what, strerror(errno));
	exit(EXIT_FAILURE);
}

static const char usage_text[] =
	"usage: gang_demo [--vcpus N] [--mode off|strict|relaxed] [--skew-ns N]\n";

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;

	for (;;) {
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR)
				continue;
			vcpu->error = strerror(errno);
			return NULL;
		}
		if (vcpu->run->exit_reason == KVM_EXIT_IO &&
		    vcpu->run->io.port == DONE_PORT)
			return NULL;
		vcpu->error = "unexpected exit reason";
		return NULL;
	}
}

/* Print every stat of @stats_fd whose name starts with "gang_". */
static void print_gang_stats(int stats_fd, const char *scope)
{
	struct kvm_stats_header header;
	struct kvm_stats_desc *desc;
	size_t desc_size;
	char *descs;
	__u64 value;
	__u32 i;

	if (pread(stats_fd, &header, sizeof(header), 0) != sizeof(header))
		die("read stats header");
	desc_size = sizeof(*desc) + header.name_size;
	descs = calloc(header.num_desc, desc_size);
	if (!descs)
		die("calloc");
	if (pread(stats_fd, descs, header.num_desc * desc_size,
		  header.desc_offset) != (ssize_t)(header.num_desc * desc_size))
		die("read stats descriptors");

	for (i = 0; i < header.num_desc; i++) {
		desc = (struct kvm_stats_desc *)(descs + i * desc_size);
		if (strncmp(desc->name, "gang_", 5))
			continue;
		if (pread(stats_fd, &value, sizeof(value),
			  header.data_offset + desc->offset) != sizeof(value))
			die("read stat");
		printf("  %-6s %-20s %llu\n", scope, desc->name,
		       (unsigned long long)value);
	}
	free(descs);
}

static void print_debugfs_gang(int vm_fd)
{
	char path[128], line[128];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/debug/kvm/%d-%d/gang",
		 getpid(), vm_fd);
	f = fopen(path, "r");
	if (!f) {
		printf("  (no %s: %s)\n", path, strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f))
		printf("  %s", line);
	fclose(f);
}

int main(int argc, char *argv[])
{
	struct kvm_enable_cap cap = { .cap = KVM_CAP_GANG };
	struct vcpu vcpus[MAX_VCPUS];
	struct kvm_userspace_memory_region region;
	int kvm_fd, vm_fd, stats_fd, supported, i;
	unsigned long long skew_ns = 0;
	__u32 *counters;
	int nr_vcpus = 4, mode = 1;
	int run_size, failed = 0;
	__u8 *mem;
	char *end;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--vcpus") && i + 1 < argc) {
			nr_vcpus = strtol(argv[++i], &end, 0);
			if (*end || nr_vcpus < 1 || nr_vcpus > MAX_VCPUS) {
				fprintf(stderr, "gang_demo: --vcpus wants 1..%d\n", MAX_VCPUS);
				return 2;
			}
		} else if (!strcmp(argv[i], "--mode") && i + 1 < argc) {
			for (mode = 0; mode < 3; mode++)
				if (!strcmp(argv[i + 1], mode_names[mode]))
					break;
			if (mode == 3) {
				fprintf(stderr, "gang_demo: unknown mode '%s'\n", argv[i + 1]);
				return 2;
			}
			i++;
		} else if (!strcmp(argv[i], "--skew-ns") && i + 1 < argc) {
			skew_ns = strtoull(argv[++i], &end, 0);
			if (*end) {
				fprintf(stderr, "gang_demo: --skew-ns wants a number\n");
				return 2;
			}
		} else {
			fputs(usage_text, stderr);
			return 2;
		}
	}

	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0)
		die("open /dev/kvm");
	supported = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_GANG);
	if (supported <= 0) {
		fprintf(stderr, "gang_demo: this kernel does not offer KVM_CAP_GANG (%d)\n",
			KVM_CAP_GANG);
		return EXIT_FAILURE;
	}
	printf("KVM_CHECK_EXTENSION(KVM_CAP_GANG) = %#x (modes:%s%s%s)\n", supported,
	       supported & (1 << KVM_GANG_MODE_OFF) ? " off" : "",
	       supported & (1 << KVM_GANG_MODE_STRICT) ? " strict" : "",
	       supported & (1 << KVM_GANG_MODE_RELAXED) ? " relaxed" : "");

	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm_fd < 0)
		die("KVM_CREATE_VM");

	/* The gang must be on before the first vCPU exists. */
	cap.args[0] = mode;
	cap.args[1] = skew_ns;
	if (ioctl(vm_fd, KVM_ENABLE_CAP, &cap) < 0)
		die("KVM_ENABLE_CAP(KVM_CAP_GANG)");
	printf("gang mode %s enabled on a %d-vCPU VM\n", mode_names[mode], nr_vcpus);

	mem = mmap(NULL, GUEST_MEM_SIZE, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap guest memory");
	memcpy(mem, guest_code, sizeof(guest_code));
	region = (struct kvm_userspace_memory_region) {
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = GUEST_MEM_SIZE,
		.userspace_addr = (uintptr_t)mem,
	};
	if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		die("KVM_SET_USER_MEMORY_REGION");

	run_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size < 0)
		die("KVM_GET_VCPU_MMAP_SIZE");

	for (i = 0; i < nr_vcpus; i++) {
		struct kvm_sregs sregs;
		struct kvm_regs regs = { .rip = 0, .rflags = 2, .rbx = 4 * i };

		vcpus[i] = (struct vcpu) { .index = i };
		vcpus[i].fd = ioctl(vm_fd, KVM_CREATE_VCPU, i);
		if (vcpus[i].fd < 0)
			die("KVM_CREATE_VCPU");
		vcpus[i].run = mmap(NULL, run_size, PROT_READ | PROT_WRITE,
				    MAP_SHARED, vcpus[i].fd, 0);
		if (vcpus[i].run == MAP_FAILED)
			die("mmap kvm_run");
		if (ioctl(vcpus[i].fd, KVM_GET_SREGS, &sregs) < 0)
			die("KVM_GET_SREGS");
		sregs.cs.base = 0;
		sregs.cs.selector = 0;
		sregs.ds.base = 0;
		sregs.ds.selector = 0;
		if (ioctl(vcpus[i].fd, KVM_SET_SREGS, &sregs) < 0)
			die("KVM_SET_SREGS");
		if (ioctl(vcpus[i].fd, KVM_SET_REGS, &regs) < 0)
			die("KVM_SET_REGS");
	}

	printf("\ngang state (debugfs):\n");
	print_debugfs_gang(vm_fd);

	for (i = 0; i < nr_vcpus; i++)
		if (pthread_create(&vcpus[i].thread, NULL, vcpu_thread, &vcpus[i]))
			die("pthread_create");
	for (i = 0; i < nr_vcpus; i++)
		pthread_join(vcpus[i].thread, NULL);

	counters = (__u32 *)(mem + COUNTERS_GPA);
	printf("\nguest work (loop iterations per vCPU, expected %u):\n", LOOPS);
	for (i = 0; i < nr_vcpus; i++) {
		printf("  vcpu %d: %u%s%s\n", i, counters[i],
		       vcpus[i].error ? "  error: " : "",
		       vcpus[i].error ? vcpus[i].error : "");
		if (vcpus[i].error || counters[i] != LOOPS)
			failed = 1;
	}

	printf("\ngang stats (KVM_GET_STATS_FD):\n");
	stats_fd = ioctl(vm_fd, KVM_GET_STATS_FD, 0);
	if (stats_fd < 0)
		die("KVM_GET_STATS_FD on the VM");
	print_gang_stats(stats_fd, "vm");
	close(stats_fd);
	for (i = 0; i < nr_vcpus; i++) {
		char scope[16];

		stats_fd = ioctl(vcpus[i].fd, KVM_GET_STATS_FD, 0);
		if (stats_fd < 0)
			die("KVM_GET_STATS_FD on a vCPU");
		snprintf(scope, sizeof(scope), "vcpu%d", i);
		print_gang_stats(stats_fd, scope);
		close(stats_fd);
	}

	printf("\n%s\n", failed ? "gang_demo: FAILED" : "gang_demo: all vCPUs finished their work");
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
