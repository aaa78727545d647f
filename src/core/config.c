/* SPDX-License-Identifier: MIT */
/*
 * The settings table drives everything: defaults, the INI handler, the
 * command-line overrides and --help. Value syntax:
 *   duration  "2s", "500ms", "1.5s", "1min", "250us"; a bare number is seconds
 *   size      "65536", "64K", "16M", "1G" (powers of 1024)
 *   bool      yes/no, true/false, on/off, 1/0
 */

#include "config.h"

#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "text.h"
#include "peers.h"
#include "sqmath.h"

typedef enum KeyType { T_STRING, T_UINT, T_SIZE, T_DURATION, T_BOOL, T_MODE } KeyType;

typedef struct ConfigKey {
    const char *section, *name;
    KeyType type;
    size_t offset;
    uint64_t min, max;
    const char *def, *help;
    bool live; /* takes effect at a reload; the others at a restart */
} ConfigKey;

#define USEC_PER_SEC UINT64_C(1000000)
#define USEC_PER_MIN (60 * USEC_PER_SEC)
#define KEY(sec, nm, ty, field, lo, hi, d, h, lv)                                                                      \
    { sec, nm, ty, offsetof(Config, field), lo, hi, d, h, lv }
#define HEADROOM_TEXT STRINGIFY(CONFIG_FD_HEADROOM) ", in workers mode " STRINGIFY(CONFIG_FD_WORKERS) " more"
_Static_assert(CONFIG_FD_WORKERS >= 2 * PEERS_MAX + 256, "room for every worker connection and 256 handshakes");

static const ConfigKey keys[] = {
    KEY("global", "jobs-sum-endpoint", T_STRING, endpoint[ENDPOINT_JOBS_SUM], 0, 0, "ipc://RUNDIR/jobs-sum.sock",
        "ZeroMQ endpoints of the sum jobs and their replies, separated by spaces (front ends bind, "
        "workers connect to every one)",
        false),
    KEY("global", "jobs-square-endpoint", T_STRING, endpoint[ENDPOINT_JOBS_SQUARE], 0, 0,
        "ipc://RUNDIR/jobs-square.sock", "ZeroMQ endpoints of the square jobs and their replies", false),
    KEY("global", "curve-secret-key", T_STRING, curve_secret_key, 0, 0, "none",
        "CURVE secret key file (sqdiff-keygen); a relative name is read from $CREDENTIALS_DIRECTORY", false),
    KEY("global", "curve-server-public-key", T_STRING, curve_server_public_key, 0, 0, "none",
        "workers: the front ends' CURVE public key file, pinned", false),
    KEY("global", "allow-insecure-tcp", T_BOOL, allow_insecure_tcp, 0, 1, "no",
        "allow endpoints other than ipc:// without CURVE keys: anyone who reaches them can take jobs and forge "
        "answers",
        false),
    KEY("global", "max-numbers", T_UINT, max_numbers, 1, UINT64_C(100000000), "1000000",
        "most numbers one request (or job) may carry; more get 413", false),
    KEY("global", "log-requests", T_BOOL, log_requests, 0, 1, "no", "log one journal entry per request", true),
    KEY("httpd", "mode", T_MODE, mode, 0, 0, "workers", "workers: fan out to the workers; local: compute in process",
        false),
    KEY("httpd", "request-timeout", T_DURATION, request_timeout_usec, 1000, 3600 * USEC_PER_SEC, "2s",
        "how long a request may wait for its workers before it is answered 504", true),
    KEY("httpd", "reaper-interval", T_DURATION, reaper_interval_usec, 1000, 3600 * USEC_PER_SEC, "1s",
        "how often timed-out requests are looked for", true),
    KEY("httpd", "idle-timeout", T_DURATION, idle_timeout_usec, 1000, 3600 * USEC_PER_SEC, "10s",
        "idle or unfinished client connections are closed after this", true),
    KEY("httpd", "max-pending", T_UINT, max_pending, 1, UINT64_C(10000000), "10000",
        "most requests waiting for workers at once; more get 503", true),
    KEY("httpd", "max-body-size", T_SIZE, max_body_size, 16, UINT64_C(1) << 31, "64M",
        "largest POST body accepted; larger get 413", true),
    KEY("httpd", "max-connections", T_UINT, max_connections, 0, UINT64_C(10000000), "0",
        "most client connections at once (0: the descriptor limit less " HEADROOM_TEXT "); at the cap accepting "
        "pauses",
        true),
    KEY("httpd", "max-queued-bytes", T_SIZE, max_queued_bytes, 65536, UINT64_C(1) << 40, "64M",
        "most bytes of jobs per kind waiting for a worker; past it requests get 503", true),
    KEY("httpd", "max-held-bytes", T_SIZE, max_held_bytes, 65536, UINT64_C(1) << 40, "160M",
        "most bytes held at once for requests not yet answered (heads, bodies, jobs); past it new requests get "
        "503 and the connection holding the most of an unfinished request is closed",
        true),
    KEY("httpd", "tls-certificate", T_STRING, tls_certificate, 0, 0, "none",
        "HTTPS: certificate chain file (PEM, leaf first); a relative name is read from $CREDENTIALS_DIRECTORY; "
        "read again at every reload",
        true),
    KEY("httpd", "tls-key", T_STRING, tls_key, 0, 0, "none",
        "HTTPS: the certificate's private key file (PEM); a relative name is read from $CREDENTIALS_DIRECTORY", true),
    KEY("httpd", "curve-allowed-keys", T_STRING, curve_allowed_keys, 0, 0, "/etc/sqdiff/workers.d",
        "with curve-secret-key: directory of the public key files of the workers admitted", false),
};

