/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the reply reader of the front end (src/core/wire.c) and the answer it
 * feeds (sqmath_answer in src/core/sqmath.c). For an accepted message (one reply
 * or a batch): valid JSON to the reference validator and to json-c, which
 * finds the same replies in the same order (and the canonical scanner agrees
 * with the general reader, reply by reply, on every input); for each reply, the same id and a
 * member of the decoded kind; the value lies inside the message and is a canonical
 * non-negative integer of at most SQMATH_DECIMAL_MAX-2 digits; re-encoding
 * with wire_encode_reply() fits WIRE_REPLY_MAX and decodes to the same reply;
 * sqmath_answer() takes the value and computes the difference as GMP does.
 * Independently, the raw input split at its first ',' is given to
 * sqmath_answer(), which must accept it exactly when both halves are such
 * integers and then answer as GMP does.
 */

#include <errno.h>
#include <gmp.h>
#include <json-c/json.h>

#include "fuzz-helpers.h"
#include "json-ref.h"
#include "number.h"
#include "wire.h"

static bool ref_result(const char *s, size_t len) {
    if (len == 0 || len > SQMATH_DECIMAL_MAX - 2 || (s[0] == '0' && len > 1))
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* sqmath_answer() on two texts against the reference and GMP. */
static void check_answer(const char *s, size_t slen, const char *q, size_t qlen) {
    char out[SQMATH_ANSWER_MAX + 1], want[SQMATH_ANSWER_MAX + 16], *ss, *qs, *ds;
    bool ok = ref_result(s, slen) && ref_result(q, qlen);
    int r;
    mpz_t a, b;

    memset(out, 'X', sizeof(out));
    r = sqmath_answer(s, slen, q, qlen, out);
    if (!ok) {
        fuzz_assert(r == -EINVAL);
        return;
    }
    fuzz_assert(r > 0 && r < SQMATH_ANSWER_MAX && out[r] == '\0' && strlen(out) == (size_t)r);

    ss = fuzz_dup((const uint8_t *)s, slen, true);
    qs = fuzz_dup((const uint8_t *)q, qlen, true);
    fuzz_assert(mpz_init_set_str(a, ss, 10) == 0 && mpz_init_set_str(b, qs, 10) == 0);
    mpz_sub(b, b, a);
    ds = mpz_get_str(NULL, 10, b);
    snprintf(want, sizeof(want), "{\"sum\":%s,\"square\":%s,\"diff\":%s}", ss, qs, ds);
    fuzz_assert(strcmp(out, want) == 0);
    free(ds);
    free(ss);
    free(qs);
    mpz_clears(a, b, NULL);
}

static void check_with_jsonc(struct json_object *o, const WireReply *reply) {
    struct json_object *id, *value;

    if (!o)
        return; /* json-c cannot judge this message (see fuzz_jsonc_comparable) */
    fuzz_assert(o && json_object_is_type(o, json_type_object));
    fuzz_assert(json_object_object_get_ex(o, "id", &id) && json_object_is_type(id, json_type_int));
    fuzz_assert((uint64_t)json_object_get_int64(id) == reply->id);
    fuzz_assert(json_object_object_get_ex(o, wire_kind_to_string(reply->kind), &value));
    fuzz_assert(json_object_is_type(value, json_type_int) || json_object_is_type(value, json_type_double));
}

/* One accepted reply of the message msg: its bounds, json-c's reading, a round trip, the answer. */
static void check_reply(const char *msg, size_t size, struct json_object *o, const WireReply *reply) {
    char buf[WIRE_REPLY_MAX], err[WIRE_ERROR_MAX];
    WireReply again;
    WireReader w;
    size_t len;

    fuzz_assert(reply->id >= 1 && reply->id <= INT64_MAX);
    fuzz_assert(reply->kind == WIRE_SUM || reply->kind == WIRE_SQUARE);
    fuzz_assert(reply->value >= msg && reply->value_len <= size && reply->value + reply->value_len <= msg + size);
    fuzz_assert(ref_result(reply->value, reply->value_len));
    check_with_jsonc(o, reply);

    len = wire_encode_reply(reply->id, reply->kind, reply->value, reply->value_len, buf);
    fuzz_assert(len <= WIRE_REPLY_MAX);
    wire_reader_init(&w, buf, len);
    fuzz_assert(wire_read_reply(&w, &again, err, sizeof(err)) == 1);
    fuzz_assert(again.id == reply->id && again.kind == reply->kind && again.value_len == reply->value_len);
    fuzz_assert(memcmp(again.value, reply->value, reply->value_len) == 0);
    fuzz_assert(wire_read_reply(&w, &again, err, sizeof(err)) == 0);

    check_answer(reply->value, reply->value_len, reply->value, reply->value_len);
    check_answer("0", 1, reply->value, reply->value_len);
    check_answer(reply->value, reply->value_len, "0", 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static WireReply replies[WIRE_BATCH_MAX];
    char *msg = fuzz_dup(data, size, false), err[WIRE_ERROR_MAX];
    const char *comma = memchr(msg, ',', size);
    WireReader w, g;
    size_t n = 0;
    int r;

    if (comma)
        check_answer(msg, (size_t)(comma - msg), comma + 1, size - (size_t)(comma - msg) - 1);

    fuzz_poison_error(err, sizeof(err));
    wire_reader_init(&w, msg, size);
    wire_reader_init_general(&g, msg, size);
    for (;;) {
        char err2[WIRE_ERROR_MAX];
        WireReply again = { 0 };

        /* the canonical scanner and the general reader, step by step: the same replies, the same verdict */
        r = wire_read_reply(&w, &replies[n], err, sizeof(err));
        fuzz_assert(wire_read_reply(&g, &again, err2, sizeof(err2)) == r);
        if (r < 0)
            fuzz_assert(strcmp(err, err2) == 0);
        if (r <= 0)
            break;
        fuzz_assert(again.id == replies[n].id && again.kind == replies[n].kind);
        fuzz_assert(again.value == replies[n].value && again.value_len == replies[n].value_len);
        fuzz_assert(n < WIRE_BATCH_MAX);
        n++;
    }
    if (r == 0) {
        struct json_object *o;

        fuzz_assert(n >= 1 && json_ref_valid(msg, size));
        o = fuzz_jsonc_comparable(msg, size) ? fuzz_jsonc_parse(msg, size, JSON_MAX_DEPTH + 2) : NULL;
        if (!o) {
            for (size_t i = 0; i < n; i++)
                check_reply(msg, size, NULL, &replies[i]);
        } else if (json_object_is_type(o, json_type_array)) {
            fuzz_assert(json_object_array_length(o) == n);
            for (size_t i = 0; i < n; i++)
                check_reply(msg, size, json_object_array_get_idx(o, i), &replies[i]);
        } else {
            fuzz_assert(n == 1);
            check_reply(msg, size, o, &replies[0]);
        }
        json_object_put(o);
    } else {
        fuzz_assert(r == -EINVAL);
        fuzz_check_error(err, sizeof(err));
        if (strncmp(err, "malformed JSON", strlen("malformed JSON")) == 0)
            fuzz_assert(!json_ref_valid(msg, size));
    }
    free(msg);
    return 0;
}
