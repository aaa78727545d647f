/* SPDX-License-Identifier: MIT */
/*
 * Encoding is done by hand into a caller's buffer (the shapes are fixed and
 * hot); batching them is the sender's business. Reading goes through the
 * strict JSON reader, one object of the message at a time.
 */

#include "wire.h"
#include "wire-canonical.h"

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

WireKind wire_kind_from_string(const char *s) {
    for (int k = 0; k < _WIRE_KIND_MAX; k++)
        if (strcmp(s, kind_names[k]) == 0)
            return (WireKind)k;
    return _WIRE_KIND_INVALID;
}

size_t wire_job_size_max(size_t n) {
    /* {"id":<20>,"numbers":[ ... ]} and each number at most 20 characters plus a comma */
    return 40 + n * (NUMBER_INT64_DECIMAL_MAX);
}

size_t wire_job_message_max(uint64_t max_numbers) {
    size_t one = wire_job_size_max(max_numbers);

    /* a batch of small jobs, or one of the largest; then room for members other than ours */
    return (one > WIRE_BATCH_BYTES ? one : WIRE_BATCH_BYTES) + 4096;
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
    static const struct {
        const char *text;
        size_t len;
    } member[_WIRE_KIND_MAX] = {
        [WIRE_SUM] = { ",\"sum\":", 7 },
        [WIRE_SQUARE] = { ",\"square\":", 10 },
    };
    size_t len = 6;

    memcpy(buf, "{\"id\":", 6);
    len += number_format_int64((int64_t)id, buf + len);
    memcpy(buf + len, member[kind].text, member[kind].len);
    len += member[kind].len;
    memcpy(buf + len, value, value_len);
    len += value_len;
    buf[len++] = '}';
    return len;
}

/* ,"name":v with v held to INT64_MAX (the readers' bound), at buf; returns its length. */
static size_t encode_member(const char *name, size_t name_len, uint64_t v, char *buf) {
    size_t len = 0;

    buf[len++] = ',';
    buf[len++] = '"';
    memcpy(buf + len, name, name_len);
    len += name_len;
    buf[len++] = '"';
    buf[len++] = ':';
    return len + number_format_int64(v > INT64_MAX ? INT64_MAX : (int64_t)v, buf + len);
}

size_t wire_encode_grant(uint64_t n, const WireCounters *c, char *buf) {
    size_t len = 9;

    memcpy(buf, "{\"ready\":", 9);
    len += number_format_int64(n > INT64_MAX ? INT64_MAX : (int64_t)n, buf + len);
    if (c) {
        len += encode_member("done", 4, c->done, buf + len);
        len += encode_member("rejected", 8, c->rejected, buf + len);
        len += encode_member("unsent", 6, c->unsent, buf + len);
    }
    buf[len++] = '}';
    return len;
}

/* A number token the reader found to be an integer, converted exactly: 0, or -EINVAL/-ERANGE. */
static int token_int64(const JsonToken *t, int64_t *ret) {
    if (t->type != JSON_NUMBER || !t->is_integer)
        return -EINVAL;
    return number_parse_short(t->text, t->len, ret) ? 0 : number_parse_json(t->text, t->len, ret);
}