uint64_t config_conn_bytes(const Config *c) {
    return c->tls_certificate ? CONFIG_TLS_CONN_BYTES : CONFIG_CONN_BYTES;
}

uint64_t config_max_connections(const Config *c, uint64_t nofile) {
    uint64_t headroom = CONFIG_FD_HEADROOM + (c->mode == SQ_MODE_WORKERS ? CONFIG_FD_WORKERS : 0);
    uint64_t fixed = c->max_held_bytes + CONFIG_BASE_BYTES, n;

    if (c->max_connections > 0)
        return c->max_connections;
    n = nofile > 2 * headroom ? nofile - headroom : nofile > 2 ? nofile / 2 : 1;
    if (c->memory_limit > 0) {
        uint64_t room = c->memory_limit > fixed ? (c->memory_limit - fixed) / config_conn_bytes(c) : 0;

        if (room < 16)
            room = 16;
        if (room < n)
            n = room;
    }
    return n;
}

uint64_t config_memory_needed(const Config *c, uint64_t max_conns) {
    return c->max_held_bytes + max_conns * config_conn_bytes(c) + CONFIG_BASE_BYTES;
}

static const char *const mode_names[] = {
    [SQ_MODE_WORKERS] = "workers",
    [SQ_MODE_LOCAL] = "local",
};

const char *sq_mode_to_string(SqMode m) {
    return m == SQ_MODE_LOCAL ? mode_names[SQ_MODE_LOCAL] : mode_names[SQ_MODE_WORKERS];
}

static const ConfigKey *find_key(const char *name) {
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

/*
 * Parses decimal digits with an optional fraction scaled by `scale`, exactly, rounding down. The
 * fraction's share floor(0.d1...dn * scale) is folded in from its last digit, t = (d * scale + t) / 10,
 * which stays below scale; the syntax is checked before any arithmetic.
 */
static int parse_scaled(const char *s, size_t len, uint64_t scale, uint64_t *ret) {
    uint64_t whole = 0, frac = 0;
    size_t i = 0, int_end, frac_end;

    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++;
    int_end = frac_end = i;
    if (i < len && s[i] == '.') {
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++)
            ;
        frac_end = i;
    }
    if (i != len || int_end + (frac_end > int_end ? frac_end - int_end - 1 : 0) == 0)
        return -EINVAL;
    for (i = 0; i < int_end; i++)
        if (__builtin_mul_overflow(whole, 10, &whole) || __builtin_add_overflow(whole, (uint64_t)(s[i] - '0'), &whole))
            return -ERANGE;
    for (i = frac_end; i > int_end + 1; i--)
        frac = ((uint64_t)(s[i - 1] - '0') * scale + frac) / 10;
    if (__builtin_mul_overflow(whole, scale, &whole) || __builtin_add_overflow(whole, frac, &whole))
        return -ERANGE;
    *ret = whole;
    return 0;
}

