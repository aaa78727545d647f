/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A reference JSON validator for the differential checks, written apart from
 * src/core/json-reader.c and in another shape (recursive descent, not a state
 * machine): RFC 8259 exactly, whitespace " \t\n\r", strings of valid UTF-8 with
 * no control characters, any \uXXXX escape, nesting of at most
 * JSON_MAX_DEPTH containers. Slow and simple on purpose.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fuzz-helpers.h"
#include "json-reader.h"

typedef struct JsonRef {
    const unsigned char *p, *end;
} JsonRef;

__attribute__((unused)) static bool jref_value(JsonRef *j, unsigned depth);

static inline void jref_ws(JsonRef *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static inline bool jref_eat(JsonRef *j, char c) {
    if (j->p < j->end && *j->p == (unsigned char)c) {
        j->p++;
        return true;
    }
    return false;
}

static inline bool jref_isdigit(const JsonRef *j) {
    return j->p < j->end && *j->p >= '0' && *j->p <= '9';
}

static inline bool jref_ishex(unsigned char c) {
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

static inline bool jref_string(JsonRef *j) {
    if (!jref_eat(j, '"'))
        return false;
    for (;;) {
        uint32_t cp;
        size_t k;

        if (j->p >= j->end)
            return false;
        if (*j->p == '"') {
            j->p++;
            return true;
        }
        if (*j->p == '\\') {
            if (j->end - j->p < 2)
                return false;
            switch (j->p[1]) {
            /* the escapes JSON allows, on one line as RFC 8259 lists them */
            // clang-format off
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                // clang-format on
                j->p += 2;
                continue;
            case 'u':
                if (j->end - j->p < 6)
                    return false;
                for (int i = 2; i < 6; i++)
                    if (!jref_ishex(j->p[i]))
                        return false;
                j->p += 6;
                continue;
            default:
                return false;
            }
        }
        k = fuzz_utf8_decode(j->p, (size_t)(j->end - j->p), &cp);
        if (k == 0 || cp < 0x20)
            return false;
        j->p += k;
    }
}

static inline bool jref_number(JsonRef *j) {
    jref_eat(j, '-');
    if (jref_eat(j, '0'))
        ;
    else if (jref_isdigit(j) && *j->p != '0')
        while (jref_isdigit(j))
            j->p++;
    else
        return false;
    if (jref_eat(j, '.')) {
        if (!jref_isdigit(j))
            return false;
        while (jref_isdigit(j))
            j->p++;
    }
    if (jref_eat(j, 'e') || jref_eat(j, 'E')) {
        if (!jref_eat(j, '+'))
            jref_eat(j, '-');
        if (!jref_isdigit(j))
            return false;
        while (jref_isdigit(j))
            j->p++;
    }
    return true;
}

static inline bool jref_word(JsonRef *j, const char *w) {
    size_t n = strlen(w);

    if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0)
        return false;
    j->p += n;
    return true;
}

__attribute__((unused)) static bool jref_value(JsonRef *j, unsigned depth) {
    jref_ws(j);
    if (j->p >= j->end)
        return false;
    switch (*j->p) {
    case '{':
        if (depth >= JSON_MAX_DEPTH)
            return false;
        j->p++;
        jref_ws(j);
        if (jref_eat(j, '}'))
            return true;
        do {
            jref_ws(j);
            if (!jref_string(j))
                return false;
            jref_ws(j);
            if (!jref_eat(j, ':') || !jref_value(j, depth + 1))
                return false;
            jref_ws(j);
        } while (jref_eat(j, ','));
        return jref_eat(j, '}');
    case '[':
        if (depth >= JSON_MAX_DEPTH)
            return false;
        j->p++;
        jref_ws(j);
        if (jref_eat(j, ']'))
            return true;
        do {
            if (!jref_value(j, depth + 1))
                return false;
            jref_ws(j);
        } while (jref_eat(j, ','));
        return jref_eat(j, ']');
    case '"':
        return jref_string(j);
    case 't':
        return jref_word(j, "true");
    case 'f':
        return jref_word(j, "false");
    case 'n':
        return jref_word(j, "null");
    default:
        return jref_number(j);
    }
}

/* Whether text[0..len) is exactly one JSON value with optional whitespace around. */
static inline bool json_ref_valid(const char *text, size_t len) {
    JsonRef j = { (const unsigned char *)text, (const unsigned char *)text + len };

    if (!jref_value(&j, 0))
        return false;
    jref_ws(&j);
    return j.p == j.end;
}

/*
 * Decodes the raw content of a valid JSON string into out (room for len bytes: decoding
 * never grows it). Returns the decoded length, or -1 when the result holds a NUL or an
 * unpaired surrogate, whose byte form json_token_equals() leaves unspecified.
 */
static inline long json_ref_unescape(const char *s, size_t len, char *out) {
    size_t o = 0;

    for (size_t i = 0; i < len;) {
        uint32_t cp;

        if (s[i] != '\\') {
            if (s[i] == '\0')
                return -1;
            out[o++] = s[i++];
            continue;
        }
        if (s[i + 1] != 'u') {
            static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
            out[o++] = to[strchr(from, s[i + 1]) - from];
            i += 2;
            continue;
        }
        cp = (uint32_t)strtoul((char[]){ s[i + 2], s[i + 3], s[i + 4], s[i + 5], 0 }, NULL, 16);
        i += 6;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            return -1;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t lo;

            if (len - i < 6 || s[i] != '\\' || s[i + 1] != 'u')
                return -1;
            lo = (uint32_t)strtoul((char[]){ s[i + 2], s[i + 3], s[i + 4], s[i + 5], 0 }, NULL, 16);
            if (lo < 0xDC00 || lo > 0xDFFF)
                return -1;
            cp = 0x10000 + (((cp & 0x3FF) << 10) | (lo & 0x3FF));
            i += 6;
        }
        if (cp == 0)
            return -1;
        /* encode cp as UTF-8 */
        if (cp < 0x80)
            out[o++] = (char)cp;
        else {
            int n = cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
            for (int k = n - 1; k > 0; k--) {
                out[o + (size_t)k] = (char)(0x80 | (cp & 0x3F));
                cp >>= 6;
            }
            out[o] = (char)((n == 2 ? 0xC0 : n == 3 ? 0xE0 : 0xF0) | cp);
            o += (size_t)n;
        }
    }
    return (long)o;
}
