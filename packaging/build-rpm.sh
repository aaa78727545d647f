#!/bin/sh
# Builds the RPM of sqdiff from a clean copy of the source tree, with rpmbuild
# (Fedora's, or Debian's "rpm" package: packaging/rpm/sqdiff.spec falls back to
# plain definitions of the Fedora macros it uses).
#
#   packaging/build-rpm.sh [OUTDIR]         (default OUTDIR: build-packages/)
#
# The source tarball sqdiff-<version>.tar.xz is made from the files git knows of
# (tracked or not, minus ignored ones; `git archive HEAD` with SQDIFF_FROM_HEAD=1),
# then `rpmbuild -ba` builds the source and binary RPMs into OUTDIR. The last line
# printed on stdout is the path of the binary RPM; the build log goes to stderr.
#
# Environment:
#   SQDIFF_RPM_VERSION=V   build version V instead of meson's project version
#   SQDIFF_FROM_HEAD=1     build the committed HEAD instead of the work tree
#   SQDIFF_RPM_NODEPS=0    check BuildRequires (default: checked only where the
#                          rpm database knows packages, i.e. not on Debian)
set -eu

SRC=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$SRC/build-packages}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

log() { echo "build-rpm: $*" >&2; }
die() { log "error: $*"; exit 1; }

command -v rpmbuild >/dev/null || die "rpmbuild is missing (Debian: apt-get install rpm; Fedora: dnf install rpm-build)"

VERSION=$(sed -n "s/^[[:space:]]*version[[:space:]]*:[[:space:]]*'\([^']*\)'.*/\1/p" "$SRC/meson.build" | head -n1)
[ -n "$VERSION" ] || die "no project version in $SRC/meson.build"
SPEC_VERSION=$(sed -n 's/^%{!?sqdiff_version: %global sqdiff_version \([^}]*\)}$/\1/p' "$SRC/packaging/rpm/sqdiff.spec")
[ "$SPEC_VERSION" = "$VERSION" ] ||
	die "packaging/rpm/sqdiff.spec is at $SPEC_VERSION but meson.build at $VERSION: update the spec"
RPM_VERSION=${SQDIFF_RPM_VERSION:-$VERSION}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sqdiff-rpm.XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM
mkdir -p "$WORK/SOURCES" "$WORK/src/sqdiff-$RPM_VERSION"
TREE=$WORK/src/sqdiff-$RPM_VERSION

"$SRC/packaging/copy-source.sh" "$SRC" "$TREE"
tar -C "$WORK/src" --sort=name --owner=0 --group=0 --numeric-owner -cJf \
	"$WORK/SOURCES/sqdiff-$RPM_VERSION.tar.xz" "sqdiff-$RPM_VERSION"
cp "$TREE/sysusers.d/sqdiff.conf" "$WORK/SOURCES/sqdiff.sysusers"

NODEPS=
if [ "${SQDIFF_RPM_NODEPS:-}" != 0 ] && [ "$(rpm -qa 2>/dev/null | wc -l)" -eq 0 ]; then
	NODEPS=--nodeps # the rpm database is empty: BuildRequires come from dpkg here
fi

# Debian's brp-compress uses bash's "read -d" under #!/bin/sh, which fails with dash and
# leaves man pages uncompressed: run it with bash there.
RPMCONFIGDIR=$(rpm --eval '%{_rpmconfigdir}')
set --
if grep -q 'read -r -d' "$RPMCONFIGDIR/brp-compress" 2>/dev/null &&
	[ "$(readlink -f /bin/sh)" != "$(readlink -f /bin/bash)" ]; then
	OS_INSTALL_POST=$(rpm --eval '%{?__os_install_post}' |
		sed -e '/^[[:space:]]*$/d' -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' \
			-e "s|^$RPMCONFIGDIR/brp-compress|bash &|" | paste -sd';' -)
	log "with __os_install_post: $OS_INSTALL_POST"
	set -- --define "__os_install_post $OS_INSTALL_POST"
fi

log "rpmbuild -ba $RPM_VERSION"
rpmbuild -ba $NODEPS "$@" \
	--define "_topdir $WORK" \
	--define "sqdiff_version $RPM_VERSION" \
	"$TREE/packaging/rpm/sqdiff.spec" >&2 || die "rpmbuild failed"

find "$WORK/RPMS" "$WORK/SRPMS" -name '*.rpm' -exec cp {} "$OUT"/ \;
RPM=$(find "$WORK/RPMS" -name "sqdiff-$RPM_VERSION-*.rpm" ! -name '*-debug*' | head -n1)
[ -n "$RPM" ] || die "rpmbuild made no binary RPM"
echo "$OUT/$(basename "$RPM")"