static int parse_with_unit(const char *v, const char *const *units, const uint64_t *scales, size_t n, uint64_t *ret) {
    size_t len = strlen(v), num = len;

    while (num > 0 && ((v[num - 1] >= 'a' && v[num - 1] <= 'z') || (v[num - 1] >= 'A' && v[num - 1] <= 'Z')))
        num--;
    for (size_t i = 0; i < n; i++)
        if (strcmp(v + num, units[i]) == 0)
            return parse_scaled(v, num, scales[i], ret);
    return -EINVAL;
}

static int parse_duration(const char *v, uint64_t *ret) {
    static const char *const units[] = { "", "us", "ms", "s", "sec", "m", "min", "h" };
    /* in microseconds, for each of units[] */
    static const uint64_t scales[] = {
        USEC_PER_SEC, 1, 1000, USEC_PER_SEC, USEC_PER_SEC, USEC_PER_MIN, USEC_PER_MIN, 60 * USEC_PER_MIN,
    };
    return parse_with_unit(v, units, scales, ELEMENTSOF(units), ret);
}

static int parse_size(const char *v, uint64_t *ret) {
    static const char *const units[] = { "", "K", "M", "G" };
    static const uint64_t scales[] = { 1, 1024, 1024 * 1024, 1024 * 1024 * 1024 };
    int r = parse_with_unit(v, units, scales, ELEMENTSOF(units), ret);
    /* Sizes are whole bytes: "1.5K" is fine, "1.5" is not. */
    return r == 0 && strchr(v, '.') && strspn(v, "0123456789.") == strlen(v) ? -EINVAL : r;
}

static int parse_bool(const char *v, bool *ret) {
    static const char *const yes[] = { "yes", "true", "on", "1" }, *const no[] = { "no", "false", "off", "0" };

    for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
        if (strcmp(v, yes[i]) == 0)
            return *ret = true, 0;
        if (strcmp(v, no[i]) == 0)
            return *ret = false, 0;
    }
    return -EINVAL;
}

/* A limit as a setting would say it: a duration or a size in the largest unit that is exact. */
static void format_value(KeyType t, uint64_t v, char *buf, size_t size) {
    static const struct {
        uint64_t scale;
        const char *unit;
    } durations[] = { { 60 * USEC_PER_MIN, "h" }, { USEC_PER_MIN, "min" }, { USEC_PER_SEC, "s" }, { 1000, "ms" } },
      sizes[] = { { 1024 * 1024 * 1024, "G" }, { 1024 * 1024, "M" }, { 1024, "K" } };
    const __typeof__(durations[0]) *table = t == T_DURATION ? durations : t == T_SIZE ? sizes : NULL;
    size_t n = t == T_DURATION ? ELEMENTSOF(durations) : t == T_SIZE ? ELEMENTSOF(sizes) : 0;

    for (size_t i = 0; i < n; i++)
        if (v >= table[i].scale && v % table[i].scale == 0) {
            snprintf(buf, size, "%" PRIu64 "%s", v / table[i].scale, table[i].unit);
            return;
        }
    snprintf(buf, size, "%" PRIu64 "%s", v, t == T_DURATION ? "us" : "");
}

