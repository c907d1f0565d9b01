# shellcheck shell=bash
# Sourced by the scripts that take files from a Debian binary package
# without installing it (scripts/debian-kernel, scripts/kvm-modules,
# scripts/check, tests/kmod/dkms-test).
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

# deb_headers RELEASE VERSION: Debian's linux-headers-RELEASE=VERSION with
# what it builds with (its linux-headers-...-common* and linux-kbuild-...
# packages), unpacked with deb_unpacked and joined under one root in the
# cache as dpkg would install them, so that out-of-tree modules build
# against it as against /lib/modules/RELEASE/build; print that directory.
# Only the flavour's Makefile changes: it includes the common Makefile
# by its absolute /usr/src path, which becomes the root's.
deb_headers() {
	local release=$1 version=$2 flavour_root common kbuild joined pkg_root
	joined="$KVM_GANG_CACHE/debian-kernel/headers-$release-$version"
	if [ ! -f "$joined/.kvm-gang-joined" ]; then
		flavour_root=$(deb_unpacked "linux-headers-$release" "$version") || return 1
		common=$(sed -n 's#^include /usr/src/\([^/]*\)/Makefile$#\1#p' \
			"$flavour_root/usr/src/linux-headers-$release/Makefile")
		kbuild=$(readlink "$flavour_root/usr/src/linux-headers-$release/scripts" |
			sed -n 's#^\.\./\.\./lib/\([^/]*\)/scripts$#\1#p')
		[ -n "$common" ] && [ -n "$kbuild" ] ||
			die "linux-headers-$release names no common headers or kbuild package"
		rm -rf "$joined" "$joined.tmp"
		mkdir -p "$joined.tmp"
		for pkg_root in "$flavour_root" "$(deb_unpacked "$common" "$version")" \
			"$(deb_unpacked "$kbuild" "$version")"; do
			cp -al "$pkg_root/." "$joined.tmp/"
		done
		rm "$joined.tmp/usr/src/linux-headers-$release/Makefile"
		sed "s#^include /usr/src/#include $joined/usr/src/#" \
			"$flavour_root/usr/src/linux-headers-$release/Makefile" \
			>"$joined.tmp/usr/src/linux-headers-$release/Makefile"
		touch "$joined.tmp/.kvm-gang-joined"
		mv "$joined.tmp" "$joined"
	fi
	echo "$joined/usr/src/linux-headers-$release"
}
