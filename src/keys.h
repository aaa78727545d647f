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
 * The allow-list is a directory: every regular file in it whose name does not start
 * with '.' holds the public key of a worker admitted. It is read anew at every check,
 * so adding a file admits a worker; removing one turns it away at its next check (the
 * front end also checks its connected workers when the directory changes: zap.h).
 */

#include <stdbool.h>

#define KEY_Z85_LEN 40

/* Reads the secret key at path into secret (KEY_Z85_LEN + 1) and derives public_ (likewise). */
int keys_load_secret(const char *path, char *ret_secret, char *ret_public);

/* Reads a public key file into ret_public (KEY_Z85_LEN + 1). */
int keys_load_public(const char *path, char *ret_public);

/* Whether the allow-list directory dir holds public_key (Z85): 1, 0, or a negative errno. */
int keys_allowed(const char *dir, const char *public_key);
