// SPDX-License-Identifier: GPL-2.0-only
/*
 * KVM_CAP_GANG UAPI test: the KVM_CHECK_EXTENSION value on /dev/kvm and on a
 * VM fd, enabling each mode, every -EINVAL/-E2BIG/-EBUSY path, gang
 * membership of VMs with 1, 2 and many vCPUs that run guest code, and the
 * names, types and units of the gang binary stats.
 *
 * The VM's gang state is read back from debugfs (kvm/<pid>-<vm fd>/gang),
 * which the kvm-gang test bed mounts.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "gang_util.h"
#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"

#define GANG_ALL_MODES	(BIT(KVM_GANG_MODE_OFF) | BIT(KVM_GANG_MODE_STRICT) | \
			 BIT(KVM_GANG_MODE_RELAXED))
#define MANY_VCPUS	32

struct gang_state {
	char mode[16];
	unsigned long long skew_ns;
	unsigned int members;
};

static void guest_code(void)
{
	GUEST_DONE();
}

/* Expect KVM_ENABLE_CAP(@cap) to fail with @err. */
static void gang_enable_fails(struct kvm_vm *vm, struct kvm_enable_cap *cap,
			      int err, const char *what)
{
	int r = __vm_ioctl(vm, KVM_ENABLE_CAP, cap);

	TEST_ASSERT(r == -1 && errno == err,
		    "%s: expected errno %d (%s), got r = %d errno = %d (%s)",
		    what, err, strerror(err), r, errno, strerror(errno));
}

/* Returns false if the VM has no gang file (gang never turned on). */
static bool gang_read_state(struct kvm_vm *vm, struct gang_state *st)
{
	char path[128];
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "/sys/kernel/debug/kvm/%d-%d/gang",
		 getpid(), vm->fd);
	f = fopen(path, "r");
	if (!f) {
		TEST_ASSERT(errno == ENOENT, "open %s: %s", path, strerror(errno));
		return false;
	}
	n = fscanf(f, "mode: %15s\nskew_ns: %llu\nmembers: %u\n",
		   st->mode, &st->skew_ns, &st->members);
	fclose(f);
	TEST_ASSERT(n == 3, "%s: unexpected format (%d fields parsed)", path, n);
	return true;
}

static void gang_assert_state(struct kvm_vm *vm, const char *mode,
			      unsigned long long skew_ns, unsigned int members)
{
	struct gang_state st;

	TEST_ASSERT(gang_read_state(vm, &st), "VM has no gang debugfs file");
	TEST_ASSERT(!strcmp(st.mode, mode), "mode: expected %s, got %s",
		    mode, st.mode);
	TEST_ASSERT(st.skew_ns == skew_ns, "skew_ns: expected %llu, got %llu",
		    skew_ns, st.skew_ns);
	TEST_ASSERT(st.members == members, "members: expected %u, got %u",
		    members, st.members);
}

TEST(check_extension_dev)
{
	ASSERT_EQ(kvm_check_cap(KVM_CAP_GANG), GANG_ALL_MODES);
}

TEST(check_extension_vm)
{
	struct kvm_vm *vm = vm_create_barebones();

	ASSERT_EQ(vm_check_cap(vm, KVM_CAP_GANG), GANG_ALL_MODES);
	kvm_vm_free(vm);
}

TEST(enable_each_mode)
{
	struct kvm_vm *vm = vm_create_barebones();
	struct gang_state st;

	/* Off on a VM without a gang records nothing. */
	ASSERT_EQ(gang_enable(vm, KVM_GANG_MODE_OFF, 0), 0);
	ASSERT_FALSE(gang_read_state(vm, &st));

	ASSERT_EQ(gang_enable(vm, KVM_GANG_MODE_STRICT, 0), 0);
	gang_assert_state(vm, "strict", 0, 0);

	ASSERT_EQ(gang_enable(vm, KVM_GANG_MODE_RELAXED, 0), 0);
	gang_assert_state(vm, "relaxed", KVM_GANG_SKEW_NS_DEFAULT, 0);

	ASSERT_EQ(gang_enable(vm, KVM_GANG_MODE_RELAXED, 500000), 0);
	gang_assert_state(vm, "relaxed", 500000, 0);

	ASSERT_EQ(gang_enable(vm, KVM_GANG_MODE_RELAXED, KVM_GANG_SKEW_NS_MAX), 0);
	gang_assert_state(vm, "relaxed", KVM_GANG_SKEW_NS_MAX, 0);

	ASSERT_EQ(gang_enable(vm, KVM_GANG_MODE_OFF, 0), 0);
	gang_assert_state(vm, "off", 0, 0);

	ASSERT_EQ(gang_enable(vm, KVM_GANG_MODE_STRICT, 0), 0);
	gang_assert_state(vm, "strict", 0, 0);
	kvm_vm_free(vm);
}

