#!/bin/sh
# Copies the sqdiff source tree SRC into the new directory DEST, clean: the files git
# knows of, tracked or not, minus ignored ones (build directories, caches); with
# SQDIFF_FROM_HEAD=1 the committed HEAD instead. Outside a git checkout, everything
# but build*/ and .git. Used by build-deb.sh and build-rpm.sh.
#
#   packaging/copy-source.sh SRC DEST
set -eu

SRC=$1
DEST=$2
mkdir -p "$DEST"

if [ "${SQDIFF_FROM_HEAD:-}" = 1 ]; then
	echo "copy-source: HEAD of $SRC" >&2
	git -C "$SRC" archive --format=tar HEAD | tar -C "$DEST" -xf -
elif git -C "$SRC" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	echo "copy-source: work tree of $SRC (tracked and untracked, not ignored)" >&2
	# Tracked files deleted in the work tree are left out. The inner script's "$f" is its own:
	# shellcheck disable=SC2016
	(cd "$SRC" && git ls-files -z --cached --others --exclude-standard |
		xargs -0 -r sh -c 'for f; do if [ -e "$f" ]; then printf "%s\0" "$f"; fi; done' sh |
		tar --null -T - -cf -) | tar -C "$DEST" -xf -
else
	echo "copy-source: $SRC, not a git checkout (build*/ left out)" >&2
	tar -C "$SRC" --exclude='./build*' --exclude=./.git -cf - . | tar -C "$DEST" -xf -
fi
