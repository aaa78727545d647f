/* SPDX-License-Identifier: MIT */
/* Prometheus text exposition: https://prometheus.io/docs/instrumenting/exposition_formats/ */

#include "metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"

static void append(MetricsText *m, const char *s, size_t len) {
    if (m->error)
        return;
    if (!m->buf || m->len + len + 1 > m->size) {
        size_t size = m->size ? m->size : 4096;
        char *buf;

        while (size < m->len + len + 1)
            size *= 2;
        buf = realloc(m->buf, size);
        if (!buf) {
            m->error = -ENOMEM;
            return;
        }
        m->buf = buf;
        m->size = size;
    }
    memcpy(m->buf + m->len, s, len);
    m->len += len;
    m->buf[m->len] = '\0';
}

static void appends(MetricsText *m, const char *s) {
    append(m, s, strlen(s));
}

_printf_(2, 3) static void appendf(MetricsText *m, const char *format, ...) {
    char buf[128];
    va_list ap;
    int n;

    va_start(ap, format);
    n = vsnprintf(buf, sizeof(buf), format, ap);
    va_end(ap);
    if (n >= 0)
        append(m, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* Label values: backslash, double quote and newline escaped. */
static void append_label_value(MetricsText *m, const char *v) {
    for (; *v; v++) {
        if (*v == '\\')
            appends(m, "\\\\");
        else if (*v == '"')
            appends(m, "\\\"");
        else if (*v == '\n')
            appends(m, "\\n");
        else
            append(m, v, 1);
    }
}

static void append_labels(MetricsText *m, const char *const *labels, const char *le) {
    bool first = true;

    if (!(labels && labels[0]) && !le)
        return;
    appends(m, "{");
    for (size_t i = 0; labels && labels[i] && labels[i + 1]; i += 2) {
        if (!first)
            appends(m, ",");
        first = false;
        appends(m, labels[i]);
        appends(m, "=\"");
        append_label_value(m, labels[i + 1]);
        appends(m, "\"");
    }
    if (le) {
        appends(m, first ? "le=\"" : ",le=\"");
        appends(m, le);
        appends(m, "\"");
    }
    appends(m, "}");
}

void metrics_family(MetricsText *m, const char *name, MetricsType type, const char *help) {
    static const char *const types[] = {
        [METRICS_COUNTER] = "counter",
        [METRICS_GAUGE] = "gauge",
        [METRICS_HISTOGRAM] = "histogram",
    };

    appendf(m, "# HELP %s ", name);
    appends(m, help);
    appendf(m, "\n# TYPE %s %s\n", name, types[type]);
}

void metrics_sample(MetricsText *m, const char *name, const char *const *labels, uint64_t value) {
    appends(m, name);
    append_labels(m, labels, NULL);
    appendf(m, " %" PRIu64 "\n", value);
}

void metrics_sample_double(MetricsText *m, const char *name, const char *const *labels, double value) {
    appends(m, name);
    append_labels(m, labels, NULL);
    appendf(m, " %.17g\n", value);
}

void metrics_histogram_usec(MetricsText *m, const char *name, const uint64_t *bounds_usec, const uint64_t *counts,
                            size_t n, uint64_t sum_usec) {
    uint64_t cumulative = 0;
    char le[32];

    for (size_t i = 0; i < n; i++) {
        cumulative += counts[i];
        snprintf(le, sizeof(le), "%.6g", (double)bounds_usec[i] / 1e6);
        appendf(m, "%s_bucket", name);
        append_labels(m, NULL, le);
        appendf(m, " %" PRIu64 "\n", cumulative);
    }
    cumulative += counts[n];
    appendf(m, "%s_bucket", name);
    append_labels(m, NULL, "+Inf");
    appendf(m, " %" PRIu64 "\n", cumulative);
    appendf(m, "%s_sum %.17g\n", name, (double)sum_usec / 1e6);
    appendf(m, "%s_count %" PRIu64 "\n", name, cumulative);
}

int metrics_done(MetricsText *m) {
    if (!m->buf)
        append(m, "", 0);
    if (m->error) {
        free(m->buf);
        m->buf = NULL;
        return m->error ? m->error : -ENOMEM;
    }
    return 0;
}
