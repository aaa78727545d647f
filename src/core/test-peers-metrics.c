/* SPDX-License-Identifier: MIT */
/* The workers' counters: what the peers table takes of their reports, and how the page shows them. */
#include <errno.h>

#include "peers-metrics.h"
#include "test-helpers.h"

static Peer *open_(Peers *t, const char *id, int fd) {
    uint64_t replaced;
    Peer *p = NULL;

    ASSERT_EQ(peers_open(t, id, strlen(id), fd, &p, &replaced), 0);
    return p;
}

static int report(Peer *p, uint64_t done, uint64_t rejected, uint64_t unsent) {
    return peers_report(p, &(WireCounters){ .done = done, .rejected = rejected, .unsent = unsent });
}

TEST(counting_starts_at_the_first_report) {
    static Peers t;
    WireCounters c;
    Peer *p;

    peers_init(&t);
    p = open_(&t, "a", 10);
    ASSERT_FALSE(p->reported);
    c = peers_counted(p);
    ASSERT_TRUE(c.done == 0 && c.rejected == 0 && c.unsent == 0);

    /* A worker that ran before this connection: its counts so far are where counting starts. */
    ASSERT_EQ(report(p, 100, 2, 1), 0);
    c = peers_counted(p);
    ASSERT_TRUE(p->reported && c.done == 0 && c.rejected == 0 && c.unsent == 0);
    ASSERT_EQ(report(p, 150, 2, 3), 0);
    c = peers_counted(p);
    ASSERT_TRUE(c.done == 50 && c.rejected == 0 && c.unsent == 2);
    ASSERT_EQ(report(p, 150, 2, 3), 0); /* unchanged */

    /* Backwards, in any one of them (also below the first report): refused, nothing taken. */
    ASSERT_EQ(report(p, 149, 9, 9), -ERANGE);
    ASSERT_EQ(report(p, 999, 1, 9), -ERANGE);
    ASSERT_EQ(report(p, 999, 9, 0), -ERANGE);
    ASSERT_EQ(report(p, 0, 0, 0), -ERANGE);
    c = peers_counted(p);
    ASSERT_TRUE(c.done == 50 && c.rejected == 0 && c.unsent == 2);
    ASSERT_EQ(report(p, INT64_MAX, 2, 3), 0);
    ASSERT_EQ(peers_counted(p).done, INT64_MAX - 100);

    /* The same id anew, or another peer on its descriptor: a new registration counts afresh. */
    p = open_(&t, "a", 11);
    ASSERT_FALSE(p->reported);
    ASSERT_EQ(report(p, 5, 0, 0), 0);
    ASSERT_EQ(peers_counted(p).done, 0);
    p = open_(&t, "b", 11);
    ASSERT_FALSE(p->reported);
    ASSERT_EQ(t.n, 1);
}

/* The page's workers part for tables sum and square (refused: reports refused per kind). */
static char *page(const Peers *sum, const Peers *square, uint64_t refused_sum) {
    const Peers *tables[_WIRE_KIND_MAX] = { [WIRE_SUM] = sum, [WIRE_SQUARE] = square };
    const uint64_t refused[_WIRE_KIND_MAX] = { [WIRE_SUM] = refused_sum };
    MetricsText m = { 0 };

    peers_metrics_write(tables, refused, &m);
    ASSERT_EQ(metrics_done(&m), 0);
    return m.buf;
}

TEST(the_page_without_reports) {
    static Peers sum, square;
    char *text;

    peers_init(&sum);
    peers_init(&square);
    open_(&sum, "a", 10); /* connected, reports nothing (a worker from before counters) */
    text = page(&sum, &square, 0);
    ASSERT_STREQ(text, "# HELP sqdiff_workers_connected Worker connections registered, by kind.\n"
                       "# TYPE sqdiff_workers_connected gauge\n"
                       "sqdiff_workers_connected{kind=\"sum\"} 1\n"
                       "sqdiff_workers_connected{kind=\"square\"} 0\n"
                       "# HELP sqdiff_worker_reports_refused_total Worker grants whose counters were refused "
                       "(malformed, incomplete or going backwards), by kind.\n"
                       "# TYPE sqdiff_worker_reports_refused_total counter\n"
                       "sqdiff_worker_reports_refused_total{kind=\"sum\"} 0\n"
                       "sqdiff_worker_reports_refused_total{kind=\"square\"} 0\n");
    free(text);
}

