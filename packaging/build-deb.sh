#!/bin/sh
# Builds the Debian package of sqdiff from a clean copy of the source tree.
#
#   packaging/build-deb.sh [OUTDIR]         (default OUTDIR: build-packages/)
#
# Debian wants debian/ at the top of the source tree: the tree is copied to a
# temporary directory (the files git knows of, tracked or not, minus ignored
# ones; or `git archive HEAD` with SQDIFF_FROM_HEAD=1), packaging/debian is
# copied to debian/ there, and `dpkg-buildpackage -us -uc` builds the source
# and binary packages. The artifacts (.deb, .dsc, .tar.xz, .buildinfo,
# .changes) land in OUTDIR; the last line printed on stdout is the path of
# sqdiff_<version>_<arch>.deb. The build log goes to stderr.
#
# Environment:
#   SQDIFF_DEB_VERSION=V   build version V (higher than the changelog's) by
#                          adding a changelog entry in the copy: for upgrade tests
#   SQDIFF_FROM_HEAD=1     build the committed HEAD instead of the work tree
#   SQDIFF_INSTALL_DEPS=1  first install the build dependencies (apt-get build-dep)
#   DEB_BUILD_OPTIONS      passed on (e.g. nocheck skips the unit tests)
set -eu

SRC=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$SRC/build-packages}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

log() { echo "build-deb: $*" >&2; }
die() { log "error: $*"; exit 1; }

for tool in dpkg-buildpackage dh meson; do
	command -v "$tool" >/dev/null || [ "${SQDIFF_INSTALL_DEPS:-}" = 1 ] ||
		die "$tool is missing: apt-get install dpkg-dev debhelper meson (or set SQDIFF_INSTALL_DEPS=1)"
done

# The version is meson's project version; the changelog must agree with it.
VERSION=$(sed -n "s/^[[:space:]]*version[[:space:]]*:[[:space:]]*'\([^']*\)'.*/\1/p" "$SRC/meson.build" | head -n1)
[ -n "$VERSION" ] || die "no project version in $SRC/meson.build"
CHANGELOG_VERSION=$(sed -n '1s/^sqdiff (\([^)]*\)).*/\1/p' "$SRC/packaging/debian/changelog")
[ "$CHANGELOG_VERSION" = "$VERSION" ] ||
	die "packaging/debian/changelog is at $CHANGELOG_VERSION but meson.build at $VERSION: add a changelog entry"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sqdiff-deb.XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM
TREE=$WORK/sqdiff-$VERSION
mkdir "$TREE"

"$SRC/packaging/copy-source.sh" "$SRC" "$TREE"
[ -d "$TREE/packaging/debian" ] || die "no packaging/debian in the copied tree"
rm -rf "$TREE/debian"
cp -a "$TREE/packaging/debian" "$TREE/debian"

if [ -n "${SQDIFF_DEB_VERSION:-}" ]; then
	dpkg --compare-versions "$SQDIFF_DEB_VERSION" gt "$VERSION" ||
		die "SQDIFF_DEB_VERSION=$SQDIFF_DEB_VERSION is not higher than $VERSION"
	log "building version $SQDIFF_DEB_VERSION"
	MAINT=$(sed -n 's/^ -- \(.*>\)  .*/\1/p' "$TREE/debian/changelog" | head -n1)
	{
		printf 'sqdiff (%s) unstable; urgency=medium\n\n' "$SQDIFF_DEB_VERSION"
		printf '  * Rebuild of %s as %s.\n\n' "$VERSION" "$SQDIFF_DEB_VERSION"
		printf ' -- %s  %s\n\n' "$MAINT" "$(date -R -u)"
		cat "$TREE/packaging/debian/changelog"
	} >"$TREE/debian/changelog"
fi

if [ "${SQDIFF_INSTALL_DEPS:-}" = 1 ]; then
	log "installing build dependencies"
	apt-get install -y -q --no-install-recommends dpkg-dev debhelper >&2
	apt-get build-dep -y -q "$TREE" >&2
fi

log "dpkg-buildpackage in $TREE"
(cd "$TREE" && dpkg-buildpackage -us -uc) >&2 || die "dpkg-buildpackage failed"

DEB_VERSION=$(dpkg-parsechangelog -l "$TREE/debian/changelog" -S Version)
ARCH=$(dpkg-architecture -qDEB_HOST_ARCH)
for f in "$WORK"/*; do
	if [ -f "$f" ]; then
		cp "$f" "$OUT"/
	fi
done
DEB=$OUT/sqdiff_${DEB_VERSION}_${ARCH}.deb
[ -f "$DEB" ] || die "dpkg-buildpackage made no $DEB"
echo "$DEB"
