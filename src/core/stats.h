/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The front end's counters, each defined once, here. The STATUS= line shows
 * them (stats_format_answers()), and a metrics endpoint can export them under
 * the names stats_counter_to_string() gives. Pure.
 *
 * Every response the front end's HTTP edge sends counts exactly once, under its
 * status (stats_count_answer(), called from one place for all of them: the
 * answers of the front end, the edge's 404/413/431 and h2o's own error pages).
 * What is not an answer to a client counts apart: a worker's reply dropped.
 */

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

typedef enum StatsCounter {
    STATS_OK,                 /* 200 */
    STATS_BAD_REQUEST,        /* 400: a malformed number or body, refused HTTP/1.1 framing */
    STATS_NOT_FOUND,          /* 404: a path other than / */
    STATS_METHOD_NOT_ALLOWED, /* 405 */
    STATS_TOO_LARGE,          /* 413: more than max-numbers, a body over max-body-size */
    STATS_HEADERS_TOO_LARGE,  /* 431: an HTTP/2 header list over its budget */
    STATS_INTERNAL_ERROR,     /* 500: out of memory */
    STATS_BAD_GATEWAY,        /* 502: the workers sent results that do not make an answer */
    STATS_BUSY,               /* 503: past max-pending, max-queued-bytes or max-held-bytes */
    STATS_TIMED_OUT,          /* 504: no reply within request-timeout */
    STATS_OTHER_STATUS,       /* any other status */
    STATS_DROPPED_REPLIES,    /* not an answer: a reply from a worker dropped */
    STATS_PEERS_TURNED_AWAY,  /* not an answer: a peer of the jobs sockets refused or cut off */
    _STATS_COUNTER_MAX,
    _STATS_COUNTER_INVALID = -EINVAL,
} StatsCounter;

typedef struct Stats {
    uint64_t count[_STATS_COUNTER_MAX];
} Stats;

/* The counter of the answers with this status: STATS_OTHER_STATUS for one not listed above. */
StatsCounter stats_counter_from_status(int status);
/* A name fit for a metric ("ok", "bad_request", ..., "dropped_replies"); NULL for no counter. */
const char *stats_counter_to_string(StatsCounter c);
StatsCounter stats_counter_from_string(const char *s); /* or -EINVAL */

/* Counts one answer with this status. */
void stats_count_answer(Stats *s, int status);

/*
 * Writes the answers by status, "200=N 400=N ... 504=N other=N", every counter of
 * an answer once, into buf (NUL-terminated, cut to size); returns snprintf's length.
 */
int stats_format_answers(const Stats *s, char *buf, size_t size);
