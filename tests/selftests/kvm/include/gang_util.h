/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers shared by the KVM_CAP_GANG selftests: enabling the gang, running
 * a vCPU, and reading one binary stat by name.
 */
#ifndef SELFTEST_KVM_GANG_UTIL_H
#define SELFTEST_KVM_GANG_UTIL_H

#include <stdlib.h>
#include <string.h>

#include "kvm_util.h"
#include "ucall_common.h"

static inline int gang_enable(struct kvm_vm *vm, u64 mode, u64 skew_ns)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_GANG,
		.args = { mode, skew_ns },
	};

	return __vm_ioctl(vm, KVM_ENABLE_CAP, &cap);
}

/*
 * One KVM_RUN of @vcpu, whose guest ends with GUEST_DONE(): true when the
 * guest is done, false when KVM_RUN returned -EINTR (a signal; the caller
 * decides whether to enter again).  Any other exit fails the test.
 */
static inline bool gang_vcpu_run(struct kvm_vcpu *vcpu)
{
	struct ucall uc;
	int r;

	r = __vcpu_run(vcpu);
	if (r == -1 && errno == EINTR)
		return false;
	TEST_ASSERT(!r, "KVM_RUN: %s", strerror(errno));
	switch (get_ucall(vcpu, &uc)) {
	case UCALL_DONE:
		return true;
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
	default:
		TEST_FAIL("unexpected exit %s",
			  exit_reason_str(vcpu->run->exit_reason));
	}
	return false;
}

/*
 * Read the stat @name of @stats_fd; its descriptor (without the name) is
 * copied to @desc_out if that is not NULL.  Fails the test if it is missing.
 */
static inline u64 gang_read_stat(int stats_fd, const char *name,
				 struct kvm_stats_desc *desc_out)
{
	struct kvm_stats_desc *descs, *desc;
	struct kvm_stats_header header;
	u64 value;
	int i;

	read_stats_header(stats_fd, &header);
	descs = read_stats_descriptors(stats_fd, &header);
	for (i = 0; i < header.num_desc; i++) {
		desc = get_stats_descriptor(descs, i, &header);
		if (strcmp(desc->name, name))
			continue;
		TEST_ASSERT(desc->size == 1, "%s: size %u, expected 1", name,
			    desc->size);
		read_stat_data(stats_fd, &header, desc, &value, 1);
		if (desc_out)
			memcpy(desc_out, desc, sizeof(*desc_out));
		free(descs);
		return value;
	}
	TEST_FAIL("stat %s not found", name);
	return 0;
}

#endif /* SELFTEST_KVM_GANG_UTIL_H */
