/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>

#include "config.h"
#include "test-helpers.h"

static char err[CONFIG_ERROR_MAX];

int main(void) {
    Config c;

    config_init(&c);
    check(c.mode == SQ_MODE_WORKERS);
    check(c.request_timeout_usec == 2000000 && c.reaper_interval_usec == 1000000);
    check(c.max_pending == 10000 && c.max_numbers == 1000000 && c.max_body_size == 64 << 20);
    check(!c.log_requests);

    check(config_parse_text(&c,
                            "# comment\n[global]\nmax-numbers = 50\nlog-requests = yes\n"
                            "curve-secret-key = t.secret\n"
                            "[httpd]\nmode = local\nrequest-timeout = 1.5s\nreaper-interval = 250ms\n"
                            "max-body-size = 16K\nidle-timeout=1min\n",
                            "t.conf", err, sizeof(err)) == 0);
    check(c.max_numbers == 50 && c.log_requests && c.mode == SQ_MODE_LOCAL);
    check(c.request_timeout_usec == 1500000 && c.reaper_interval_usec == 250000);
    check(c.max_body_size == 16384 && c.idle_timeout_usec == 60000000);

    check(config_parse_text(&c, "[httpd]\nmode = local\nmax-pending = lots\n", "t.conf", err, sizeof(err)) == -EINVAL);
    check(strstr(err, "t.conf:3: ") == err && strstr(err, "lots"));
    check(config_parse_text(&c, "[httpd]\nbogus = 1\n", "t.conf", err, sizeof(err)) == -EINVAL);
    check(strstr(err, "t.conf:2: ") && strstr(err, "bogus"));
    check(config_parse_text(&c, "[worker]\nmode = local\n", "t.conf", err, sizeof(err)) == -EINVAL);
    check(strstr(err, "[httpd]"));
    check(config_parse_text(&c, "[httpd]\nthis line is not ini\n", "t.conf", err, sizeof(err)) == -EINVAL);
    check(strstr(err, "t.conf:2: "));
    check(config_parse_text(&c, "[httpd]\nmax-pending = 0\n", "t.conf", err, sizeof(err)) == -EINVAL);

    check(config_set(&c, "request-timeout", "2", err, sizeof(err)) == 0 && c.request_timeout_usec == 2000000);
    check(config_set(&c, "request-timeout", "500us", err, sizeof(err)) == -ERANGE);
    check(config_set(&c, "request-timeout", "3h", err, sizeof(err)) == -EINVAL);
    check(config_set(&c, "request-timeout", "", err, sizeof(err)) == -EINVAL);
    check(config_set(&c, "request-timeout", "s", err, sizeof(err)) == -EINVAL);
    check(config_set(&c, "max-body-size", "1.5", err, sizeof(err)) == -EINVAL);
    check(config_set(&c, "max-body-size", "4G", err, sizeof(err)) == -ERANGE);
    check(config_set(&c, "max-pending", "99999999999999999999999", err, sizeof(err)) == -ERANGE);
    check(config_set(&c, "max-pending", "1.0", err, sizeof(err)) == -EINVAL);
    check(config_set(&c, "max-pending", "-1", err, sizeof(err)) == -EINVAL);
    check(config_set(&c, "mode", "fast", err, sizeof(err)) == -EINVAL);
    check(config_set(&c, "log-requests", "maybe", err, sizeof(err)) == -EINVAL);
    check(config_set(&c, "nope", "1", err, sizeof(err)) == -ENOENT);

    check(config_finish(&c, "/run/x:/run/y", err, sizeof(err)) == 0);
    check_streq(c.runtime_dir, "/run/x");
    check_streq(c.endpoint[ENDPOINT_JOBS_SUM], "ipc:///run/x/jobs-sum.sock");
    check_streq(c.endpoint[ENDPOINT_JOBS_SQUARE], "ipc:///run/x/jobs-square.sock");
    check_streq(c.curve_secret_key, "t.secret");
    config_done(&c);

    config_init(&c);
    check(config_finish(&c, NULL, err, sizeof(err)) == 0);
    check_streq(c.runtime_dir, "/run/sqdiff");
    config_done(&c);
    return 0;
}
