/* SPDX-License-Identifier: MIT */
/* steps.c -- the public steps API (attrace.h): named scopes that label events. */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "shim/attrace.h"
#include "shim/shim.h"

struct step_frame {
	const char *name;
	const char *kind; /* "observation", "tool_call" or NULL */
	struct step_frame *up;
};

static const char *kind_type(const char *kind)
{
	if (!kind)
		return NULL;
	if (strcmp(kind, "observation") == 0)
		return "observation";
	if (strcmp(kind, "tool_call") == 0)
		return "tool_call";
	return NULL;
}

SHIM_EXPORT int attrace_step_begin(const char *name, const char *kind)
{
	struct shim_thread *t = shim_enter();
	struct step_frame *f;
	const char *type;

	if (!t)
		return -1;
	f = malloc(sizeof(*f));
	if (!f || !(f->name = shim_intern(name))) {
		free(f);
		shim_leave(t);
		return -1;
	}
	f->kind = kind_type(kind);
	f->up = t->steps;
	t->steps = f;
	t->step = f->name;
	type = f->kind;
	if (type) {
		struct buf *b = ev_begin(t, type);
		json_kv_str(b, "name", f->name);
		json_kv_str(b, "phase", "begin");
		ev_end(t);
	}
	shim_leave(t);
	return 0;
}

SHIM_EXPORT int attrace_step_end(const char *result_json)
{
	struct shim_thread *t = shim_enter();
	struct step_frame *f;

	if (!t)
		return -1;
	f = t->steps;
	if (!f) {
		shim_leave(t);
		return -1;
	}
	if (f->kind) {
		struct buf *b = ev_begin(t, f->kind);
		json_kv_str(b, "name", f->name);
		json_kv_str(b, "phase", "end");
		if (result_json) {
			/* Stored as JSON when it parses, else as a string: a bad
			 * argument must not make the trace unreadable. */
			struct json_object *o = json_tokener_parse(result_json);
			json_key(b, "result");
			if (o)
				buf_puts(b,
					 json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
			else
				json_str(b, result_json);
			json_object_put(o);
		}
		ev_end(t);
	}
	t->steps = f->up;
	t->step = f->up ? f->up->name : NULL;
	free(f);
	shim_leave(t);
	return 0;
}

SHIM_EXPORT int attrace_mode(void)
{
	if (!shim_ready)
		return 0;
	if (shim_recording)
		return 1;
	return shim_config.mode == AT_MODE_REPLAY ? 2 : 0;
}
