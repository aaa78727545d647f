/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Small text helpers shared by the parsers. Pure.
 *
 * text_quote() renders untrusted bytes for an error message or a log line:
 * in double quotes, printable ASCII as is, anything else (and '"', '\') as
 * \xNN, cut after TEXT_QUOTE_CHARS input bytes with "...". The result is
 * always printable ASCII, so it is safe in JSON, a terminal and the journal.
 */

#include <stddef.h>

#define TEXT_QUOTE_CHARS 48
/* Enough for any text_quote() result: 4 bytes per input byte, quotes, "...", NUL. */
#define TEXT_QUOTE_MAX (TEXT_QUOTE_CHARS * 4 + 8)

/* Writes the quoted rendering of s[0..len) into dst (size >= TEXT_QUOTE_MAX for no cut); returns dst. */
const char *text_quote(char *dst, size_t size, const char *s, size_t len);

/* The same, cut only where dst is full (4 bytes a byte at most, and 6 more): for an access log. */
const char *text_quote_all(char *dst, size_t size, const char *s, size_t len);

/* The value of a hexadecimal digit, or -1. */
int text_hex_digit(char c);
