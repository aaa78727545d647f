/* SPDX-License-Identifier: MIT */
/*
 * The JSON pull reader. A small state machine tracks what may come next; a
 * stack of container kinds tracks nesting. Scalars are scanned in place.
 */

#include "json-reader.h"

#include <errno.h>
#include <string.h>

#include "number.h"
#include "text.h"

enum {
    S_VALUE,        /* a value must come next */
    S_ARRAY_FIRST,  /* just after '[': a value or ']' */
    S_ARRAY_NEXT,   /* after an element: ',' or ']' */
    S_OBJECT_FIRST, /* just after '{': a key or '}' */
    S_OBJECT_NEXT,  /* after a member: ',' or '}' */
    S_KEY,          /* after ',' in an object: a key */
    S_DONE,         /* the top-level value is complete */
};

enum { C_ARRAY, C_OBJECT };

void json_reader_init(JsonReader *r, const char *text, size_t len) {
    *r = (JsonReader){ .begin = text, .p = text, .end = text + len, .state = S_VALUE };
}

static int fail(JsonReader *r, const char *at, const char *what) {
    if (!r->failed) {
        r->failed = true;
        r->error = what;
        r->error_offset = (size_t)(at - r->begin);
    }
    return -EINVAL;
}

/* Past the whitespace at p (up to e). */
static const char *after_ws(const char *p, const char *e) {
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static void skip_ws(JsonReader *r) {
    r->p = after_ws(r->p, r->end);
}

static bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* What may follow a number: whitespace, or the end of an element or member. */
static bool is_delimiter(char c) {
    switch (c) {
    /* the set of characters, on one line as the grammar writes it */
    // clang-format off
    case ' ': case '\t': case '\r': case '\n': case ',': case ']': case '}':
        // clang-format on
        return true;
    default:
        return false;
    }
}

/* Length of the valid UTF-8 sequence at s (of at most n bytes), 0 if invalid. */
static size_t utf8_sequence(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;

    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F; /* no UTF-16 surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;

    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

/* r->p is at the opening quote. */
static int scan_string(JsonReader *r, JsonToken *t) {
    const char *start = ++r->p;

    t->escaped = false;
    while (r->p < r->end) {
        unsigned char c = (unsigned char)*r->p;

        if (c == '"') {
            t->text = start;
            t->len = (size_t)(r->p - start);
            r->p++;
            return 0;
        }
        if (c < 0x20)
            return fail(r, r->p, "control character in string");
        if (c == '\\') {
            t->escaped = true;
            if (r->end - r->p < 2)
                break;
            c = (unsigned char)r->p[1];
            if (c == 'u') {
                if (r->end - r->p < 6)
                    break;
                for (int i = 2; i < 6; i++)
                    if (text_hex_digit(r->p[i]) < 0)
                        return fail(r, r->p, "invalid \\u escape");
                r->p += 6;
            } else if (strchr("\"\\/bfnrt", c) && c != '\0')
                r->p += 2;
            else
                return fail(r, r->p, "invalid escape");
        } else if (c >= 0x80) {
            size_t n = utf8_sequence((const unsigned char *)r->p, (size_t)(r->end - r->p));
            if (n == 0)
                return fail(r, r->p, "invalid UTF-8");
            r->p += n;
        } else
            r->p++;
    }
    return fail(r, r->p, "unterminated string");
}

static int scan_number(JsonReader *r, JsonToken *t) {
    const char *s = r->p, *p = r->p, *e = r->end;

    t->is_integer = true;
    if (p < e && *p == '-')
        p++;
    if (p < e && *p == '0')
        p++;
    else if (p < e && is_digit(*p))
        while (p < e && is_digit(*p))
            p++;
    else
        return fail(r, p, "invalid number");
    if (p < e && *p == '.') {
        t->is_integer = false;
        if (++p >= e || !is_digit(*p))
            return fail(r, p, "invalid number");
        while (p < e && is_digit(*p))
            p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        t->is_integer = false;
        if (++p < e && (*p == '+' || *p == '-'))
            p++;
        if (p >= e || !is_digit(*p))
            return fail(r, p, "invalid number");
        while (p < e && is_digit(*p))
            p++;
    }
    /* A number must end where a delimiter begins: "01" or "1x" are not numbers. */
    if (p < e && !is_delimiter(*p))
        return fail(r, p, "invalid number");
    t->text = s;
    t->len = (size_t)(p - s);
    r->p = p;
    return 0;
}

static int scan_literal(JsonReader *r, const char *word, JsonTokenType type, JsonToken *t) {
    size_t n = strlen(word);

    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
        return fail(r, r->p, "unexpected character");
    t->type = type;
    t->text = r->p;
    t->len = n;
    r->p += n;
    return 0;
}

/* A value just ended: decide what may follow. */
static void value_done(JsonReader *r) {
    if (r->depth == 0)
        r->state = S_DONE;
    else
        r->state = r->stack[r->depth - 1] == C_ARRAY ? S_ARRAY_NEXT : S_OBJECT_NEXT;
}

static int push(JsonReader *r, int kind, JsonToken *t) {
    if (r->depth >= JSON_MAX_DEPTH)
        return fail(r, r->p, "nesting too deep");
    r->stack[r->depth++] = (uint8_t)kind;
    t->type = kind == C_ARRAY ? JSON_BEGIN_ARRAY : JSON_BEGIN_OBJECT;
    t->text = r->p++;
    t->len = 1;
    r->state = kind == C_ARRAY ? S_ARRAY_FIRST : S_OBJECT_FIRST;
    return 0;
}

static int pop(JsonReader *r, JsonToken *t) {
    int kind = r->stack[--r->depth];

    t->type = kind == C_ARRAY ? JSON_END_ARRAY : JSON_END_OBJECT;
    t->text = r->p++;
    t->len = 1;
    value_done(r);
    return 0;
}

static int read_value(JsonReader *r, JsonToken *t) {
    int k;

    switch (*r->p) {
    case '{':
        return push(r, C_OBJECT, t);
    case '[':
        return push(r, C_ARRAY, t);
    case '"':
        t->type = JSON_STRING;
        k = scan_string(r, t);
        break;
    case 't':
        k = scan_literal(r, "true", JSON_TRUE, t);
        break;
    case 'f':
        k = scan_literal(r, "false", JSON_FALSE, t);
        break;
    case 'n':
        k = scan_literal(r, "null", JSON_NULL, t);
        break;
    default:
        if (*r->p != '-' && !is_digit(*r->p))
            return fail(r, r->p, "unexpected character");
        t->type = JSON_NUMBER;
        k = scan_number(r, t);
    }
    if (k < 0)
        return k;
    value_done(r);
    return 0;
}

static int read_key(JsonReader *r, JsonToken *t) {
    int k;

    if (*r->p != '"')
        return fail(r, r->p, "expected a member name");
    t->type = JSON_KEY;
    k = scan_string(r, t);
    if (k < 0)
        return k;
    skip_ws(r);
    if (r->p >= r->end || *r->p != ':')
        return fail(r, r->p, "expected ':'");
    r->p++;
    r->state = S_VALUE;
    return 0;
}

int json_reader_next(JsonReader *r, JsonToken *ret) {
    JsonToken t = { 0 };
    int k;

    if (r->failed)
        return -EINVAL;

    skip_ws(r);
    if (r->p >= r->end) {
        if (r->state != S_DONE)
            return fail(r, r->p, "unexpected end of text");
        *ret = (JsonToken){ .type = JSON_END, .text = r->p };
        return 0;
    }

    switch (r->state) {
    case S_DONE:
        return fail(r, r->p, "trailing data after the value");
    case S_ARRAY_NEXT:
    case S_OBJECT_NEXT: {
        bool array = r->state == S_ARRAY_NEXT;

        if (*r->p == (array ? ']' : '}')) {
            k = pop(r, &t);
            break;
        }
        if (*r->p != ',')
            return fail(r, r->p, array ? "expected ',' or ']'" : "expected ',' or '}'");
        r->p++;
        skip_ws(r);
        if (r->p >= r->end)
            return fail(r, r->p, "unexpected end of text");
        k = array ? read_value(r, &t) : read_key(r, &t);
        break;
    }
    case S_OBJECT_FIRST:
        k = *r->p == '}' ? pop(r, &t) : read_key(r, &t);
        break;
    case S_KEY:
        k = read_key(r, &t);
        break;
    case S_ARRAY_FIRST:
        k = *r->p == ']' ? pop(r, &t) : read_value(r, &t);
        break;
    default:
        k = read_value(r, &t);
    }
    if (k < 0)
        return k;
    *ret = t;
    return 0;
}

bool json_reader_take_int64(JsonReader *r, int64_t *ret) {
    const char *p = r->p, *e = r->end;

    if (r->failed || (r->state != S_ARRAY_FIRST && r->state != S_ARRAY_NEXT))
        return false;
    p = after_ws(p, e);
    if (r->state == S_ARRAY_NEXT) {
        if (p >= e || *p != ',')
            return false;
        p = after_ws(p + 1, e);
    }
    if (!number_take_json_short(&p, e, ret) || (p < e && !is_delimiter(*p)))
        return false;
    r->p = p;
    r->state = S_ARRAY_NEXT;
    return true;
}

int json_reader_skip(JsonReader *r, const JsonToken *first) {
    unsigned open;
    JsonToken t;

    if (first->type != JSON_BEGIN_ARRAY && first->type != JSON_BEGIN_OBJECT)
        return 0;
    open = 1;
    while (open > 0) {
        int k = json_reader_next(r, &t);
        if (k < 0)
            return k;
        if (t.type == JSON_BEGIN_ARRAY || t.type == JSON_BEGIN_OBJECT)
            open++;
        else if (t.type == JSON_END_ARRAY || t.type == JSON_END_OBJECT)
            open--;
    }
    return 0;
}

/* Decodes one character of a scanned (hence valid) string; writes UTF-8 bytes to out, returns their count. */
static size_t decode_one(const char **pp, const char *end, char out[4]) {
    const char *p = *pp;
    uint32_t cp;

    if (*p != '\\') {
        out[0] = *p;
        *pp = p + 1;
        return 1;
    }
    switch (p[1]) {
    /* a table of escapes, one per line */
    // clang-format off
    case 'b': out[0] = '\b'; break;
    case 'f': out[0] = '\f'; break;
    case 'n': out[0] = '\n'; break;
    case 'r': out[0] = '\r'; break;
    case 't': out[0] = '\t'; break;
    case 'u': break;
    default: out[0] = p[1];
        // clang-format on
    }
    if (p[1] != 'u') {
        *pp = p + 2;
        return 1;
    }

    cp = 0;
    for (int i = 2; i < 6; i++)
        cp = cp << 4 | (uint32_t)text_hex_digit(p[i]);
    p += 6;
    if (cp >= 0xD800 && cp <= 0xDBFF && end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
        uint32_t lo = 0;
        for (int i = 2; i < 6; i++)
            lo = lo << 4 | (uint32_t)text_hex_digit(p[i]);
        if (lo >= 0xDC00 && lo <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            p += 6;
        }
    }
    *pp = p;
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

bool json_token_equals(const JsonToken *t, const char *s) {
    const char *p = t->text, *end = t->text + t->len;
    size_t n = strlen(s), i = 0;

    if (!t->escaped)
        return t->len == n && memcmp(t->text, s, n) == 0;

    while (p < end) {
        char buf[4];
        size_t k = decode_one(&p, end, buf);
        if (n - i < k || memcmp(s + i, buf, k) != 0)
            return false;
        i += k;
    }
    return i == n;
}