int config_set(Config *c, const char *name, const char *value, char *err, size_t errlen) {
    const ConfigKey *k = find_key(name);
    char q[TEXT_QUOTE_MAX];
    void *field;
    uint64_t u = 0;
    bool b;
    int r;

    if (!k && strcmp(name, "results-endpoint") == 0) {
        snprintf(err, errlen, "results-endpoint: replies now travel back on the jobs endpoints; remove this setting");
        return -ENOENT;
    }
    if (!k) {
        snprintf(err, errlen, "unknown setting %s", text_quote(q, sizeof(q), name, strlen(name)));
        return -ENOENT;
    }
    field = (char *)c + k->offset;

    switch (k->type) {
    case T_STRING: {
        char **s = field, *copy;
        if (value[0] == '\0') {
            snprintf(err, errlen, "%s: empty value", name);
            return -EINVAL;
        }
        copy = strdup(value);
        if (!copy)
            return -ENOMEM;
        free(*s);
        *s = copy;
        return 0;
    }
    case T_BOOL:
        if (parse_bool(value, &b) < 0) {
            snprintf(err, errlen, "%s: %s is not a boolean (yes/no)", name,
                     text_quote(q, sizeof(q), value, strlen(value)));
            return -EINVAL;
        }
        *(bool *)field = b;
        return 0;
    case T_MODE:
        for (size_t i = 0; i < ELEMENTSOF(mode_names); i++)
            if (strcmp(value, mode_names[i]) == 0) {
                *(SqMode *)field = (SqMode)i;
                return 0;
            }
        snprintf(err, errlen, "%s: %s is not a mode (workers or local)", name,
                 text_quote(q, sizeof(q), value, strlen(value)));
        return -EINVAL;
    case T_UINT:
        r = parse_scaled(value, strlen(value), 1, &u);
        if (r == 0 && strchr(value, '.'))
            r = -EINVAL;
        break;
    case T_SIZE:
        r = parse_size(value, &u);
        break;
    case T_DURATION:
        r = parse_duration(value, &u);
        break;
    default:
        return -EINVAL;
    }

    if (r == -EINVAL) {
        snprintf(err, errlen, "%s: %s is not a valid %s", name, text_quote(q, sizeof(q), value, strlen(value)),
                 k->type == T_DURATION ? "duration (like 2s or 500ms)"
                 : k->type == T_SIZE   ? "size (like 65536, 64K or 16M)"
                                       : "whole number");
        return r;
    }
    if (r < 0 || u < k->min || u > k->max) {
        char lo[32], hi[32];

        format_value(k->type, k->min, lo, sizeof(lo));
        format_value(k->type, k->max, hi, sizeof(hi));
        snprintf(err, errlen, "%s: %s is out of range (%s to %s)", name, text_quote(q, sizeof(q), value, strlen(value)),
                 lo, hi);
        return -ERANGE;
    }
    *(uint64_t *)field = u;
    return 0;
}

void config_init(Config *c) {
    char err[CONFIG_ERROR_MAX];

    *c = (Config){ 0 };
    for (size_t i = 0; i < ELEMENTSOF(keys); i++)
        if (keys[i].type != T_STRING)
            (void)config_set(c, keys[i].name, keys[i].def, err, sizeof(err));
}

void config_done(Config *c) {
    for (size_t i = 0; i < _ENDPOINT_MAX; i++)
        free(c->endpoint[i]);
    free(c->curve_secret_key);
    free(c->curve_server_public_key);
    free(c->curve_allowed_keys);
    free(c->tls_certificate);
    free(c->tls_key);
    free(c->runtime_dir);
    *c = (Config){ 0 };
}

typedef struct IniState {
    Config *config;
    char *err;
    size_t errlen;
    int failed;
} IniState;

static int on_ini_entry(void *user, const char *section, const char *name, const char *value) {
    IniState *s = user;
    const ConfigKey *k;
    char reason[CONFIG_ERROR_MAX], q[TEXT_QUOTE_MAX];

    if (s->failed)
        return 1; /* report the first error only */

    k = find_key(name);
    if (!k) {
        snprintf(reason, sizeof(reason), "unknown setting %s", text_quote(q, sizeof(q), name, strlen(name)));
        goto fail;
    }
    if (strcmp(section, k->section) != 0) {
        snprintf(reason, sizeof(reason), "\"%s\" belongs in section [%s], not in %s", name, k->section,
                 text_quote(q, sizeof(q), section, strlen(section)));
        goto fail;
    }
    if (config_set(s->config, name, value, reason, sizeof(reason)) < 0)
        goto fail;
    return 1;

fail:
    s->failed = 1;
    snprintf(s->err, s->errlen, "%s", reason);
    return 0;
}

