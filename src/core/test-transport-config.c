/* SPDX-License-Identifier: MIT */
/* Endpoint lists and the rule that network endpoints need CURVE keys (config_check_transport). */
#include <errno.h>

#include "config.h"
#include "test-helpers.h"

static char err[CONFIG_ERROR_MAX];

static int check_with(const char *text, bool worker) {
    Config c;
    int r;

    config_init(&c);
    ASSERT_TRUE(config_parse_text(&c, text, "t.conf", err, sizeof(err)) == 0);
    ASSERT_TRUE(config_finish(&c, "/run/t", err, sizeof(err)) == 0);
    r = config_check_transport(&c, worker, err, sizeof(err));
    config_done(&c);
    return r;
}

int main(void) {
    char buf[CONFIG_ENDPOINT_MAX];
    const char *cursor = "  tcp://a:1 \tipc:///x  ";
    Config c;

    ASSERT_TRUE(config_endpoint_next(&cursor, buf));
    ASSERT_STREQ(buf, "tcp://a:1");
    ASSERT_TRUE(config_endpoint_next(&cursor, buf));
    ASSERT_STREQ(buf, "ipc:///x");
    ASSERT_TRUE(!config_endpoint_next(&cursor, buf));

    /* The default: ipc only, no keys needed. */
    ASSERT_TRUE(check_with("", false) == 0 && check_with("", true) == 0);
    /* tcp:// without keys is refused, naming the endpoint and the way out. */
    ASSERT_TRUE(check_with("[global]\njobs-sum-endpoint = ipc:///a tcp://198.18.0.1:5555\n", false) == -EPERM);
    ASSERT_TRUE(strstr(err, "jobs-sum-endpoint") && strstr(err, "tcp://198.18.0.1:5555") &&
                strstr(err, "allow-insecure-tcp"));
    ASSERT_TRUE(check_with("[global]\njobs-square-endpoint = tcp://198.18.0.1:5556\n", true) == -EPERM);
    /* ... unless asked for, */
    ASSERT_TRUE(check_with("[global]\njobs-sum-endpoint = tcp://h:1\nallow-insecure-tcp = yes\n", true) == 0);
    /* or with keys: a front end needs its secret key, a worker the server's public key too. */
    ASSERT_TRUE(check_with("[global]\njobs-sum-endpoint = tcp://h:1\ncurve-secret-key = fe.secret\n", false) == 0);
    ASSERT_TRUE(check_with("[global]\njobs-sum-endpoint = tcp://h:1\ncurve-secret-key = w.secret\n", true) == -EPERM);
    ASSERT_TRUE(strstr(err, "curve-server-public-key"));
    ASSERT_TRUE(check_with("[global]\njobs-sum-endpoint = tcp://h:1\ncurve-secret-key = w.secret\n"
                           "curve-server-public-key = /etc/sqdiff/fe.pub\n",
                           true) == 0);
    /* Too many endpoints in a list. */
    ASSERT_TRUE(
        check_with("[global]\njobs-sum-endpoint = ipc:///1 ipc:///2 ipc:///3 ipc:///4 ipc:///5 ipc:///6 ipc:///7 "
                   "ipc:///8 ipc:///9 ipc:///10 ipc:///11 ipc:///12 ipc:///13 ipc:///14 ipc:///15 ipc:///16 "
                   "ipc:///17\n",
                   false) == -EINVAL);
    /* The results endpoint is gone, with a reason. */
    config_init(&c);
    ASSERT_TRUE(config_set(&c, "results-endpoint", "ipc:///x", err, sizeof(err)) == -ENOENT);
    ASSERT_TRUE(strstr(err, "jobs endpoints"));
    config_done(&c);
    return 0;
}
