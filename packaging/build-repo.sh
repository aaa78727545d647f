#!/bin/sh
# Builds or updates a signed apt repository holding sqdiff, with reprepro.
#
#   REPO_KEY=FINGERPRINT packaging/build-repo.sh REPODIR FILE...
#
# FILE: .deb (binary packages) and .dsc (source packages, with the files the .dsc names
# beside it). Each is included in the distribution $REPO_CODENAME (default bookworm),
# component main; a newer version replaces the one there (reprepro keeps one version of a
# package per distribution and architecture). Release is signed with REPO_KEY as InRelease
# and Release.gpg; gpg uses $GNUPGHOME (default ~/.gnupg), and the key needs no passphrase
# or an agent that has it. REPODIR then holds, to serve as it is over HTTP(S):
#
#   dists/ pool/     the repository
#   sqdiff.asc       the public key, ASCII-armoured, for /etc/apt/keyrings/ on the clients
#   sqdiff.sources   a deb822 source for /etc/apt/sources.list.d/ (URIs: set by REPO_URL,
#                    default a placeholder to replace)
#
# reprepro's own state (conf/, db/) lives in REPODIR too and is not served (the client
# instructions name only dists/ and pool/). The last line on stdout is REPODIR.
set -eu

log() { echo "build-repo: $*" >&2; }
die() { log "error: $*"; exit 1; }

[ $# -ge 2 ] || die "usage: REPO_KEY=FINGERPRINT $0 REPODIR FILE.deb|FILE.dsc..."
[ -n "${REPO_KEY:-}" ] || die "REPO_KEY is not set: the fingerprint of the signing key (gpg --list-secret-keys)"
command -v reprepro >/dev/null || die "reprepro is missing: apt-get install reprepro"
REPO=$1
shift
CODENAME=${REPO_CODENAME:-bookworm}
URL=${REPO_URL:-https://example.org/sqdiff}

# The key must be there, secret and able to sign, before anything is written.
gpg --batch --list-secret-keys "$REPO_KEY" >/dev/null 2>&1 ||
	die "no secret key $REPO_KEY in ${GNUPGHOME:-~/.gnupg}"

mkdir -p "$REPO/conf"
REPO=$(cd "$REPO" && pwd)
ARCHES="$(dpkg-architecture -qDEB_HOST_ARCH) source"
# Written each time, so that a new REPO_KEY re-signs everything (export below).
cat >"$REPO/conf/distributions" <<EOF
Origin: sqdiff
Label: sqdiff
Codename: $CODENAME
Suite: stable
Architectures: $ARCHES
Components: main
Description: sqdiff, exact sums of squares over HTTP
SignWith: $REPO_KEY
EOF

for f in "$@"; do
	[ -f "$f" ] || die "no such file: $f"
	case $f in
	*.deb) log "includedeb $CODENAME $(basename "$f")"
		reprepro -b "$REPO" --silent includedeb "$CODENAME" "$f" >&2 ;;
	*.dsc) log "includedsc $CODENAME $(basename "$f")"
		reprepro -b "$REPO" --silent -S net -P optional includedsc "$CODENAME" "$f" >&2 ;;
	*) die "$f: neither .deb nor .dsc" ;;
	esac
done
# Re-signs the index files (a changed key, or nothing new included).
reprepro -b "$REPO" --silent export "$CODENAME" >&2

gpg --batch --armor --export "$REPO_KEY" >"$REPO/sqdiff.asc"
[ -s "$REPO/sqdiff.asc" ] || die "gpg exported no public key for $REPO_KEY"
cat >"$REPO/sqdiff.sources" <<EOF
Types: deb
URIs: $URL
Suites: $CODENAME
Components: main
Signed-By: /etc/apt/keyrings/sqdiff.asc
EOF
# What a client checks: InRelease verifies against the exported key alone.
KEYRING=$(mktemp)
trap 'rm -f "$KEYRING"' EXIT
gpg --batch --dearmor <"$REPO/sqdiff.asc" >"$KEYRING"
gpgv --keyring "$KEYRING" "$REPO/dists/$CODENAME/InRelease" >/dev/null 2>&1 ||
	die "dists/$CODENAME/InRelease does not verify with sqdiff.asc"
reprepro -b "$REPO" list "$CODENAME" >&2
echo "$REPO"
