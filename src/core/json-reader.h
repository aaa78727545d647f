/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A strict, allocation-free pull reader for JSON text (RFC 8259). Pure: no I/O.
 *
 * Why not json-c: json-c silently clamps integers outside 64 bits (measured:
 * 123456789012345678901234567890 reads back as 18446744073709551615, and
 * -99999999999999999999 as INT64_MIN), so it cannot tell an out-of-range number
 * from a valid one, nor carry the exact results that workers send back. This
 * reader hands out every number as its raw text for the caller to convert
 * exactly, and streams: a body of a million numbers costs no allocation.
 *
 * json_reader_next() returns the next token of the one JSON value the text must
 * hold, validating the whole grammar on the way (commas, colons, nesting up to
 * JSON_MAX_DEPTH, string escapes, UTF-8, number syntax). The last token is
 * JSON_END, returned only when exactly one value and nothing but whitespace was
 * read. On malformed text it returns -EINVAL and describes the fault in
 * r->error at byte offset r->error_offset; the reader then stays failed.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 64

typedef enum JsonTokenType {
    JSON_END,
    JSON_BEGIN_OBJECT,
    JSON_END_OBJECT,
    JSON_BEGIN_ARRAY,
    JSON_END_ARRAY,
    JSON_KEY,    /* an object member's name; the ':' after it is consumed too */
    JSON_STRING, /* text is the raw content between the quotes, escapes undecoded */
    JSON_NUMBER, /* text is the number exactly as written */
    JSON_TRUE,
    JSON_FALSE,
    JSON_NULL,
} JsonTokenType;

typedef struct JsonToken {
    JsonTokenType type;
    const char *text;
    size_t len;
    bool escaped;    /* JSON_KEY, JSON_STRING: holds at least one backslash escape */
    bool is_integer; /* JSON_NUMBER: no fraction and no exponent */
} JsonToken;

typedef struct JsonReader {
    const char *begin, *p, *end;
    unsigned depth;
    int state;
    bool failed;
    uint8_t stack[JSON_MAX_DEPTH];
    const char *error;
    size_t error_offset;
} JsonReader;

void json_reader_init(JsonReader *r, const char *text, size_t len);
int json_reader_next(JsonReader *r, JsonToken *ret);

/*
 * The hot path for arrays of integers: when the next token is an array element
 * that is an integer of at most 19 digits within the int64 range, consumes it in
 * one pass (scanning and converting together), stores it in *ret and returns
 * true. Otherwise returns false and leaves the reader as it was, for
 * json_reader_next() to read, and judge, whatever comes.
 */
bool json_reader_take_int64(JsonReader *r, int64_t *ret);

/* Consumes the rest of the value that begins with token first (a no-op for scalars). */
int json_reader_skip(JsonReader *r, const JsonToken *first);

/* Whether a JSON_KEY or JSON_STRING token, with escapes decoded, equals the NUL-terminated s. */
bool json_token_equals(const JsonToken *t, const char *s);
