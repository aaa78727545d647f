/* SPDX-License-Identifier: MIT */
/* The HTTPS listeners' TLS context: see tls.h. */

#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <h2o.h>
#include <limits.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "time-util.h"

/* Mozilla's "intermediate" profile (server side TLS, version 5.7): TLS 1.2's ciphers (1.3's are
 * OpenSSL's defaults, the same three), and the groups. */
#define INTERMEDIATE_CIPHERS                                                                                           \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"                         \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"                           \
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"
#define INTERMEDIATE_GROUPS "X25519:prime256v1:secp384r1"

enum { TICKET_NAME = 16, TICKET_KEY = 32 };

typedef struct TicketKey {
    unsigned char name[TICKET_NAME], aes[TICKET_KEY], hmac[TICKET_KEY];
    usec_t born; /* 0: not made yet */
} TicketKey;

struct Tls {
    SSL_CTX *ctx;
    TicketKey keys[2]; /* [0] issues tickets; [1], the one before, still opens them */
};

/* Where each SSL_CTX keeps its Tls, which it frees with itself (on_ctx_free). */
static int ex_index = -1;

/* ALPN, the server's order: HTTP/2 when the client speaks it. */
static const h2o_iovec_t alpn[] = { { H2O_STRLIT("h2") }, { H2O_STRLIT("http/1.1") }, { NULL, 0 } };

/* "WHAT PATH: " and OpenSSL's reasons, first to last ("no start line; PEM lib"). */
static void openssl_reason(char *err, size_t errlen, const char *what, const char *path) {
    int n = snprintf(err, errlen, "%s %s: ", what, path);
    size_t len = n < 0 ? 0 : (size_t)n < errlen ? (size_t)n : errlen - 1;
    unsigned long e;
    bool first = true;

    while ((e = ERR_get_error()) != 0 && len + 1 < errlen) {
        const char *reason = ERR_reason_error_string(e);

        n = snprintf(err + len, errlen - len, "%s%s", first ? "" : "; ", reason ? reason : "unknown error");
        len += n < 0 ? 0 : (size_t)n < errlen - len ? (size_t)n : errlen - len - 1;
        first = false;
    }
    if (first)
        snprintf(err + len, errlen - len, "refused");
    ERR_clear_error();
}

/* --- session tickets ---------------------------------------------------------------------- */

static void on_ctx_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp) {
    Tls *t = ptr;

    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    if (!t)
        return;
    explicit_bzero(t->keys, sizeof(t->keys));
    free(t);
}

static int ticket_key_make(TicketKey *k, usec_t now) {
    if (RAND_bytes(k->name, sizeof(k->name)) != 1 || RAND_bytes(k->aes, sizeof(k->aes)) != 1 ||
        RAND_bytes(k->hmac, sizeof(k->hmac)) != 1)
        return -EIO;
    k->born = now;
    return 0;
}

static int ticket_mac(EVP_MAC_CTX *hctx, unsigned char *key) {
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key, TICKET_KEY),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };

    return EVP_MAC_CTX_set_params(hctx, params) == 1 ? 0 : -EIO;
}

/* OpenSSL's ticket callback: 1 to use the key, 2 to use it and issue a fresh ticket, 0 for a
 * full handshake (a key not known or too old), -1 on failure. */
static int on_ticket(SSL *ssl, unsigned char name[16], unsigned char iv[EVP_MAX_IV_LENGTH], EVP_CIPHER_CTX *cctx,
                     EVP_MAC_CTX *hctx, int enc) {
    Tls *t = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ex_index);
    usec_t now = now_usec(CLOCK_MONOTONIC);

    if (enc) {
        TicketKey *k = &t->keys[0];

        if (now - k->born >= TLS_TICKET_KEY_USEC) {
            TicketKey fresh;

            if (ticket_key_make(&fresh, now) < 0)
                return -1;
            t->keys[1] = *k;
            *k = fresh;
            explicit_bzero(&fresh, sizeof(fresh));
        }
        memcpy(name, k->name, TICKET_NAME);
        if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1 ||
            EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes, iv) != 1 || ticket_mac(hctx, k->hmac) < 0)
            return -1;
        return 1;
    }
    for (size_t i = 0; i < ELEMENTSOF(t->keys); i++) {
        TicketKey *k = &t->keys[i];

        if (k->born == 0 || memcmp(name, k->name, TICKET_NAME) != 0)
            continue;
        if (now - k->born >= (i + 1) * TLS_TICKET_KEY_USEC)
            return 0;
        if (EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes, iv) != 1 || ticket_mac(hctx, k->hmac) < 0)
            return -1;
        /* A TLS 1.3 client uses a ticket once: without a fresh one, its next connection would be
         * a full handshake again. TLS 1.2 keeps its ticket until the key is the previous one. */
        return i == 0 && SSL_version(ssl) != TLS1_3_VERSION ? 1 : 2;
    }
    return 0;
}

