/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the strict chunked decoder (src/core/chunked.c) against a reference written here
 * apart, in another shape (whole input, line by line, no states): both agree on the verdict,
 * the data and where the body ends. The decoder is also fed the input in two pieces, split
 * where the first byte says, and must say the same as whole.
 */

#include <sys/types.h>

#include "chunked.h"
#include "fuzz-helpers.h"

/* CR LF at in[*p]: 0, *p past it; CHUNKED_MORE when the input ends first; else CHUNKED_ERROR. */
static ssize_t expect_crlf(const char *in, size_t n, size_t *p) {
    if (*p == n)
        return CHUNKED_MORE;
    if (in[*p] != '\r')
        return CHUNKED_ERROR;
    if (++*p == n)
        return CHUNKED_MORE;
    return in[(*p)++] == '\n' ? 0 : CHUNKED_ERROR;
}

/* The reference: CHUNKED_ERROR, CHUNKED_MORE, or the bytes after the body; the data in out. */
static ssize_t reference(const char *in, size_t n, char *out, size_t *ret_out) {
    size_t p = 0, o = 0;
    ssize_t r;

    for (;;) { /* a chunk: size [; ext] CRLF data CRLF */
        uint64_t size = 0;
        size_t digits = 0;

        while (p < n && ((in[p] >= '0' && in[p] <= '9') || ((in[p] | 0x20) >= 'a' && (in[p] | 0x20) <= 'f'))) {
            if (++digits > 15)
                return CHUNKED_ERROR;
            size = size * 16 + (uint64_t)(in[p] <= '9' ? in[p] - '0' : (in[p] | 0x20) - 'a' + 10);
            p++;
        }
        if (p == n)
            return CHUNKED_MORE;
        if (digits == 0)
            return CHUNKED_ERROR;
        if (in[p] == ';') /* an extension: printable up to CR */
            for (p++; p < n && in[p] != '\r'; p++)
                if (((unsigned char)in[p] < 0x20 && in[p] != '\t') || in[p] == 0x7f)
                    return CHUNKED_ERROR;
        if ((r = expect_crlf(in, n, &p)) != 0)
            return r;
        if (size == 0)
            break;
        for (; size > 0 && p < n; size--)
            out[o++] = in[p++];
        if (size > 0)
            return CHUNKED_MORE;
        if ((r = expect_crlf(in, n, &p)) != 0)
            return r;
    }
    for (;;) { /* trailer lines, then an empty one */
        size_t start = p;

        if (p < n && (in[p] == ' ' || in[p] == '\t'))
            return CHUNKED_ERROR;
        while (p < n && in[p] != '\r' && in[p] != '\n')
            p++;
        if ((r = expect_crlf(in, n, &p)) != 0)
            return r; /* a bare LF ends no line */
        if (p - start == 2) {
            *ret_out = o;
            return (ssize_t)(n - p);
        }
    }
}

/* The decoder fed in[0 .. split) then the rest, as the HTTP/1.1 connection feeds it. */
static ssize_t decode(const char *in, size_t n, size_t split, char *buf, size_t *ret_data) {
    ChunkedDecoder d = CHUNKED_DECODER_INIT;
    size_t decoded = 0, have = 0;
    ssize_t r = CHUNKED_MORE;

    for (int piece = 0; piece < 2 && r == CHUNKED_MORE; piece++) {
        size_t add = piece == 0 ? split : n - split, len = add;

        if (add == 0)
            continue;
        memcpy(buf + decoded, in + have, add);
        have += add;
        r = chunked_decode(&d, buf + decoded, &len);
        decoded += len;
        if (r >= 0)
            r += (ssize_t)(n - have); /* what was not fed follows the body too */
        if (r == CHUNKED_ERROR)
            fuzz_assert(d.error && d.error[0]);
    }
    *ret_data = decoded;
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *in, *ref, *whole, *halves;
    size_t split, ref_n = 0, whole_n = 0, halves_n = 0;
    ssize_t want, got;

    if (size < 1)
        return 0;
    split = data[0] % size;
    in = fuzz_dup(data + 1, size - 1, false);
    ref = malloc(size);
    whole = malloc(size);
    halves = malloc(size);
    fuzz_assert(ref && whole && halves);
    want = reference(in, size - 1, ref, &ref_n);
    got = decode(in, size - 1, size - 1, whole, &whole_n);
    fuzz_assert(got == want);
    if (want >= 0)
        fuzz_assert(whole_n == ref_n && memcmp(whole, ref, ref_n) == 0);
    fuzz_assert(decode(in, size - 1, split, halves, &halves_n) == got);
    if (got >= 0)
        fuzz_assert(halves_n == whole_n && memcmp(halves, whole, whole_n) == 0);
    free(in);
    free(ref);
    free(whole);
    free(halves);
    return 0;
}
