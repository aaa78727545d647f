/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A connection that turned out to speak HTTP/2 (its first bytes were the client preface,
 * "prior knowledge", or TLS's ALPN chose "h2") is handed to h2o's HTTP/2, with the frame
 * budget in front of its frames.
 */

#include "conn.h"

/* h2o's HTTP/2 takes c's socket (its input starting with the whole preface); every frame
 * after the preface meets the frame budget, those already read too. False: they broke the
 * budget before h2o saw any (reported), and the caller closes the connection. */
bool http2_take_over(Conn *c);

/* h2o's HTTP/2 takes c's socket, its TLS handshake done with ALPN "h2"; or c closes, the
 * frames that came with the handshake over the budget. */
void http2_accept_tls(Conn *c);

/* Tells the memory budget what c holds for unfinished streams: their bodies and header lists. */
void http2_charge(Conn *c);
