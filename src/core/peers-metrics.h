/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The workers on the front end's /metrics page: how many are connected, by kind, and what
 * each reported in its grants (docs/protocol.md, "Counters"): jobs done, job messages
 * rejected, replies unsent, counted from its first report on the connection. A worker is
 * labelled by its kind and by the serial the front end gave its connection (peers.h), never
 * by anything it sent: at most PEERS_MAX of them per kind, only those connected now. Workers
 * that report nothing are counted as connected and have no figures. A worker admitted with
 * CURVE also has a sqdiff_worker_info sample naming its key and address (set by ZeroMQ and
 * the front end's ZAP handler at the handshake, not sent as text by the worker). Pure.
 */

#include <stdint.h>

#include "metrics.h"
#include "peers.h"
#include "wire.h"

/* Writes the workers' families into m; reports_refused counts the grants whose counters were refused. */
void peers_metrics_write(const Peers *const peers[_WIRE_KIND_MAX], const uint64_t reports_refused[_WIRE_KIND_MAX],
                         MetricsText *m);
