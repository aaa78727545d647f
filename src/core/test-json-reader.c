/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>

#include "json-reader.h"
#include "test-helpers.h"

/* Reads the whole text; returns 0 if it is valid JSON, -EINVAL otherwise. */
static int scan(const char *s) {
    JsonReader r;
    JsonToken t;

    json_reader_init(&r, s, strlen(s));
    for (;;) {
        if (json_reader_next(&r, &t) < 0)
            return -EINVAL;
        if (t.type == JSON_END)
            return 0;
    }
}

/* Reads the whole text taking integers with json_reader_take_int64() where it can; 0 if valid. */
static int scan_taking(const char *s, int64_t *taken, size_t max, size_t *n_taken) {
    JsonReader r;
    JsonToken t;
    int64_t x;

    *n_taken = 0;
    json_reader_init(&r, s, strlen(s));
    for (;;) {
        if (json_reader_take_int64(&r, &x)) {
            if (*n_taken < max)
                taken[*n_taken] = x;
            ++*n_taken;
            continue;
        }
        if (json_reader_next(&r, &t) < 0)
            return -EINVAL;
        if (t.type == JSON_END)
            return 0;
    }
}

TEST(json_reader) {
    const char *valid[] = {
        "{}",
        "[]",
        "0",
        "-0",
        "1.5",
        "-1.5e+10",
        "1E-2",
        "\"\"",
        "true",
        "false",
        "null",
        " { \"a\" : [ 1 , 2 , { \"b\" : null } ] , \"c\" : \"\\u00e9\\n\" } ",
        "{\"numbers\":[1,2,3]}",
        "[[[[[]]]]]",
        "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"",
        "123456789012345678901234567890",
        "{\"a\":{},\"b\":[]}",
        "\"\\ud83d\\ude00\"",
    };
    const char *invalid[] = {
        "",
        " ",
        "{",
        "}",
        "[",
        "]",
        "[1,]",
        "[1 2]",
        "[1,,2]",
        "{,}",
        "{\"a\":1,}",
        "{\"a\" 1}",
        "{\"a\":1:2}",
        "[\"a\":1]",
        "{1:2}",
        "{\"a\"}",
        "{\"numbers\":[1,2]}{}",
        "1 2",
        "01",
        "-",
        "1.",
        ".5",
        "1e",
        "+1",
        "0x10",
        "tru",
        "nul",
        "True",
        "\"abc",
        "\"\\q\"",
        "\"\\u12\"",
        "\"a\nb\"",
        "\"\xff\"",
        "\"\xc0\xaf\"",
        "\"\xed\xa0\x80\"",
        "[-]",
        "NaN",
        "Infinity",
        "1x",
        "{\"a\":1}x",
        "[1]]",
    };

    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        if (scan(valid[i]) != 0)
            fprintf(stderr, "rejected valid: %s\n", valid[i]);
        ASSERT_EQ(scan(valid[i]), 0);
    }
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        if (scan(invalid[i]) == 0)
            fprintf(stderr, "accepted invalid: %s\n", invalid[i]);
        ASSERT_NE(scan(invalid[i]), 0);
    }
    ASSERT_EQ(scan("1\0"), scan("1")); /* strlen stops at NUL: same as "1" */
    {
        JsonReader r;
        JsonToken t;
        const char nul[] = "[1\0]";
        json_reader_init(&r, nul, 4);
        ASSERT_EQ(json_reader_next(&r, &t), 0);
        ASSERT_EQ(t.type, JSON_BEGIN_ARRAY);
        ASSERT_EQ(json_reader_next(&r, &t), -EINVAL);
        ASSERT_EQ(r.error_offset, 2);
    }

    /* Nesting is bounded. */
    {
        char deep[2 * JSON_MAX_DEPTH + 3];
        size_t n = JSON_MAX_DEPTH + 1;
        memset(deep, '[', n);
        memset(deep + n, ']', n);
        deep[2 * n] = '\0';
        ASSERT_EQ(scan(deep), -EINVAL);
        deep[JSON_MAX_DEPTH] = ']';
        deep[JSON_MAX_DEPTH + 1] = '\0';
        memset(deep, '[', JSON_MAX_DEPTH);
        memset(deep + JSON_MAX_DEPTH, ']', JSON_MAX_DEPTH);
        deep[2 * JSON_MAX_DEPTH] = '\0';
        ASSERT_EQ(scan(deep), 0);
    }

    /* Tokens carry raw text; keys compare with escapes decoded. */
    {
        const char *s = "{\"n\\u0075mbers\":[12345678901234567890123,-1.5e3],\"x\":{\"y\":[1]},\"z\":\"\\\"\"}";
        JsonReader r;
        JsonToken t;

        json_reader_init(&r, s, strlen(s));
        ASSERT_EQ(json_reader_next(&r, &t), 0);
        ASSERT_EQ(t.type, JSON_BEGIN_OBJECT);
        ASSERT_EQ(json_reader_next(&r, &t), 0);
        ASSERT_EQ(t.type, JSON_KEY);
        ASSERT_TRUE(t.escaped);
        ASSERT_TRUE(json_token_equals(&t, "numbers"));
        ASSERT_FALSE(json_token_equals(&t, "number"));
        ASSERT_FALSE(json_token_equals(&t, "numbersx"));
        ASSERT_EQ(json_reader_next(&r, &t), 0);
        ASSERT_EQ(t.type, JSON_BEGIN_ARRAY);
        ASSERT_EQ(json_reader_next(&r, &t), 0);
        ASSERT_EQ(t.type, JSON_NUMBER);
        ASSERT_TRUE(t.is_integer);
        ASSERT_MEMEQ(t.text, t.len, "12345678901234567890123", 23);
        ASSERT_EQ(json_reader_next(&r, &t), 0);
        ASSERT_EQ(t.type, JSON_NUMBER);
        ASSERT_FALSE(t.is_integer);
        ASSERT_EQ(json_reader_next(&r, &t), 0);
        ASSERT_EQ(t.type, JSON_END_ARRAY);
        ASSERT_EQ(json_reader_next(&r, &t), 0);
        ASSERT_EQ(t.type, JSON_KEY);
        ASSERT_TRUE(json_token_equals(&t, "x"));
        ASSERT_EQ(json_reader_next(&r, &t), 0);
        ASSERT_EQ(t.type, JSON_BEGIN_OBJECT);
        ASSERT_EQ(json_reader_skip(&r, &t), 0);
        ASSERT_EQ(json_reader_next(&r, &t), 0);
        ASSERT_EQ(t.type, JSON_KEY);
        ASSERT_TRUE(json_token_equals(&t, "z"));
        ASSERT_EQ(json_reader_next(&r, &t), 0);
        ASSERT_EQ(t.type, JSON_STRING);
        ASSERT_TRUE(json_token_equals(&t, "\""));
        ASSERT_EQ(json_reader_next(&r, &t), 0);
        ASSERT_EQ(t.type, JSON_END_OBJECT);
        ASSERT_EQ(json_reader_next(&r, &t), 0);
        ASSERT_EQ(t.type, JSON_END);
        ASSERT_EQ(json_reader_next(&r, &t), 0);
        ASSERT_EQ(t.type, JSON_END);
    }
    {
        /* The integer fast path takes array elements of at most 19 digits within int64, and leaves the rest. */
        int64_t v[8];
        size_t n;
        ASSERT_EQ(scan_taking(" [ 1 ,-0, 9223372036854775807,-9223372036854775808 ,42]", v, 8, &n), 0);
        ASSERT_EQ(n, 5);
        ASSERT_EQ(v[0], 1);
        ASSERT_EQ(v[1], 0);
        ASSERT_EQ(v[2], INT64_MAX);
        ASSERT_EQ(v[3], INT64_MIN);
        ASSERT_EQ(v[4], 42);
        ASSERT_EQ(scan_taking("[9223372036854775808, 12345678901234567890, 1.5, 1e3, \"7\", 3]", v, 8, &n), 0);
        ASSERT_EQ(n, 1);
        ASSERT_EQ(v[0], 3);
        ASSERT_EQ(scan_taking("{\"a\":1,\"b\":[2,[3]]}", v, 8, &n), 0);
        ASSERT_EQ(n, 2);
        ASSERT_EQ(v[0], 2);
        ASSERT_EQ(v[1], 3);
        ASSERT_EQ(scan_taking("[01]", v, 8, &n), -EINVAL);
        ASSERT_EQ(n, 0);
        ASSERT_EQ(scan_taking("[1,02]", v, 8, &n), -EINVAL);
        ASSERT_EQ(n, 1);
        ASSERT_EQ(scan_taking("[1 2]", v, 8, &n), -EINVAL);
        ASSERT_EQ(n, 1);
        ASSERT_EQ(scan_taking("[1,]", v, 8, &n), -EINVAL);
        ASSERT_EQ(n, 1);
        ASSERT_EQ(scan_taking("[-]", v, 8, &n), -EINVAL);
        ASSERT_EQ(n, 0);
        ASSERT_EQ(scan_taking("[1x]", v, 8, &n), -EINVAL);
        ASSERT_EQ(n, 0);
        ASSERT_EQ(scan_taking("[1", v, 8, &n), -EINVAL);
        ASSERT_EQ(n, 1);
        ASSERT_EQ(scan_taking("5", v, 8, &n), 0);
        ASSERT_EQ(n, 0); /* not an array element */
    }
    {
        JsonToken t = { .type = JSON_STRING, .text = "\\u00e9", .len = 6, .escaped = true };
        ASSERT_TRUE(json_token_equals(&t, "\xc3\xa9"));
        JsonToken t2 = { .type = JSON_STRING, .text = "\\ud83d\\ude00", .len = 12, .escaped = true };
        ASSERT_TRUE(json_token_equals(&t2, "\xf0\x9f\x98\x80"));
    }
}

TEST_MAIN()
