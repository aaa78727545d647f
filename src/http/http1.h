/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * sqdiff's own HTTP/1.1 on libh2o's request API: every accepted connection starts here, and
 * goes on to http2.h if its first bytes are HTTP/2's client preface.
 */

#include "conn.h"

/* Starts serving the new connection c (reading its first request). */
void http1_accept(Conn *c);

/* Closes an HTTP/1.1 connection now (its request, if any, disposed unanswered): frees c. */
void http1_close(Conn *c);
