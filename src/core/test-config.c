/* SPDX-License-Identifier: MIT */
/* config.c: defaults, the file, --KEY=VALUE settings and their ranges, the runtime directory. */

#include <errno.h>
#include <stdint.h>

#include "config.h"
#include "test-helpers.h"
#include "time-util.h"

static char err[CONFIG_ERROR_MAX];

TEST(defaults) {
    Config c;

    config_init(&c);
    ASSERT_EQ(c.mode, SQ_MODE_WORKERS);
    ASSERT_EQ(c.request_timeout_usec, 2000000);
    ASSERT_EQ(c.reaper_interval_usec, 1000000);
    ASSERT_EQ(c.max_pending, 10000);
    ASSERT_EQ(c.max_numbers, 1000000);
    ASSERT_EQ(c.max_body_size, 64 << 20);
    ASSERT_FALSE(c.log_requests);
    config_done(&c);
}

/* The file of the finish tests below, too. */
#define TEXT                                                                                                           \
    "# comment\n[global]\nmax-numbers = 50\nlog-requests = yes\n"                                                      \
    "curve-secret-key = t.secret\n"                                                                                    \
    "[httpd]\nmode = local\nrequest-timeout = 1.5s\nreaper-interval = 250ms\n"                                         \
    "max-body-size = 16K\nidle-timeout=1min\n"

TEST(parse_text) {
    Config c;

    config_init(&c);
    ASSERT_EQ(config_parse_text(&c, TEXT, "t.conf", err, sizeof(err)), 0);
    ASSERT_EQ(c.max_numbers, 50);
    ASSERT_TRUE(c.log_requests);
    ASSERT_EQ(c.mode, SQ_MODE_LOCAL);
    ASSERT_EQ(c.request_timeout_usec, 1500000);
    ASSERT_EQ(c.reaper_interval_usec, 250000);
    ASSERT_EQ(c.max_body_size, 16384);
    ASSERT_EQ(c.idle_timeout_usec, 60000000);
    config_done(&c);
}

TEST(parse_text_errors_say_where) {
    Config c;

    config_init(&c);
    ASSERT_EQ(config_parse_text(&c, "[httpd]\nmode = local\nmax-pending = lots\n", "t.conf", err, sizeof(err)),
              -EINVAL);
    ASSERT_PTR_EQ(strstr(err, "t.conf:3: "), err);
    ASSERT_STRCONTAINS(err, "lots");
    ASSERT_EQ(config_parse_text(&c, "[httpd]\nbogus = 1\n", "t.conf", err, sizeof(err)), -EINVAL);
    ASSERT_STRCONTAINS(err, "t.conf:2: ");
    ASSERT_STRCONTAINS(err, "bogus");
    ASSERT_EQ(config_parse_text(&c, "[worker]\nmode = local\n", "t.conf", err, sizeof(err)), -EINVAL);
    ASSERT_STRCONTAINS(err, "[httpd]");
    ASSERT_EQ(config_parse_text(&c, "[httpd]\nthis line is not ini\n", "t.conf", err, sizeof(err)), -EINVAL);
    ASSERT_STRCONTAINS(err, "t.conf:2: ");
    ASSERT_EQ(config_parse_text(&c, "[httpd]\nmax-pending = 0\n", "t.conf", err, sizeof(err)), -EINVAL);
    config_done(&c);
}

TEST(set_checks_units_and_ranges) {
    Config c;

    config_init(&c);
    ASSERT_EQ(config_set(&c, "request-timeout", "2", err, sizeof(err)), 0);
    ASSERT_EQ(c.request_timeout_usec, 2000000);
    ASSERT_EQ(config_set(&c, "request-timeout", "500us", err, sizeof(err)), -ERANGE);
    ASSERT_EQ(config_set(&c, "request-timeout", "3h", err, sizeof(err)), -ERANGE);
    ASSERT_EQ(config_set(&c, "request-timeout", "3d", err, sizeof(err)), -EINVAL);
    ASSERT_EQ(config_set(&c, "request-timeout", "", err, sizeof(err)), -EINVAL);
    ASSERT_EQ(config_set(&c, "request-timeout", "s", err, sizeof(err)), -EINVAL);
    ASSERT_EQ(config_set(&c, "max-body-size", "1.5", err, sizeof(err)), -EINVAL);
    ASSERT_EQ(config_set(&c, "max-body-size", "4G", err, sizeof(err)), -ERANGE);
    ASSERT_EQ(config_set(&c, "max-pending", "99999999999999999999999", err, sizeof(err)), -ERANGE);
    ASSERT_EQ(config_set(&c, "max-pending", "1.0", err, sizeof(err)), -EINVAL);
    ASSERT_EQ(config_set(&c, "max-pending", "-1", err, sizeof(err)), -EINVAL);
    ASSERT_EQ(config_set(&c, "mode", "fast", err, sizeof(err)), -EINVAL);
    ASSERT_EQ(config_set(&c, "log-requests", "maybe", err, sizeof(err)), -EINVAL);
    ASSERT_EQ(config_set(&c, "nope", "1", err, sizeof(err)), -ENOENT);
    config_done(&c);
}

