# Sourced by the hack/install-*-tools.sh scripts: installs Debian packages
# that are missing, idempotently.
#
# apt_install NAME PACKAGE...
#   NAME prefixes the messages. Packages already installed are skipped, and
#   'apt-get update' runs (first) only when something must be installed.
#   Other processes may run apt at the same time, so both apt calls wait for
#   the dpkg lock instead of failing. Needs root and apt-get/dpkg; returns 1
#   with a message when either is missing (callers decide whether that is
#   an error).
apt_install() {
	local name=$1
	shift
	if [ "$(id -u)" -ne 0 ]; then
		echo "$name: not root; cannot install $*" >&2
		return 1
	fi
	if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg >/dev/null 2>&1; then
		echo "$name: apt-get/dpkg not found; install $* by hand" >&2
		return 1
	fi
	local missing=() p
	for p in "$@"; do
		if ! dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed'; then
			missing+=("$p")
		fi
	done
	if [ "${#missing[@]}" -eq 0 ]; then
		echo "$name: all of $* already installed"
		return 0
	fi
	echo "$name: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get -o DPkg::Lock::Timeout=600 update -qq
	apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"
}
