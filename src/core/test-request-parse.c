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

TEST(request_parse) {
    NumList l = NUMLIST_INIT(5);

    ASSERT_EQ(query("n=1&n=2&n=3", &l), 0);
    ASSERT_EQ(l.n, 3);
    ASSERT_EQ(l.v[0], 1);
    ASSERT_EQ(l.v[2], 3);
    l.n = 0;
    ASSERT_EQ(query("n=%2D5&x=y&n=+7+&&n=%2B8&nn=9&N=1", &l), 0);
    ASSERT_EQ(l.n, 3);
    ASSERT_EQ(l.v[0], -5);
    ASSERT_EQ(l.v[1], 7);
    ASSERT_EQ(l.v[2], 8);
    l.n = 0;
    ASSERT_EQ(query("%6E=4&other=%zz", &l), 0);
    ASSERT_EQ(l.n, 1);
    ASSERT_EQ(l.v[0], 4); /* "%6E" is "n"; bad encoding elsewhere is ignored */
    l.n = 0;
    ASSERT_EQ(query("n=9223372036854775807&n=-9223372036854775808", &l), 0);
    ASSERT_EQ(l.v[0], INT64_MAX);
    ASSERT_EQ(l.v[1], INT64_MIN);
    l.n = 0;

    ASSERT_EQ(query("", &l), -ENOENT);
    ASSERT_EQ(query("x=1", &l), -ENOENT);
    ASSERT_EQ(query("n=", &l), -EINVAL);
    ASSERT_STRCONTAINS(err, "\"\"");
    ASSERT_EQ(query("n", &l), -EINVAL);
    l.n = 0;
    ASSERT_EQ(query("n=abc", &l), -EINVAL);
    ASSERT_STRCONTAINS(err, "\"abc\"");
    l.n = 0;
    ASSERT_EQ(query("n=1.5", &l), -EINVAL);
    ASSERT_STRCONTAINS(err, "\"1.5\"");
    l.n = 0;
    ASSERT_EQ(query("n=0x10", &l), -EINVAL);
    l.n = 0;
    ASSERT_EQ(query("n=99999999999999999999", &l), -ERANGE);
    ASSERT_STRCONTAINS(err, "99999999999999999999");
    l.n = 0;
    ASSERT_EQ(query("n=9223372036854775808", &l), -ERANGE);
    l.n = 0;
    ASSERT_EQ(query("n=%zz", &l), -EINVAL);
    ASSERT_STRCONTAINS(err, "percent");
    l.n = 0;
    ASSERT_EQ(query("n=%4", &l), -EINVAL);
    l.n = 0;
    ASSERT_EQ(query("n=%00", &l), -EINVAL);
    ASSERT_STRCONTAINS(err, "\\x00");
    l.n = 0;
    ASSERT_EQ(query("n=1&n=2&n=3&n=4&n=5&n=6", &l), -E2BIG);
    l.n = 0;
    ASSERT_EQ(query("n=%22%5C", &l), -EINVAL);
    ASSERT_STRCONTAINS(err, "\"\\x22\\x5c\""); /* quotes and backslashes are escaped */
    l.n = 0;

    ASSERT_EQ(body("{\"numbers\":[1,2,3]}", &l), 0);
    ASSERT_EQ(l.n, 3);
    l.n = 0;
    ASSERT_EQ(body(" {\"other\":{\"numbers\":[9]},\"numbers\":[-9223372036854775808],\"x\":null} ", &l), 0);
    ASSERT_EQ(l.n, 1);
    ASSERT_EQ(l.v[0], INT64_MIN);
    l.n = 0;
    ASSERT_EQ(body("{\"numbers\":[99999999999999999999]}", &l), -ERANGE);
    ASSERT_STRCONTAINS(err, "99999999999999999999");
    l.n = 0;
    ASSERT_EQ(body("{\"numbers\":[1.5]}", &l), -EINVAL);
    ASSERT_STRCONTAINS(err, "1.5");
    l.n = 0;
    ASSERT_EQ(body("{\"numbers\":[\"1\"]}", &l), -EINVAL);
    l.n = 0;
    ASSERT_EQ(body("{\"numbers\":[1e3]}", &l), -EINVAL);
    l.n = 0;
    ASSERT_EQ(body("{\"numbers\":[]}", &l), -ENOENT);
    ASSERT_EQ(body("{}", &l), -ENOENT);
    ASSERT_EQ(body("[1,2]", &l), -EINVAL);
    ASSERT_EQ(body("{\"numbers\":1}", &l), -EINVAL);
    ASSERT_EQ(body("{\"numbers\":[1],\"numbers\":[2]}", &l), -EINVAL);
    l.n = 0;
    ASSERT_EQ(body("{\"numbers\":[1,,2]}", &l), -EINVAL);
    ASSERT_STRCONTAINS(err, "byte");
    l.n = 0;
    ASSERT_EQ(body("{\"numbers\":[1]} trailing", &l), -EINVAL);
    l.n = 0;
    ASSERT_EQ(body("", &l), -EINVAL);
    ASSERT_EQ(body("{\"numbers\":[1,2,3,4,5,6]}", &l), -E2BIG);
    numlist_done(&l);

    /* A summing list keeps nothing, adds up what it is given, and has the same cap. */
    {
        SqAcc acc = SQACC_INIT, want = SQACC_INIT;
        NumList s = NUMLIST_INIT_SUMMING(5, &acc);
        int64_t v[] = { 3, -4, INT64_MAX, INT64_MIN, 0 };

        ASSERT_EQ(body("{\"numbers\":[3, -4, 9223372036854775807, -9223372036854775808, 0]}", &s), 0);
        for (size_t i = 0; i < 5; i++)
            sqacc_add(&want, v[i]);
        ASSERT_EQ(s.n, 5);
        ASSERT_EQ(s.cap, 0);
        ASSERT_NULL(s.v);
        ASSERT_EQ(acc.count, 5);
        ASSERT_EQ(acc.sum, want.sum);
        ASSERT_EQ(acc.sumsq_lo, want.sumsq_lo);
        ASSERT_EQ(acc.sumsq_hi, want.sumsq_hi);
        ASSERT_EQ(query("n=1", &s), -E2BIG);
        numlist_done(&s);
    }
}

