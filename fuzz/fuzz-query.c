/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the query string parser (src/core/request-parse.c) and the integer text
 * grammars (src/core/number.c), each against a reference written here apart, on
 * top of strtoll(): request_parse_query() returns what the reference expects,
 * the same numbers in the same order or the same error; every accepted number
 * formats (number_format_int64) and parses back to itself; the raw input read
 * as one number gives the reference's answer under both grammars; text_quote()
 * (src/core/text.c) renders the raw input as its contract says, in any buffer size.
 */

#include <errno.h>
#include <stdint.h>

#include "fuzz-helpers.h"
#include "number.h"
#include "request-parse.h"
#include "text.h"

/* Per request; small so that the limit is reached, above the first growth step of NumList. */
#define MAX_NUMBERS 40

/* strtoll() on text that is already known to be [+-]?[0-9]+ */
static int ref_strtoll(const char *s, size_t len, int64_t *ret) {
    char *copy = fuzz_dup((const uint8_t *)s, len, true), *end;
    long long v;

    errno = 0;
    v = strtoll(copy, &end, 10);
    fuzz_assert(*end == '\0');
    free(copy);
    if (errno == ERANGE)
        return -ERANGE;
    *ret = v;
    return 0;
}

static bool all_digits(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return len > 0;
}

static int ref_number_query(const char *s, size_t len, int64_t *ret) {
    while (len > 0 && strchr(" \t", s[len - 1]) && s[len - 1])
        len--;
    while (len > 0 && strchr(" \t", s[0]) && s[0])
        s++, len--;
    if (!all_digits(s + (len > 0 && (s[0] == '+' || s[0] == '-')), len - (len > 0 && (s[0] == '+' || s[0] == '-'))))
        return -EINVAL;
    return ref_strtoll(s, len, ret);
}

static bool ref_is_json_integer(const char *s, size_t len) {
    size_t sign = len > 0 && s[0] == '-';

    return all_digits(s + sign, len - sign) && (s[sign] != '0' || len - sign == 1);
}

static int ref_number_json(const char *s, size_t len, int64_t *ret) {
    return ref_is_json_integer(s, len) ? ref_strtoll(s, len, ret) : -EINVAL;
}

/* Form-decodes s[0..len) into out; false on a '%' not followed by two hex digits. */
static bool ref_form_decode(const char *s, size_t len, char *out, size_t *ret_len) {
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%') {
            unsigned v;
            char hex[3];

            if (len - i < 3 || !strchr("0123456789abcdefABCDEF", s[i + 1]) || !s[i + 1] ||
                !strchr("0123456789abcdefABCDEF", s[i + 2]) || !s[i + 2])
                return false;
            memcpy(hex, s + i + 1, 2);
            hex[2] = '\0';
            v = (unsigned)strtoul(hex, NULL, 16);
            out[o++] = (char)v;
            i += 2;
        } else
            out[o++] = s[i] == '+' ? ' ' : s[i];
    }
    *ret_len = o;
    return true;
}

/* What request_parse_query() must do with q[0..len): its return value, and the numbers in out. */
static int ref_query(const char *q, size_t len, int64_t *out, size_t *ret_n) {
    char *buf = malloc(len + 1);
    size_t n = 0, found = 0, start = 0;
    int r = 0;

    fuzz_assert(buf);
    while (start < len) {
        const char *seg = q + start, *amp = memchr(seg, '&', len - start), *eq;
        size_t seg_len = amp ? (size_t)(amp - seg) : len - start, key_len, val_len;
        int64_t x;

        start += seg_len + 1;
        eq = memchr(seg, '=', seg_len);
        key_len = eq ? (size_t)(eq - seg) : seg_len;
        if (!ref_form_decode(seg, key_len, buf, &val_len) || val_len != 1 || buf[0] != 'n')
            continue;
        found++;
        if (!eq)
            val_len = 0;
        else if (!ref_form_decode(eq + 1, seg_len - key_len - 1, buf, &val_len)) {
            r = -EINVAL;
            break;
        }
        r = ref_number_query(buf, val_len, &x);
        if (r < 0)
            break;
        if (n == MAX_NUMBERS) {
            r = -E2BIG;
            break;
        }
        out[n++] = x;
    }
    if (r == 0 && found == 0)
        r = -ENOENT;
    free(buf);
    *ret_n = n;
    return r;
}

