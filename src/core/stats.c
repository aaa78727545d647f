/* SPDX-License-Identifier: MIT */
/* The table of counters: one line each, with the status whose answers it counts (0: none). */

#include "stats.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int status;
} counters[_STATS_COUNTER_MAX] = {
    [STATS_OK] = { "ok", 200 },
    [STATS_BAD_REQUEST] = { "bad_request", 400 },
    [STATS_NOT_FOUND] = { "not_found", 404 },
    [STATS_METHOD_NOT_ALLOWED] = { "method_not_allowed", 405 },
    [STATS_TOO_LARGE] = { "too_large", 413 },
    [STATS_HEADERS_TOO_LARGE] = { "headers_too_large", 431 },
    [STATS_INTERNAL_ERROR] = { "internal_error", 500 },
    [STATS_BAD_GATEWAY] = { "bad_gateway", 502 },
    [STATS_BUSY] = { "busy", 503 },
    [STATS_TIMED_OUT] = { "timed_out", 504 },
    [STATS_OTHER_STATUS] = { "other_status", 0 },
    [STATS_DROPPED_REPLIES] = { "dropped_replies", 0 },
    [STATS_PEERS_TURNED_AWAY] = { "peers_turned_away", 0 },
};

StatsCounter stats_counter_from_status(int status) {
    for (int c = 0; c < _STATS_COUNTER_MAX; c++)
        if (counters[c].status == status && status != 0)
            return (StatsCounter)c;
    return STATS_OTHER_STATUS;
}

const char *stats_counter_to_string(StatsCounter c) {
    return c >= 0 && c < _STATS_COUNTER_MAX ? counters[c].name : NULL;
}

StatsCounter stats_counter_from_string(const char *s) {
    for (int c = 0; c < _STATS_COUNTER_MAX; c++)
        if (strcmp(counters[c].name, s) == 0)
            return (StatsCounter)c;
    return _STATS_COUNTER_INVALID;
}

void stats_count_answer(Stats *s, int status) {
    s->count[stats_counter_from_status(status)]++;
}

int stats_format_answers(const Stats *s, char *buf, size_t size) {
    size_t len = 0;
    int k;

    if (size > 0)
        buf[0] = '\0';
    for (int c = 0; c <= STATS_OTHER_STATUS; c++) {
        if (counters[c].status)
            k = snprintf(len < size ? buf + len : NULL, len < size ? size - len : 0, "%s%d=%" PRIu64, c ? " " : "",
                         counters[c].status, s->count[c]);
        else
            k = snprintf(len < size ? buf + len : NULL, len < size ? size - len : 0, " other=%" PRIu64, s->count[c]);
        if (k < 0)
            return k;
        len += (size_t)k;
    }
    return (int)len;
}
