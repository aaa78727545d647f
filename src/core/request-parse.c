/* SPDX-License-Identifier: MIT */
/*
 * Query-string and JSON-body parsing for the front end. Error texts quote the
 * client's value with non-printable bytes escaped and long values shortened,
 * so they are safe to put in a JSON response and a log line.
 */

#include "request-parse.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "json-reader.h"
#include "number.h"
#include "text.h"

static int too_many(const NumList *out, char *err, size_t errlen) {
    snprintf(err, errlen, "too many numbers: at most %zu are allowed per request", out->max);
    return -E2BIG;
}

/* Form-decodes s[0..len) in place ('+' is a space, %XX a byte); returns the new length or -EINVAL. */
static long form_decode(char *s, size_t len) {
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        if (s[i] == '+')
            s[o++] = ' ';
        else if (s[i] == '%') {
            int hi, lo;
            if (i + 2 >= len)
                return -EINVAL;
            hi = text_hex_digit(s[i + 1]);
            lo = text_hex_digit(s[i + 2]);
            if (hi < 0 || lo < 0)
                return -EINVAL;
            s[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else
            s[o++] = s[i];
    }
    return (long)o;
}

/* Whether a query key is "n": literally (the common case), or once form-decoded in place. */
static bool key_is_n(char *key, size_t len, bool encoded) {
    if (!encoded)
        return len == 1 && key[0] == 'n';
    return form_decode(key, len) == 1 && key[0] == 'n';
}

int request_parse_query(char *query, size_t len, NumList *out, char *err, size_t errlen) {
    char *p = query, *end = query + len;
    size_t found = 0;

    /* One pass over the query; only what carries '%' or '+' is decoded (in place). */
    while (p < end) {
        char *key = p, *value;
        bool key_encoded = false, value_encoded = false;
        size_t key_len, value_len;
        char q[TEXT_QUOTE_MAX];
        int64_t x;
        long v;
        int r;

        for (; p < end && *p != '&' && *p != '='; p++)
            key_encoded |= *p == '%' || *p == '+';
        key_len = (size_t)(p - key);
        if (p < end && *p == '=')
            p++;
        value = p;
        for (; p < end && *p != '&'; p++)
            value_encoded |= *p == '%' || *p == '+';
        value_len = (size_t)(p - value);
        if (p < end)
            p++; /* the '&' */

        if (!key_is_n(key, key_len, key_encoded))
            continue; /* other parameters (and undecodable keys, which are not "n") are ignored */

        found++;
        v = value_encoded ? form_decode(value, value_len) : (long)value_len;
        if (v < 0) {
            text_quote(q, sizeof(q), value, value_len);
            snprintf(err, errlen, "invalid n %s: malformed percent-encoding", q);
            return -EINVAL;
        }
        r = number_parse_short(value, (size_t)v, &x) ? 0 : number_parse_query(value, (size_t)v, &x);
        if (r < 0) {
            text_quote(q, sizeof(q), value, (size_t)v);
            if (r == -ERANGE)
                snprintf(err, errlen, "invalid n %s: outside the signed 64-bit range", q);
            else
                snprintf(err, errlen, "invalid n %s: expected a decimal integer", q);
            return r;
        }
        r = numlist_push(out, x);
        if (r == -E2BIG)
            return too_many(out, err, errlen);
        if (r < 0)
            return r;
    }

    if (found == 0) {
        snprintf(err, errlen, "no numbers given: expected ?n=<integer>, repeated for each number");
        return -ENOENT;
    }
    return 0;
}

static int malformed(const JsonReader *r, char *err, size_t errlen) {
    snprintf(err, errlen, "malformed JSON body at byte %zu: %s", r->error_offset, r->error);
    return -EINVAL;
}

/* Reads the elements of the "numbers" array (its '[' already consumed). */
static int parse_numbers(JsonReader *r, NumList *out, char *err, size_t errlen) {
    char q[TEXT_QUOTE_MAX];
    JsonToken t;

    for (;;) {
        int64_t x;
        int k;

        /* The general path takes the end of the array and whatever the fast path leaves. */
        if (!json_reader_take_int64(r, &x)) {
            if (json_reader_next(r, &t) < 0)
                return malformed(r, err, errlen);
            if (t.type == JSON_END_ARRAY)
                return 0;
            if (t.type != JSON_NUMBER) {
                text_quote(q, sizeof(q), t.text, t.type == JSON_STRING ? t.len : 1);
                snprintf(err, errlen, "invalid element %s in \"numbers\": expected an integer", q);
                return -EINVAL;
            }
            k = t.is_integer ? number_parse_json(t.text, t.len, &x) : -EINVAL;
            if (k < 0) {
                text_quote(q, sizeof(q), t.text, t.len);
                snprintf(err, errlen, "invalid number %s in \"numbers\": %s", q,
                         k == -ERANGE ? "outside the signed 64-bit range" : "expected an integer");
                return k;
            }
        }
        k = numlist_push(out, x);
        if (k == -E2BIG)
            return too_many(out, err, errlen);
        if (k < 0)
            return k;
    }
}

/* Whether the media type (before any ';' parameter) of a Content-Type is type, ignoring case and spaces. */
static bool media_type_is(const char *ct, size_t len, const char *type) {
    size_t n = strlen(type), end = 0;

    while (end < len && ct[end] != ';')
        end++;
    while (end > 0 && (ct[end - 1] == ' ' || ct[end - 1] == '\t'))
        end--;
    return end == n && strncasecmp(ct, type, n) == 0;
}

RequestBody request_body_kind(const char *content_type, size_t ct_len, const char *body, size_t len) {
    size_t i = 0;

    while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'))
        i++;
    if (i < len && body[i] == '{')
        return REQUEST_BODY_JSON;
    if (content_type && media_type_is(content_type, ct_len, "application/x-www-form-urlencoded"))
        return REQUEST_BODY_FORM;
    if (!content_type || media_type_is(content_type, ct_len, "application/json"))
        return REQUEST_BODY_JSON;
    return _REQUEST_BODY_INVALID;
}

int request_parse_body(const char *body, size_t len, NumList *out, char *err, size_t errlen) {
    JsonReader r;
    JsonToken t;
    int seen = 0, k;

    json_reader_init(&r, body, len);
    if (json_reader_next(&r, &t) < 0)
        return malformed(&r, err, errlen);
    if (t.type != JSON_BEGIN_OBJECT) {
        snprintf(err, errlen, "the body must be a JSON object like {\"numbers\":[1,2,3]}");
        return -EINVAL;
    }

    for (;;) {
        if (json_reader_next(&r, &t) < 0)
            return malformed(&r, err, errlen);
        if (t.type == JSON_END_OBJECT)
            break;
        /* t is a key */
        if (!json_token_equals(&t, "numbers")) {
            if (json_reader_next(&r, &t) < 0 || json_reader_skip(&r, &t) < 0)
                return malformed(&r, err, errlen);
            continue;
        }
        if (seen++) {
            snprintf(err, errlen, "the body has more than one \"numbers\" member");
            return -EINVAL;
        }
        if (json_reader_next(&r, &t) < 0)
            return malformed(&r, err, errlen);
        if (t.type != JSON_BEGIN_ARRAY) {
            snprintf(err, errlen, "\"numbers\" must be an array of integers");
            return -EINVAL;
        }
        k = parse_numbers(&r, out, err, errlen);
        if (k < 0)
            return k;
    }
    if (json_reader_next(&r, &t) < 0)
        return malformed(&r, err, errlen);

    if (!seen || out->n == 0) {
        snprintf(err, errlen, "no numbers given: expected {\"numbers\":[<integer>, ...]} with at least one");
        return -ENOENT;
    }
    return 0;
}
