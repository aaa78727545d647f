/* SPDX-License-Identifier: MIT */
/*
 * The families of per-worker counters are written only when some worker has reported, as
 * Prometheus's client libraries leave out a family without samples.
 */

#include "peers-metrics.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

static const struct {
    const char *name, *help;
} worker_families[] = {
    { "sqdiff_worker_jobs_done_total",
      "Jobs a worker answered on its connection, as it reported them (about once a second)." },
    { "sqdiff_worker_job_messages_rejected_total",
      "Job messages a worker dropped as invalid on its connection, as it reported them." },
    { "sqdiff_worker_replies_unsent_total",
      "Replies a worker could not queue on its connection, as it reported them." },
};

static uint64_t figure(const WireCounters *c, size_t i) {
    return i == 0 ? c->done : i == 1 ? c->rejected : c->unsent;
}

/* Who the workers admitted with CURVE are: the key they were admitted with, their address. */
static void write_info(const Peers *const peers[_WIRE_KIND_MAX], MetricsText *m) {
    bool family = false;

    for (int k = 0; k < _WIRE_KIND_MAX; k++)
        for (size_t i = 0; i < peers[k]->n; i++) {
            const Peer *p = &peers[k]->peer[i];
            char worker[24];

            if (!p->key[0])
                continue;
            if (!family)
                metrics_family(m, "sqdiff_worker_info", METRICS_GAUGE,
                               "Workers admitted with CURVE: the public key they were admitted with, and their "
                               "address, by the worker label of the other families.");
            family = true;
            snprintf(worker, sizeof(worker), "%" PRIu64, p->serial);
            metrics_sample(m, "sqdiff_worker_info",
                           (const char *const[]){ "kind", wire_kind_to_string((WireKind)k), "worker", worker, "key",
                                                  p->key, "address", p->address, NULL },
                           1);
        }
}

void peers_metrics_write(const Peers *const peers[_WIRE_KIND_MAX], const uint64_t reports_refused[_WIRE_KIND_MAX],
                         MetricsText *m) {
    bool any = false;

    metrics_family(m, "sqdiff_workers_connected", METRICS_GAUGE, "Worker connections registered, by kind.");
    for (int k = 0; k < _WIRE_KIND_MAX; k++) {
        metrics_sample(m, "sqdiff_workers_connected",
                       (const char *const[]){ "kind", wire_kind_to_string((WireKind)k), NULL }, peers[k]->n);
        for (size_t i = 0; i < peers[k]->n; i++)
            any = any || peers[k]->peer[i].reported;
    }
    write_info(peers, m);
    for (size_t f = 0; any && f < sizeof(worker_families) / sizeof(worker_families[0]); f++) {
        metrics_family(m, worker_families[f].name, METRICS_COUNTER, worker_families[f].help);
        for (int k = 0; k < _WIRE_KIND_MAX; k++)
            for (size_t i = 0; i < peers[k]->n; i++) {
                const Peer *p = &peers[k]->peer[i];
                WireCounters c = peers_counted(p);
                char worker[24];

                if (!p->reported)
                    continue;
                snprintf(worker, sizeof(worker), "%" PRIu64, p->serial);
                metrics_sample(
                    m, worker_families[f].name,
                    (const char *const[]){ "kind", wire_kind_to_string((WireKind)k), "worker", worker, NULL },
                    figure(&c, f));
            }
    }
    metrics_family(m, "sqdiff_worker_reports_refused_total", METRICS_COUNTER,
                   "Worker grants whose counters were refused (malformed, incomplete or going backwards), by kind.");
    for (int k = 0; k < _WIRE_KIND_MAX; k++)
        metrics_sample(m, "sqdiff_worker_reports_refused_total",
                       (const char *const[]){ "kind", wire_kind_to_string((WireKind)k), NULL }, reports_refused[k]);
}