TEST(finish_takes_the_first_runtime_directory) {
    Config c;

    config_init(&c);
    ASSERT_EQ(config_parse_text(&c, TEXT, "t.conf", err, sizeof(err)), 0);
    ASSERT_EQ(config_finish(&c, "/run/x:/run/y", err, sizeof(err)), 0);
    ASSERT_STREQ(c.runtime_dir, "/run/x");
    ASSERT_STREQ(c.endpoint[ENDPOINT_JOBS_SUM], "ipc:///run/x/jobs-sum.sock");
    ASSERT_STREQ(c.endpoint[ENDPOINT_JOBS_SQUARE], "ipc:///run/x/jobs-square.sock");
    ASSERT_STREQ(c.curve_secret_key, "t.secret");
    config_done(&c);
}

TEST(durations_up_to_an_hour_and_ranges_named) {
    Config c;

    config_init(&c);
    ASSERT_EQ(config_set(&c, "request-timeout", "1h", err, sizeof(err)), 0);
    ASSERT_EQ(c.request_timeout_usec, 3600 * USEC_PER_SEC);
    ASSERT_EQ(config_set(&c, "request-timeout", "0.5h", err, sizeof(err)), 0);
    ASSERT_EQ(c.request_timeout_usec, 1800 * USEC_PER_SEC);
    ASSERT_EQ(config_set(&c, "request-timeout", "2h", err, sizeof(err)), -ERANGE);
    ASSERT_STREQ(err, "request-timeout: \"2h\" is out of range (1ms to 1h)");
    ASSERT_EQ(config_set(&c, "max-body-size", "9G", err, sizeof(err)), -ERANGE);
    ASSERT_STREQ(err, "max-body-size: \"9G\" is out of range (16 to 2G)");
    ASSERT_EQ(config_set(&c, "max-pending", "0", err, sizeof(err)), -ERANGE);
    ASSERT_STREQ(err, "max-pending: \"0\" is out of range (1 to 10000000)");
    config_done(&c);
}

TEST(max_connections_leaves_room_for_the_workers) {
    Config c;

    config_init(&c);
    ASSERT_EQ(config_max_connections(&c, 65536), 65536 - 64 - 512); /* workers mode: their connections too */
    c.mode = SQ_MODE_LOCAL;
    ASSERT_EQ(config_max_connections(&c, 65536), 65536 - 64);
    ASSERT_EQ(config_max_connections(&c, 100), 50); /* too few: half */
    c.max_connections = 7;
    ASSERT_EQ(config_max_connections(&c, 65536), 7);
    config_done(&c);
}

TEST(max_connections_fit_the_memory_limit) {
    Config c;

    config_init(&c);
    /* The shipped unit: MemoryHigh=256M, the default max-held-bytes (160M). */
    c.memory_limit = UINT64_C(256) << 20;
    ASSERT_EQ(c.max_held_bytes, UINT64_C(160) << 20);
    ASSERT_EQ(config_max_connections(&c, 65536), ((UINT64_C(256) - 160 - 48) << 20) / 4096);
    ASSERT_LE(config_memory_needed(&c, config_max_connections(&c, 65536)), c.memory_limit);
    /* HTTPS on: every connection counts CONFIG_TLS_CONN_BYTES, and the sum still fits. */
    ASSERT_EQ(config_set(&c, "tls-certificate", "tls.crt", err, sizeof(err)), 0);
    ASSERT_EQ(config_max_connections(&c, 65536), ((UINT64_C(256) - 160 - 48) << 20) / CONFIG_TLS_CONN_BYTES);
    ASSERT_LE(config_memory_needed(&c, config_max_connections(&c, 65536)), c.memory_limit);
    free(c.tls_certificate);
    c.tls_certificate = NULL;
    /* The descriptors bind first when there are few. */
    ASSERT_EQ(config_max_connections(&c, 4096), 4096 - 64 - 512);
    /* A limit with no room left still lets a few in, and says so through config_memory_needed(). */
    c.memory_limit = UINT64_C(128) << 20;
    ASSERT_EQ(config_max_connections(&c, 65536), 16);
    ASSERT_GT(config_memory_needed(&c, 16), c.memory_limit);
    /* A setting is taken as it is. */
    c.max_connections = 100000;
    ASSERT_EQ(config_max_connections(&c, 65536), 100000);
    config_done(&c);
}

TEST(finish_expands_rundir_in_configured_endpoints) {
    Config c;

    config_init(&c);
    ASSERT_EQ(config_parse_text(&c,
                                "[global]\njobs-sum-endpoint = ipc://RUNDIR/jobs-sum.sock tcp://*:5601\n"
                                "jobs-square-endpoint = tcp://RUNDIR:5602 ipc://RUNDIR/a.sock ipc://RUNDIR/b.sock\n",
                                "t.conf", err, sizeof(err)),
              0);
    ASSERT_EQ(config_finish(&c, "/run/sq", err, sizeof(err)), 0);
    ASSERT_STREQ(c.endpoint[ENDPOINT_JOBS_SUM], "ipc:///run/sq/jobs-sum.sock tcp://*:5601");
    ASSERT_STREQ(c.endpoint[ENDPOINT_JOBS_SQUARE], "tcp://RUNDIR:5602 ipc:///run/sq/a.sock ipc:///run/sq/b.sock");
    config_done(&c);
}

TEST(finish_default_runtime_directory) {
    Config c;

    config_init(&c);
    ASSERT_EQ(config_finish(&c, NULL, err, sizeof(err)), 0);
    ASSERT_STREQ(c.runtime_dir, "/run/sqdiff");
    config_done(&c);
}

TEST_MAIN()
