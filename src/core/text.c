/* SPDX-License-Identifier: MIT */
/* Text helpers: quoting of untrusted bytes, hex digits. */

#include "text.h"

#include <stdint.h>
#include <string.h>

static const char *quote(char *dst, size_t size, const char *s, size_t len, size_t max) {
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    if (size < 8) {
        if (size > 0)
            dst[0] = '\0';
        return dst;
    }
    dst[o++] = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        /* Room for one escaped byte, or the "..." that ends a cut, plus the quote and NUL. */
        if (i == max || o + 4 + 3 + 2 > size) {
            memcpy(dst + o, "...", 3);
            o += 3;
            break;
        }
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            dst[o++] = (char)c;
        else {
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = hex[c >> 4];
            dst[o++] = hex[c & 15];
        }
    }
    dst[o++] = '"';
    dst[o] = '\0';
    return dst;
}

const char *text_quote(char *dst, size_t size, const char *s, size_t len) {
    return quote(dst, size, s, len, TEXT_QUOTE_CHARS);
}

const char *text_quote_all(char *dst, size_t size, const char *s, size_t len) {
    return quote(dst, size, s, len, SIZE_MAX);
}

int text_hex_digit(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}
