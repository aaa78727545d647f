/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A connection that turned out to speak HTTP/2 (its first bytes were the client preface,
 * "prior knowledge") is handed to h2o's HTTP/2, with the frame budget in front of its frames.
 */

#include "conn.h"

/* h2o's HTTP/2 takes c's socket; every later frame of it meets the frame budget. */
void http2_take_over(Conn *c);
