// SPDX-License-Identifier: GPL-2.0-only
/*
 * gang_cpuid: what the guest is told about its vCPUs.  QEMU's gang= changes
 * nothing the guest sees: KVM_HINTS_REALTIME (CPUID 0x40000001 EDX bit 0:
 * vCPUs are never preempted behind the guest's back) is set only when
 * -cpu ...,kvm-hint-dedicated=on asks for it, gang or not.  The expected
 * value comes from the command line: realtime=0|1.
 */
#include "libguest.h"

#define KVM_CPUID_SIGNATURE	0x40000000
#define KVM_CPUID_FEATURES	0x40000001
#define KVM_HINTS_REALTIME	(1u << 0)

int main(void)
{
	u32 eax, ebx, ecx, edx, expected = arg_u32("realtime", 2);
	char signature[13];

	report(expected <= 1, "command line gives realtime=0|1");
	cpuid(KVM_CPUID_SIGNATURE, &eax, &ebx, &ecx, &edx);
	memcpy(signature, &ebx, 4);
	memcpy(signature + 4, &ecx, 4);
	memcpy(signature + 8, &edx, 4);
	signature[12] = '\0';
	report(!memcmp(signature, "KVMKVMKVM\0\0\0", 12), "KVM signature at 0x40000000 (got '%s')", signature);
	report(eax >= KVM_CPUID_FEATURES, "leaf 0x40000001 present (max leaf 0x%x)", eax);

	cpuid(KVM_CPUID_FEATURES, &eax, &ebx, &ecx, &edx);
	report_info("CPUID 0x40000001: features eax=0x%x hints edx=0x%x", eax, edx);
	report(!!(edx & KVM_HINTS_REALTIME) == expected, "KVM_HINTS_REALTIME is %u, expected %u",
	       !!(edx & KVM_HINTS_REALTIME), expected);
	return 0;
}
