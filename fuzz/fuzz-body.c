/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the JSON body parser (src/core/request-parse.c). An accepted body must be
 * valid JSON to the reference validator (json-ref.h), and json-c, parsing it
 * independently in strict mode, must find the same object with a "numbers"
 * array of the same integers in the same order; a body refused as malformed
 * must be invalid to the reference. Errors are printable, NUL-terminated texts.
 */

#include <errno.h>
#include <json-c/json.h>

#include "fuzz-helpers.h"
#include "json-ref.h"
#include "request-parse.h"

#define MAX_NUMBERS 40

static void check_with_jsonc(const char *body, size_t len, const NumList *l) {
    struct json_object *o = fuzz_jsonc_parse(body, len, JSON_MAX_DEPTH + 2), *numbers;

    fuzz_assert(json_object_is_type(o, json_type_object));
    fuzz_assert(json_object_object_get_ex(o, "numbers", &numbers));
    fuzz_assert(json_object_is_type(numbers, json_type_array));
    fuzz_assert(json_object_array_length(numbers) == l->n);
    for (size_t i = 0; i < l->n; i++) {
        struct json_object *e = json_object_array_get_idx(numbers, i);

        fuzz_assert(json_object_is_type(e, json_type_int));
        fuzz_assert(json_object_get_int64(e) == l->v[i]);
    }
    json_object_put(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *body = fuzz_dup(data, size, false), err[REQUEST_ERROR_MAX];
    NumList l = NUMLIST_INIT(MAX_NUMBERS);
    bool valid = json_ref_valid(body, size);
    int r;

    fuzz_poison_error(err, sizeof(err));
    r = request_parse_body(body, size, &l, err, sizeof(err));
    {
        SqAcc acc = SQACC_INIT;
        NumList summed = NUMLIST_INIT_SUMMING(MAX_NUMBERS, &acc);
        char err2[REQUEST_ERROR_MAX];

        fuzz_check_summing(r, &l, request_parse_body(body, size, &summed, err2, sizeof(err2)), &summed, &acc);
    }
    if (r == 0) {
        fuzz_assert(valid);
        fuzz_assert(l.n > 0 && l.n <= l.max);
        if (fuzz_jsonc_comparable(body, size))
            check_with_jsonc(body, size, &l);
    } else {
        fuzz_assert(r == -EINVAL || r == -ERANGE || r == -ENOENT || r == -E2BIG);
        fuzz_check_error(err, sizeof(err));
        if (strncmp(err, "malformed JSON", strlen("malformed JSON")) == 0)
            fuzz_assert(!valid);
    }

    numlist_done(&l);
    free(body);
    return 0;
}
