/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The ZeroMQ wire contract between front end and workers (docs/protocol.md).
 * Pure: no I/O. One ZeroMQ message per job or reply, each a JSON object:
 *
 *   job    {"id":<id>,"numbers":[<int64>,...]}        front end -> worker
 *   reply  {"id":<id>,"sum":<integer>}                sum worker -> front end
 *          {"id":<id>,"square":<integer>}             square worker -> front end
 *
 * <id> is an integer in [1, 2^63-1]; "sum" is the sum of the squares, "square"
 * the square of the sum, both exact non-negative integers of any size. Members
 * other than these are ignored. Decoders reject anything else with -EINVAL (or
 * -E2BIG for a job over the caller's limit) and a reason in err.
 */

#include <stddef.h>
#include <stdint.h>

#include "sqmath.h"

typedef enum WireKind {
    WIRE_SUM,    /* the sum of the squares */
    WIRE_SQUARE, /* the square of the sum */
    _WIRE_KIND_MAX,
} WireKind;

#define WIRE_ERROR_MAX 160
/* The longest reply wire_encode_reply() writes. */
#define WIRE_REPLY_MAX (SQMATH_DECIMAL_MAX + 64)

const char *wire_kind_to_string(WireKind k);
int wire_kind_from_string(const char *s); /* a WireKind, or -EINVAL */

/* An upper bound of the encoded size of a job carrying n numbers. */
size_t wire_job_size_max(size_t n);

/* Encodes a job into buf (at least wire_job_size_max(n) bytes); returns its length. */
size_t wire_encode_job(uint64_t id, const int64_t *numbers, size_t n, char *buf);

/* Decodes a job, accumulating its numbers into *ret_acc (at most max_numbers of them). */
int wire_decode_job(const char *msg, size_t len, uint64_t max_numbers, uint64_t *ret_id, SqAcc *ret_acc,
                    char *err, size_t errlen);

/* Encodes a reply into buf (at least WIRE_REPLY_MAX bytes); value is a decimal integer. */
size_t wire_encode_reply(uint64_t id, WireKind kind, const char *value, size_t value_len, char *buf);

typedef struct WireReply {
    uint64_t id;
    WireKind kind;
    const char *value; /* points into the message */
    size_t value_len;
} WireReply;

int wire_decode_reply(const char *msg, size_t len, WireReply *ret, char *err, size_t errlen);
