/* SPDX-License-Identifier: MIT */
/* canon.c -- one event's canonical pieces: what the fingerprint keeps of each event type.
 *
 * The rules are listed in the comment at the top of fingerprint.c (the one
 * place that defines the canonical form); this file applies the per-event
 * part of them: drops, kept members, file_open flags, canonical JSON values.
 */
#include "common/canon.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/jsonv.h"

/* ---- small helpers (payload members: common/jsonv.h) ---- */

static inline int str_is(const char *s, const char *lit)
{
	/* the first byte first: canon_event tries a dozen types per event */
	return s && s[0] == lit[0] && strcmp(s, lit) == 0;
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int canon_object(struct buf *b, struct json_object *v)
{
	size_t n = (size_t)json_object_object_length(v), i = 0;
	const char **keys;
	int r;

	keys = malloc((n ? n : 1) * sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	json_object_object_foreach(v, k, val)
	{
		(void)val;
		keys[i++] = k;
	}
	qsort(keys, n, sizeof(*keys), key_cmp);
	r = json_obj_open(b);
	for (i = 0; r >= 0 && i < n; i++) {
		r = json_key(b, "");
		if (r < 0)
			break;
		/* keys come from the input and need escaping: rewrite the empty key */
		b->len -= 3;
		r = json_strn(b, keys[i], strlen(keys[i]));
		if (r >= 0)
			r = buf_putc(b, ':');
		if (r >= 0)
			r = canon_json_value(b, json_object_object_get(v, keys[i]));
	}
	if (r >= 0)
		r = json_obj_close(b);
	free(keys);
	return r;
}

int canon_json_value(struct buf *b, struct json_object *v)
{
	size_t i, n;
	int r;

	switch (json_object_get_type(v)) {
	case json_type_null:
		return json_null(b);
	case json_type_boolean:
		return json_boolean(b, json_object_get_boolean(v));
	case json_type_int:
		if (json_object_get_int64(v) == INT64_MAX)
			return json_uint(b, json_object_get_uint64(v));
		return json_int(b, json_object_get_int64(v));
	case json_type_double: {
		double d = json_object_get_double(v);
		char tmp[40];

		int prec;

		if (!isfinite(d))
			return json_null(b);
		/* the shortest of %.15g..%.17g that reads back as the same double */
		for (prec = 15; prec <= 17; prec++) {
			snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
			if (strtod(tmp, NULL) == d)
				break;
		}
		r = json_null(b); /* writes the separator; then replace "null" */
		if (r < 0)
			return r;
		b->len -= 4;
		return buf_puts(b, tmp);
	}
	case json_type_string:
		return json_strn(b, json_object_get_string(v),
				 (size_t)json_object_get_string_len(v));
	case json_type_array:
		r = json_arr_open(b);
		n = json_object_array_length(v);
		for (i = 0; r >= 0 && i < n; i++)
			r = canon_json_value(b, json_object_array_get_idx(v, i));
		return r < 0 ? r : json_arr_close(b);
	case json_type_object:
		return canon_object(b, v);
	}
	return json_null(b);
}

/* Copies member `key` of o, when present, as "key":<canonical value>. */
static int copy_member(struct buf *b, struct json_object *o, const char *key)
{
	struct json_object *v;
	int r;

	if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
		return 0;
	r = json_key(b, key);
	return r < 0 ? r : canon_json_value(b, v);
}

/* Appends the payload's bytes (data, or data_b64 decoded) to out. */
static int payload_bytes(struct json_object *p, struct buf *out)
{
	struct json_object *v = jv_member(p, "data");
	int r;

	if (json_object_is_type(v, json_type_string))
		return buf_append(out, json_object_get_string(v),
				  (size_t)json_object_get_string_len(v));
	v = jv_member(p, "data_b64");
	if (!json_object_is_type(v, json_type_string))
		return 0;
	{
		size_t start = out->len;
		const char *s = json_object_get_string(v);
		size_t n = (size_t)json_object_get_string_len(v);

		r = b64_decode(out, s, n);
		if (r == -EINVAL) {
			/* not base64 after all: the text itself still identifies the bytes */
			out->len = start;
			r = buf_append(out, s, n);
		}
	}
	return r;
}

/* ---- file_open ---- */

int canon_path_ignored(const char *path)
{
	static const char *const sys[] = {
		"/usr",	 "/lib", "/lib64", "/bin", "/sbin",	 "/etc",
		"/proc", "/sys", "/dev",   "/run", "/var/cache", "/var/lib",
	};
	const char *p = path, *c;
	size_t i, n, len;

	if (!path)
		return 0;
	if (*p == '/') {
		while (p[1] == '/')
			p++;
		for (i = 0; i < sizeof(sys) / sizeof(sys[0]); i++) {
			n = strlen(sys[i]);
			if (strncmp(p, sys[i], n) == 0 && (p[n] == '\0' || p[n] == '/'))
				return 1;
		}
	}
	len = strlen(path);
	if (len >= 4 && strcmp(path + len - 4, ".pyc") == 0)
		return 1;
	/* components */
	for (c = path; *c;) {
		const char *e = strchr(c, '/');

		n = e ? (size_t)(e - c) : strlen(c);
		if ((n == 11 && strncmp(c, "__pycache__", 11) == 0) ||
		    (n == 6 && strncmp(c, ".cache", 6) == 0))
			return 1;
		if (!e)
			break;
		c = e + 1;
	}
	return 0;
}

enum {
	F_RDONLY = 0,
	F_WRONLY,
	F_RDWR,
	F_PATH,
	F_ACC_MASK = 3,
	F_CREAT = 1 << 2,
	F_EXCL = 1 << 3,
	F_TRUNC = 1 << 4,
	F_APPEND = 1 << 5,
	F_DIRECTORY = 1 << 6,
	F_TMPFILE = 1 << 7,
};

static const struct {
	const char *name;
	unsigned bit;
} flag_names[] = {
	{ "O_CREAT", F_CREAT },	  { "O_EXCL", F_EXCL },		  { "O_TRUNC", F_TRUNC },
	{ "O_APPEND", F_APPEND }, { "O_DIRECTORY", F_DIRECTORY }, { "O_TMPFILE", F_TMPFILE },
};

static const char *const acc_names[] = { "O_RDONLY", "O_WRONLY", "O_RDWR", "O_PATH" };

static unsigned flags_from_string(const char *s)
{
	unsigned f = F_RDONLY;

	while (*s) {
		const char *e = strchr(s, '|');
		size_t n = e ? (size_t)(e - s) : strlen(s), i;

		for (i = 1; i < 4; i++)
			if (strlen(acc_names[i]) == n && strncmp(s, acc_names[i], n) == 0)
				f = (f & ~(unsigned)F_ACC_MASK) | (unsigned)i;
		for (i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++)
			if (strlen(flag_names[i].name) == n &&
			    strncmp(s, flag_names[i].name, n) == 0)
				f |= flag_names[i].bit;
		if (!e)
			break;
		s = e + 1;
	}
	return f;
}

static unsigned flags_from_int(int64_t v)
{
	unsigned f = F_RDONLY;

	if ((v & O_PATH) == O_PATH)
		f = F_PATH;
	else if ((v & O_ACCMODE) == O_WRONLY)
		f = F_WRONLY;
	else if ((v & O_ACCMODE) == O_RDWR)
		f = F_RDWR;
	if (v & O_CREAT)
		f |= F_CREAT;
	if (v & O_EXCL)
		f |= F_EXCL;
	if (v & O_TRUNC)
		f |= F_TRUNC;
	if (v & O_APPEND)
		f |= F_APPEND;
	if ((v & O_TMPFILE) == O_TMPFILE)
		f |= F_TMPFILE;
	else if (v & O_DIRECTORY)
		f |= F_DIRECTORY;
	return f;
}

/* @return 0 and *ret for a recognised fopen mode, -EINVAL otherwise. */
static int flags_from_mode(const char *m, unsigned *ret)
{
	unsigned f;

	switch (m[0]) {
	case 'r':
		f = F_RDONLY;
		break;
	case 'w':
		f = F_WRONLY | F_CREAT | F_TRUNC;
		break;
	case 'a':
		f = F_WRONLY | F_CREAT | F_APPEND;
		break;
	default:
		return -EINVAL;
	}
	for (m++; *m; m++) {
		if (*m == '+')
			f = (f & ~(unsigned)F_ACC_MASK) | F_RDWR;
		else if (*m == 'x')
			f |= F_EXCL;
		else if (*m == ',')
			break; /* glibc's ",ccs=" */
		else if (!strchr("bcemt", *m))
			return -EINVAL;
	}
	*ret = f;
	return 0;
}

static int put_flags(struct buf *b, struct json_object *v)
{
	char tmp[128];
	size_t n, i;
	unsigned f;
	int r;

	if (json_object_is_type(v, json_type_int)) {
		f = flags_from_int(json_object_get_int64(v));
	} else if (json_object_is_type(v, json_type_string)) {
		const char *s = json_object_get_string(v);

		if (strncmp(s, "O_", 2) != 0 && flags_from_mode(s, &f) < 0) {
			r = json_key(b, "flags");
			return r < 0 ? r : json_str(b, s);
		}
		if (strncmp(s, "O_", 2) == 0)
			f = flags_from_string(s);
	} else {
		return 0;
	}
	n = strlen(acc_names[f & F_ACC_MASK]);
	memcpy(tmp, acc_names[f & F_ACC_MASK], n);
	for (i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++) {
		size_t k = strlen(flag_names[i].name);

		if (!(f & flag_names[i].bit))
			continue;
		tmp[n++] = '|';
		memcpy(tmp + n, flag_names[i].name, k);
		n += k;
	}
	r = json_key(b, "flags");
	return r < 0 ? r : json_strn(b, tmp, n);
}

/* ---- per type ---- */

static int is_retry_errno(const char *e)
{
	return str_is(e, "EAGAIN") || str_is(e, "EWOULDBLOCK") || str_is(e, "EINTR");
}

/* *ret = member `key` of o as a canonical JSON text, or NULL when absent.
 * @return 0 or -ENOMEM. */
static int value_text(struct json_object *o, const char *key, char **ret)
{
	struct json_object *v = NULL;
	struct buf b = BUF_INIT;

	*ret = NULL;
	if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
		return 0;
	if (canon_json_value(&b, v) < 0) {
		buf_release(&b);
		return -ENOMEM;
	}
	*ret = buf_steal(&b);
	return *ret ? 0 : -ENOMEM;
}

static int dup_str(const char *s, char **ret)
{
	*ret = NULL;
	if (!s)
		return 0;
	*ret = strdup(s);
	return *ret ? 0 : -ENOMEM;
}

static const struct {
	const char *name;
	enum canon_sop sop;
} sops[] = {
	{ "connect", SOP_CONNECT }, { "connect_result", SOP_CONNECT_RESULT },
	{ "accept", SOP_ACCEPT },   { "send", SOP_SEND },
	{ "recv", SOP_RECV },	    { "shutdown", SOP_SHUTDOWN },
	{ "close", SOP_CLOSE },
};

static int canon_socket(struct canon_ev *c, struct json_object *p)
{
	const char *op = jv_str(p, "op"), *err = jv_str(p, "errno");
	size_t i;
	int r;

	if (is_retry_errno(err))
		return 0;
	c->kind = CANON_SOCKET;
	c->sop = SOP_OTHER;
	for (i = 0; op && i < sizeof(sops) / sizeof(sops[0]); i++)
		if (strcmp(op, sops[i].name) == 0)
			c->sop = sops[i].sop;
	c->udp = str_is(jv_str(p, "proto"), "udp");
	r = dup_str(jv_str(p, "conn"), &c->key);
	if (r >= 0)
		r = value_text(p, "proto", &c->v_proto);
	if (r >= 0 && c->sop == SOP_OTHER)
		r = value_text(p, "op", &c->v_op);
	/* what was received is input, and so is how a receive failed */
	if (r >= 0 && c->sop != SOP_RECV && !str_is(err, "EINPROGRESS"))
		r = value_text(p, "errno", &c->v_err);
	if (r < 0)
		return r;
	switch (c->sop) {
	case SOP_CONNECT:
		return value_text(p, "peer", &c->v_peer);
	case SOP_ACCEPT:
		/* the local end of an accepted connection is the listening address */
		return c->v_err ? 0 : value_text(p, "local", &c->v_local);
	case SOP_SEND:
		if (c->udp)
			r = value_text(p, "peer", &c->v_peer);
		if (r >= 0 && !c->v_err)
			r = payload_bytes(p, &c->data);
		return r;
	case SOP_SHUTDOWN:
		return value_text(p, "how", &c->v_how);
	default:
		return 0;
	}
}

static int canon_file_open(struct canon_ev *c, struct json_object *p)
{
	struct buf *b = &c->body;
	const char *err = jv_str(p, "errno");
	int r;

	if (canon_path_ignored(jv_str(p, "path")))
		return 0;
	c->kind = CANON_UNIT;
	r = copy_member(b, p, "path");
	if (r >= 0)
		r = put_flags(b, jv_member(p, "flags"));
	if (r >= 0)
		r = json_kv_str(b, "result", err ? err : "ok");
	return r;
}

static int canon_start(struct canon_ev *c, struct json_object *p)
{
	const char *exe = jv_str(p, "exe"), *base = exe ? strrchr(exe, '/') : NULL;
	int r;

	c->kind = CANON_START;
	r = dup_str(base ? base + 1 : exe, &c->key);
	if (r >= 0)
		r = value_text(p, "via", &c->v_via);
	if (r >= 0)
		r = dup_str(jv_str(p, "parent"), &c->parent);
	return r;
}

static int canon_exit(struct canon_ev *c, struct json_object *p)
{
	struct json_object *v;

	c->kind = CANON_EXIT;
	v = jv_member(p, "status");
	if (json_object_is_type(v, json_type_int)) {
		c->exit_how = EXIT_STATUS;
		c->n = json_object_get_int64(v);
		return 0;
	}
	v = jv_member(p, "signal");
	if (json_object_is_type(v, json_type_int)) {
		c->exit_how = EXIT_SIGNAL;
		c->n = json_object_get_int64(v);
	}
	return 0;
}

int canon_event(struct canon_ev *c, const char *type, struct json_object *p)
{
	struct buf *b = &c->body;
	size_t i;
	int r = 0;

	c->kind = CANON_DROP;
	/* network_call is derived from socket_call bytes the form already has */
	if (str_is(type, "time") || str_is(type, "governance") || str_is(type, "thread_start") ||
	    str_is(type, "network_call"))
		return 0;
	if (str_is(type, "socket_call"))
		return canon_socket(c, p);
	if (str_is(type, "file_open"))
		return canon_file_open(c, p);
	if (str_is(type, "agent_start"))
		return canon_start(c, p);
	if (str_is(type, "agent_complete"))
		return canon_exit(c, p);
	c->kind = CANON_UNIT;
	if (str_is(type, "dns")) {
		r = copy_member(b, p, "fn");
		if (r >= 0)
			r = copy_member(b, p, "name");
		if (r >= 0 && str_is(jv_str(p, "fn"), "getnameinfo"))
			r = copy_member(b, p, "addr");
	} else if (str_is(type, "random")) {
		struct json_object *n = jv_member(p, "n");

		r = copy_member(b, p, "source");
		/* Only a read with a source string joins others (keyed by it); one
		 * without is a unit of its own, like a failed read. */
		if (r >= 0 && !jv_member(p, "errno") && json_object_is_type(n, json_type_int) &&
		    json_object_get_int64(n) >= 0 && jv_str(p, "source")) {
			c->kind = CANON_RANDOM;
			c->n = json_object_get_int64(n);
			return dup_str(jv_str(p, "source"), &c->key);
		}
		if (r >= 0)
			r = copy_member(b, p, "errno");
	} else if (str_is(type, "process_spawn")) {
		static const char *const keys[] = { "op", "path", "argv", "errno" };

		c->kind = CANON_SPAWN;
		for (i = 0; r >= 0 && i < sizeof(keys) / sizeof(keys[0]); i++)
			r = copy_member(b, p, keys[i]);
		if (r >= 0)
			r = dup_str(jv_str(p, "child"), &c->key);
	} else if (str_is(type, "observation") || str_is(type, "tool_call")) {
		r = copy_member(b, p, "name");
		if (r >= 0)
			r = copy_member(b, p, "phase");
		if (r >= 0)
			r = copy_member(b, p, "result");
	} else if (str_is(type, "error")) {
		r = copy_member(b, p, "what");
	}
	/* unknown types: the type alone */
	return r;
}

void canon_ev_release(struct canon_ev *c)
{
	if (!c)
		return;
	free(c->key);
	free(c->parent);
	free(c->v_op);
	free(c->v_proto);
	free(c->v_peer);
	free(c->v_local);
	free(c->v_how);
	free(c->v_err);
	free(c->v_via);
	buf_release(&c->body);
	buf_release(&c->data);
	memset(c, 0, sizeof(*c));
}
