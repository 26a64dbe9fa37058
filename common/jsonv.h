/* SPDX-License-Identifier: MIT */
/* jsonv.h -- reading members of parsed events (json-c objects), tolerant of every shape.
 *
 * Traces come from files and uploads: a member may be absent, null or of
 * another type than the format says. These answer "absent" for all of that
 * instead of asking every caller to check types.
 */
#pragma once

#include <stdint.h>

struct json_object;

/* o's member key, or NULL when o is not an object or has no such member.
 * Borrowed. */
struct json_object *jv_member(struct json_object *o, const char *key);
/* The member as a string (borrowed), or NULL when absent or not a string. */
const char *jv_str(struct json_object *o, const char *key);
/* The member as an integer, or dflt when absent or not an integer. */
int64_t jv_int(struct json_object *o, const char *key, int64_t dflt);
/* @return 1 when the member is the boolean true. */
int jv_true(struct json_object *o, const char *key);
