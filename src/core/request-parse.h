/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Turns what a client sent into a list of numbers. Pure: no I/O.
 *
 *   request_parse_query(): an application/x-www-form-urlencoded query string
 *       ("n=1&n=%2D5&x=ignored"); every "n" is one number (number_parse_query
 *       grammar), other parameters are ignored. The buffer is decoded in place.
 *   request_parse_body(): a JSON body {"numbers":[1,2,3]}; other members are
 *       ignored, numbers must be JSON integers within int64.
 *
 * Both append to out (whose cap is the request limit) and return 0, or a
 * negative errno with a one-line reason for the client in err (which names
 * the offending value): -EINVAL malformed, -ERANGE out of range, -ENOENT no
 * numbers at all, -E2BIG more numbers than out->max, -ENOMEM.
 */

#include <stddef.h>

#include "numlist.h"

#define REQUEST_ERROR_MAX 256

int request_parse_query(char *query, size_t len, NumList *out, char *err, size_t errlen);
int request_parse_body(const char *body, size_t len, NumList *out, char *err, size_t errlen);
