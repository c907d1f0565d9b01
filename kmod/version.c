// SPDX-License-Identifier: GPL-2.0-only
/*
 * The version modinfo shows for kvm.ko, kvm-amd.ko and kvm-intel.ko built
 * by kmod/ (dkms.conf's PACKAGE_VERSION).  It also lets DKMS replace the
 * stock modules: it refuses to install a module whose version equals the
 * kernel's own, and the stock ones have none.
 */
#include <linux/module.h>

MODULE_VERSION(KVM_GANG_VERSION);