static void check_roundtrip(int64_t x) {
    char buf[NUMBER_INT64_DECIMAL_MAX];
    size_t len = number_format_int64(x, buf);
    int64_t y;

    fuzz_assert(len > 0 && len < NUMBER_INT64_DECIMAL_MAX);
    fuzz_assert(number_parse_query(buf, len, &y) == 0 && y == x);
    fuzz_assert(number_parse_json(buf, len, &y) == 0 && y == x);
    fuzz_assert(number_is_json_integer(buf, len));
}

/* One grammar on the raw input: same result as the reference, and *ret untouched on failure. */
static void check_number(int (*parse)(const char *, size_t, int64_t *), int (*ref)(const char *, size_t, int64_t *),
                         const char *s, size_t len) {
    int64_t got = 0x5eed, want = 0;
    int r = parse(s, len, &got), rr = ref(s, len, &want);

    fuzz_assert(r == rr);
    if (r == 0) {
        fuzz_assert(got == want);
        check_roundtrip(got);
    } else
        fuzz_assert(got == 0x5eed);
}

/* text_quote() against its contract: quotes, \xNN escapes, cut after TEXT_QUOTE_CHARS bytes with "...". */
static void check_quote(const char *s, size_t len) {
    static const size_t sizes[] = { 0, 1, 7, 8, 9, 10, 13, 50, TEXT_QUOTE_MAX - 1, TEXT_QUOTE_MAX };
    char want[TEXT_QUOTE_MAX + 8];
    size_t o = 0;

    want[o++] = '"';
    for (size_t i = 0; i < len && i < TEXT_QUOTE_CHARS; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            want[o++] = (char)c;
        else
            o += (size_t)sprintf(want + o, "\\x%02x", c);
    }
    if (len > TEXT_QUOTE_CHARS)
        o += (size_t)sprintf(want + o, "...");
    want[o++] = '"';
    want[o] = '\0';

    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        char *dst = malloc(sizes[k] + !sizes[k]); /* exactly the size given, for ASan */

        fuzz_assert(dst);
        fuzz_assert(text_quote(dst, sizes[k], s, len) == dst);
        if (sizes[k] == TEXT_QUOTE_MAX)
            fuzz_assert(strcmp(dst, want) == 0);
        else if (sizes[k] >= 8) {
            size_t n = strlen(dst);

            fuzz_check_error(dst, sizes[k]);
            fuzz_assert(n >= 2 && dst[0] == '"' && dst[n - 1] == '"');
            /* a cut rendering is a prefix of the full one, then "..." */
            fuzz_assert(strcmp(dst, want) == 0 ||
                        (n >= 5 && memcmp(dst + n - 4, "...\"", 4) == 0 && strncmp(dst, want, n - 4) == 0));
        } else if (sizes[k] > 0)
            fuzz_assert(dst[0] == '\0');
        free(dst);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *q = fuzz_dup(data, size, false), err[REQUEST_ERROR_MAX];
    NumList l = NUMLIST_INIT(MAX_NUMBERS);
    int64_t want[MAX_NUMBERS];
    size_t n_want;
    int r, rr;

    check_number(number_parse_query, ref_number_query, q, size);
    check_number(number_parse_json, ref_number_json, q, size);
    fuzz_assert(!!number_is_json_integer(q, size) == ref_is_json_integer(q, size));
    check_quote(q, size);

    rr = ref_query(q, size, want, &n_want);
    fuzz_poison_error(err, sizeof(err));
    r = request_parse_query(q, size, &l, err, sizeof(err));
    fuzz_assert(r == rr);
    {
        char *q2 = fuzz_dup(data, size, false), err2[REQUEST_ERROR_MAX]; /* decoded in place: a fresh copy */
        SqAcc acc = SQACC_INIT;
        NumList summed = NUMLIST_INIT_SUMMING(MAX_NUMBERS, &acc);

        fuzz_check_summing(r, &l, request_parse_query(q2, size, &summed, err2, sizeof(err2)), &summed, &acc);
        free(q2);
    }
    if (r == 0) {
        fuzz_assert(l.n == n_want && l.n <= l.max && l.n <= l.cap);
        fuzz_assert(memcmp(l.v, want, n_want * sizeof(int64_t)) == 0);
        for (size_t i = 0; i < l.n; i++)
            check_roundtrip(l.v[i]);
    } else
        fuzz_check_error(err, sizeof(err));

    numlist_done(&l);
    free(q);
    return 0;
}
