/* SPDX-License-Identifier: MIT */
/* text.c: quoting of untrusted bytes, hex digits. */

#include "test-helpers.h"
#include "text.h"

static const char *quote(char *buf, size_t size, const char *s, size_t len) {
    return text_quote(buf, size, s, len);
}

TEST(quote_printable_as_is) {
    char q[TEXT_QUOTE_MAX];

    ASSERT_STREQ(quote(q, sizeof(q), "abc", 3), "\"abc\"");
    ASSERT_STREQ(quote(q, sizeof(q), "", 0), "\"\"");
    ASSERT_STREQ(quote(q, sizeof(q), "a b~", 4), "\"a b~\"");
}

TEST(quote_escapes_the_rest) {
    char q[TEXT_QUOTE_MAX];

    ASSERT_STREQ(quote(q, sizeof(q), "\"\\", 2), "\"\\x22\\x5c\"");
    ASSERT_STREQ(quote(q, sizeof(q), "a\0b", 3), "\"a\\x00b\"");
    ASSERT_STREQ(quote(q, sizeof(q), "\n\x7f\xff", 3), "\"\\x0a\\x7f\\xff\"");
}

TEST(quote_cuts_long_input) {
    char in[TEXT_QUOTE_CHARS + 10], expect[TEXT_QUOTE_CHARS + 8], q[TEXT_QUOTE_MAX];

    memset(in, 'x', sizeof(in));
    ASSERT_STREQ(quote(q, sizeof(q), in, TEXT_QUOTE_CHARS), (expect[0] = '"', memset(expect + 1, 'x', TEXT_QUOTE_CHARS),
                                                             strcpy(expect + 1 + TEXT_QUOTE_CHARS, "\""), expect));
    quote(q, sizeof(q), in, sizeof(in));
    ASSERT_EQ(strlen(q), 1 + TEXT_QUOTE_CHARS + 3 + 1);
    ASSERT_STREQ(q + 1 + TEXT_QUOTE_CHARS, "...\"");
}

TEST(quote_worst_case_fits_TEXT_QUOTE_MAX) {
    char in[TEXT_QUOTE_CHARS * 2], q[TEXT_QUOTE_MAX];

    memset(in, '\x01', sizeof(in));
    quote(q, sizeof(q), in, sizeof(in));
    ASSERT_EQ(strlen(q), 1 + 4 * TEXT_QUOTE_CHARS + 3 + 1);
    ASSERT_LT(strlen(q), sizeof(q));
    ASSERT_STREQ(q + strlen(q) - 4, "...\"");
}

TEST(quote_small_buffers) {
    char q[16];

    /* under 8 bytes: an empty string */
    ASSERT_STREQ(quote(q, 7, "abc", 3), "");
    q[0] = 'z';
    quote(q, 0, "abc", 3);
    ASSERT_EQ(q[0], 'z'); /* nothing written at all */
    /* always NUL-terminated, printable, within size, and cut with "..." */
    for (size_t size = 8; size <= sizeof(q); size++) {
        char big[sizeof(q) + 1];

        memset(big, 'y', sizeof(big));
        big[size] = '\0';
        quote(big, size, "\xff\xff\xff\xff\xff\xff", 6);
        ASSERT_LT(strlen(big), size);
        ASSERT_EQ(big[0], '"');
        ASSERT_EQ(big[strlen(big) - 1], '"');
    }
    ASSERT_STREQ(quote(q, 8, "\xff", 1), "\"...\"");
}

TEST(hex_digit) {
    ASSERT_EQ(text_hex_digit('0'), 0);
    ASSERT_EQ(text_hex_digit('9'), 9);
    ASSERT_EQ(text_hex_digit('a'), 10);
    ASSERT_EQ(text_hex_digit('f'), 15);
    ASSERT_EQ(text_hex_digit('A'), 10);
    ASSERT_EQ(text_hex_digit('F'), 15);
    ASSERT_EQ(text_hex_digit('g'), -1);
    ASSERT_EQ(text_hex_digit('G'), -1);
    ASSERT_EQ(text_hex_digit('/'), -1);
    ASSERT_EQ(text_hex_digit(':'), -1);
    ASSERT_EQ(text_hex_digit('\0'), -1);
    ASSERT_EQ(text_hex_digit('\xff'), -1);
}

TEST(quote_all_cuts_only_where_the_buffer_ends) {
    char big[300], small[20];
    char in[100];

    memset(in, 'a', sizeof(in));
    text_quote_all(big, sizeof(big), in, sizeof(in));
    ASSERT_EQ(strlen(big), sizeof(in) + 2); /* all 100, no "..." */
    text_quote_all(small, sizeof(small), "x\ny", 3);
    ASSERT_STREQ(small, "\"x\\x0ay\"");
    text_quote_all(small, sizeof(small), in, sizeof(in));
    ASSERT_TRUE(strlen(small) < sizeof(small) && strstr(small, "...\"") != NULL);
}

TEST_MAIN()