static int accept_entry(void *user, const char *section, const char *name, const char *value) {
    return 1;
}

int config_parse_text(Config *c, const char *text, const char *filename, char *err, size_t errlen) {
    char reason[CONFIG_ERROR_MAX] = "syntax error";
    IniState s = { .config = c, .err = reason, .errlen = sizeof(reason) };
    int line = ini_parse_string(text, on_ini_entry, &s);

    if (line == 0)
        return 0;
    if (line < 0) {
        snprintf(err, errlen, "%s: out of memory", filename);
        return -ENOMEM;
    }
    /* libinih reports the first faulty line, which may be a syntax error before the entry we refused. */
    if (s.failed && ini_parse_string(text, accept_entry, NULL) == line)
        snprintf(reason, sizeof(reason), "syntax error");
    snprintf(err, errlen, "%s:%d: %s", filename, line, reason);
    return -EINVAL;
}

/* The endpoints in list with each "ipc://RUNDIR/" made "ipc://<rundir>/": a new string in *ret. */
static int expand_rundir(const char *list, const char *rundir, char **ret) {
    static const char word[] = "ipc://RUNDIR/";
    size_t n = 0;
    char *out, *o;

    for (const char *p = list; (p = strstr(p, word)); p += sizeof(word) - 1)
        n++;
    out = malloc(strlen(list) + n * strlen(rundir) + 1);
    if (!out)
        return -ENOMEM;
    o = out;
    for (const char *p = list, *hit; *p; p = hit + sizeof(word) - 1) {
        hit = strstr(p, word);
        if (!hit) {
            o = stpcpy(o, p);
            break;
        }
        o = mempcpy(o, p, (size_t)(hit - p));
        o = stpcpy(stpcpy(stpcpy(o, "ipc://"), rundir), "/");
    }
    *o = '\0';
    *ret = out;
    return 0;
}

int config_finish(Config *c, const char *env_runtime_dir, char *err, size_t errlen) {
    static const char *const defaults[_ENDPOINT_MAX] = { "ipc://RUNDIR/jobs-sum.sock",
                                                         "ipc://RUNDIR/jobs-square.sock" };

    if (!c->runtime_dir) {
        /* systemd may list several directories separated by ':'; ours is the first. */
        const char *d = env_runtime_dir && env_runtime_dir[0] ? env_runtime_dir : CONFIG_DEFAULT_RUNTIME_DIR;
        c->runtime_dir = strndup(d, strcspn(d, ":"));
        if (!c->runtime_dir)
            return -ENOMEM;
    }
    for (size_t i = 0; i < _ENDPOINT_MAX; i++) {
        char *expanded;
        int r = expand_rundir(c->endpoint[i] ? c->endpoint[i] : defaults[i], c->runtime_dir, &expanded);

        if (r < 0)
            return r;
        free(c->endpoint[i]);
        c->endpoint[i] = expanded;
    }
    if (!c->curve_allowed_keys) {
        c->curve_allowed_keys = strdup("/etc/sqdiff/workers.d");
        if (!c->curve_allowed_keys)
            return -ENOMEM;
    }
    if (!c->tls_certificate != !c->tls_key) {
        snprintf(err, errlen, "%s is set without %s: HTTPS needs both", c->tls_key ? "tls-key" : "tls-certificate",
                 c->tls_key ? "tls-certificate" : "tls-key");
        return -EINVAL;
    }
    if (c->max_numbers > SQACC_MAX_COUNT) {
        snprintf(err, errlen, "max-numbers: more than %" PRIu64 " cannot be summed exactly", SQACC_MAX_COUNT);
        return -ERANGE;
    }
    return 0;
}

