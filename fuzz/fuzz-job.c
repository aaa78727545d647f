/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the job reader of the workers (src/core/wire.c) and the exact arithmetic
 * behind it (src/core/sqmath.c). For an accepted message (one job or a batch): the
 * text is valid JSON to the reference validator; json-c, parsing it
 * independently, finds the same jobs in the same order, each with the same id
 * and the same numbers, whose SqAcc equals the decoded one (and the canonical
 * scanner agrees with the general reader, job by job, on every input); the decimal results
 * and the answer (sqmath_answer_acc) equal GMP's computed from the numbers; the job re-encoded with
 * wire_encode_job() fits wire_job_size_max() and decodes to the same id and
 * SqAcc, and one number fewer allowed makes it -E2BIG. A refused job has a
 * printable error, and one refused as malformed is invalid JSON.
 */

#include <errno.h>
#include <gmp.h>
#include <json-c/json.h>

#include "fuzz-helpers.h"
#include "json-ref.h"
#include "wire.h"

#define MAX_NUMBERS 40

static bool acc_equal(const SqAcc *a, const SqAcc *b) {
    return a->sum == b->sum && a->sumsq_lo == b->sumsq_lo && a->sumsq_hi == b->sumsq_hi && a->count == b->count;
}

/* The decimal results and the answer from acc against GMP's from the numbers themselves. */
static void check_math(const SqAcc *acc, const int64_t *v, size_t n) {
    char got[SQMATH_DECIMAL_MAX], want[SQMATH_DECIMAL_MAX + 8];
    char *ws, *wq, *wd, answer[SQMATH_ANSWER_MAX + 1], want_answer[SQMATH_ANSWER_MAX + 16];
    mpz_t sum, sumsq, x;
    size_t len;
    int k;

    mpz_inits(sum, sumsq, x, NULL);
    for (size_t i = 0; i < n; i++) {
        mpz_set_si(x, v[i]);
        mpz_add(sum, sum, x);
        mpz_addmul(sumsq, x, x);
    }
    mpz_mul(x, sum, sum);

    len = sqmath_sumsq_decimal(acc, got);
    fuzz_assert(len == strlen(got) && len < SQMATH_DECIMAL_MAX);
    mpz_get_str(want, 10, sumsq);
    fuzz_assert(strcmp(got, want) == 0);

    len = sqmath_square_decimal(acc, got);
    fuzz_assert(len == strlen(got) && len < SQMATH_DECIMAL_MAX);
    mpz_get_str(want, 10, x);
    fuzz_assert(strcmp(got, want) == 0);

    /* the answer straight from the accumulator, as the local mode and the worker render it */
    ws = mpz_get_str(NULL, 10, sumsq);
    wq = mpz_get_str(NULL, 10, x);
    mpz_sub(x, x, sumsq);
    wd = mpz_get_str(NULL, 10, x);
    snprintf(want_answer, sizeof(want_answer), "{\"sum\":%s,\"square\":%s,\"diff\":%s}", ws, wq, wd);
    memset(answer, 'X', sizeof(answer));
    k = sqmath_answer_acc(acc, answer);
    fuzz_assert(k > 0 && k < SQMATH_ANSWER_MAX && answer[k] == '\0');
    fuzz_assert(strcmp(answer, want_answer) == 0);
    free(ws);
    free(wq);
    free(wd);
    mpz_clears(sum, sumsq, x, NULL);
}

/* json-c's reading of an accepted job object; returns the numbers (malloc'd) and their count. */
static int64_t *jsonc_job(struct json_object *o, uint64_t *ret_id, size_t *ret_n) {
    struct json_object *id, *numbers;
    int64_t *v;
    size_t n;

    fuzz_assert(o && json_object_is_type(o, json_type_object));
    fuzz_assert(json_object_object_get_ex(o, "id", &id) && json_object_is_type(id, json_type_int));
    fuzz_assert(json_object_object_get_ex(o, "numbers", &numbers) && json_object_is_type(numbers, json_type_array));
    n = json_object_array_length(numbers);
    fuzz_assert(n > 0); /* "numbers":[] is refused */
    v = malloc(n * sizeof(*v) + 1);
    fuzz_assert(v);
    for (size_t i = 0; i < n; i++) {
        struct json_object *e = json_object_array_get_idx(numbers, i);

        fuzz_assert(json_object_is_type(e, json_type_int));
        v[i] = json_object_get_int64(e);
    }
    *ret_id = (uint64_t)json_object_get_int64(id);
    *ret_n = n;
    return v;
}

