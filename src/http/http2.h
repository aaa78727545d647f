/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A connection that turned out to speak HTTP/2 (its first bytes were the client preface,
 * "prior knowledge") is handed to h2o's HTTP/2, with the frame budget in front of its frames.
 */

#include "conn.h"

/* h2o's HTTP/2 takes c's socket (its input starting with the whole preface); every frame
 * after the preface meets the frame budget, those already read too. False: they broke the
 * budget before h2o saw any (reported), and the caller closes the connection. */
bool http2_take_over(Conn *c);

/* Tells the memory budget what c holds for unfinished streams: their bodies and header lists. */
void http2_charge(Conn *c);
