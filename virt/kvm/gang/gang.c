// SPDX-License-Identifier: GPL-2.0-only
/*
 * KVM gang scheduling, arch-neutral core: the per-VM gang descriptor, the
 * KVM_CAP_GANG capability that selects its mode, membership of the VM's
 * vCPUs, and a debugfs view of the descriptor.  The run-loop side (co-stop,
 * co-start) builds on this descriptor; the host scheduler is not touched.
 */
#include <linux/kvm_host.h>
#include <linux/kvm_gang.h>
#include <linux/debugfs.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

#define KVM_GANG_SUPPORTED_MODES	(BIT(KVM_GANG_MODE_OFF) |	\
					 BIT(KVM_GANG_MODE_STRICT) |	\
					 BIT(KVM_GANG_MODE_RELAXED))

static const char * const kvm_gang_mode_names[] = {
	[KVM_GANG_MODE_OFF]	= "off",
	[KVM_GANG_MODE_STRICT]	= "strict",
	[KVM_GANG_MODE_RELAXED]	= "relaxed",
};

int kvm_gang_check_extension(void)
{
	return KVM_GANG_SUPPORTED_MODES;
}

/*
 * Validate everything before anything is committed: unknown mode, flags or
 * args are -EINVAL, a relaxed skew threshold above the maximum is -E2BIG.
 * A threshold only means something in relaxed mode; elsewhere it must be 0.
 */
static int kvm_gang_parse_cap(const struct kvm_enable_cap *cap,
			      u32 *mode, u64 *skew_ns)
{
	if (cap->flags || cap->args[2] || cap->args[3])
		return -EINVAL;

	if (cap->args[0] >= ARRAY_SIZE(kvm_gang_mode_names) ||
	    !(KVM_GANG_SUPPORTED_MODES & BIT(cap->args[0])))
		return -EINVAL;
	*mode = cap->args[0];

	if (*mode != KVM_GANG_MODE_RELAXED) {
		if (cap->args[1])
			return -EINVAL;
		*skew_ns = 0;
		return 0;
	}

	if (cap->args[1] > KVM_GANG_SKEW_NS_MAX)
		return -E2BIG;
	*skew_ns = cap->args[1] ? cap->args[1] : KVM_GANG_SKEW_NS_DEFAULT;
	return 0;
}

static int kvm_gang_debugfs_show(struct seq_file *m, void *unused)
{
	struct kvm *kvm = m->private;
	struct kvm_gang *gang;

	mutex_lock(&kvm->lock);
	gang = kvm->gang;
	seq_printf(m, "mode: %s\n", kvm_gang_mode_names[gang->mode]);
	seq_printf(m, "skew_ns: %llu\n", gang->skew_ns);
	seq_printf(m, "members: %u\n", gang->nr_members);
	mutex_unlock(&kvm->lock);
	return 0;
}

/* Hold a VM reference while the file is open, as the other VM files do. */
static int kvm_gang_debugfs_open(struct inode *inode, struct file *file)
{
	struct kvm *kvm = inode->i_private;
	int r;

	if (!kvm_get_kvm_safe(kvm))
		return -ENOENT;

	r = single_open(file, kvm_gang_debugfs_show, kvm);
	if (r < 0)
		kvm_put_kvm(kvm);
	return r;
}

static int kvm_gang_debugfs_release(struct inode *inode, struct file *file)
{
	struct kvm *kvm = inode->i_private;

	kvm_put_kvm(kvm);
	return single_release(inode, file);
}

static const struct file_operations kvm_gang_debugfs_fops = {
	.owner		= THIS_MODULE,
	.open		= kvm_gang_debugfs_open,
	.read		= seq_read,
	.llseek		= seq_lseek,
	.release	= kvm_gang_debugfs_release,
};

static struct kvm_gang *kvm_gang_create(struct kvm *kvm)
{
	struct kvm_gang *gang;

	lockdep_assert_held(&kvm->lock);

	gang = kzalloc(sizeof(*gang), GFP_KERNEL_ACCOUNT);
	if (!gang)
		return NULL;

	/* Removed with the rest of the VM's debugfs directory. */
	debugfs_create_file("gang", 0444, kvm->debugfs_dentry, kvm,
			    &kvm_gang_debugfs_fops);
	return gang;
}

/*
 * Turning the gang on (or switching between strict and relaxed) is only
 * allowed before the first vCPU is created, so every vCPU joins a gang whose
 * mode is already settled; -EBUSY afterwards.  Turning it off is allowed at
 * any time.  kvm->lock orders this against kvm_vm_ioctl_create_vcpu(), which
 * bumps created_vcpus under the same lock.
 */
int kvm_gang_enable_cap(struct kvm *kvm, struct kvm_enable_cap *cap)
{
	struct kvm_gang *gang;
	u64 skew_ns;
	u32 mode;
	int r;

	r = kvm_gang_parse_cap(cap, &mode, &skew_ns);
	if (r)
		return r;

	mutex_lock(&kvm->lock);
	gang = kvm->gang;
	if (mode != KVM_GANG_MODE_OFF && kvm->created_vcpus) {
		r = -EBUSY;
		goto out_unlock;
	}

	if (!gang) {
		/* Off without a gang: nothing to record, nothing to free. */
		if (mode == KVM_GANG_MODE_OFF)
			goto out_unlock;

		gang = kvm_gang_create(kvm);
		if (!gang) {
			r = -ENOMEM;
			goto out_unlock;
		}
		kvm->gang = gang;
	}

	WRITE_ONCE(gang->skew_ns, skew_ns);
	WRITE_ONCE(gang->mode, mode);

out_unlock:
	mutex_unlock(&kvm->lock);
	return r;
}

/* Called under kvm->lock once the vCPU is online; vCPUs leave with the VM. */
void kvm_gang_vcpu_join(struct kvm_vcpu *vcpu)
{
	struct kvm_gang *gang = vcpu->kvm->gang;

	lockdep_assert_held(&vcpu->kvm->lock);

	if (!gang)
		return;

	gang->nr_members++;
}

/*
 * Called from kvm_destroy_vm() after the vCPUs and the VM's debugfs directory
 * are gone, so nothing can reach the gang any more.
 */
void kvm_gang_destroy(struct kvm *kvm)
{
	kfree(kvm->gang);
	kvm->gang = NULL;
}
