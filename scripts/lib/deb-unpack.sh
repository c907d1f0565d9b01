# shellcheck shell=bash
# Sourced by the scripts that take files from a Debian binary package
# without installing it (scripts/debian-kernel, scripts/kvm-modules).
#
# deb_unpacked PKG VERSION: download PKG=VERSION with `apt-get download`
# (after one `apt-get update` if apt does not know it yet), unpack it with
# dpkg -x into $KVM_GANG_CACHE/debian-kernel/PKG-VERSION/root once, and
# print that root.  Messages go to stderr; failures to the caller's die().
deb_unpacked() {
	local pkg=$1 version=$2 cache
	cache="$KVM_GANG_CACHE/debian-kernel/$pkg-$version"
	mkdir -p "$KVM_GANG_CACHE/debian-kernel"
	(
		flock 9
		[ ! -f "$cache/.kvm-gang-unpacked" ] || exit 0
		rm -rf "$cache" "$cache.tmp"
		mkdir -p "$cache.tmp"
		echo "fetching $pkg=$version" >&2
		# apt's sandbox user cannot write into root's cache directory.
		if ! (cd "$cache.tmp" && apt-get download -q -o APT::Sandbox::User=root \
			"$pkg=$version") >&2; then
			apt-get update -q >&2
			(cd "$cache.tmp" && apt-get download -q -o APT::Sandbox::User=root \
				"$pkg=$version") >&2 || exit 1
		fi
		dpkg -x "$cache.tmp"/*.deb "$cache.tmp/root" || exit 1
		rm -f "$cache.tmp"/*.deb
		touch "$cache.tmp/.kvm-gang-unpacked"
		mv "$cache.tmp" "$cache"
	) 9>"$KVM_GANG_CACHE/debian-kernel/lock" || die "apt-get download or dpkg -x of $pkg=$version failed"
	echo "$cache/root"
}