static int parse_id(const JsonToken *t, uint64_t *ret) {
    int64_t id;

    if (token_int64(t, &id) < 0 || id <= 0)
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

void wire_reader_init_general(WireReader *w, const char *msg, size_t len) {
    *w = (WireReader){ .msg = msg, .end = msg + len };
    json_reader_init(&w->json, msg, len);
}

void wire_reader_init(WireReader *w, const char *msg, size_t len) {
    wire_reader_init_general(w, msg, len);
    w->fast = msg;
}

/* The canonical scanner gave up: the general reader starts over, past what was handed out. */
static void start_over(WireReader *w) {
    size_t returned = w->returned;

    wire_reader_init_general(w, w->msg, (size_t)(w->end - w->msg));
    w->returned = returned;
}

/* Moves to the message's next object: 1 once its '{' was read; 0 at the end of a valid message. */
static int next_object(WireReader *w, const char *what, char *err, size_t errlen) {
    JsonToken t;

    if (w->done)
        return 0;
    if (json_reader_next(&w->json, &t) < 0)
        return malformed(&w->json, err, errlen);
    if (!w->started) {
        w->started = true;
        if (t.type == JSON_BEGIN_ARRAY) {
            w->batch = true;
            if (json_reader_next(&w->json, &t) < 0)
                return malformed(&w->json, err, errlen);
            if (t.type == JSON_END_ARRAY)
                return bad(err, errlen, "an empty batch");
        }
    } else if (t.type == JSON_END_ARRAY || t.type == JSON_END) {
        /* After the batch's ']' (or the one object) the reader vouches that nothing follows. */
        if (t.type == JSON_END_ARRAY && json_reader_next(&w->json, &t) < 0)
            return malformed(&w->json, err, errlen);
        w->done = true;
        return 0;
    }
    if (t.type != JSON_BEGIN_OBJECT) {
        snprintf(err, errlen, "a %s must be a JSON object, or an array of 1 to %d of them", what, WIRE_BATCH_MAX);
        return -EINVAL;
    }
    if (w->count == WIRE_BATCH_MAX) {
        snprintf(err, errlen, "more than %d %ss in one message", WIRE_BATCH_MAX, what);
        return -EINVAL;
    }
    w->count++;
    return 1;
}

/* The members of a job object, its '{' already read. */
static int read_job_members(JsonReader *r, uint64_t max_numbers, uint64_t *ret_id, SqAcc *ret_acc, char *err,
                            size_t errlen) {
    JsonToken t;
    SqAcc acc = SQACC_INIT;
    uint64_t id = 0;
    int have_numbers = 0;

    for (;;) {
        if (json_reader_next(r, &t) < 0)
            return malformed(r, err, errlen);
        if (t.type == JSON_END_OBJECT)
            break;

        if (json_token_equals(&t, "id")) {
            if (id != 0)
                return bad(err, errlen, "duplicate \"id\"");
            if (json_reader_next(r, &t) < 0)
                return malformed(r, err, errlen);
            if (parse_id(&t, &id) < 0)
                return bad(err, errlen, "\"id\" must be an integer from 1 to 2^63-1");
        } else if (json_token_equals(&t, "numbers")) {
            if (have_numbers++)
                return bad(err, errlen, "duplicate \"numbers\"");
            if (json_reader_next(r, &t) < 0)
                return malformed(r, err, errlen);
            if (t.type != JSON_BEGIN_ARRAY)
                return bad(err, errlen, "\"numbers\" must be an array");
            for (;;) {
                int64_t x;

                /* The general path takes the end of the array and whatever the fast path leaves. */
                if (!json_reader_take_int64(r, &x)) {
                    if (json_reader_next(r, &t) < 0)
                        return malformed(r, err, errlen);
                    if (t.type == JSON_END_ARRAY)
                        break;
                    if (token_int64(&t, &x) < 0)
                        return bad(err, errlen, "\"numbers\" must hold integers within the signed 64-bit range");
                }
                if (acc.count >= max_numbers) {
                    snprintf(err, errlen, "too many numbers: the limit is %" PRIu64, max_numbers);
                    return -E2BIG;
                }
                sqacc_add(&acc, x);
            }
        } else if (json_reader_next(r, &t) < 0 || json_reader_skip(r, &t) < 0)
            return malformed(r, err, errlen);
    }
    if (id == 0)
        return bad(err, errlen, "missing \"id\"");
    if (!have_numbers)
        return bad(err, errlen, "missing \"numbers\"");
    if (acc.count == 0)
        return bad(err, errlen, "\"numbers\" must not be empty");

    *ret_id = id;
    *ret_acc = acc;
    return 0;
}

/* The members of a reply object, its '{' already read. */
static int read_reply_members(JsonReader *r, WireReply *ret, char *err, size_t errlen) {
    JsonToken t;
    WireReply reply = { .kind = _WIRE_KIND_MAX };

    for (;;) {
        int kind = -1;

        if (json_reader_next(r, &t) < 0)
            return malformed(r, err, errlen);
        if (t.type == JSON_END_OBJECT)
            break;

        if (json_token_equals(&t, "id")) {
            if (reply.id != 0)
                return bad(err, errlen, "duplicate \"id\"");
            if (json_reader_next(r, &t) < 0)
                return malformed(r, err, errlen);
            if (parse_id(&t, &reply.id) < 0)
                return bad(err, errlen, "\"id\" must be an integer from 1 to 2^63-1");
            continue;
        }
        for (int k = 0; k < _WIRE_KIND_MAX; k++)
            if (json_token_equals(&t, kind_names[k]))
                kind = k;
        if (kind < 0) {
            if (json_reader_next(r, &t) < 0 || json_reader_skip(r, &t) < 0)
                return malformed(r, err, errlen);
            continue;
        }
        if (reply.kind != _WIRE_KIND_MAX)
            return bad(err, errlen, "a reply must carry exactly one of \"sum\" and \"square\"");
        if (json_reader_next(r, &t) < 0)
            return malformed(r, err, errlen);
        if (t.type != JSON_NUMBER || !t.is_integer || t.text[0] == '-' || t.len > SQMATH_DECIMAL_MAX - 2)
            return bad(err, errlen, "the result must be a non-negative integer");
        reply.kind = (WireKind)kind;
        reply.value = t.text;
        reply.value_len = t.len;
    }
    if (reply.id == 0)
        return bad(err, errlen, "missing \"id\"");
    if (reply.kind == _WIRE_KIND_MAX)
        return bad(err, errlen, "missing \"sum\" or \"square\"");

    *ret = reply;
    return 0;
}

/* Where one object of a message goes: a job (reply is NULL) or a reply. */
typedef struct WireTarget {
    uint64_t max_numbers;
    uint64_t *id;
    SqAcc *acc;
    WireReply *reply;
} WireTarget;

static int general_read(WireReader *w, const WireTarget *to, char *err, size_t errlen) {
    int r = next_object(w, to->reply ? "reply" : "job", err, errlen);

    if (r <= 0)
        return r;
    r = to->reply ? read_reply_members(&w->json, to->reply, err, errlen)
                  : read_job_members(&w->json, to->max_numbers, to->id, to->acc, err, errlen);
    return r < 0 ? r : 1;
}

/* The next object: by the canonical scanner while it can, else by the general reader. */
static int read_object(WireReader *w, const WireTarget *to, char *err, size_t errlen) {
    int r;

    if (w->fast) {
        r = wire_canonical_next_object(w);
        if (r == 0)
            return 0;
        if (r > 0 && (to->reply ? wire_canonical_reply(w, to->reply)
                                : wire_canonical_job(w, to->max_numbers, to->id, to->acc))) {
            w->returned++;
            return 1;
        }
        start_over(w);
        /*
         * Read again what was handed out: it is valid, so this only brings the reader to where
         * it was. Into scratch space: the caller's is written only for an object returned.
         */
        uint64_t id;
        SqAcc acc;
        WireReply reply;
        const WireTarget scratch = {
            .max_numbers = to->max_numbers, .id = &id, .acc = &acc, .reply = to->reply ? &reply : NULL
        };

        for (size_t i = 0, n = w->returned; i < n; i++) {
            r = general_read(w, &scratch, err, errlen);
            if (r <= 0)
                return r < 0 ? r : -EINVAL;
        }
    }
    r = general_read(w, to, err, errlen);
    if (r > 0)
        w->returned++;
    return r;
}

int wire_read_job(WireReader *w, uint64_t max_numbers, uint64_t *ret_id, SqAcc *ret_acc, char *err, size_t errlen) {
    return read_object(w, &(WireTarget){ .max_numbers = max_numbers, .id = ret_id, .acc = ret_acc }, err, errlen);
}

int wire_read_reply(WireReader *w, WireReply *ret, char *err, size_t errlen) {
    return read_object(w, &(WireTarget){ .reply = ret }, err, errlen);
}

/* The counters a grant may carry, in WireCounters' order. */
static const char *const counter_names[] = { "done", "rejected", "unsent" };
#define N_COUNTERS (sizeof(counter_names) / sizeof(counter_names[0]))

/* The value of a counter member, at t: 0 and *ret, or -EINVAL (not an integer from 0 to 2^63-1). */
static int parse_counter(const JsonToken *t, uint64_t *ret) {
    int64_t x;

    if (token_int64(t, &x) < 0 || x < 0)
        return -EINVAL;
    *ret = (uint64_t)x;
    return 0;
}

int wire_read_grant(const char *msg, size_t len, WireGrant *ret) {
    const char *p = msg, *e = msg + len, *counters_error = NULL;
    uint64_t credit = 0, counter[N_COUNTERS] = { 0 };
    unsigned have = 0; /* bit i: counter_names[i] was there */
    bool seen = false;
    JsonReader r;
    JsonToken t;
    int64_t x;

    /* The canonical form, {"ready":N}, first; then any JSON object. */
    if (wire_canonical_ready(msg, len, &x)) {
        if (x < 1)
            return -EINVAL;
        *ret = (WireGrant){ .credit = (uint64_t)x };
        return 1;
    }
    for (p = msg; p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'); p++)
        ;
    if (p == e || *p != '{')
        return 0; /* a batch, or not JSON at all: not a grant */
    json_reader_init(&r, msg, len);
    if (json_reader_next(&r, &t) < 0 || t.type != JSON_BEGIN_OBJECT)
        return 0;
    for (;;) {
        size_t c = N_COUNTERS;

        if (json_reader_next(&r, &t) < 0)
            return seen ? -EINVAL : 0;
        if (t.type == JSON_END_OBJECT)
            break;
        if (json_token_equals(&t, "ready")) {
            if (seen || json_reader_next(&r, &t) < 0 || token_int64(&t, &x) < 0 || x < 0)
                return -EINVAL;
            seen = true;
            credit = (uint64_t)x;
            continue;
        }
        for (size_t i = 0; i < N_COUNTERS; i++)
            if (json_token_equals(&t, counter_names[i]))
                c = i;
        if (json_reader_next(&r, &t) < 0)
            return seen ? -EINVAL : 0;
        if (c < N_COUNTERS) {
            if (have & (1u << c))
                counters_error = "a counter given twice";
            else if (parse_counter(&t, &counter[c]) < 0)
                counters_error = "a counter that is not an integer from 0 to 2^63-1";
            have |= 1u << c;
        }
        if (json_reader_skip(&r, &t) < 0) /* a no-op for scalars */
            return seen ? -EINVAL : 0;
    }
    if (!seen)
        return 0;
    if (json_reader_next(&r, &t) < 0 || t.type != JSON_END || (credit == 0 && have == 0))
        return -EINVAL; /* a grant of 0 only carries counters */
    if (have != 0 && have != (1u << N_COUNTERS) - 1 && !counters_error)
        counters_error = "counters without all of done, rejected and unsent";
    *ret = (WireGrant){ .credit = credit, .counters_error = counters_error };
    if (have != 0 && !counters_error) {
        ret->has_counters = true;
        ret->counters = (WireCounters){ .done = counter[0], .rejected = counter[1], .unsent = counter[2] };
    }
    return 1;
}