/* Reads a message of exactly one job: 0, or the reader's error. */
static int read_one(const char *msg, size_t len, uint64_t max_numbers, uint64_t *ret_id, SqAcc *ret_acc, char *err,
                    size_t errlen) {
    WireReader w;
    int r;

    wire_reader_init(&w, msg, len);
    r = wire_read_job(&w, max_numbers, ret_id, ret_acc, err, errlen);
    fuzz_assert(r != 0);
    if (r < 0)
        return r;
    fuzz_assert(wire_read_job(&w, max_numbers, ret_id, ret_acc, err, errlen) == 0);
    return 0;
}

/* One accepted job against json-c's reading of it, the arithmetic, and a round trip. */
static void check_job(struct json_object *o, uint64_t id, const SqAcc *acc) {
    char err[WIRE_ERROR_MAX];
    uint64_t jid, id2 = 0;
    SqAcc acc2 = SQACC_INIT;
    size_t n, len;
    int64_t *v;
    char *buf;

    fuzz_assert(id >= 1 && id <= INT64_MAX && acc->count <= MAX_NUMBERS);
    v = jsonc_job(o, &jid, &n);
    fuzz_assert(jid == id && n == acc->count);
    for (size_t i = 0; i < n; i++)
        sqacc_add(&acc2, v[i]);
    fuzz_assert(acc_equal(acc, &acc2));
    check_math(acc, v, n);

    buf = malloc(wire_job_size_max(n));
    fuzz_assert(buf);
    len = wire_encode_job(id, v, n, buf);
    fuzz_assert(len <= wire_job_size_max(n));
    fuzz_assert(json_ref_valid(buf, len));
    acc2 = SQACC_INIT;
    fuzz_assert(read_one(buf, len, n, &id2, &acc2, err, sizeof(err)) == 0);
    fuzz_assert(id2 == id && acc_equal(acc, &acc2));
    if (n > 0) {
        fuzz_poison_error(err, sizeof(err));
        fuzz_assert(read_one(buf, len, n - 1, &id2, &acc2, err, sizeof(err)) == -E2BIG);
        fuzz_check_error(err, sizeof(err));
    }
    free(buf);
    free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static uint64_t ids[WIRE_BATCH_MAX];
    static SqAcc accs[WIRE_BATCH_MAX];
    char *msg = fuzz_dup(data, size, false), err[WIRE_ERROR_MAX];
    bool valid = json_ref_valid(msg, size);
    WireReader w, g;
    size_t n = 0;
    int r;

    fuzz_poison_error(err, sizeof(err));
    wire_reader_init(&w, msg, size);
    wire_reader_init_general(&g, msg, size);
    for (;;) {
        char err2[WIRE_ERROR_MAX];
        uint64_t id2 = 0;
        SqAcc acc2 = SQACC_INIT;

        /* the canonical scanner and the general reader, step by step: the same jobs, the same verdict */
        r = wire_read_job(&w, MAX_NUMBERS, &ids[n], &accs[n], err, sizeof(err));
        fuzz_assert(wire_read_job(&g, MAX_NUMBERS, &id2, &acc2, err2, sizeof(err2)) == r);
        if (r < 0)
            fuzz_assert(strcmp(err, err2) == 0);
        if (r <= 0)
            break;
        fuzz_assert(id2 == ids[n] && acc_equal(&acc2, &accs[n]));
        fuzz_assert(n < WIRE_BATCH_MAX);
        n++;
    }
    if (r == 0) {
        struct json_object *o;

        fuzz_assert(valid && n >= 1);
        fuzz_assert(wire_read_job(&w, MAX_NUMBERS, &ids[0], &accs[0], err, sizeof(err)) == 0); /* stays at the end */
        if (!fuzz_jsonc_comparable(msg, size))
            goto out;
        o = fuzz_jsonc_parse(msg, size, JSON_MAX_DEPTH + 2);
        if (json_object_is_type(o, json_type_array)) {
            fuzz_assert(json_object_array_length(o) == n);
            for (size_t i = 0; i < n; i++)
                check_job(json_object_array_get_idx(o, i), ids[i], &accs[i]);
        } else {
            fuzz_assert(n == 1);
            check_job(o, ids[0], &accs[0]);
        }
        json_object_put(o);
    } else {
        fuzz_assert(r == -EINVAL || r == -E2BIG);
        fuzz_check_error(err, sizeof(err));
        if (strncmp(err, "malformed JSON", strlen("malformed JSON")) == 0)
            fuzz_assert(!valid);
    }
out:
    free(msg);
    return 0;
}
