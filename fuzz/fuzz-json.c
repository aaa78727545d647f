/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the strict JSON pull reader (src/json-reader.c), differentially: the
 * reader reaches JSON_END exactly when the reference validator (json-ref.h)
 * accepts the text, whether containers are read token by token or passed over
 * with json_reader_skip(). Also: tokens lie inside the text, in order; a failed
 * reader stays failed with a printable error at an offset inside the text;
 * numbers are flagged integer exactly when number_is_json_integer() says so;
 * json_token_equals() agrees with the reference unescaping.
 */

#include <errno.h>

#include "fuzz-helpers.h"
#include "json-reader.h"
#include "json-ref.h"
#include "number.h"

static void check_string(const JsonToken *t) {
    char *buf = malloc(t->len + 2);
    long n;

    fuzz_assert(buf);
    fuzz_assert(t->escaped == (memchr(t->text, '\\', t->len) != NULL));
    n = json_ref_unescape(t->text, t->len, buf);
    if (n >= 0) {
        buf[n] = '\0';
        fuzz_assert(json_token_equals(t, buf));
        buf[n] = 'x';
        buf[n + 1] = '\0';
        fuzz_assert(!json_token_equals(t, buf));
        if (n > 0) {
            buf[n - 1] = '\0';
            fuzz_assert(!json_token_equals(t, buf));
        }
    }
    fuzz_assert(!json_token_equals(t, "\x01 never in a JSON string"));
    free(buf);
}

/* Reads text to the end; containers are skipped where bit (i % 8) of skip is set for the i-th one. */
static bool read_all(const char *text, size_t len, unsigned skip) {
    const char *end = text + len, *last = text;
    JsonReader r;
    JsonToken t;
    unsigned n_open = 0;

    json_reader_init(&r, text, len);
    for (size_t steps = 0;; steps++) {
        int k = json_reader_next(&r, &t);

        fuzz_assert(steps <= len);
        if (k == 0 && (t.type == JSON_BEGIN_ARRAY || t.type == JSON_BEGIN_OBJECT) && (skip >> (n_open++ % 8) & 1))
            k = json_reader_skip(&r, &t);
        if (k < 0) {
            fuzz_assert(k == -EINVAL && r.failed && r.error);
            fuzz_assert(r.error_offset <= len);
            fuzz_check_error(r.error, strlen(r.error) + 1);
            fuzz_assert(json_reader_next(&r, &t) == -EINVAL);
            return false;
        }
        fuzz_assert(k == 0 && !r.failed);
        fuzz_assert(t.text >= last && t.text <= end && t.len <= (size_t)(end - t.text));
        last = t.text;

        switch (t.type) {
        case JSON_END:
            fuzz_assert(t.text == end);
            return true;
        case JSON_BEGIN_OBJECT:
        case JSON_END_OBJECT:
        case JSON_BEGIN_ARRAY:
        case JSON_END_ARRAY:
            fuzz_assert(t.len == 1 && *t.text == "{}[]"[t.type - JSON_BEGIN_OBJECT]);
            break;
        case JSON_KEY:
        case JSON_STRING:
            fuzz_assert(t.text > text && t.text[-1] == '"' && t.text + t.len < end && t.text[t.len] == '"');
            check_string(&t);
            break;
        case JSON_NUMBER: {
            JsonRef j = { (const unsigned char *)t.text, (const unsigned char *)t.text + t.len };

            fuzz_assert(t.len > 0 && jref_number(&j) && j.p == j.end);
            fuzz_assert(t.is_integer == !!number_is_json_integer(t.text, t.len));
            break;
        }
        case JSON_TRUE:
            fuzz_assert(t.len == 4 && memcmp(t.text, "true", 4) == 0);
            break;
        case JSON_FALSE:
            fuzz_assert(t.len == 5 && memcmp(t.text, "false", 5) == 0);
            break;
        case JSON_NULL:
            fuzz_assert(t.len == 4 && memcmp(t.text, "null", 4) == 0);
            break;
        default:
            fuzz_assert(!"unknown token type");
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_dup(data, size, false);
    bool valid = json_ref_valid(text, size);

    fuzz_assert(read_all(text, size, 0) == valid);
    fuzz_assert(read_all(text, size, 0xff) == valid);
    fuzz_assert(read_all(text, size, 0x5a) == valid);
    free(text);
    return 0;
}
