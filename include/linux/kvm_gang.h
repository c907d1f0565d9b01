/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Gang scheduling for KVM: every vCPU of a VM runs together or not at all.
 * This header holds the per-VM gang descriptor and the hooks that the KVM
 * core calls; with CONFIG_KVM_GANG=n the hooks are empty inline stubs, so
 * the call sites in kvm_main.c need no #ifdef.  The protocol is described in
 * the kvm-gang docs/ and in Documentation/virt/kvm/api.rst (KVM_CAP_GANG).
 */
#ifndef __KVM_GANG_H__
#define __KVM_GANG_H__

#include <linux/types.h>
#include <linux/errno.h>
#include <uapi/linux/kvm.h>

struct kvm;
struct kvm_vcpu;

/*
 * One per VM, allocated by the first KVM_ENABLE_CAP(KVM_CAP_GANG) that turns
 * the gang on and freed with the VM.  @mode and @skew_ns are written under
 * kvm->lock and read locklessly by vCPUs, hence READ_ONCE()/WRITE_ONCE().
 */
struct kvm_gang {
	u32 mode;
	u64 skew_ns;
	/* vCPUs that joined the gang at creation, written under kvm->lock. */
	u32 nr_members;
};

#ifdef CONFIG_KVM_GANG

int kvm_gang_check_extension(void);
int kvm_gang_enable_cap(struct kvm *kvm, struct kvm_enable_cap *cap);
void kvm_gang_vcpu_join(struct kvm_vcpu *vcpu);
void kvm_gang_destroy(struct kvm *kvm);

#else /* !CONFIG_KVM_GANG */

static inline int kvm_gang_check_extension(void)
{
	return 0;
}

static inline int kvm_gang_enable_cap(struct kvm *kvm,
				      struct kvm_enable_cap *cap)
{
	return -EINVAL;
}

static inline void kvm_gang_vcpu_join(struct kvm_vcpu *vcpu)
{
}

static inline void kvm_gang_destroy(struct kvm *kvm)
{
}

#endif /* CONFIG_KVM_GANG */

#endif /* __KVM_GANG_H__ */
