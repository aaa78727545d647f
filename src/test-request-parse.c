/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>

#include "request-parse.h"
#include "test-helpers.h"

static char err[REQUEST_ERROR_MAX];

static int query(const char *q, NumList *l) {
    char buf[4096];
    size_t n = strlen(q);
    memcpy(buf, q, n);
    err[0] = '\0';
    return request_parse_query(buf, n, l, err, sizeof(err));
}

static int body(const char *b, NumList *l) {
    err[0] = '\0';
    return request_parse_body(b, strlen(b), l, err, sizeof(err));
}

int main(void) {
    NumList l = NUMLIST_INIT(5);

    check(query("n=1&n=2&n=3", &l) == 0 && l.n == 3 && l.v[0] == 1 && l.v[2] == 3);
    l.n = 0;
    check(query("n=%2D5&x=y&n=+7+&&n=%2B8&nn=9&N=1", &l) == 0 && l.n == 3);
    check(l.v[0] == -5 && l.v[1] == 7 && l.v[2] == 8);
    l.n = 0;
    check(query("%6E=4&other=%zz", &l) == 0 && l.n == 1 && l.v[0] == 4); /* "%6E" is "n"; bad encoding elsewhere is ignored */
    l.n = 0;
    check(query("n=9223372036854775807&n=-9223372036854775808", &l) == 0 && l.v[0] == INT64_MAX && l.v[1] == INT64_MIN);
    l.n = 0;

    check(query("", &l) == -ENOENT);
    check(query("x=1", &l) == -ENOENT);
    check(query("n=", &l) == -EINVAL && strstr(err, "\"\""));
    check(query("n", &l) == -EINVAL);
    l.n = 0;
    check(query("n=abc", &l) == -EINVAL && strstr(err, "\"abc\""));
    l.n = 0;
    check(query("n=1.5", &l) == -EINVAL && strstr(err, "\"1.5\""));
    l.n = 0;
    check(query("n=0x10", &l) == -EINVAL);
    l.n = 0;
    check(query("n=99999999999999999999", &l) == -ERANGE && strstr(err, "99999999999999999999"));
    l.n = 0;
    check(query("n=9223372036854775808", &l) == -ERANGE);
    l.n = 0;
    check(query("n=%zz", &l) == -EINVAL && strstr(err, "percent"));
    l.n = 0;
    check(query("n=%4", &l) == -EINVAL);
    l.n = 0;
    check(query("n=%00", &l) == -EINVAL && strstr(err, "\\x00"));
    l.n = 0;
    check(query("n=1&n=2&n=3&n=4&n=5&n=6", &l) == -E2BIG);
    l.n = 0;
    check(query("n=%22%5C", &l) == -EINVAL && strstr(err, "\"\\x22\\x5c\"")); /* quotes and backslashes are escaped */
    l.n = 0;

    check(body("{\"numbers\":[1,2,3]}", &l) == 0 && l.n == 3);
    l.n = 0;
    check(body(" {\"other\":{\"numbers\":[9]},\"numbers\":[-9223372036854775808],\"x\":null} ", &l) == 0 && l.n == 1 &&
          l.v[0] == INT64_MIN);
    l.n = 0;
    check(body("{\"numbers\":[99999999999999999999]}", &l) == -ERANGE && strstr(err, "99999999999999999999"));
    l.n = 0;
    check(body("{\"numbers\":[1.5]}", &l) == -EINVAL && strstr(err, "1.5"));
    l.n = 0;
    check(body("{\"numbers\":[\"1\"]}", &l) == -EINVAL);
    l.n = 0;
    check(body("{\"numbers\":[1e3]}", &l) == -EINVAL);
    l.n = 0;
    check(body("{\"numbers\":[]}", &l) == -ENOENT);
    check(body("{}", &l) == -ENOENT);
    check(body("[1,2]", &l) == -EINVAL);
    check(body("{\"numbers\":1}", &l) == -EINVAL);
    check(body("{\"numbers\":[1],\"numbers\":[2]}", &l) == -EINVAL);
    l.n = 0;
    check(body("{\"numbers\":[1,,2]}", &l) == -EINVAL && strstr(err, "byte"));
    l.n = 0;
    check(body("{\"numbers\":[1]} trailing", &l) == -EINVAL);
    l.n = 0;
    check(body("", &l) == -EINVAL);
    check(body("{\"numbers\":[1,2,3,4,5,6]}", &l) == -E2BIG);
    numlist_done(&l);

    /* A summing list keeps nothing, adds up what it is given, and has the same cap. */
    {
        SqAcc acc = SQACC_INIT, want = SQACC_INIT;
        NumList s = NUMLIST_INIT_SUMMING(5, &acc);
        int64_t v[] = { 3, -4, INT64_MAX, INT64_MIN, 0 };

        check(body("{\"numbers\":[3, -4, 9223372036854775807, -9223372036854775808, 0]}", &s) == 0);
        for (size_t i = 0; i < 5; i++)
            sqacc_add(&want, v[i]);
        check(s.n == 5 && s.cap == 0 && s.v == NULL);
        check(acc.count == 5 && acc.sum == want.sum && acc.sumsq_lo == want.sumsq_lo && acc.sumsq_hi == want.sumsq_hi);
        check(query("n=1", &s) == -E2BIG);
        numlist_done(&s);
    }
    return 0;
}