/* --- the context -------------------------------------------------------------------------- */

/* A relative name is the credential's: $CREDENTIALS_DIRECTORY/NAME. */
static int resolve(const char *name, char *buf, size_t size) {
    const char *creds = getenv("CREDENTIALS_DIRECTORY");
    int n;

    if (name[0] == '/')
        n = snprintf(buf, size, "%s", name);
    else if (!creds || !creds[0])
        return -ENOKEY;
    else
        n = snprintf(buf, size, "%s/%s", creds, name);
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int configure(SSL_CTX *ctx) {
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(ctx, INTERMEDIATE_CIPHERS) != 1 ||
        SSL_CTX_set1_groups_list(ctx, INTERMEDIATE_GROUPS) != 1 || SSL_CTX_set_dh_auto(ctx, 1) != 1)
        return -EINVAL;
    /* No renegotiation either way (OpenSSL 3 refuses a client's unless allowed; this refuses
     * ours too). The server's order of the profile's ciphers (AES-GCM with ECDSA first):
     * Mozilla leaves the choice to clients, testssl.sh rates that HIGH; all of them are strong. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* Idle connections give their read and write buffers back (34 KiB each otherwise). */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 1);
    if (SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, on_ticket) != 1)
        return -EINVAL;
    h2o_ssl_register_alpn_protocols(ctx, alpn);
    return 0;
}

int tls_new(const char *certificate, const char *key, const Tls *previous, Tls **ret, char *err, size_t errlen) {
    _cleanup_(tls_freep) Tls *t = NULL;
    char cert_path[PATH_MAX], key_path[PATH_MAX];
    int r;

    err[0] = '\0';
    if ((r = resolve(certificate, cert_path, sizeof(cert_path))) < 0 ||
        (r = resolve(key, key_path, sizeof(key_path))) < 0) {
        snprintf(err, errlen,
                 r == -ENOKEY ? "tls-certificate and tls-key with relative names are read from the unit's "
                                "credentials ($CREDENTIALS_DIRECTORY, LoadCredential=), which are not here"
                              : "tls-certificate or tls-key: path too long");
        return r;
    }
    if (ex_index < 0 && (ex_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, on_ctx_free)) < 0)
        return -ENOMEM;
    t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->ctx = SSL_CTX_new(TLS_server_method());
    if (!t->ctx)
        return -ENOMEM;
    if (SSL_CTX_set_ex_data(t->ctx, ex_index, t) != 1) {
        SSL_CTX_free(t->ctx);
        t->ctx = NULL;
        return -ENOMEM;
    }
    if (configure(t->ctx) < 0) {
        openssl_reason(err, errlen, "TLS profile", "refused by OpenSSL");
        return -EINVAL;
    }
    if (SSL_CTX_use_certificate_chain_file(t->ctx, cert_path) != 1) {
        openssl_reason(err, errlen, "tls-certificate", cert_path);
        return -EINVAL;
    }
    if (SSL_CTX_use_PrivateKey_file(t->ctx, key_path, SSL_FILETYPE_PEM) != 1) {
        openssl_reason(err, errlen, "tls-key (the key of tls-certificate)", key_path);
        return -EINVAL;
    }
    if (SSL_CTX_check_private_key(t->ctx) != 1) {
        openssl_reason(err, errlen, "tls-key does not match tls-certificate:", key_path);
        return -EINVAL;
    }
    if (previous)
        memcpy(t->keys, previous->keys, sizeof(t->keys));
    else if (ticket_key_make(&t->keys[0], now_usec(CLOCK_MONOTONIC)) < 0)
        return -EIO;
    *ret = TAKE_PTR(t);
    return 0;
}

Tls *tls_free(Tls *t) {
    if (t && t->ctx)
        SSL_CTX_free(t->ctx); /* t goes with the context's last reference (on_ctx_free) */
    else
        free(t);
    return NULL;
}

SSL_CTX *tls_ssl_ctx(const Tls *t) {
    return t->ctx;
}

void tls_describe(const Tls *t, char *buf, size_t size) {
    X509 *cert = SSL_CTX_get0_certificate(t->ctx);
    char subject[256] = "?", serial[80] = "?", until[64] = "?";
    BIGNUM *bn;
    BIO *bio;

    if (!cert) {
        snprintf(buf, size, "no certificate");
        return;
    }
    X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof(subject));
    if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL))) {
        char *hex = BN_bn2hex(bn);

        if (hex)
            snprintf(serial, sizeof(serial), "%s", hex);
        OPENSSL_free(hex);
        BN_free(bn);
    }
    if ((bio = BIO_new(BIO_s_mem()))) {
        int n = ASN1_TIME_print(bio, X509_get0_notAfter(cert)) == 1 ? BIO_read(bio, until, sizeof(until) - 1) : 0;

        until[n > 0 ? n : 0] = '\0';
        BIO_free(bio);
    }
    snprintf(buf, size, "%s, serial %s, until %s", subject, serial, until);
}
