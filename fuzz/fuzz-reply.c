/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the reply decoder of the front end (src/wire.c) and the answer it
 * feeds (sqmath_answer in src/sqmath.c). For an accepted reply: valid JSON to
 * the reference validator and to json-c, with the same id and a member of the
 * decoded kind; the value lies inside the message and is a canonical
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

static void check_with_jsonc(const char *msg, size_t len, const WireReply *reply) {
    struct json_tokener *tok = json_tokener_new_ex(JSON_MAX_DEPTH + 2);
    struct json_object *o, *id, *value;

    fuzz_assert(tok);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    o = json_tokener_parse_ex(tok, msg, (int)len);
    fuzz_assert(o && json_object_is_type(o, json_type_object));
    fuzz_assert(json_object_object_get_ex(o, "id", &id) && json_object_is_type(id, json_type_int));
    fuzz_assert((uint64_t)json_object_get_int64(id) == reply->id);
    fuzz_assert(json_object_object_get_ex(o, wire_kind_to_string(reply->kind), &value));
    fuzz_assert(json_object_is_type(value, json_type_int) || json_object_is_type(value, json_type_double));
    json_object_put(o);
    json_tokener_free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *msg = fuzz_dup(data, size, false), err[WIRE_ERROR_MAX];
    const char *comma = memchr(msg, ',', size);
    WireReply reply = { .id = 0 }, again;
    int r;

    if (comma)
        check_answer(msg, (size_t)(comma - msg), comma + 1, size - (size_t)(comma - msg) - 1);

    fuzz_poison_error(err, sizeof(err));
    r = wire_decode_reply(msg, size, &reply, err, sizeof(err));
    if (r == 0) {
        char buf[WIRE_REPLY_MAX];
        size_t len;

        fuzz_assert(json_ref_valid(msg, size));
        fuzz_assert(reply.id >= 1 && reply.id <= INT64_MAX);
        fuzz_assert(reply.kind == WIRE_SUM || reply.kind == WIRE_SQUARE);
        fuzz_assert(reply.value >= msg && reply.value_len <= size && reply.value + reply.value_len <= msg + size);
        fuzz_assert(ref_result(reply.value, reply.value_len));
        check_with_jsonc(msg, size, &reply);

        len = wire_encode_reply(reply.id, reply.kind, reply.value, reply.value_len, buf);
        fuzz_assert(len <= WIRE_REPLY_MAX);
        fuzz_assert(wire_decode_reply(buf, len, &again, err, sizeof(err)) == 0);
        fuzz_assert(again.id == reply.id && again.kind == reply.kind && again.value_len == reply.value_len);
        fuzz_assert(memcmp(again.value, reply.value, reply.value_len) == 0);

        check_answer(reply.value, reply.value_len, reply.value, reply.value_len);
        check_answer("0", 1, reply.value, reply.value_len);
        check_answer(reply.value, reply.value_len, "0", 1);
    } else {
        fuzz_assert(r == -EINVAL);
        fuzz_assert(reply.id == 0); /* output untouched */
        fuzz_check_error(err, sizeof(err));
        if (strncmp(err, "malformed JSON", strlen("malformed JSON")) == 0)
            fuzz_assert(!json_ref_valid(msg, size));
    }
    free(msg);
    return 0;
}