TEST(the_page_with_reports) {
    static Peers sum, square;
    char *text;
    Peer *p;

    peers_init(&sum);
    peers_init(&square);
    open_(&sum, "quiet", 9);             /* serial 1, no reports: no figures */
    p = open_(&sum, "w\"}\n 1 # x", 10); /* serial 2: its routing id is nowhere on the page */
    ASSERT_EQ(report(p, 7, 1, 0), 0);
    ASSERT_EQ(report(p, 19, 2, 0), 0);
    p = open_(&square, "s", 11); /* serial 1 of square */
    ASSERT_EQ(report(p, 0, 0, 0), 0);
    ASSERT_EQ(report(p, 12, 0, 3), 0);
    text = page(&sum, &square, 4);
    ASSERT_STREQ(text, "# HELP sqdiff_workers_connected Worker connections registered, by kind.\n"
                       "# TYPE sqdiff_workers_connected gauge\n"
                       "sqdiff_workers_connected{kind=\"sum\"} 2\n"
                       "sqdiff_workers_connected{kind=\"square\"} 1\n"
                       "# HELP sqdiff_worker_jobs_done_total Jobs a worker answered on its connection, as it "
                       "reported them (about once a second).\n"
                       "# TYPE sqdiff_worker_jobs_done_total counter\n"
                       "sqdiff_worker_jobs_done_total{kind=\"sum\",worker=\"2\"} 12\n"
                       "sqdiff_worker_jobs_done_total{kind=\"square\",worker=\"1\"} 12\n"
                       "# HELP sqdiff_worker_job_messages_rejected_total Job messages a worker dropped as invalid "
                       "on its connection, as it reported them.\n"
                       "# TYPE sqdiff_worker_job_messages_rejected_total counter\n"
                       "sqdiff_worker_job_messages_rejected_total{kind=\"sum\",worker=\"2\"} 1\n"
                       "sqdiff_worker_job_messages_rejected_total{kind=\"square\",worker=\"1\"} 0\n"
                       "# HELP sqdiff_worker_replies_unsent_total Replies a worker could not queue on its "
                       "connection, as it reported them.\n"
                       "# TYPE sqdiff_worker_replies_unsent_total counter\n"
                       "sqdiff_worker_replies_unsent_total{kind=\"sum\",worker=\"2\"} 0\n"
                       "sqdiff_worker_replies_unsent_total{kind=\"square\",worker=\"1\"} 3\n"
                       "# HELP sqdiff_worker_reports_refused_total Worker grants whose counters were refused "
                       "(malformed, incomplete or going backwards), by kind.\n"
                       "# TYPE sqdiff_worker_reports_refused_total counter\n"
                       "sqdiff_worker_reports_refused_total{kind=\"sum\"} 4\n"
                       "sqdiff_worker_reports_refused_total{kind=\"square\"} 0\n");
    free(text);
}

TEST(the_page_names_the_workers_admitted_with_curve) {
    static Peers sum, square;
    char *text;
    Peer *p;

    peers_init(&sum);
    peers_init(&square);
    open_(&sum, "ipc", 9); /* no key: not named */
    p = open_(&sum, "tcp", 10);
    snprintf(p->key, sizeof(p->key), "%s", "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7");
    snprintf(p->address, sizeof(p->address), "%s", "198.18.0.11");
    text = page(&sum, &square, 0);
    ASSERT_NOT_NULL(
        strstr(text, "# TYPE sqdiff_worker_info gauge\n"
                     "sqdiff_worker_info{kind=\"sum\",worker=\"2\",key=\"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\","
                     "address=\"198.18.0.11\"} 1\n"));
    ASSERT_NULL(strstr(text, "worker=\"1\""));
    free(text);
}

TEST(the_page_at_the_most_workers) {
    static Peers sum, square;
    char *text, *line;
    size_t n = 0;

    peers_init(&sum);
    peers_init(&square);
    for (int i = 0; i < PEERS_MAX; i++) {
        char id[8];

        snprintf(id, sizeof(id), "%d", i);
        ASSERT_EQ(report(open_(&sum, id, 100 + i), UINT64_MAX, 0, 0), 0);
    }
    text = page(&sum, &square, UINT64_MAX);
    for (line = text; (line = strstr(line, "sqdiff_worker_jobs_done_total{")); line++)
        n++;
    ASSERT_EQ(n, PEERS_MAX);
    ASSERT_STRCONTAINS(text, "sqdiff_worker_jobs_done_total{kind=\"sum\",worker=\"128\"} 0\n");
    ASSERT_STRCONTAINS(text, "sqdiff_worker_reports_refused_total{kind=\"sum\"} 18446744073709551615\n");
    free(text);
}

TEST_MAIN()
