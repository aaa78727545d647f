/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The ZeroMQ wire contract between front end and workers (docs/protocol.md).
 * Pure: no I/O. A ZeroMQ message holds one job or reply, a JSON object, or a
 * batch: a JSON array of 1 to WIRE_BATCH_MAX of them.
 *
 *   job    {"id":<id>,"numbers":[<int64>,...]}        front end -> worker (1 or more numbers)
 *   reply  {"id":<id>,"sum":<integer>}                sum worker -> front end
 *          {"id":<id>,"square":<integer>}             square worker -> front end
 *   grant  {"ready":<n>}                              worker -> front end: n more job messages
 *          {"ready":<n>,"done":<d>,"rejected":<r>,"unsent":<u>}   with the worker's counters (n >= 0)
 *   (empty)                                           either way: a new connection (see fanout.h)
 *
 * <id> is an integer in [1, 2^63-1]; "sum" is the sum of the squares, "square"
 * the square of the sum, both exact non-negative integers of any size. Members
 * other than these are ignored. Readers reject anything else with -EINVAL (or
 * -E2BIG for a job over the caller's limit) and a reason in err; a message is
 * valid only as a whole, so a caller acts on what it read only once the reader
 * has reached the end of the message.
 */

#include <errno.h>
#include <stdbool.h>

#include <stddef.h>
#include <stdint.h>

#include "json-reader.h"
#include "sqmath.h"

typedef enum WireKind {
    WIRE_SUM,    /* the sum of the squares */
    WIRE_SQUARE, /* the square of the sum */
    _WIRE_KIND_MAX,
    _WIRE_KIND_INVALID = -EINVAL,
} WireKind;

#define WIRE_ERROR_MAX 160
/* The longest reply wire_encode_reply() writes. */
#define WIRE_REPLY_MAX (SQMATH_DECIMAL_MAX + 64)
/* At most this many jobs or replies in one message. */
#define WIRE_BATCH_MAX 256
/* Senders close a batch before it grows past this many bytes; a batch of one job may be larger. */
#define WIRE_BATCH_BYTES 65536
/* Reply messages are at most this long: room for WIRE_BATCH_MAX of the longest replies. */
#define WIRE_REPLY_MESSAGE_MAX WIRE_BATCH_BYTES

const char *wire_kind_to_string(WireKind k);
WireKind wire_kind_from_string(const char *s); /* or _WIRE_KIND_INVALID */

/* An upper bound of the encoded size of a job carrying n numbers. */
size_t wire_job_size_max(size_t n);

/* The longest job message a worker accepting max_numbers numbers per job must take. */
size_t wire_job_message_max(uint64_t max_numbers);

/* Encodes a job into buf (at least wire_job_size_max(n) bytes); returns its length. */
size_t wire_encode_job(uint64_t id, const int64_t *numbers, size_t n, char *buf);

/* Encodes a reply into buf (at least WIRE_REPLY_MAX bytes); value is a decimal integer. */
size_t wire_encode_reply(uint64_t id, WireKind kind, const char *value, size_t value_len, char *buf);

typedef struct WireReply {
    uint64_t id;
    WireKind kind;
    const char *value; /* points into the message */
    size_t value_len;
} WireReply;

/*
 * Reads the jobs or the replies of one message, one at a time. Messages in the
 * exact form wire_encode_*() write (no spaces, members in our order) are read by
 * a scanner of that form alone; at the first byte that departs from it the
 * reader starts over with the general JSON reader, which then judges the whole
 * message, so the verdict never depends on which path read it.
 */
typedef struct WireReader {
    JsonReader json;
    const char *msg, *end;
    const char *fast; /* where the canonical scanner is; NULL once the general reader took over */
    bool started, batch, done;
    size_t count;    /* objects begun */
    size_t returned; /* objects handed out */
} WireReader;

void wire_reader_init(WireReader *w, const char *msg, size_t len);
/* The same, general reader only: for tests that compare both paths. */
void wire_reader_init_general(WireReader *w, const char *msg, size_t len);

/*
 * The next job: 1 with *ret_id and *ret_acc (its numbers accumulated, at most
 * max_numbers of them) set; 0 once the whole message was read and found valid.
 */
int wire_read_job(WireReader *w, uint64_t max_numbers, uint64_t *ret_id, SqAcc *ret_acc, char *err, size_t errlen);

/* The next reply: 1 with *ret set (its value points into the message); 0 at the valid end. */
/* Both write their outputs only when they return 1. */
int wire_read_reply(WireReader *w, WireReply *ret, char *err, size_t errlen);

/*
 * What a worker did on one connection, counted since it started, as its grants may report it
 * (docs/protocol.md, "Counters"). Each is at most INT64_MAX.
 */
typedef struct WireCounters {
    uint64_t done;     /* jobs answered: their replies were queued */
    uint64_t rejected; /* job messages dropped as invalid */
    uint64_t unsent;   /* replies that could not be queued */
} WireCounters;

typedef struct WireGrant {
    uint64_t credit; /* N of "ready": at least 1, or 0 in a grant that carries counters */
    bool has_counters;
    WireCounters counters;      /* when has_counters */
    const char *counters_error; /* counters were there but are refused: why (a constant); else NULL */
} WireGrant;

/*
 * Whether a message from a worker is a credit grant, {"ready":N} (N >= 1; other members
 * ignored): 1 with *ret set; 0 when it is not one (then it holds replies); -EINVAL for a
 * grant that is malformed. A grant may carry "done", "rejected" and "unsent", integers
 * from 0 to 2^63-1, all three or none, and then N may be 0 (a report alone). When they are
 * invalid, missing one, or repeated, the credit still counts and ret->counters_error says
 * why the counters do not. *ret is written only when it returns 1.
 */
int wire_read_grant(const char *msg, size_t len, WireGrant *ret);

/*
 * Encodes a grant of n job messages, with counters unless c is NULL, into buf (at least
 * WIRE_GRANT_MAX bytes); returns its length. Counters above INT64_MAX are written as INT64_MAX.
 */
#define WIRE_GRANT_MAX 128
size_t wire_encode_grant(uint64_t n, const WireCounters *c, char *buf);
