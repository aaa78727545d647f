/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the configuration parser (src/core/config.c) against a reference of the
 * documented settings (README.md, src/core/config.c's header comment), with exact
 * arithmetic from GMP: a duration or size is its decimal number times the
 * unit, rounded down to a whole microsecond or byte, and must lie in the
 * key's range.
 *
 * The input is read twice:
 *   - as an INI file: libinih is run again with a reference handler that
 *     knows each entry's line, so config_parse_text() must succeed exactly
 *     when every entry is valid and the syntax is, leave every setting at the
 *     last value given (or its default), and otherwise name the first faulty
 *     line with the reason for that line;
 *   - as one command-line override NAME=VALUE (up to the first NUL), given
 *     to config_set(), which must agree with the reference.
 * Every error text is NUL-terminated, valid UTF-8 and printable.
 */

#include <errno.h>
#include <gmp.h>
#include <ini.h>
#include <stddef.h>

#include "config.h"
#include "fuzz-helpers.h"

typedef enum Kind { K_STRING, K_UINT, K_SIZE, K_DURATION, K_BOOL, K_MODE } Kind;

typedef struct Spec {
    const char *section, *name;
    Kind kind;
    size_t offset;
    uint64_t min, max;
} Spec;

#define SEC UINT64_C(1000000)
static const Spec spec[] = {
    { "global", "jobs-sum-endpoint", K_STRING, offsetof(Config, endpoint[ENDPOINT_JOBS_SUM]), 0, 0 },
    { "global", "jobs-square-endpoint", K_STRING, offsetof(Config, endpoint[ENDPOINT_JOBS_SQUARE]), 0, 0 },
    { "global", "curve-secret-key", K_STRING, offsetof(Config, curve_secret_key), 0, 0 },
    { "global", "curve-server-public-key", K_STRING, offsetof(Config, curve_server_public_key), 0, 0 },
    { "global", "allow-insecure-tcp", K_BOOL, offsetof(Config, allow_insecure_tcp), 0, 1 },
    { "global", "max-numbers", K_UINT, offsetof(Config, max_numbers), 1, 100000000 },
    { "global", "log-requests", K_BOOL, offsetof(Config, log_requests), 0, 1 },
    { "httpd", "mode", K_MODE, offsetof(Config, mode), 0, 0 },
    { "httpd", "request-timeout", K_DURATION, offsetof(Config, request_timeout_usec), 1000, 3600 * SEC },
    { "httpd", "reaper-interval", K_DURATION, offsetof(Config, reaper_interval_usec), 1000, 3600 * SEC },
    { "httpd", "idle-timeout", K_DURATION, offsetof(Config, idle_timeout_usec), 1000, 3600 * SEC },
    { "httpd", "max-pending", K_UINT, offsetof(Config, max_pending), 1, 10000000 },
    { "httpd", "max-body-size", K_SIZE, offsetof(Config, max_body_size), 16, UINT64_C(1) << 31 },
    { "httpd", "curve-allowed-keys", K_STRING, offsetof(Config, curve_allowed_keys), 0, 0 },
};
#define N_SPEC (sizeof(spec) / sizeof(spec[0]))

#define FILENAME "fuzz.conf"

static const Spec *spec_find(const char *name) {
    for (size_t i = 0; i < N_SPEC; i++)
        if (strcmp(spec[i].name, name) == 0)
            return &spec[i];
    return NULL;
}

/* floor(number * scale) for a number [0-9]*(.[0-9]*)? with at least one digit, within [min, max]. */
static int ref_scaled(const char *s, size_t len, uint64_t scale, bool fraction_ok, uint64_t min, uint64_t max,
                      uint64_t *ret) {
    char *digits = malloc(len + 1);
    size_t n = 0, n_frac = 0;
    bool dot = false;
    int r = 0;
    mpz_t v, p;

    fuzz_assert(digits);
    for (size_t i = 0; i < len; i++) {
        if (s[i] >= '0' && s[i] <= '9') {
            digits[n++] = s[i];
            n_frac += dot;
        } else if (s[i] == '.' && !dot)
            dot = true;
        else {
            free(digits);
            return -EINVAL;
        }
    }
    digits[n] = '\0';
    if (n == 0 || (dot && !fraction_ok)) {
        free(digits);
        return -EINVAL;
    }
    mpz_init_set_str(v, digits, 10);
    mpz_init(p);
    mpz_ui_pow_ui(p, 10, n_frac);
    mpz_mul_ui(v, v, scale);
    mpz_fdiv_q(v, v, p);
    if (mpz_cmp_ui(v, min) < 0 || mpz_cmp_ui(v, max) > 0)
        r = -ERANGE;
    else
        *ret = mpz_get_ui(v);
    mpz_clears(v, p, NULL);
    free(digits);
    return r;
}

/* A number with a unit: the unit is the trailing run of letters and must be one of units. */
static int ref_with_unit(const Spec *k, const char *v, const char *const *units, const uint64_t *scales, size_t n,
                         bool bare_fraction_ok, uint64_t *ret) {
    size_t len = strlen(v), num = len;

    while (num > 0 && ((v[num - 1] | 0x20) >= 'a' && (v[num - 1] | 0x20) <= 'z'))
        num--;
    for (size_t i = 0; i < n; i++)
        if (strcmp(v + num, units[i]) == 0)
            return ref_scaled(v, num, scales[i], bare_fraction_ok || units[i][0], k->min, k->max, ret);
    return -EINVAL;
}

/* The reference: validates value for key k and stores the result in *ret_u (numbers, bool, mode). */
static int ref_value(const Spec *k, const char *v, uint64_t *ret_u) {
    static const char *const dur_units[] = { "", "us", "ms", "s", "sec", "m", "min", "h" };
    static const uint64_t dur_scales[] = { SEC, 1, 1000, SEC, SEC, 60 * SEC, 60 * SEC, 3600 * SEC };
    static const char *const size_units[] = { "", "K", "M", "G" };
    static const uint64_t size_scales[] = { 1, 1 << 10, 1 << 20, 1 << 30 };
    static const char *const bools[] = { "no", "yes", "false", "true", "off", "on", "0", "1" };

    switch (k->kind) {
    case K_STRING:
        return v[0] ? 0 : -EINVAL;
    case K_BOOL:
        for (size_t i = 0; i < 8; i++)
            if (strcmp(v, bools[i]) == 0)
                return *ret_u = i % 2, 0;
        return -EINVAL;
    case K_MODE:
        if (strcmp(v, "workers") == 0 || strcmp(v, "local") == 0)
            return *ret_u = strcmp(v, "workers") == 0 ? SQ_MODE_WORKERS : SQ_MODE_LOCAL, 0;
        return -EINVAL;
    case K_UINT:
        return ref_scaled(v, strlen(v), 1, false, k->min, k->max, ret_u);
    case K_SIZE:
        return ref_with_unit(k, v, size_units, size_scales, 4, false, ret_u);
    case K_DURATION:
        return ref_with_unit(k, v, dur_units, dur_scales, 7, true, ret_u);
    }
    return -EINVAL;
}

/* Whether field k of c holds what the reference says value v gives. */
static bool field_is(const Config *c, const Spec *k, const char *v) {
    const void *field = (const char *)c + k->offset;
    uint64_t u = 0;

    fuzz_assert(ref_value(k, v, &u) == 0);
    switch (k->kind) {
    case K_STRING:
        return *(char *const *)field && strcmp(*(char *const *)field, v) == 0;
    case K_BOOL:
        return *(const bool *)field == (bool)u;
    case K_MODE:
        return *(const SqMode *)field == (SqMode)u;
    default:
        return *(const uint64_t *)field == u;
    }
}

/* What the reference INI pass learns. */
typedef struct Ref {
    int lineno;          /* lines handed to libinih so far */
    int first_bad_entry; /* line of the first invalid entry, 0 if none */
    char *last[N_SPEC];  /* the last value given to each key */
    /* the string reader's state, as ini_parse_string()'s */
    const char *p;
    size_t left;
} Ref;

/* libinih's own string reader, counting lines. */
static char *ref_reader(char *str, int num, void *stream) {
    Ref *r = stream;
    char *s = str;

    if (r->left == 0 || num < 2)
        return NULL;
    while (num > 1 && r->left != 0) {
        char c = *r->p++;

        r->left--;
        *s++ = c;
        if (c == '\n')
            break;
        num--;
    }
    *s = '\0';
    r->lineno++;
    return str;
}

static int ref_handler(void *user, const char *section, const char *name, const char *value) {
    Ref *r = user;
    const Spec *k = spec_find(name);
    uint64_t u;

    if (!k || strcmp(section, k->section) != 0 || ref_value(k, value, &u) < 0) {
        if (!r->first_bad_entry)
            r->first_bad_entry = r->lineno;
        return 0;
    }
    free(r->last[k - spec]);
    r->last[k - spec] = strdup(value);
    fuzz_assert(r->last[k - spec]);
    return 1;
}

static void check_ini(const char *text) {
    char err[CONFIG_ERROR_MAX], prefix[64];
    Ref ref = { .p = text, .left = strlen(text) };
    Config c, def;
    int r, line;

    line = ini_parse_stream(ref_reader, &ref, ref_handler, &ref);
    fuzz_assert(line >= 0);

    config_init(&c);
    config_init(&def);
    fuzz_poison_error(err, sizeof(err));
    r = config_parse_text(&c, text, FILENAME, err, sizeof(err));
    if (line == 0) {
        fuzz_assert(r == 0);
        for (size_t i = 0; i < N_SPEC; i++) {
            if (ref.last[i])
                fuzz_assert(field_is(&c, &spec[i], ref.last[i]));
            else if (spec[i].kind == K_STRING)
                fuzz_assert(*(char **)((char *)&c + spec[i].offset) == NULL);
            else
                fuzz_assert(memcmp((char *)&c + spec[i].offset, (char *)&def + spec[i].offset,
                                   spec[i].kind == K_BOOL   ? sizeof(bool)
                                   : spec[i].kind == K_MODE ? sizeof(SqMode)
                                                            : sizeof(uint64_t)) == 0);
        }
        fuzz_poison_error(err, sizeof(err));
        fuzz_assert(config_finish(&c, "/run/fuzz:/other", err, sizeof(err)) == 0);
        fuzz_assert(strcmp(c.runtime_dir, "/run/fuzz") == 0);
        for (size_t i = 0; i < _ENDPOINT_MAX; i++)
            fuzz_assert(c.endpoint[i] && c.endpoint[i][0]);
    } else {
        fuzz_assert(r == -EINVAL);
        fuzz_check_error(err, sizeof(err));
        snprintf(prefix, sizeof(prefix), "%s:%d: ", FILENAME, line);
        fuzz_assert(strncmp(err, prefix, strlen(prefix)) == 0);
        /* the reason given is the one for that line */
        if (ref.first_bad_entry == line)
            fuzz_assert(strcmp(err + strlen(prefix), "syntax error") != 0);
        else
            fuzz_assert(strcmp(err + strlen(prefix), "syntax error") == 0);
    }
    for (size_t i = 0; i < N_SPEC; i++)
        free(ref.last[i]);
    config_done(&c);
    config_done(&def);
}

static void check_override(const char *arg) {
    const char *eq = strchr(arg, '=');
    char *name, err[CONFIG_ERROR_MAX];
    const Spec *k;
    Config c;
    uint64_t u;
    int r;

    if (!eq)
        return;
    name = strndup(arg, (size_t)(eq - arg));
    fuzz_assert(name);
    k = spec_find(name);
    config_init(&c);
    fuzz_poison_error(err, sizeof(err));
    r = config_set(&c, name, eq + 1, err, sizeof(err));
    if (!k)
        fuzz_assert(r == -ENOENT);
    else
        fuzz_assert(r == ref_value(k, eq + 1, &u));
    if (r == 0)
        fuzz_assert(field_is(&c, k, eq + 1));
    else
        fuzz_check_error(err, sizeof(err));
    config_done(&c);
    free(name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_dup(data, size, true);

    check_ini(text);
    check_override(text);
    free(text);
    return 0;
}
