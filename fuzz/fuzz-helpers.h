/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Shared by the fuzz drivers: a property check that aborts (so libFuzzer and
 * the replay runner both report it), an exact-size copy of the input (so ASan
 * sees any overread), the check every error text must pass, and json-c's
 * strict reading of a text, the independent reference for accepted JSON.
 */

#include <json-c/json.h>

#include "numlist.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define fuzz_assert(expr)                                                                                              \
    do {                                                                                                               \
        if (!(expr)) {                                                                                                 \
            fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #expr);                              \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

/* A malloc'd copy of data of exactly size bytes (plus a NUL after them when nul is set). */
static inline char *fuzz_dup(const uint8_t *data, size_t size, bool nul) {
    char *s = malloc(size + (nul || size == 0)); /* malloc(0) may return NULL */

    fuzz_assert(s);
    if (size)
        memcpy(s, data, size);
    if (nul || size == 0)
        s[size] = '\0';
    return s;
}

/* Length of the valid UTF-8 sequence at s (n bytes available), 0 if invalid; decoded by value. */
static inline size_t fuzz_utf8_decode(const unsigned char *s, size_t n, uint32_t *ret_cp) {
    uint32_t cp;
    size_t len;

    if (n == 0)
        return 0;
    if (s[0] < 0x80)
        return *ret_cp = s[0], 1;
    if ((s[0] & 0xE0) == 0xC0)
        len = 2, cp = s[0] & 0x1F;
    else if ((s[0] & 0xF0) == 0xE0)
        len = 3, cp = s[0] & 0x0F;
    else if ((s[0] & 0xF8) == 0xF0)
        len = 4, cp = s[0] & 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    /* shortest form only, no surrogates, nothing past U+10FFFF */
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    *ret_cp = cp;
    return len;
}

/*
 * An error text must be NUL-terminated within its buffer, non-empty, valid
 * UTF-8 and free of control characters (C0, DEL, C1): it goes into HTTP
 * responses, the journal and terminals.
 */
static inline void fuzz_check_error(const char *err, size_t errlen) {
    size_t len = strnlen(err, errlen);

    fuzz_assert(len < errlen);
    fuzz_assert(len > 0);
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t k = fuzz_utf8_decode((const unsigned char *)err + i, len - i, &cp);

        fuzz_assert(k > 0);
        fuzz_assert(cp >= 0x20 && !(cp >= 0x7F && cp <= 0x9F));
        i += k;
    }
}

/* Fills an error buffer with a marker, so that a missing NUL or a missing message shows. */
static inline void fuzz_poison_error(char *err, size_t errlen) {
    memset(err, 'X', errlen);
}

/*
 * Whether json-c can stand as the reference for text: json-c 0.16 cuts a member name at an
 * escaped NUL ("id\u0000" reads as "id", and a later duplicate wins), where RFC 8259 and our
 * reader see another name. Such texts are still checked against json-ref.h for validity.
 */
static inline bool fuzz_jsonc_comparable(const char *text, size_t len) {
    static const char nul[] = "\\u0000";

    for (size_t i = 0; i + sizeof(nul) - 1 <= len; i++)
        if (memcmp(text + i, nul, sizeof(nul) - 1) == 0)
            return false;
    return true;
}

/* json-c's strict reading of text[0..len), which must succeed; the caller puts the object. */
static inline struct json_object *fuzz_jsonc_parse(const char *text, size_t len, int max_depth) {
    struct json_tokener *tok = json_tokener_new_ex(max_depth);
    struct json_object *o;

    fuzz_assert(tok);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    o = json_tokener_parse_ex(tok, text, (int)len);
    fuzz_assert(o);
    json_tokener_free(tok);
    return o;
}

/* A summing list given the same input as kept (verdict: what that parse returned) must agree. */
static inline void fuzz_check_summing(int verdict, const NumList *kept, int summed_verdict, const NumList *summed,
                                      const SqAcc *acc) {
    SqAcc want = SQACC_INIT;

    fuzz_assert(summed_verdict == verdict && summed->v == NULL);
    if (verdict < 0)
        return;
    for (size_t i = 0; i < kept->n; i++)
        sqacc_add(&want, kept->v[i]);
    fuzz_assert(summed->n == kept->n && acc->count == want.count && acc->sum == want.sum);
    fuzz_assert(acc->sumsq_lo == want.sumsq_lo && acc->sumsq_hi == want.sumsq_hi);
}
