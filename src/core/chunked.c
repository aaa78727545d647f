/* SPDX-License-Identifier: MIT */
/*
 * One byte at a time through a small state machine, except for chunk data, which is moved
 * with memmove in one piece. The states name what the next byte must be.
 */

#include "chunked.h"

#include <stdbool.h>
#include <string.h>

#include "text.h"

enum {
    SIZE,         /* a hex digit of the chunk size (at least one) */
    SIZE_MORE,    /* another digit, ';' starting an extension, or CR */
    EXTENSION,    /* anything printable up to CR */
    SIZE_LF,      /* LF after the size line's CR */
    DATA,         /* chunk data: left bytes */
    DATA_CR,      /* CR after the data */
    DATA_LF,      /* LF after it */
    TRAILER,      /* the first byte of a trailer line: CR ends the trailers */
    TRAILER_LINE, /* the rest of a trailer field line, up to CR */
    TRAILER_LF,   /* LF after a trailer field line */
    END_LF,       /* LF after the empty line: the body ends */
};

#define SIZE_DIGITS_MAX 15 /* 16^15 - 1: more than any body sqdiff takes, and no overflow */

static ssize_t fail(ChunkedDecoder *d, const char *why) {
    d->error = why;
    return CHUNKED_ERROR;
}

static bool printable(unsigned char c) {
    return (c >= 0x20 && c < 0x7f) || c == '\t' || c >= 0x80;
}

ssize_t chunked_decode(ChunkedDecoder *d, char *buf, size_t *len) {
    size_t in = 0, out = 0, n = *len;

    while (in < n) {
        unsigned char c = (unsigned char)buf[in];
        int hex;

        switch (d->state) {
        case SIZE:
        case SIZE_MORE:
            hex = text_hex_digit((char)c);
            if (hex >= 0) {
                if (++d->digits > SIZE_DIGITS_MAX)
                    return fail(d, "chunk size too long");
                d->left = d->left * 16 + (uint64_t)hex;
                d->state = SIZE_MORE;
            } else if (d->state == SIZE)
                return fail(d, "malformed chunk size: hex digits expected");
            else if (c == ';')
                d->state = EXTENSION;
            else if (c == '\r')
                d->state = SIZE_LF;
            else if (c == '\n')
                return fail(d, "bare LF in chunked framing: lines end with CRLF");
            else
                return fail(d, "malformed chunk size: hex digits, then CRLF or ';'");
            in++;
            break;
        case EXTENSION:
            if (c == '\r')
                d->state = SIZE_LF;
            else if (c == '\n')
                return fail(d, "bare LF in chunked framing: lines end with CRLF");
            else if (!printable(c))
                return fail(d, "malformed chunk extension");
            in++;
            break;
        case SIZE_LF:
            if (c != '\n')
                return fail(d, "bare CR in chunked framing: lines end with CRLF");
            in++;
            d->digits = 0;
            d->state = d->left ? DATA : TRAILER;
            break;
        case DATA: {
            size_t take = n - in < d->left ? n - in : (size_t)d->left;

            memmove(buf + out, buf + in, take);
            out += take;
            in += take;
            d->left -= take;
            if (d->left == 0)
                d->state = DATA_CR;
            break;
        }
        case DATA_CR:
            if (c != '\r')
                return fail(d, c == '\n' ? "bare LF in chunked framing: lines end with CRLF"
                                         : "chunk data longer than its size");
            in++;
            d->state = DATA_LF;
            break;
        case DATA_LF:
            if (c != '\n')
                return fail(d, "bare CR in chunked framing: lines end with CRLF");
            in++;
            d->state = SIZE;
            break;
        case TRAILER:
            if (c == '\r')
                d->state = END_LF;
            else if (c == '\n')
                return fail(d, "bare LF in chunked framing: lines end with CRLF");
            else if (c == ' ' || c == '\t')
                return fail(d, "obs-fold in a trailer field");
            else
                d->state = TRAILER_LINE;
            in++;
            break;
        case TRAILER_LINE:
            if (c == '\r')
                d->state = TRAILER_LF;
            else if (c == '\n')
                return fail(d, "bare LF in chunked framing: lines end with CRLF");
            in++;
            break;
        case TRAILER_LF:
            if (c != '\n')
                return fail(d, "bare CR in chunked framing: lines end with CRLF");
            in++;
            d->state = TRAILER;
            break;
        case END_LF:
            if (c != '\n')
                return fail(d, "bare CR in chunked framing: lines end with CRLF");
            in++;
            /* The end: what follows is the next request's, right after the data. */
            memmove(buf + out, buf + in, n - in);
            *len = out;
            return (ssize_t)(n - in);
        default:
            return fail(d, "chunked decoder misused");
        }
    }
    *len = out;
    return CHUNKED_MORE;
}