TEST(invalid_args)
{
	struct kvm_vm *vm = vm_create_barebones();
	struct kvm_enable_cap cap;
	const u64 bad_modes[] = { 3, 31, 32, 63, 64, 0xffffffffull, ~0ull };
	int i;

	ASSERT_EQ(gang_enable(vm, KVM_GANG_MODE_STRICT, 0), 0);

	for (i = 0; i < ARRAY_SIZE(bad_modes); i++) {
		cap = (struct kvm_enable_cap) {
			.cap = KVM_CAP_GANG, .args = { bad_modes[i] },
		};
		gang_enable_fails(vm, &cap, EINVAL, "unknown mode");
	}

	cap = (struct kvm_enable_cap) {
		.cap = KVM_CAP_GANG, .flags = 1, .args = { KVM_GANG_MODE_STRICT },
	};
	gang_enable_fails(vm, &cap, EINVAL, "non-zero flags");

	for (i = 2; i < 4; i++) {
		cap = (struct kvm_enable_cap) {
			.cap = KVM_CAP_GANG, .args = { KVM_GANG_MODE_RELAXED },
		};
		cap.args[i] = 1;
		gang_enable_fails(vm, &cap, EINVAL, "non-zero unused arg");
	}

	cap = (struct kvm_enable_cap) {
		.cap = KVM_CAP_GANG, .args = { KVM_GANG_MODE_STRICT, 1000 },
	};
	gang_enable_fails(vm, &cap, EINVAL, "threshold in strict mode");

	cap = (struct kvm_enable_cap) {
		.cap = KVM_CAP_GANG, .args = { KVM_GANG_MODE_OFF, 1000 },
	};
	gang_enable_fails(vm, &cap, EINVAL, "threshold in off mode");

	cap = (struct kvm_enable_cap) {
		.cap = KVM_CAP_GANG,
		.args = { KVM_GANG_MODE_RELAXED, KVM_GANG_SKEW_NS_MAX + 1 },
	};
	gang_enable_fails(vm, &cap, E2BIG, "threshold above the maximum");

	cap = (struct kvm_enable_cap) {
		.cap = KVM_CAP_GANG, .args = { KVM_GANG_MODE_RELAXED, ~0ull },
	};
	gang_enable_fails(vm, &cap, E2BIG, "threshold of 2^64 - 1");

	/* A refused change leaves the gang as it was. */
	gang_assert_state(vm, "strict", 0, 0);
	kvm_vm_free(vm);
}

/*
 * A guest that never ends: its vCPU stays in KVM_RUN until a signal.  Its
 * CPUID exits, which KVM handles without leaving KVM_RUN, let KVM see the
 * signal even if the IPI that should force the exit is lost, which the
 * emulated test bed does now and then.
 */
static void guest_spin(void)
{
	u32 eax, ebx, ecx, edx;

	for (;;)
		__cpuid(0, 0, &eax, &ebx, &ecx, &edx);
}

static void sigusr1_ignore(int sig)
{
}

/* One KVM_RUN of the spinning guest: it ends only with a signal. */
static void *vcpu_spin_thread(void *arg)
{
	struct kvm_vcpu *vcpu = arg;

	TEST_ASSERT(!gang_vcpu_run(vcpu), "the spinning guest ended");
	return NULL;
}

/*
 * With vCPUs, the gang can be turned on, changed or turned back on while
 * every vCPU is outside KVM_RUN (userspace stops them first, as QEMU does
 * for the change); while one is inside it is -EBUSY.  Off works always.
 */
