/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the grant reader of the front end (wire_read_grant in src/core/wire.c), which
 * reads every message a worker sends before anything else does. For every input: the
 * verdict and the grant are the same when the general reader alone reads it (a space in
 * front); a message that is no grant and is a valid JSON object has no "ready"; a grant
 * is valid JSON whose "ready" json-c reads as the credit (0 only with counters), and
 * re-encoded with wire_encode_grant() reads back the same. Its counters are taken only when json-c finds
 * all three with those values; refused, at least one is there, and when json-c finds all
 * three valid the reason is a repeated one (json-c keeps only the last of a name).
 */

#include <errno.h>
#include <json-c/json.h>

#include "fuzz-helpers.h"
#include "json-ref.h"
#include "wire.h"

static const char *const names[] = { "done", "rejected", "unsent" };

/* json-c's view of one member of o: 0 absent, 1 a counter we take, -1 one we refuse, 2 cannot tell. */
static int jsonc_counter(struct json_object *o, const char *name, uint64_t *ret) {
    struct json_object *v;
    int64_t x;

    if (!json_object_object_get_ex(o, name, &v))
        return 0;
    if (!json_object_is_type(v, json_type_int))
        return -1;
    x = json_object_get_int64(v);
    if (x == INT64_MAX)
        return 2; /* json-c holds larger integers at INT64_MAX */
    *ret = (uint64_t)x;
    return x < 0 ? -1 : 1;
}

static void check_grant(const char *msg, size_t size, const WireGrant *g) {
    struct json_object *o, *ready;
    char buf[WIRE_GRANT_MAX];
    WireGrant again;
    uint64_t v[3] = { 0 };
    int seen[3], n_present = 0, n_valid = 0;
    size_t len;

    fuzz_assert(g->credit <= INT64_MAX);
    fuzz_assert(g->credit >= 1 || g->has_counters || g->counters_error); /* 0: a report alone */
    fuzz_assert(!(g->has_counters && g->counters_error));
    fuzz_assert(json_ref_valid(msg, size));
    if (g->counters_error)
        fuzz_check_error(g->counters_error, strlen(g->counters_error) + 1);

    len = wire_encode_grant(g->credit, g->has_counters ? &g->counters : NULL, buf);
    fuzz_assert(len <= WIRE_GRANT_MAX);
    if (g->credit >= 1 || g->has_counters) {
        fuzz_assert(wire_read_grant(buf, len, &again) == 1);
        fuzz_assert(again.credit == g->credit && again.has_counters == g->has_counters && !again.counters_error);
        fuzz_assert(!g->has_counters || memcmp(&again.counters, &g->counters, sizeof(g->counters)) == 0);
    } else
        fuzz_assert(wire_read_grant(buf, len, &again) == -EINVAL); /* {"ready":0} */

    if (!fuzz_jsonc_comparable(msg, size))
        return;
    o = fuzz_jsonc_parse(msg, size, JSON_MAX_DEPTH + 2);
    fuzz_assert(json_object_is_type(o, json_type_object));
    fuzz_assert(json_object_object_get_ex(o, "ready", &ready) && json_object_is_type(ready, json_type_int));
    fuzz_assert((uint64_t)json_object_get_int64(ready) == g->credit);
    for (size_t i = 0; i < 3; i++) {
        seen[i] = jsonc_counter(o, names[i], &v[i]);
        n_present += seen[i] != 0;
        n_valid += seen[i] == 1;
    }
    if (g->has_counters) {
        fuzz_assert(n_present == 3);
        fuzz_assert(seen[0] != 1 || v[0] == g->counters.done);
        fuzz_assert(seen[1] != 1 || v[1] == g->counters.rejected);
        fuzz_assert(seen[2] != 1 || v[2] == g->counters.unsent);
        fuzz_assert(seen[0] != -1 && seen[1] != -1 && seen[2] != -1);
    } else if (g->counters_error) {
        fuzz_assert(n_present >= 1);
        if (n_valid == 3)
            fuzz_assert(strcmp(g->counters_error, "a counter given twice") == 0);
    } else
        fuzz_assert(n_present == 0);
    json_object_put(o);
}

/* Whether msg is, after JSON whitespace, a '{'. */
static bool starts_object(const char *msg, size_t size) {
    size_t i = 0;

    while (i < size && (msg[i] == ' ' || msg[i] == '\t' || msg[i] == '\n' || msg[i] == '\r'))
        i++;
    return i < size && msg[i] == '{';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *msg = fuzz_dup(data, size, false), *spaced = fuzz_dup((const uint8_t *)" ", 1, false);
    WireGrant g = { .credit = 0 }, h = { .credit = 0 };
    int r, r2;

    spaced = realloc(spaced, size + 1);
    fuzz_assert(spaced);
    if (size)
        memcpy(spaced + 1, data, size);

    r = wire_read_grant(msg, size, &g);
    fuzz_assert(r == 1 || r == 0 || r == -EINVAL);
    /* the canonical form is read by a scanner of its own: the general reader must agree */
    r2 = wire_read_grant(spaced, size + 1, &h);
    fuzz_assert(r2 == r);
    if (r == 1) {
        fuzz_assert(g.credit == h.credit && g.has_counters == h.has_counters);
        fuzz_assert(!g.has_counters || memcmp(&g.counters, &h.counters, sizeof(g.counters)) == 0);
        fuzz_assert((g.counters_error == NULL) == (h.counters_error == NULL));
        check_grant(msg, size, &g);
    } else
        fuzz_assert(g.credit == 0 && h.credit == 0); /* written only for a grant */
    /* json-c reads a lone number only once it sees what ends it: objects only */
    if (r == 0 && starts_object(msg, size) && json_ref_valid(msg, size) && fuzz_jsonc_comparable(msg, size)) {
        struct json_object *o = fuzz_jsonc_parse(msg, size, JSON_MAX_DEPTH + 2);

        fuzz_assert(!json_object_object_get_ex(o, "ready", NULL));
        json_object_put(o);
    }
    free(msg);
    free(spaced);
    return 0;
}
