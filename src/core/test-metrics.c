/* SPDX-License-Identifier: MIT */
/* The Prometheus text writer against hand-written expected text. */

#include "metrics.h"

#include "test-helpers.h"

TEST(counter_with_labels) {
    MetricsText m = { 0 };

    metrics_family(&m, "sqdiff_http_requests_total", METRICS_COUNTER, "HTTP requests answered, by status code.");
    metrics_sample(&m, "sqdiff_http_requests_total",
                   (const char *const[]){ "code", "200", "protocol", "http/1.1", NULL }, 42);
    metrics_sample(&m, "sqdiff_http_requests_total", (const char *const[]){ "code", "a\"b\\c\nd", NULL }, 0);
    ASSERT_EQ(metrics_done(&m), 0);
    ASSERT_STREQ(m.buf, "# HELP sqdiff_http_requests_total HTTP requests answered, by status code.\n"
                        "# TYPE sqdiff_http_requests_total counter\n"
                        "sqdiff_http_requests_total{code=\"200\",protocol=\"http/1.1\"} 42\n"
                        "sqdiff_http_requests_total{code=\"a\\\"b\\\\c\\nd\"} 0\n");
    free(m.buf);
}

TEST(gauge_without_labels) {
    MetricsText m = { 0 };

    metrics_family(&m, "process_start_time_seconds", METRICS_GAUGE, "Start time.");
    metrics_sample_double(&m, "process_start_time_seconds", NULL, 1.5);
    metrics_sample(&m, "x", (const char *const[]){ NULL }, 18446744073709551615u);
    ASSERT_EQ(metrics_done(&m), 0);
    ASSERT_STREQ(m.buf, "# HELP process_start_time_seconds Start time.\n"
                        "# TYPE process_start_time_seconds gauge\n"
                        "process_start_time_seconds 1.5\n"
                        "x 18446744073709551615\n");
    free(m.buf);
}

TEST(histogram_is_cumulative_in_seconds) {
    static const uint64_t bounds[] = { 50, 1000, 2000000 };
    static const uint64_t counts[] = { 3, 0, 2, 1 };
    MetricsText m = { 0 };

    metrics_histogram_usec(&m, "d_seconds", bounds, counts, 3, 2500050);
    ASSERT_EQ(metrics_done(&m), 0);
    ASSERT_STREQ(m.buf, "d_seconds_bucket{le=\"5e-05\"} 3\n"
                        "d_seconds_bucket{le=\"0.001\"} 3\n"
                        "d_seconds_bucket{le=\"2\"} 5\n"
                        "d_seconds_bucket{le=\"+Inf\"} 6\n"
                        "d_seconds_sum 2.5000499999999999\n"
                        "d_seconds_count 6\n");
    free(m.buf);
}

TEST(empty_text_and_growth) {
    MetricsText m = { 0 };

    ASSERT_EQ(metrics_done(&m), 0);
    ASSERT_STREQ(m.buf, "");
    free(m.buf);

    m = (MetricsText){ 0 };
    for (int i = 0; i < 10000; i++)
        metrics_sample(&m, "a_long_enough_metric_name_total", NULL, (uint64_t)i);
    ASSERT_EQ(metrics_done(&m), 0);
    ASSERT_GT(m.len, 10000 * 30);
    ASSERT_STREQ(m.buf + m.len - 37, "a_long_enough_metric_name_total 9999\n");
    free(m.buf);
}

TEST_MAIN()