TEST(on_with_vcpus_needs_them_stopped)
{
	struct sigaction sa = { .sa_handler = sigusr1_ignore };
	struct kvm_enable_cap cap = { .cap = KVM_CAP_GANG };
	struct kvm_vcpu *vcpus[2];
	struct kvm_vm *vm;
	pthread_t thread;
	int i;

	sigaction(SIGUSR1, &sa, NULL);

	/* A VM whose vCPUs exist but do not run: on, every vCPU a member. */
	vm = vm_create_with_vcpus(2, guest_spin, vcpus);
	ASSERT_EQ(gang_enable(vm, KVM_GANG_MODE_STRICT, 0), 0);
	gang_assert_state(vm, "strict", 0, 2);
	ASSERT_EQ(gang_enable(vm, KVM_GANG_MODE_RELAXED, 2000000), 0);
	gang_assert_state(vm, "relaxed", 2000000, 2);

	/*
	 * vCPU 1 in KVM_RUN: no change but off.  The same change succeeds
	 * until the thread is inside KVM_RUN, where its guest stays.
	 */
	pthread_create(&thread, NULL, vcpu_spin_thread, vcpus[1]);
	for (i = 0; gang_enable(vm, KVM_GANG_MODE_RELAXED, 2000000) == 0; i++) {
		TEST_ASSERT(i < 1000, "vCPU 1 not in KVM_RUN after 1000 tries 10 ms apart");
		usleep(10000);
	}
	TEST_ASSERT(errno == EBUSY, "expected EBUSY, got %s", strerror(errno));
	cap.args[0] = KVM_GANG_MODE_STRICT;
	gang_enable_fails(vm, &cap, EBUSY, "strict with a vCPU in KVM_RUN");
	cap.args[0] = KVM_GANG_MODE_RELAXED;
	cap.args[1] = 1000000;
	gang_enable_fails(vm, &cap, EBUSY, "new threshold with a vCPU in KVM_RUN");
	ASSERT_EQ(gang_enable(vm, KVM_GANG_MODE_OFF, 0), 0);
	gang_assert_state(vm, "off", 0, 2);
	cap.args[1] = 0;
	gang_enable_fails(vm, &cap, EBUSY, "back on with a vCPU in KVM_RUN");
	gang_assert_state(vm, "off", 0, 2);

	/* Stopped again: back on. */
	ksft_print_msg("vCPU 1 in KVM_RUN after %d tries; stopping it\n", i);
	pthread_kill(thread, SIGUSR1);
	pthread_join(thread, NULL);
	ASSERT_EQ(gang_enable(vm, KVM_GANG_MODE_STRICT, 0), 0);
	gang_assert_state(vm, "strict", 0, 2);
	kvm_vm_free(vm);
}

/* Every vCPU created after the gang is on is a member and runs guest code. */
static void run_gang_vm(unsigned int nr_vcpus)
{
	struct kvm_vcpu *vcpus[MANY_VCPUS];
	struct kvm_vm *vm;
	struct ucall uc;
	unsigned int i;

	vm = vm_create(nr_vcpus);
	TEST_ASSERT(gang_enable(vm, KVM_GANG_MODE_STRICT, 0) == 0,
		    "KVM_ENABLE_CAP(KVM_CAP_GANG, strict) failed");
	for (i = 0; i < nr_vcpus; i++) {
		vcpus[i] = vm_vcpu_add(vm, i, guest_code);
		gang_assert_state(vm, "strict", 0, i + 1);
	}

	for (i = 0; i < nr_vcpus; i++) {
		vcpu_run(vcpus[i]);
		TEST_ASSERT(get_ucall(vcpus[i], &uc) == UCALL_DONE,
			    "vCPU %u: expected UCALL_DONE, got %lu", i, uc.cmd);
	}
	kvm_vm_free(vm);
}

TEST(members_1_vcpu)
{
	run_gang_vm(1);
}

TEST(members_2_vcpus)
{
	run_gang_vm(2);
}

TEST(members_many_vcpus)
{
	run_gang_vm(MANY_VCPUS);
}

/* Read @name from @stats_fd after checking its type, unit and exponent. */
static u64 gang_stat(int stats_fd, const char *name, u32 unit, int exponent)
{
	struct kvm_stats_desc desc;
	u64 value = gang_read_stat(stats_fd, name, &desc);

	TEST_ASSERT((desc.flags & KVM_STATS_TYPE_MASK) == KVM_STATS_TYPE_CUMULATIVE,
		    "%s: not a cumulative stat (flags %#x)", name, desc.flags);
	TEST_ASSERT((desc.flags & KVM_STATS_UNIT_MASK) == unit,
		    "%s: unit %#x, expected %#x", name,
		    desc.flags & KVM_STATS_UNIT_MASK, unit);
	TEST_ASSERT((desc.flags & KVM_STATS_BASE_MASK) == KVM_STATS_BASE_POW10,
		    "%s: base is not a power of 10", name);
	TEST_ASSERT(desc.exponent == exponent, "%s: exponent %d, expected %d",
		    name, desc.exponent, exponent);
	return value;
}

