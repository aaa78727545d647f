/* SPDX-License-Identifier: MIT */
/*
 * Encoding is done by hand into a caller's buffer (the shapes are fixed and
 * hot); decoding goes through the strict JSON reader.
 */

#include "wire.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "json-reader.h"
#include "number.h"

static const char *const kind_names[_WIRE_KIND_MAX] = {
    [WIRE_SUM] = "sum",
    [WIRE_SQUARE] = "square",
};

const char *wire_kind_to_string(WireKind k) {
    return k >= 0 && k < _WIRE_KIND_MAX ? kind_names[k] : NULL;
}

int wire_kind_from_string(const char *s) {
    for (int k = 0; k < _WIRE_KIND_MAX; k++)
        if (strcmp(s, kind_names[k]) == 0)
            return k;
    return -EINVAL;
}

size_t wire_job_size_max(size_t n) {
    /* {"id":<20>,"numbers":[ ... ]} and each number at most 20 characters plus a comma */
    return 40 + n * (NUMBER_INT64_DECIMAL_MAX);
}

size_t wire_encode_job(uint64_t id, const int64_t *numbers, size_t n, char *buf) {
    size_t len = 0;

    memcpy(buf, "{\"id\":", 6);
    len = 6;
    len += number_format_int64((int64_t)id, buf + len);
    memcpy(buf + len, ",\"numbers\":[", 12);
    len += 12;
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            buf[len++] = ',';
        len += number_format_int64(numbers[i], buf + len);
    }
    memcpy(buf + len, "]}", 2);
    return len + 2;
}

size_t wire_encode_reply(uint64_t id, WireKind kind, const char *value, size_t value_len, char *buf) {
    size_t len = 6;

    memcpy(buf, "{\"id\":", 6);
    len += number_format_int64((int64_t)id, buf + len);
    len += (size_t)sprintf(buf + len, ",\"%s\":", kind_names[kind]);
    memcpy(buf + len, value, value_len);
    len += value_len;
    buf[len++] = '}';
    return len;
}

static int parse_id(const JsonToken *t, uint64_t *ret) {
    int64_t id;

    if (t->type != JSON_NUMBER || number_parse_json(t->text, t->len, &id) < 0 || id <= 0)
        return -EINVAL;
    *ret = (uint64_t)id;
    return 0;
}

static int malformed(const JsonReader *r, char *err, size_t errlen) {
    snprintf(err, errlen, "malformed JSON at byte %zu: %s", r->error_offset, r->error);
    return -EINVAL;
}

static int bad(char *err, size_t errlen, const char *what) {
    snprintf(err, errlen, "%s", what);
    return -EINVAL;
}

int wire_decode_job(const char *msg, size_t len, uint64_t max_numbers, uint64_t *ret_id, SqAcc *ret_acc,
                    char *err, size_t errlen) {
    JsonReader r;
    JsonToken t;
    SqAcc acc = SQACC_INIT;
    uint64_t id = 0;
    int have_numbers = 0;

    json_reader_init(&r, msg, len);
    if (json_reader_next(&r, &t) < 0)
        return malformed(&r, err, errlen);
    if (t.type != JSON_BEGIN_OBJECT)
        return bad(err, errlen, "a job must be a JSON object");

    for (;;) {
        if (json_reader_next(&r, &t) < 0)
            return malformed(&r, err, errlen);
        if (t.type == JSON_END_OBJECT)
            break;

        if (json_token_equals(&t, "id")) {
            if (id != 0)
                return bad(err, errlen, "duplicate \"id\"");
            if (json_reader_next(&r, &t) < 0)
                return malformed(&r, err, errlen);
            if (parse_id(&t, &id) < 0)
                return bad(err, errlen, "\"id\" must be an integer from 1 to 2^63-1");
        } else if (json_token_equals(&t, "numbers")) {
            if (have_numbers++)
                return bad(err, errlen, "duplicate \"numbers\"");
            if (json_reader_next(&r, &t) < 0)
                return malformed(&r, err, errlen);
            if (t.type != JSON_BEGIN_ARRAY)
                return bad(err, errlen, "\"numbers\" must be an array");
            for (;;) {
                int64_t x;

                if (json_reader_next(&r, &t) < 0)
                    return malformed(&r, err, errlen);
                if (t.type == JSON_END_ARRAY)
                    break;
                if (t.type != JSON_NUMBER || number_parse_json(t.text, t.len, &x) < 0)
                    return bad(err, errlen, "\"numbers\" must hold integers within the signed 64-bit range");
                if (acc.count >= max_numbers) {
                    snprintf(err, errlen, "too many numbers: the limit is %" PRIu64, max_numbers);
                    return -E2BIG;
                }
                sqacc_add(&acc, x);
            }
        } else if (json_reader_next(&r, &t) < 0 || json_reader_skip(&r, &t) < 0)
            return malformed(&r, err, errlen);
    }
    if (json_reader_next(&r, &t) < 0)
        return malformed(&r, err, errlen);
    if (id == 0)
        return bad(err, errlen, "missing \"id\"");
    if (!have_numbers)
        return bad(err, errlen, "missing \"numbers\"");

    *ret_id = id;
    *ret_acc = acc;
    return 0;
}

int wire_decode_reply(const char *msg, size_t len, WireReply *ret, char *err, size_t errlen) {
    JsonReader r;
    JsonToken t;
    WireReply reply = { .kind = _WIRE_KIND_MAX };

    json_reader_init(&r, msg, len);
    if (json_reader_next(&r, &t) < 0)
        return malformed(&r, err, errlen);
    if (t.type != JSON_BEGIN_OBJECT)
        return bad(err, errlen, "a reply must be a JSON object");

    for (;;) {
        int kind = -1;

        if (json_reader_next(&r, &t) < 0)
            return malformed(&r, err, errlen);
        if (t.type == JSON_END_OBJECT)
            break;

        if (json_token_equals(&t, "id")) {
            if (reply.id != 0)
                return bad(err, errlen, "duplicate \"id\"");
            if (json_reader_next(&r, &t) < 0)
                return malformed(&r, err, errlen);
            if (parse_id(&t, &reply.id) < 0)
                return bad(err, errlen, "\"id\" must be an integer from 1 to 2^63-1");
            continue;
        }
        for (int k = 0; k < _WIRE_KIND_MAX; k++)
            if (json_token_equals(&t, kind_names[k]))
                kind = k;
        if (kind < 0) {
            if (json_reader_next(&r, &t) < 0 || json_reader_skip(&r, &t) < 0)
                return malformed(&r, err, errlen);
            continue;
        }
        if (reply.kind != _WIRE_KIND_MAX)
            return bad(err, errlen, "a reply must carry exactly one of \"sum\" and \"square\"");
        if (json_reader_next(&r, &t) < 0)
            return malformed(&r, err, errlen);
        if (t.type != JSON_NUMBER || !t.is_integer || t.text[0] == '-' || t.len > SQMATH_DECIMAL_MAX - 2)
            return bad(err, errlen, "the result must be a non-negative integer");
        reply.kind = (WireKind)kind;
        reply.value = t.text;
        reply.value_len = t.len;
    }
    if (json_reader_next(&r, &t) < 0)
        return malformed(&r, err, errlen);
    if (reply.id == 0)
        return bad(err, errlen, "missing \"id\"");
    if (reply.kind == _WIRE_KIND_MAX)
        return bad(err, errlen, "missing \"sum\" or \"square\"");

    *ret = reply;
    return 0;
}