bool config_endpoint_next(const char **cursor, char *buf) {
    const char *p = *cursor + strspn(*cursor, " \t");
    size_t n = strcspn(p, " \t");

    if (n == 0)
        return false;
    if (n >= CONFIG_ENDPOINT_MAX)
        n = CONFIG_ENDPOINT_MAX - 1; /* config_check_transport() refuses it */
    memcpy(buf, p, n);
    buf[n] = '\0';
    *cursor = p + strcspn(p, " \t");
    return true;
}

static bool is_local_endpoint(const char *e) {
    return strncmp(e, "ipc://", 6) == 0 || strncmp(e, "inproc://", 9) == 0;
}

int config_check_transport(const Config *c, bool worker, char *err, size_t errlen) {
    static const char *const names[_ENDPOINT_MAX] = { "jobs-sum-endpoint", "jobs-square-endpoint" };
    char buf[CONFIG_ENDPOINT_MAX];

    for (size_t i = 0; i < _ENDPOINT_MAX; i++) {
        const char *cursor = c->endpoint[i] ? c->endpoint[i] : "";
        size_t n = 0;

        while (config_endpoint_next(&cursor, buf)) {
            if (strlen(buf) >= CONFIG_ENDPOINT_MAX - 1 || ++n > CONFIG_ENDPOINTS_MAX) {
                snprintf(err, errlen, "%s: at most %d endpoints of at most %d characters each", names[i],
                         CONFIG_ENDPOINTS_MAX, CONFIG_ENDPOINT_MAX - 2);
                return -EINVAL;
            }
            if (is_local_endpoint(buf) || c->allow_insecure_tcp)
                continue;
            if (!c->curve_secret_key || (worker && !c->curve_server_public_key)) {
                snprintf(err, errlen,
                         "%s: %s is reachable from the network, and without CURVE keys anyone who reaches it "
                         "could take jobs and forge answers: set curve-secret-key%s (see sqdiff-keygen), or "
                         "allow-insecure-tcp = yes",
                         names[i], buf, worker ? " and curve-server-public-key" : "");
                return -EPERM;
            }
        }
        if (n == 0) {
            snprintf(err, errlen, "%s: no endpoint", names[i]);
            return -EINVAL;
        }
    }
    return 0;
}

bool config_key_live(size_t i) {
    return i < ELEMENTSOF(keys) && keys[i].live;
}

bool config_key_differs(const Config *a, const Config *b, size_t i) {
    const void *x = (const char *)a + keys[i].offset, *y = (const char *)b + keys[i].offset;

    switch (keys[i].type) {
    case T_STRING: {
        const char *p = *(char *const *)x, *q = *(char *const *)y;
        return (p == NULL) != (q == NULL) || (p && strcmp(p, q) != 0);
    }
    case T_BOOL:
        return *(const bool *)x != *(const bool *)y;
    case T_MODE:
        return *(const SqMode *)x != *(const SqMode *)y;
    default:
        return *(const uint64_t *)x != *(const uint64_t *)y;
    }
}

int config_key_copy(Config *dst, const Config *src, size_t i) {
    void *x = (char *)dst + keys[i].offset;
    const void *y = (const char *)src + keys[i].offset;

    switch (keys[i].type) {
    case T_STRING: {
        const char *q = *(char *const *)y;
        char *copy = q ? strdup(q) : NULL;

        if (q && !copy)
            return -ENOMEM;
        free(*(char **)x);
        *(char **)x = copy;
        return 0;
    }
    case T_BOOL:
        *(bool *)x = *(const bool *)y;
        return 0;
    case T_MODE:
        *(SqMode *)x = *(const SqMode *)y;
        return 0;
    default:
        *(uint64_t *)x = *(const uint64_t *)y;
        return 0;
    }
}

size_t config_n_keys(void) {
    return ELEMENTSOF(keys);
}

const char *config_key_name(size_t i) {
    return i < ELEMENTSOF(keys) ? keys[i].name : NULL;
}

void config_print_keys(FILE *f) {
    for (size_t i = 0; i < ELEMENTSOF(keys); i++)
        fprintf(f, "  --%-22s [%s] %s (default: %s)\n", keys[i].name, keys[i].section, keys[i].help, keys[i].def);
}