TEST(stats)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	int vm_fd, vcpu_fd;

	vm = vm_create(1);
	ASSERT_EQ(gang_enable(vm, KVM_GANG_MODE_STRICT, 0), 0);
	vcpu = vm_vcpu_add(vm, 0, guest_code);
	vcpu_run(vcpu);

	vm_fd = vm_get_stats_fd(vm);
	vcpu_fd = vcpu_get_stats_fd(vcpu);

	/*
	 * Shape only: a lone vCPU preempted by a kernel thread co-stops its
	 * (empty) gang.  gang_strict_test checks that the stats move.  A lone
	 * vCPU never waits, nor is it ever kicked out by a sibling.
	 */
	gang_stat(vm_fd, "gang_costops", KVM_STATS_UNIT_NONE, 0);
	gang_stat(vm_fd, "gang_stopped_ns", KVM_STATS_UNIT_SECONDS, -9);
	ASSERT_EQ(gang_stat(vcpu_fd, "gang_forced_exits", KVM_STATS_UNIT_NONE, 0), 0);
	ASSERT_EQ(gang_stat(vcpu_fd, "gang_waits", KVM_STATS_UNIT_NONE, 0), 0);
	gang_stat(vcpu_fd, "gang_wait_ns", KVM_STATS_UNIT_SECONDS, -9);

	close(vm_fd);
	close(vcpu_fd);
	kvm_vm_free(vm);
}

#define SPIN_PARAM	"/sys/module/kvm/parameters/gang_spin_ns"

/* Write @value to @path; returns 0 or the errno of the write. */
static int write_param(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY), r = 0;

	TEST_ASSERT(fd >= 0, "open %s: %s", path, strerror(errno));
	if (write(fd, value, strlen(value)) < 0)
		r = errno;
	close(fd);
	return r;
}

/*
 * kvm.gang_spin_ns is bounded (1 ms): a larger spin would only burn a CPU
 * that a preempted sibling may need.  Out of range is -ERANGE, garbage
 * -EINVAL, and a refused write leaves the value alone.
 */
TEST(spin_ns_is_bounded)
{
	char old[32] = "", now[32] = "";
	int fd = open(SPIN_PARAM, O_RDONLY);

	ASSERT_GE(fd, 0);
	ASSERT_GT(read(fd, old, sizeof(old) - 1), 0);
	close(fd);

	ASSERT_EQ(write_param(SPIN_PARAM, "1000001"), ERANGE);
	ASSERT_EQ(write_param(SPIN_PARAM, "-1"), EINVAL);
	ASSERT_EQ(write_param(SPIN_PARAM, "lots"), EINVAL);
	fd = open(SPIN_PARAM, O_RDONLY);
	ASSERT_GT(read(fd, now, sizeof(now) - 1), 0);
	close(fd);
	ASSERT_STREQ(old, now);
	ASSERT_EQ(write_param(SPIN_PARAM, "1000000"), 0);
	ASSERT_EQ(write_param(SPIN_PARAM, old), 0);
}

#define DEFAULT_MODE_PARAM	"/sys/module/kvm/parameters/gang_default_mode"

/*
 * The test switch kvm.gang_default_mode: with "strict", a VM that did not
 * turn a gang on gets a strict one with its first vCPU; bad values are
 * -EINVAL; back to "off", new VMs have no gang.
 */
TEST(default_mode_switch)
{
	struct kvm_vcpu *vcpus[2];
	struct gang_state st;
	struct kvm_vm *vm;

	ASSERT_EQ(write_param(DEFAULT_MODE_PARAM, "bogus"), EINVAL);
	ASSERT_EQ(write_param(DEFAULT_MODE_PARAM, "strict"), 0);
	vm = vm_create_with_vcpus(2, guest_code, vcpus);
	gang_assert_state(vm, "strict", 0, 2);
	kvm_vm_free(vm);

	ASSERT_EQ(write_param(DEFAULT_MODE_PARAM, "off"), 0);
	vm = vm_create_with_vcpus(1, guest_code, vcpus);
	ASSERT_FALSE(gang_read_state(vm, &st));
	kvm_vm_free(vm);
}

TEST_HARNESS_MAIN
