/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * HTTP/1.1 chunked transfer coding (RFC 9112, section 7.1), decoded strictly and in place.
 * Pure. Where a lenient decoder guesses, this one refuses: a chunk size is 1 to 15 hex
 * digits, then optional ';' extensions, then CRLF; a chunk's data is followed by CRLF; every
 * line ends in CRLF (a bare LF is an error: two parsers that split lines differently are
 * how requests get smuggled); trailer fields are read and dropped, the last line empty.
 *
 * chunked_decode() takes the bytes that arrived, buf[0 .. *len), any number at a time, and
 * moves the data they carry to the front of buf: on return *len is how many data bytes it
 * left there. It returns CHUNKED_MORE when the body needs more bytes, CHUNKED_ERROR (with
 * d->error saying why) when it is malformed, or, at the end of the body, how many bytes
 * after it (the next request's) are left in buf right after the data.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CHUNKED_MORE (-2)
#define CHUNKED_ERROR (-1)

typedef struct ChunkedDecoder {
    int state;
    uint64_t left;     /* of the current chunk's data, or of the size being read */
    unsigned digits;   /* of the size being read */
    const char *error; /* after CHUNKED_ERROR: why, for the client */
} ChunkedDecoder;

#define CHUNKED_DECODER_INIT ((ChunkedDecoder){ 0 })

ssize_t chunked_decode(ChunkedDecoder *d, char *buf, size_t *len);
