/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Prometheus text exposition (format 0.0.4), written into a growing buffer.
 * Pure: no I/O. Each family is announced once with metrics_family() (# HELP,
 * # TYPE), then its samples follow. Label values are escaped as the format
 * wants (\\, \", \n). A failed allocation makes every later call a no-op and
 * metrics_done() return -ENOMEM; nothing is ever half-written silently.
 */

#include <stddef.h>
#include <stdint.h>

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef struct MetricsText {
    char *buf;
    size_t len, size;
    int error;
} MetricsText;

typedef enum MetricsType {
    METRICS_COUNTER,
    METRICS_GAUGE,
    METRICS_HISTOGRAM,
} MetricsType;

void metrics_family(MetricsText *m, const char *name, MetricsType type, const char *help);

/*
 * One sample: name{labels} value. labels is NULL or "key", "value", ... ending in
 * NULL (values escaped here); value as a decimal integer.
 */
void metrics_sample(MetricsText *m, const char *name, const char *const *labels, uint64_t value);
/* The same with a value that is not an integer (seconds, say). */
void metrics_sample_double(MetricsText *m, const char *name, const char *const *labels, double value);

/*
 * A histogram of microseconds, exposed in seconds: counts[i] observations were at
 * most bounds_usec[i] (not cumulative), counts[n] above every bound; sum_usec is
 * the sum of all observations.
 */
void metrics_histogram_usec(MetricsText *m, const char *name, const uint64_t *bounds_usec, const uint64_t *counts,
                            size_t n, uint64_t sum_usec);

/* 0 and the text (the caller frees m->buf), or -ENOMEM (m->buf already freed). */
int metrics_done(MetricsText *m);
