/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * gang-probe: ask the host kernel which gang scheduling modes KVM offers.
 * Opens /dev/kvm, calls KVM_CHECK_EXTENSION(KVM_CAP_GANG) and prints the
 * returned mode bitmask in hex (bit KVM_GANG_MODE_OFF, _STRICT, _RELAXED);
 * 0x0 means the kernel has no gang scheduling.  The qemu hook of
 * libvirt-hooks/ runs it before it approves a gang domain.
 *
 * usage: gang-probe [DEVICE]
 *
 * Exit status: 0 when the kernel answered (also with 0x0), 1 when /dev/kvm
 * cannot be opened or the ioctl fails (with the errno message), 2 on a
 * usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm.h>

#ifndef KVM_CAP_GANG
# error "linux/kvm.h lacks KVM_CAP_GANG: build with -isystem build/kernel/usr/include"
#endif

int
main(int argc, char **argv)
{
    const char *device = "/dev/kvm";
    int ret = EXIT_FAILURE;
    int mask;
    int fd;

    if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
        fprintf(stderr, "usage: gang-probe [DEVICE]\n");
        return 2;
    }
    if (argc == 2)
        device = argv[1];

    if ((fd = open(device, O_RDWR | O_CLOEXEC)) < 0) {
        fprintf(stderr, "gang-probe: cannot open %s: %s\n",
                device, strerror(errno));
        return EXIT_FAILURE;
    }

    if (ioctl(fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
        fprintf(stderr, "gang-probe: %s: KVM_GET_API_VERSION is not %d\n",
                device, KVM_API_VERSION);
        goto cleanup;
    }

    if ((mask = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_GANG)) < 0) {
        fprintf(stderr, "gang-probe: %s: KVM_CHECK_EXTENSION(KVM_CAP_GANG): %s\n",
                device, strerror(errno));
        goto cleanup;
    }

    printf("0x%x\n", (unsigned int)mask);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "gang-probe: writing the result: %s\n", strerror(errno));
        goto cleanup;
    }
    ret = EXIT_SUCCESS;

 cleanup:
    close(fd);
    return ret;
}