static RequestBody kind(const char *ct, const char *b) {
    return request_body_kind(ct, ct ? strlen(ct) : 0, b, strlen(b));
}

TEST(body_kind) {
    /* curl -d sends everything as a form: a JSON object is JSON whatever the type says */
    ASSERT_EQ(kind("application/x-www-form-urlencoded", "{\"numbers\":[1]}"), REQUEST_BODY_JSON);
    ASSERT_EQ(kind("application/x-www-form-urlencoded", " \n{}"), REQUEST_BODY_JSON);
    ASSERT_EQ(kind("text/plain", "{\"numbers\":[1]}"), REQUEST_BODY_JSON);
    ASSERT_EQ(kind("application/x-www-form-urlencoded", "n=1&n=2"), REQUEST_BODY_FORM);
    ASSERT_EQ(kind("Application/X-WWW-Form-URLEncoded ; charset=utf-8", "n=1"), REQUEST_BODY_FORM);
    ASSERT_EQ(kind("application/x-www-form-urlencodedx", "n=1"), _REQUEST_BODY_INVALID);
    /* no type, or JSON's: read as JSON, whose errors say what is wrong */
    ASSERT_EQ(kind(NULL, "[1,2]"), REQUEST_BODY_JSON);
    ASSERT_EQ(kind("application/json", "n=1"), REQUEST_BODY_JSON);
    ASSERT_EQ(kind("application/json; charset=utf-8", ""), REQUEST_BODY_JSON);
    ASSERT_EQ(kind("text/plain", "n=1"), _REQUEST_BODY_INVALID);
    ASSERT_EQ(kind("multipart/form-data; boundary=x", "--x"), _REQUEST_BODY_INVALID);
}

TEST_MAIN()
