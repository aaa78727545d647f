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
 *   request_body_kind(): which of the two a POST body is read with (a form body
 *       goes to request_parse_query()).
 *
 * Both append to out (whose cap is the request limit) and return 0, or a
 * negative errno with a one-line reason for the client in err (which names
 * the offending value): -EINVAL malformed, -ERANGE out of range, -ENOENT no
 * numbers at all, -E2BIG more numbers than out->max, -ENOMEM.
 */

#include <errno.h>
#include <stddef.h>

#include "numlist.h"

#define REQUEST_ERROR_MAX 256
#define REQUEST_BODY_FORMS                                                                                             \
    "a POST body is JSON, {\"numbers\":[1,2]}, or a form, n=1&n=2 (Content-Type: application/x-www-form-urlencoded)"

typedef enum RequestBody {
    REQUEST_BODY_JSON,
    REQUEST_BODY_FORM,
    _REQUEST_BODY_INVALID = -EINVAL, /* neither: answer 400 with REQUEST_BODY_FORMS */
} RequestBody;

/*
 * How to read a POST body whose Content-Type is content_type (ct_len bytes; NULL for none): as
 * JSON when it starts with '{' (after whitespace), whatever its type, since curl -d sends JSON
 * as a form; as a form when the type is application/x-www-form-urlencoded; as JSON when the
 * type is absent or JSON's (its errors say what is wrong); else neither.
 */
RequestBody request_body_kind(const char *content_type, size_t ct_len, const char *body, size_t len);

int request_parse_query(char *query, size_t len, NumList *out, char *err, size_t errlen);
int request_parse_body(const char *body, size_t len, NumList *out, char *err, size_t errlen);
