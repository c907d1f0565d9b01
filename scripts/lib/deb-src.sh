# shellcheck shell=bash
# Sourced by the scripts that fetch a Debian source package with
# `apt-get source` (scripts/qemu-build, scripts/libvirt-build).
#
# ensure_deb_src PROG: write deb-src entries for every enabled deb entry that
# has none, into files of our own, and run `apt-get update` when they
# changed (then apt_updated=1).  Rewritten only when the deb entries change.
# Messages start with "PROG: "; failures go to the caller's die().

# shellcheck disable=SC2034  # read by the callers
apt_updated=0

ensure_deb_src() {
	local prog=$1
	local dir=/etc/apt/sources.list.d want_sources want_list f changed=0
	local own_sources="$dir/kvm-gang-deb-src.sources" own_list="$dir/kvm-gang-deb-src.list"

	want_sources=$(for f in "$dir"/*.sources; do
		if [ -f "$f" ] && [ "$f" != "$own_sources" ]; then cat "$f"; echo; fi
	done | awk 'BEGIN { RS = ""; ORS = "" }
		{
			n = split($0, line, "\n")
			types = ""
			for (i = 1; i <= n; i++)
				if (tolower(line[i]) ~ /^types:/)
					types = line[i]
			if (types !~ /[ \t]deb([ \t]|$)/ || types ~ /deb-src/ ||
			    tolower($0) ~ /(^|\n)enabled:[ \t]*no/)
				next
			if (nr++)
				print "\n"
			for (i = 1; i <= n; i++)
				print (tolower(line[i]) ~ /^types:/ ? "Types: deb-src" : line[i]) "\n"
		}')
	want_list=$(for f in /etc/apt/sources.list "$dir"/*.list; do
		if [ -f "$f" ] && [ "$f" != "$own_list" ]; then cat "$f"; fi
	done | awk '$1 == "deb-src" { have[$0] = 1 }
		$1 == "deb" { sub(/deb/, "deb-src"); want[++n] = $0 }
		END { for (i = 1; i <= n; i++) if (!have[want[i]]) print want[i] }')

	for f in sources list; do
		local own want
		if [ "$f" = sources ]; then own=$own_sources want=$want_sources; else own=$own_list want=$want_list; fi
		if [ -z "$want" ]; then
			[ ! -e "$own" ] || { rm -f "$own"; changed=1; }
			continue
		fi
		[ "$(cat "$own" 2>/dev/null)" != "$want" ] || continue
		[ "$(id -u)" = 0 ] || die "need root to write $own"
		echo "$prog: writing deb-src entries to $own" >&2
		printf '%s\n' "$want" >"$own"
		changed=1
	done
	[ -n "$want_sources$want_list" ] ||
		grep -qsE '^[[:space:]]*deb-src[[:space:]]|^Types:.*deb-src' /etc/apt/sources.list "$dir"/*.list "$dir"/*.sources ||
		die "no deb entries in /etc/apt to derive deb-src entries from"
	if [ "$changed" = 1 ]; then
		apt-get update -q >&2
		# shellcheck disable=SC2034  # read by the callers
		apt_updated=1
	fi
}
