/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The TLS context of the HTTPS listeners: a certificate chain and its key (PEM files; a
 * relative name is taken in $CREDENTIALS_DIRECTORY, where LoadCredential= puts it), TLS 1.2
 * and 1.3 only, ciphers and groups of Mozilla's "intermediate" profile, ALPN h2 then
 * http/1.1, no renegotiation, no compression, no session cache (memory per session): session
 * tickets only, under keys that rotate every TLS_TICKET_KEY_USEC, each accepted for as long
 * again after it stops issuing. A context replaced at a reload hands its ticket keys on, so
 * clients resume across it; connections opened under the old context keep it to their end
 * (OpenSSL counts its references).
 */

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define TLS_TICKET_KEY_USEC (UINT64_C(3600) * 1000000)

typedef struct Tls Tls;

/*
 * Loads certificate (the chain, leaf first) and key. 0; -ENOKEY when a relative name has no
 * $CREDENTIALS_DIRECTORY to be read from; another negative errno (-EINVAL: OpenSSL refused
 * the files, the key does not match the certificate) with the reason in err. previous (may
 * be NULL) hands on its ticket keys.
 */
int tls_new(const char *certificate, const char *key, const Tls *previous, Tls **ret, char *err, size_t errlen);
/* Drops the caller's hold: t itself lives as long as the connections opened under it. */
Tls *tls_free(Tls *t);
DEFINE_FREEP(Tls, tls_free)

/* The OpenSSL context of t: SSL_new() on it holds a reference of its own. */
SSL_CTX *tls_ssl_ctx(const Tls *t);

/* The subject, serial and expiry of the certificate in force, for the log: "CN=... serial ... until ...". */
void tls_describe(const Tls *t, char *buf, size_t size);
