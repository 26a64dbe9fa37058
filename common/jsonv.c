/* SPDX-License-Identifier: MIT */
/* jsonv.c -- tolerant member readers (jsonv.h). */
#include "common/jsonv.h"

#include <json-c/json.h>

struct json_object *jv_member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

const char *jv_str(struct json_object *o, const char *key)
{
	struct json_object *v = jv_member(o, key);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

int64_t jv_int(struct json_object *o, const char *key, int64_t dflt)
{
	struct json_object *v = jv_member(o, key);

	return v && json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : dflt;
}

int jv_true(struct json_object *o, const char *key)
{
	struct json_object *v = jv_member(o, key);

	return v && json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}
