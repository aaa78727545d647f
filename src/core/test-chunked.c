/* SPDX-License-Identifier: MIT */
/* chunked.c: strict chunked decoding, whole or a byte at a time, and what it refuses. */

#include <string.h>

#include "chunked.h"
#include "test-helpers.h"

/*
 * Feeds in to a decoder step bytes at a time, keeping the buffer as the HTTP/1.1 connection
 * does (the data decoded so far at the front, then what is not decoded yet); returns what
 * chunked_decode() last returned, with the data in data (NUL-terminated) and what follows the
 * body in rest.
 */
static ssize_t decode(const char *in, size_t step, char *data, char *rest, const char **ret_error) {
    static char buf[4096];
    ChunkedDecoder d = CHUNKED_DECODER_INIT;
    size_t total = strlen(in), have = 0, decoded = 0;
    ssize_t r = CHUNKED_MORE;

    while (have < total && r == CHUNKED_MORE) {
        size_t add = total - have < step ? total - have : step, len;

        memcpy(buf + decoded, in + have, add);
        have += add;
        len = add;
        r = chunked_decode(&d, buf + decoded, &len);
        decoded += len;
        if (r >= 0) { /* what followed the body: in the buffer, and what was not fed yet */
            memcpy(rest, buf + decoded, (size_t)r);
            strcpy(rest + r, in + have);
            r += (ssize_t)(total - have);
        }
    }
    memcpy(data, buf, decoded);
    data[decoded] = '\0';
    *ret_error = d.error;
    return r;
}

static void accepts(const char *in, const char *want_data, const char *want_rest) {
    char data[4096], rest[4096];
    const char *error;

    for (size_t step = 1; step <= strlen(in); step++) {
        ASSERT_EQ(decode(in, step, data, rest, &error), (ssize_t)strlen(want_rest));
        ASSERT_STREQ(data, want_data);
        ASSERT_STREQ(rest, want_rest);
    }
}

static void refuses(const char *in, const char *why) {
    char data[4096], rest[4096];
    const char *error;

    for (size_t step = 1; step <= strlen(in); step++) {
        ASSERT_EQ(decode(in, step, data, rest, &error), CHUNKED_ERROR);
        ASSERT_TRUE(error && strstr(error, why));
    }
}

TEST(well_formed) {
    accepts("3\r\nabc\r\n0\r\n\r\n", "abc", "");
    accepts("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\nGET / HTTP/1.1\r\n", "abcde", "GET / HTTP/1.1\r\n");
    accepts("A\r\n0123456789\r\n0\r\n\r\n", "0123456789", "");
    accepts("13;name=value;x\r\n{\"numbers\":[1,2,3]}\r\n0\r\n\r\n", "{\"numbers\":[1,2,3]}", "");
    accepts("000003\r\nabc\r\n0\r\nX-Trailer: y\r\nZ: 1\r\n\r\nrest", "abc", "rest");
    accepts("0\r\n\r\n", "", "");
}

TEST(refused) {
    refuses("0x13\r\n", "malformed chunk size");
    refuses("\r\n", "malformed chunk size");
    refuses("-3\r\nabc\r\n", "malformed chunk size");
    refuses("3 \r\nabc\r\n", "malformed chunk size");
    refuses("3\nabc\r\n0\r\n\r\n", "bare LF");
    refuses("3\r\nabc\n0\r\n\r\n", "bare LF");
    refuses("3\r\nabc\r\n0\n\r\n", "bare LF");
    refuses("3\r\nabc\r\n0\r\n\n", "bare LF");
    refuses("3;ext\n", "bare LF");
    refuses("3\rabc", "bare CR");
    refuses("3\r\nabcd\r\n", "longer than its size");
    refuses("1000000000000000\r\n", "too long");
    refuses("0\r\nX: y\r\n folded\r\n\r\n", "obs-fold");
}

TEST_MAIN()
