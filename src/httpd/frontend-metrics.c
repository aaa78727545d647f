/* SPDX-License-Identifier: MIT */
/*
 * The /metrics page. Process figures are read from /proc/self, as Prometheus's
 * client libraries read them: CPU time and resident memory from stat, open
 * descriptors by counting fd/.
 */

#include "frontend-metrics.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "peers-metrics.h"
#include "wire.h"

/* utime and stime in seconds, and the resident set in bytes, from /proc/self/stat; false if unreadable. */
static bool read_self_stat(double *ret_cpu, uint64_t *ret_rss) {
    char buf[1024], *p;
    unsigned long utime, stime;
    long rss;
    size_t n;
    FILE *f = fopen("/proc/self/stat", "re");

    if (!f)
        return false;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* After the command name in parentheses: state is field 3, utime 14, stime 15, rss 24. */
    p = strrchr(buf, ')');
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %*d %*d %*u %*u %ld",
                     &utime, &stime, &rss) != 3)
        return false;
    *ret_cpu = (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
    *ret_rss = (uint64_t)(rss > 0 ? rss : 0) * (uint64_t)sysconf(_SC_PAGESIZE);
    return true;
}

static uint64_t count_open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    uint64_t n = 0;

    if (!d)
        return 0;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n > 0 ? n - 1 : 0; /* less the one opendir() holds */
}

static void counter(MetricsText *m, const char *name, const char *help, uint64_t v) {
    metrics_family(m, name, METRICS_COUNTER, help);
    metrics_sample(m, name, NULL, v);
}

static void gauge(MetricsText *m, const char *name, const char *help, uint64_t v) {
    metrics_family(m, name, METRICS_GAUGE, help);
    metrics_sample(m, name, NULL, v);
}

static void write_http(const FrontendMetricsInput *in, MetricsText *m) {
    static const char *const protocols[_SERVER_PROTO_MAX] = {
        [SERVER_PROTO_HTTP1] = "http/1.1",
        [SERVER_PROTO_HTTP2] = "http/2",
    };
    static const struct {
        ServerEvent ev;
        const char *name, *reason;
    } events[] = {
        { SERVER_EVENT_CLOSED_IDLE, "sqdiff_http_connections_closed_total", "no-progress" },
        { SERVER_EVENT_CLOSED_BUDGET, "sqdiff_http_connections_closed_total", "over-budget" },
        { SERVER_EVENT_BAD_FRAMING, "sqdiff_http_connections_closed_total", "bad-framing" },
        { SERVER_EVENT_CLOSED_MEMORY, "sqdiff_http_connections_closed_total", "memory-budget" },
        { SERVER_EVENT_TLS_FAILED, "sqdiff_http_connections_closed_total", "tls-handshake" },
        { SERVER_EVENT_PAUSED_AT_CAP, "sqdiff_http_accept_paused_total", "connection-cap" },
        { SERVER_EVENT_PAUSED_NO_FDS, "sqdiff_http_accept_paused_total", "no-descriptors" },
    };
    char code[8];

    metrics_family(m, "sqdiff_http_requests_total", METRICS_COUNTER,
                   "HTTP requests answered, by status code and protocol (scrapes not counted).");
    for (int p = 0; p < _SERVER_PROTO_MAX; p++)
        for (int s = 0; s < SERVER_STATUS_MAX; s++)
            if (in->server->responses[p][s] > 0 || (s == 200 && p == SERVER_PROTO_HTTP1)) {
                snprintf(code, sizeof(code), "%d", s);
                metrics_sample(m, "sqdiff_http_requests_total",
                               (const char *const[]){ "code", code, "protocol", protocols[p], NULL },
                               in->server->responses[p][s]);
            }
    metrics_family(m, "sqdiff_http_request_duration_seconds", METRICS_HISTOGRAM,
                   "Time from a complete request to its answer.");
    metrics_histogram_usec(m, "sqdiff_http_request_duration_seconds", server_duration_bounds_usec,
                           in->server->duration_counts, SERVER_DURATION_BUCKETS, in->server->duration_sum_usec);
    gauge(m, "sqdiff_http_connections", "Client connections open.", in->connections);
    gauge(m, "sqdiff_http_connections_max", "max-connections in effect (public listeners).", in->max_connections);
    gauge(m, "sqdiff_http_held_bytes", "Bytes held for requests not answered yet, complete or not.", in->held_bytes);
    gauge(m, "sqdiff_http_held_bytes_max", "max-held-bytes in effect.", in->max_held_bytes);
    for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
        if (i == 0 || strcmp(events[i].name, events[i - 1].name) != 0)
            metrics_family(m, events[i].name, METRICS_COUNTER,
                           strstr(events[i].name, "closed")
                               ? "Client connections closed by the connection budget, by reason."
                               : "Times accepting paused, by reason.");
        metrics_sample(m, events[i].name, (const char *const[]){ "reason", events[i].reason, NULL },
                       in->server->events[events[i].ev]);
    }
    metrics_family(m, "sqdiff_tls_handshakes_total", METRICS_COUNTER,
                   "HTTPS handshakes done, by session: new (a full handshake) or resumed (a ticket).");
    metrics_sample(m, "sqdiff_tls_handshakes_total", (const char *const[]){ "session", "new", NULL },
                   in->server->tls_handshakes[0]);
    metrics_sample(m, "sqdiff_tls_handshakes_total", (const char *const[]){ "session", "resumed", NULL },
                   in->server->tls_handshakes[1]);
}

