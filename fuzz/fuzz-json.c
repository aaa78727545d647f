/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the strict JSON pull reader (src/core/json-reader.c), differentially: the
 * reader reaches JSON_END exactly when the reference validator (json-ref.h)
 * accepts the text, whether containers are read token by token or passed over
 * with json_reader_skip(). Also: tokens lie inside the text, in order; a failed
 * reader stays failed with a printable error at an offset inside the text;
 * numbers are flagged integer exactly when number_is_json_integer() says so;
 * json_token_equals() agrees with the reference unescaping; wherever
 * json_reader_take_int64() takes a number, json_reader_next() reads the same
 * integer token and ends at the same place, and where it declines it leaves
 * the reader untouched (and a reading that takes whatever it can reaches the
 * same verdict).
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

static bool same_place(const JsonReader *a, const JsonReader *b) {
    return a->p == b->p && a->state == b->state && a->depth == b->depth && a->failed == b->failed;
}

/* json_reader_take_int64() on a copy of r against json_reader_next() on another; whether it took. */
static bool check_take(const JsonReader *r) {
    JsonReader a = *r, b = *r;
    JsonToken t;
    int64_t x, y;

    if (!json_reader_take_int64(&a, &x)) {
        fuzz_assert(same_place(&a, r));
        return false;
    }
    fuzz_assert(json_reader_next(&b, &t) == 0 && t.type == JSON_NUMBER && t.is_integer);
    fuzz_assert(number_parse_json(t.text, t.len, &y) == 0 && y == x);
    fuzz_assert(same_place(&a, &b) && !a.failed);
    return true;
}

/*
 * Reads text to the end; containers are skipped where bit (i % 8) of skip is set for the
 * i-th one; with take, integers are read with json_reader_take_int64() where it can.
 */
static bool read_all(const char *text, size_t len, unsigned skip, bool take) {
    const char *end = text + len, *last = text;
    JsonReader r;
    JsonToken t;
    unsigned n_open = 0;

    json_reader_init(&r, text, len);
    for (size_t steps = 0;; steps++) {
        int64_t x;
        int k;

        fuzz_assert(steps <= len);
        if (check_take(&r) && take) {
            fuzz_assert(json_reader_take_int64(&r, &x));
            continue;
        }
        k = json_reader_next(&r, &t);

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

    fuzz_assert(read_all(text, size, 0, false) == valid);
    fuzz_assert(read_all(text, size, 0, true) == valid);
    fuzz_assert(read_all(text, size, 0xff, false) == valid);
    fuzz_assert(read_all(text, size, 0x5a, true) == valid);
    free(text);
    return 0;
}
