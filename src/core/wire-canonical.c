/* SPDX-License-Identifier: MIT */
/*
 * The canonical scanner: a measured fast path of wire.c, which a reader may skip
 * (wire-canonical.h says why it is safe to).
 */

#include "wire-canonical.h"

#include <string.h>

#include "number.h"

/*
 * It accepts only what our encoders write:
 *   message  '[' object (',' object)* ']'  or  object, and nothing after it
 *   job      {"id":ID,"numbers":[INT(,INT)*]}
 *   reply    {"id":ID,"sum":NAT}  or  {"id":ID,"square":NAT}
 * ID and INT are integers of at most 19 digits without leading zeros (the general
 * reader's number_parse_short fast path), NAT a non-negative one of at most
 * SQMATH_DECIMAL_MAX-2 digits. All of it is valid JSON that the general reader
 * reads to the same values; a departure returns false and the general reader
 * takes over.
 */
static bool fast_literal(const char **pp, const char *e, const char *lit, size_t n) {
    if ((size_t)(e - *pp) < n || memcmp(*pp, lit, n) != 0)
        return false;
    *pp += n;
    return true;
}

static bool fast_int64(const char **pp, const char *e, int64_t *ret) {
    const char *p = *pp;

    /* "0" then a digit is not canonical (nor JSON): the general reader refuses it */
    if (!number_take_json_short(&p, e, ret) || (p < e && (unsigned)(unsigned char)*p - '0' <= 9))
        return false;
    *pp = p;
    return true;
}

/* 1 with w->fast just past the next object's '{'; 0 at the end of the message; -1 when not canonical. */
int wire_canonical_next_object(WireReader *w) {
    const char *p = w->fast, *e = w->end;

    if (w->done)
        return 0;
    if (!w->started) {
        w->started = true;
        if (p < e && *p == '[') {
            w->batch = true;
            p++;
        }
    } else if (!w->batch || (p < e && *p == ']')) {
        p += w->batch;
        if (p != e)
            return -1;
        w->done = true;
        return 0;
    } else if (p < e && *p == ',')
        p++;
    else
        return -1;
    if (p >= e || *p != '{' || w->count == WIRE_BATCH_MAX)
        return -1;
    w->fast = p + 1;
    w->count++;
    return 1;
}

bool wire_canonical_job(WireReader *w, uint64_t max_numbers, uint64_t *ret_id, SqAcc *ret_acc) {
    const char *p = w->fast, *e = w->end;
    SqAcc acc = SQACC_INIT;
    int64_t id, x;

    if (!fast_literal(&p, e, "\"id\":", 5) || !fast_int64(&p, e, &id) || id <= 0 ||
        !fast_literal(&p, e, ",\"numbers\":[", 12))
        return false;
    for (;;) {
        /* too many, or none at all: the general reader says so */
        if (acc.count >= max_numbers || !fast_int64(&p, e, &x))
            return false;
        sqacc_add(&acc, x);
        if (fast_literal(&p, e, "]", 1))
            break;
        if (!fast_literal(&p, e, ",", 1))
            return false;
    }
    if (!fast_literal(&p, e, "}", 1))
        return false;
    w->fast = p;
    *ret_id = (uint64_t)id;
    *ret_acc = acc;
    return true;
}

bool wire_canonical_reply(WireReader *w, WireReply *ret) {
    const char *p = w->fast, *e = w->end, *value;
    WireKind kind;
    int64_t id;

    if (!fast_literal(&p, e, "\"id\":", 5) || !fast_int64(&p, e, &id) || id <= 0)
        return false;
    if (fast_literal(&p, e, ",\"sum\":", 7))
        kind = WIRE_SUM;
    else if (fast_literal(&p, e, ",\"square\":", 10))
        kind = WIRE_SQUARE;
    else
        return false;
    value = p;
    while (p < e && (unsigned)(unsigned char)*p - '0' <= 9)
        p++;
    if (p == value || (*value == '0' && p - value > 1) || p - value > SQMATH_DECIMAL_MAX - 2 ||
        !fast_literal(&p, e, "}", 1))
        return false;
    w->fast = p;
    *ret = (WireReply){ .id = (uint64_t)id, .kind = kind, .value = value, .value_len = (size_t)(p - 1 - value) };
    return true;
}

bool wire_canonical_ready(const char *msg, size_t len, int64_t *ret_credit) {
    const char *p = msg, *e = msg + len;
    int64_t x;

    if (!fast_literal(&p, e, "{\"ready\":", 9) || !fast_int64(&p, e, &x) || !fast_literal(&p, e, "}", 1) || p != e)
        return false;
    *ret_credit = x;
    return true;
}