static void write_requests(const FrontendMetricsInput *in, MetricsText *m) {
    counter(m, "sqdiff_requests_timed_out_total", "Requests answered 504: no reply from the workers in time.",
            in->stats->count[STATS_TIMED_OUT]);
    counter(m, "sqdiff_requests_refused_total",
            "Requests answered 503 at once: max-pending, max-queued-bytes or max-held-bytes.",
            in->stats->count[STATS_BUSY]);
    counter(m, "sqdiff_replies_dropped_total", "Worker replies dropped: late, duplicate or invalid.",
            in->stats->count[STATS_DROPPED_REPLIES]);
    counter(m, "sqdiff_peers_turned_away_total",
            "Peers of the jobs sockets turned away: handshakes refused, workers whose key left the allow-list.",
            in->stats->count[STATS_PEERS_TURNED_AWAY]);
    gauge(m, "sqdiff_requests_pending", "Requests waiting for their workers.", in->pending);
}

/* The figure of kind k in write_fanout()'s family i. */
static uint64_t fanout_figure(const FanoutStats *f, size_t i, int k) {
    switch (i) {
    case 0:
        return f->jobs_sent[k];
    case 1:
        return f->batches_sent[k];
    case 2:
        return f->queued_bytes[k];
    case 3:
        return f->big_bytes_out[k];
    case 4:
        return f->jobs_redispatched[k];
    case 5:
        return f->jobs_hedged[k];
    case 6:
        return f->hedges_won[k];
    default:
        return f->hedges_late[k];
    }
}

static void write_fanout(const FanoutStats *f, MetricsText *m) {
    static const struct {
        const char *name, *help;
        MetricsType type;
    } families[] = {
        { "sqdiff_jobs_sent_total", "Jobs handed to ZeroMQ, by kind.", METRICS_COUNTER },
        { "sqdiff_batches_sent_total", "Messages of jobs handed to ZeroMQ, by kind.", METRICS_COUNTER },
        { "sqdiff_jobs_queued_bytes", "Bytes of jobs waiting for a worker, by kind.", METRICS_GAUGE },
        { "sqdiff_big_jobs_out_bytes", "Bytes of big jobs out to the workers and not yet answered, by kind.",
          METRICS_GAUGE },
        { "sqdiff_jobs_redispatched_total",
          "Jobs queued again for another worker because the one that had them went away, by kind.", METRICS_COUNTER },
        { "sqdiff_jobs_hedged_total", "Jobs sent to a second worker because the first was slow to reply, by kind.",
          METRICS_COUNTER },
        { "sqdiff_hedges_won_total", "Hedged jobs answered first by the second worker, by kind.", METRICS_COUNTER },
        { "sqdiff_replies_late_total",
          "Replies to hedged jobs that came after the other copy's and were dropped, by kind.", METRICS_COUNTER },
    };

    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
        metrics_family(m, families[i].name, families[i].type, families[i].help);
        for (int k = 0; k < _WIRE_KIND_MAX; k++) {
            metrics_sample(m, families[i].name, (const char *const[]){ "kind", wire_kind_to_string((WireKind)k), NULL },
                           fanout_figure(f, i, k));
        }
    }
}

static void write_process(const FrontendMetricsInput *in, MetricsText *m) {
    double cpu;
    uint64_t rss;

    if (read_self_stat(&cpu, &rss)) {
        metrics_family(m, "process_cpu_seconds_total", METRICS_COUNTER,
                       "Total user and system CPU time spent in seconds.");
        metrics_sample_double(m, "process_cpu_seconds_total", NULL, cpu);
        gauge(m, "process_resident_memory_bytes", "Resident memory size in bytes.", rss);
    }
    gauge(m, "process_open_fds", "Number of open file descriptors.", count_open_fds());
    gauge(m, "process_max_fds", "Maximum number of open file descriptors.", in->max_fds);
    metrics_family(m, "process_start_time_seconds", METRICS_GAUGE,
                   "Start time of the process since unix epoch in seconds.");
    metrics_sample_double(m, "process_start_time_seconds", NULL, in->start_time_seconds);
}

void frontend_metrics_write(const FrontendMetricsInput *in, MetricsText *m) {
    metrics_family(m, "sqdiff_build_info", METRICS_GAUGE, "The version of sqdiff-httpd and its mode; always 1.");
    metrics_sample(m, "sqdiff_build_info", (const char *const[]){ "version", SQDIFF_VERSION, "mode", in->mode, NULL },
                   1);
    write_http(in, m);
    write_requests(in, m);
    if (in->fanout) {
        write_fanout(in->fanout, m);
        peers_metrics_write(in->peers, in->fanout->reports_refused, m);
    }
    write_process(in, m);
}
