/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * CURVE key files (docs/scale-out.md): what sqdiff-keygen writes and the daemons read.
 * A key file holds one key in Z85 (40 characters), then optionally a newline: NAME.secret
 * the secret key (mode 0600), NAME.pub the public key. The public key is derived from
 * the secret one when needed, so a secret file is all a daemon is given.
 *
 * A relative secret key path is taken in $CREDENTIALS_DIRECTORY, where systemd puts
 * what LoadCredential= names; without it, relative paths are refused.
 *
 * The allow-list is a directory: every regular file in it named NAME.pub (NAME not
 * starting with '.') holds the public key of a worker admitted; other files (hidden ones,
 * editors' backups, files being written) are ignored. It is read into a KeyList, the one
 * copy both the handshakes and the connected workers are checked against (zap.h reads it
 * again when the directory changes).
 */

#include <stdbool.h>
#include <stddef.h>

#define KEY_Z85_LEN 40

/* Reads the secret key at path into secret (KEY_Z85_LEN + 1) and derives public_ (likewise). */
int keys_load_secret(const char *path, char *ret_secret, char *ret_public);

/* Reads a public key file into ret_public (KEY_Z85_LEN + 1). */
int keys_load_public(const char *path, char *ret_public);

/* The public keys of an allow-list, sorted; { NULL, 0 } is an empty list. */
typedef struct KeyList {
    char (*key)[KEY_Z85_LEN + 1];
    size_t n;
} KeyList;

/* Reads the allow-list directory dir into *ret (freeing what it held), or a negative errno
 * with *ret untouched. Unreadable or malformed key files are left out. */
int keys_read_allow_list(const char *dir, KeyList *ret);
/* Whether public_key (Z85; NULL is never listed) is in l. */
bool keys_listed(const KeyList *l, const char *public_key);
void keys_list_done(KeyList *l);
