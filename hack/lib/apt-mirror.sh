# Sourced by scripts that build Debian root file systems: finds, in this
# machine's own apt configuration, the archive that serves a suite, so no
# mirror is ever named in the repository.
#
# apt_mirror SUITE
#   Prints the first URI of an enabled apt source (deb822 *.sources or
#   one-line *.list, including /etc/apt/sources.list) whose suites include
#   SUITE, and returns 1 with a message when there is none. Reads
#   APT_SOURCES_DIR (default /etc/apt) so tests can point it elsewhere.
apt_mirror() {
	local suite=$1 dir=${APT_SOURCES_DIR:-/etc/apt} f uri
	local files=()
	[ -f "$dir/sources.list" ] && files+=("$dir/sources.list")
	for f in "$dir"/sources.list.d/*.list "$dir"/sources.list.d/*.sources; do
		[ -f "$f" ] && files+=("$f")
	done
	for f in "${files[@]}"; do
		case $f in
		*.sources)
			# deb822: stanzas separated by blank lines; Enabled: no skips one.
			uri=$(awk -v suite="$suite" '
				function flush() {
					if (done) return
					if (types ~ /(^| )deb( |$)/ && enabled != "no" && uris != "") {
						n = split(suites, s, " ")
						for (i = 1; i <= n; i++) if (s[i] == suite) { split(uris, u, " "); print u[1]; done = 1; exit }
					}
					types = ""; uris = ""; suites = ""; enabled = ""
				}
				/^[ \t]*#/ { next }
				/^[ \t]*$/ { flush(); next }
				{
					key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^ +/, "")
					if (key == "types") types = $0
					else if (key == "uris") uris = $0
					else if (key == "suites") suites = $0
					else if (key == "enabled") enabled = tolower($0)
				}
				END { flush() }' "$f")
			;;
		*)
			# One-line format: deb [options] URI SUITE COMPONENT...
			uri=$(awk -v suite="$suite" '
				$1 != "deb" { next }
				{ i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ } }
				$(i + 1) == suite { print $i; exit }' "$f")
			;;
		esac
		if [ -n "$uri" ]; then
			echo "${uri%/}"
			return 0
		fi
	done
	echo "apt_mirror: no enabled apt source in $dir serves suite $suite; set the mirror explicitly" >&2
	return 1
}

# apt_archive SUITE
#   Prints the archive to fetch SUITE from: the machine's own source for
#   SUITE when it has one, or else the archive that serves the machine's own
#   release with the same suffix (bookworm → trixie, bookworm-security →
#   trixie-security), so a root file system of another Debian release comes
#   from the mirrors this machine already uses. Reads the machine's release
#   from APT_OWN_SUITE, or VERSION_CODENAME in /etc/os-release.
apt_archive() {
	local suite=$1 suffix="" own uri
	case $suite in *-*) suffix=-${suite#*-} ;; esac
	if uri=$(apt_mirror "$suite" 2>/dev/null); then
		echo "$uri"
		return 0
	fi
	own=${APT_OWN_SUITE:-$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")}
	if [ -n "$own" ] && uri=$(apt_mirror "$own$suffix" 2>/dev/null); then
		echo "$uri"
		return 0
	fi
	echo "apt_archive: no enabled apt source in ${APT_SOURCES_DIR:-/etc/apt} serves $suite or ${own:-the release of this machine}$suffix; set the mirror explicitly" >&2
	return 1
}
