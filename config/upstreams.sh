# shellcheck shell=bash
# Pinned upstreams: the one place that names them.  Sourced by scripts/.
#
# Debian's linux-source-6.12 package, exact version; the extracted tree's
# SUBLEVEL must match LINUX_SUBLEVEL or the build stops.
LINUX_SRC_PKG=linux-source-6.12
LINUX_SRC_PKG_VERSION=6.12.117-1~deb12u1
LINUX_SRC_TARBALL=/usr/src/linux-source-6.12.tar.xz
LINUX_VERSION=6.12.117
LINUX_SUBLEVEL=117

# Debian's own kernel of the same version (linux-image-ABI-FLAVOUR), with
# KVM as stock modules: the test bed's kernel without KVM_CAP_GANG
# (scripts/debian-kernel).
DEBIAN_KERNEL_ABI=6.12.117+deb12
DEBIAN_KERNEL_PKG_VERSION=$LINUX_SRC_PKG_VERSION

# Debian's qemu source package, exact version (fetched with apt-get source);
# the extracted tree's VERSION file must say QEMU_VERSION or the build stops.
# qemu-patches/ applies to this tree (Debian's own patches included).
QEMU_SRC_PKG=qemu
QEMU_SRC_VERSION=1:7.2+dfsg-7+deb12u18
QEMU_VERSION=7.2.22

# Debian's libvirt source package, exact version (fetched with apt-get
# source); the extracted tree's meson.build must declare LIBVIRT_VERSION or
# the build stops.  libvirt-patches/ applies to this tree (Debian's own
# patches included).
LIBVIRT_SRC_PKG=libvirt
LIBVIRT_SRC_VERSION=9.0.0-4+deb12u2
LIBVIRT_VERSION=9.0.0
# The patched libvirt's runtime state, at a short fixed path whatever the
# clone's path (a UNIX socket path holds at most 107 bytes), as an installed
# libvirt keeps its own under /var: domain state (QEMU's monitor sockets
# among it), logs and caches under LIBVIRT_LOCALSTATEDIR/{lib,log,cache}/
# libvirt, the daemons' sockets and pid files under LIBVIRT_LOCALSTATEDIR/
# run/libvirt.  Not /run: libvirt 9.0's client looks for the daemon's
# socket under LOCALSTATEDIR/run whatever its runstatedir option says
# (src/remote/remote_sockets.c).
LIBVIRT_LOCALSTATEDIR=/var/lib/kvm-gang

# Caches live outside the clone and are keyed by content or version, so a
# fresh clone reuses them and a change of pin cannot pick up a stale one.
KVM_GANG_CACHE=${KVM_GANG_CACHE:-/var/cache/kvm-gang}
