/* SPDX-License-Identifier: MIT */
/* fingerprint.c -- the causal fingerprint: SHA-256 over the canonical form of a trace.
 *
 * The canonical form (attrace-trace(5), FINGERPRINT) is exactly this:
 *
 * Lines. One JSON line per kept (possibly joined) event, '\n'-terminated:
 *   {"pid":P,"tid":T,"type":TYPE,"step":STEP,"payload":{...}}
 * with the payload members below, in the order listed, each only when the
 * source event has it (strings escaped by json.c; numbers as integers).
 *
 * Order. Events are grouped by (pid, tid). Groups are ordered by pid
 * (trace_pid_cmp: component by component, numerically) then tid; events in
 * a group by seq (then by arrival, should a seq repeat). Where a group's
 * events sat in the file, and how threads interleaved, never shows.
 *
 * Dropped events: type "time" and "governance"; socket_call with errno
 * EAGAIN, EWOULDBLOCK or EINTR; file_open of a path equal to or under /usr
 * /lib /lib64 /bin /sbin /etc /proc /sys /dev /run /var/cache /var/lib
 * (leading slashes collapsed), or with a "__pycache__" or ".cache"
 * component, or ending ".pyc".
 *
 * Payloads kept, per type:
 *   agent_start     parent, via, exe (basename only)
 *   agent_complete  status, or signal (the "how" of an exit is not behaviour)
 *   socket_call     connect:        op, conn, proto, peer, errno (not EINPROGRESS)
 *                   connect_result: op, conn, errno
 *                   accept:         op, conn, proto, local (the listening address), errno
 *                   send:           op, conn, proto, peer (udp only), n (bytes of
 *                                   data), data|data_b64
 *                                   (failed: op, conn, proto, peer (udp), errno)
 *                   recv:           op, conn
 *                   shutdown:       op, conn, how, errno
 *                   other ops:      op, conn, errno
 *   dns             fn, name, addr (getnameinfo only)
 *   random          source, n (failed: source, errno)
 *   file_open       path, flags, result: "ok" or the errno name
 *   thread_start    child_tid
 *   process_spawn   op, child, path, argv, errno
 *   observation,
 *   tool_call       name, phase, result (any JSON, objects' keys sorted
 *                   bytewise, doubles as the shortest %.15g..%.17g that
 *                   reads back exactly, non-finite ones as null)
 *   network_call    method, url
 *   error           what (the count dropped depends on timing)
 *   unknown types   nothing: the type alone
 *
 * Joins. Within a group, adjacent kept events (after the drops above) join:
 *  - successful TCP sends with the same conn and step: n is summed and the
 *    data is the concatenation of the decoded bytes (data or data_b64),
 *    re-encoded by the bytes rule (valid UTF-8: "data", else "data_b64");
 *    UDP sends are datagrams and never join;
 *  - recvs (successful or not) with the same conn and step: one line;
 *  - successful random reads with the same source and step: n is summed.
 *
 * file_open flags are function-independent: the access mode (O_RDONLY,
 * O_WRONLY, O_RDWR, O_PATH; O_RDONLY when none is named) followed by those of
 * O_CREAT O_EXCL O_TRUNC O_APPEND O_DIRECTORY O_TMPFILE that are set, joined
 * with '|'. An fopen mode string maps to the same flags ("w" is
 * O_WRONLY|O_CREAT|O_TRUNC, "a+" is O_RDWR|O_CREAT|O_APPEND, 'x' adds
 * O_EXCL); an unrecognised mode string is kept as it is. Numeric flags are
 * read with this system's O_* values.
 */
#include "common/fingerprint.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <math.h>
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/json.h"
#include "common/trace.h"

enum cev_kind {
	K_LINE = 0, /* body is the whole payload */
	K_SEND, /* body: op, conn, proto; plus n and data, joined */
	K_RECV, /* body: op, conn; joined */
	K_RANDOM, /* body: source; plus n, joined */
};

struct cev {
	uint64_t seq;
	size_t idx; /* arrival, to keep the order of repeated seqs */
	enum cev_kind kind;
	const char *type; /* a trace_types[] entry, or owned (see type_owned) */
	int type_owned;
	char *step;
	struct buf body;
	struct buf data; /* K_SEND: decoded bytes */
	int64_t n;
};

struct group {
	char *pid;
	int tid;
	uint64_t hash;
	struct cev *ev;
	size_t nev, capev;
	int sorted;
};

struct fp {
	struct group **groups; /* in arrival order */
	size_t ngroups, capgroups;
	struct group **table; /* open addressing over groups, size a power of 2 */
	size_t tabsize;
	size_t arrivals;
};

/* ---- SHA-256 (OpenSSL's SHA256_* block functions) ----
 *
 * Not EVP: EVP_Digest fetches the algorithm through OpenSSL's provider
 * machinery, with global locks and state that a host program shares with us
 * and tears down in its exit handlers (a preloaded curl deadlocked in
 * EVP_MD_fetch while hashing its executable on our writer thread). The
 * SHA256_* functions are deprecated in OpenSSL 3 but are plain code with no
 * global state, and the same speed (SHA-NI/AVX2 assembly).
 */

struct sha256 {
	SHA256_CTX ctx;
};

struct sha256 *sha256_new(void)
{
	struct sha256 *s = malloc(sizeof(*s));

	if (!s)
		return NULL;
	SHA256_Init(&s->ctx);
	return s;
}

void sha256_update(struct sha256 *s, const void *p, size_t n)
{
	if (s && n)
		SHA256_Update(&s->ctx, p, n);
}

static void to_hex(const unsigned char *md, size_t n, char *hex)
{
	static const char digits[16] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[2 * n] = '\0';
}

void sha256_final_hex(struct sha256 *s, char hex[FP_HEX_LEN + 1])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	if (!s) {
		hex[0] = '\0';
		return;
	}
	SHA256_Final(md, &s->ctx);
	to_hex(md, sizeof(md), hex);
	free(s);
}

void sha256_hex(const void *p, size_t n, char hex[FP_HEX_LEN + 1])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256(p, n, md);
	to_hex(md, sizeof(md), hex);
}

int sha256_file(const char *path, char hex[FP_HEX_LEN + 1])
{
	char chunk[32768];
	struct sha256 *s;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	s = sha256_new();
	if (!s) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		sha256_update(s, chunk, (size_t)n);
	}
	close(fd);
	sha256_final_hex(s, hex);
	if (r < 0)
		hex[0] = '\0';
	return r;
}

/* ---- groups ---- */

struct fp *fp_new(void)
{
	return calloc(1, sizeof(struct fp));
}

static void cev_release(struct cev *e)
{
	if (e->type_owned)
		free((char *)e->type);
	free(e->step);
	buf_release(&e->body);
	buf_release(&e->data);
}

void fp_free(struct fp *f)
{
	size_t i, j;

	if (!f)
		return;
	for (i = 0; i < f->ngroups; i++) {
		struct group *g = f->groups[i];

		for (j = 0; j < g->nev; j++)
			cev_release(&g->ev[j]);
		free(g->ev);
		free(g->pid);
		free(g);
	}
	free(f->groups);
	free(f->table);
	free(f);
}

static uint64_t group_hash(const char *pid, int tid)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */

	for (; *pid; pid++)
		h = (h ^ (unsigned char)*pid) * 0x100000001b3ULL;
	h = (h ^ (uint64_t)(unsigned)tid) * 0x100000001b3ULL;
	return h ^ (h >> 29);
}

static int table_grow(struct fp *f)
{
	size_t size = f->tabsize ? f->tabsize * 2 : 64, i;
	struct group **t;

	t = calloc(size, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (i = 0; i < f->ngroups; i++) {
		size_t k = f->groups[i]->hash & (size - 1);

		while (t[k])
			k = (k + 1) & (size - 1);
		t[k] = f->groups[i];
	}
	free(f->table);
	f->table = t;
	f->tabsize = size;
	return 0;
}

static struct group *group_get(struct fp *f, const char *pid, int tid)
{
	uint64_t h = group_hash(pid, tid);
	struct group *g;
	size_t k;

	if (f->tabsize) {
		for (k = h & (f->tabsize - 1); f->table[k]; k = (k + 1) & (f->tabsize - 1)) {
			g = f->table[k];
			if (g->hash == h && g->tid == tid && strcmp(g->pid, pid) == 0)
				return g;
		}
	}
	if ((f->ngroups + 1) * 2 > f->tabsize && table_grow(f) < 0)
		return NULL;
	if (f->ngroups == f->capgroups) {
		size_t cap = f->capgroups ? f->capgroups * 2 : 16;
		struct group **p = realloc(f->groups, cap * sizeof(*p));

		if (!p)
			return NULL;
		f->groups = p;
		f->capgroups = cap;
	}
	g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->pid = strdup(pid);
	if (!g->pid) {
		free(g);
		return NULL;
	}
	g->tid = tid;
	g->hash = h;
	g->sorted = 1;
	f->groups[f->ngroups++] = g;
	for (k = h & (f->tabsize - 1); f->table[k]; k = (k + 1) & (f->tabsize - 1))
		;
	f->table[k] = g;
	return g;
}

/* ---- reading payload members ---- */

static struct json_object *member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!json_object_is_type(o, json_type_object))
		return NULL;
	if (!json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

static const char *member_str(struct json_object *o, const char *key)
{
	struct json_object *v = member(o, key);

	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static int str_is(const char *s, const char *lit)
{
	return s && strcmp(s, lit) == 0;
}

/* Canonical JSON of any value: objects' keys sorted bytewise. */
static int canon_value(struct buf *b, struct json_object *v);

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
			r = canon_value(b, json_object_object_get(v, keys[i]));
	}
	if (r >= 0)
		r = json_obj_close(b);
	free(keys);
	return r;
}

static int canon_value(struct buf *b, struct json_object *v)
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
			r = canon_value(b, json_object_array_get_idx(v, i));
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
	return r < 0 ? r : canon_value(b, v);
}

/* Appends the payload's bytes (data, or data_b64 decoded) to out. */
static int payload_bytes(struct json_object *p, struct buf *out)
{
	struct json_object *v = member(p, "data");
	int r;

	if (json_object_is_type(v, json_type_string))
		return buf_append(out, json_object_get_string(v),
				  (size_t)json_object_get_string_len(v));
	v = member(p, "data_b64");
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

static int path_ignored(const char *path)
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

/* Fills e from a socket_call payload. @return 1 to keep, 0 to drop, or a negative errno. */
static int canon_socket(struct cev *e, struct json_object *p)
{
	const char *op = member_str(p, "op"), *err = member_str(p, "errno");
	const char *proto = member_str(p, "proto");
	struct buf *b = &e->body;
	int udp = str_is(proto, "udp");
	int r;

	if (is_retry_errno(err))
		return 0;
	r = copy_member(b, p, "op");
	if (r >= 0)
		r = copy_member(b, p, "conn");
	if (r < 0)
		return r;
	if (str_is(op, "recv")) {
		e->kind = K_RECV;
		return 1;
	}
	if (str_is(op, "connect")) {
		r = copy_member(b, p, "proto");
		if (r >= 0)
			r = copy_member(b, p, "peer");
		if (r >= 0 && err && !str_is(err, "EINPROGRESS"))
			r = copy_member(b, p, "errno");
	} else if (str_is(op, "accept")) {
		r = copy_member(b, p, "proto");
		if (r >= 0)
			r = copy_member(b, p, "local");
		if (r >= 0)
			r = copy_member(b, p, "errno");
	} else if (str_is(op, "send")) {
		r = copy_member(b, p, "proto");
		if (r >= 0 && udp)
			r = copy_member(b, p, "peer");
		if (r >= 0 && err)
			return copy_member(b, p, "errno") < 0 ? -ENOMEM : 1;
		if (r < 0)
			return r;
		r = payload_bytes(p, &e->data);
		if (r < 0)
			return r;
		e->n = (int64_t)e->data.len;
		if (!udp) {
			e->kind = K_SEND;
			return 1;
		}
		r = json_kv_int(b, "n", e->n);
		if (r >= 0)
			r = json_kv_bytes(b, "data", e->data.data ? e->data.data : "", e->data.len);
		buf_release(&e->data);
	} else if (str_is(op, "shutdown")) {
		r = copy_member(b, p, "how");
		if (r >= 0)
			r = copy_member(b, p, "errno");
	} else {
		r = copy_member(b, p, "errno");
	}
	return r < 0 ? r : 1;
}

static int canon_file_open(struct cev *e, struct json_object *p)
{
	struct buf *b = &e->body;
	const char *err = member_str(p, "errno");
	int r;

	if (path_ignored(member_str(p, "path")))
		return 0;
	r = copy_member(b, p, "path");
	if (r >= 0)
		r = put_flags(b, member(p, "flags"));
	if (r >= 0)
		r = json_kv_str(b, "result", err ? err : "ok");
	return r < 0 ? r : 1;
}

static int canon_payload(struct cev *e, const char *type, struct json_object *p)
{
	struct buf *b = &e->body;
	int r = 0;

	if (str_is(type, "time") || str_is(type, "governance"))
		return 0;
	if (str_is(type, "socket_call"))
		return canon_socket(e, p);
	if (str_is(type, "file_open"))
		return canon_file_open(e, p);
	if (str_is(type, "agent_start")) {
		const char *exe = member_str(p, "exe"), *base;

		r = copy_member(b, p, "parent");
		if (r >= 0)
			r = copy_member(b, p, "via");
		if (r >= 0 && exe) {
			base = strrchr(exe, '/');
			r = json_kv_str(b, "exe", base ? base + 1 : exe);
		}
	} else if (str_is(type, "agent_complete")) {
		if (member(p, "status"))
			r = copy_member(b, p, "status");
		else
			r = copy_member(b, p, "signal");
	} else if (str_is(type, "dns")) {
		r = copy_member(b, p, "fn");
		if (r >= 0)
			r = copy_member(b, p, "name");
		if (r >= 0 && str_is(member_str(p, "fn"), "getnameinfo"))
			r = copy_member(b, p, "addr");
	} else if (str_is(type, "random")) {
		struct json_object *n = member(p, "n");

		r = copy_member(b, p, "source");
		if (r >= 0 && !member(p, "errno") && json_object_is_type(n, json_type_int) &&
		    json_object_get_int64(n) >= 0) {
			e->kind = K_RANDOM;
			e->n = json_object_get_int64(n);
			return 1;
		}
		if (r >= 0)
			r = copy_member(b, p, "errno");
	} else if (str_is(type, "thread_start")) {
		r = copy_member(b, p, "child_tid");
	} else if (str_is(type, "process_spawn")) {
		static const char *const keys[] = { "op", "child", "path", "argv", "errno" };
		size_t i;

		for (i = 0; r >= 0 && i < sizeof(keys) / sizeof(keys[0]); i++)
			r = copy_member(b, p, keys[i]);
	} else if (str_is(type, "observation") || str_is(type, "tool_call")) {
		r = copy_member(b, p, "name");
		if (r >= 0)
			r = copy_member(b, p, "phase");
		if (r >= 0)
			r = copy_member(b, p, "result");
	} else if (str_is(type, "network_call")) {
		r = copy_member(b, p, "method");
		if (r >= 0)
			r = copy_member(b, p, "url");
	} else if (str_is(type, "error")) {
		r = copy_member(b, p, "what");
	}
	return r < 0 ? r : 1;
}

int fp_add(struct fp *f, struct json_object *ev)
{
	struct json_object *v, *payload = member(ev, "payload");
	const char *pid = member_str(ev, "pid"), *type = member_str(ev, "type");
	const char *step = member_str(ev, "step");
	struct cev e = { .kind = K_LINE };
	struct group *g;
	int64_t tid = 0;
	size_t i;
	int r;

	if (!pid || !type)
		return 0; /* not an event: nothing to say about it */
	v = member(ev, "tid");
	if (json_object_is_type(v, json_type_int))
		tid = json_object_get_int64(v);
	if (tid < 0 || tid > INT32_MAX)
		tid = -1;
	v = member(ev, "seq");
	if (json_object_is_type(v, json_type_int))
		e.seq = (uint64_t)json_object_get_int64(v);
	buf_init(&e.body, 0);
	buf_init(&e.data, 0);

	r = canon_payload(&e, type, payload);
	if (r <= 0)
		goto out;
	for (i = 0; trace_types[i]; i++)
		if (strcmp(type, trace_types[i]) == 0)
			e.type = trace_types[i];
	if (!e.type) {
		e.type = strdup(type);
		e.type_owned = 1;
	}
	e.step = strdup(step ? step : "root");
	if (!e.type || !e.step) {
		r = -ENOMEM;
		goto out;
	}
	g = group_get(f, pid, (int)tid);
	if (!g) {
		r = -ENOMEM;
		goto out;
	}
	if (g->nev == g->capev) {
		size_t cap = g->capev ? g->capev * 2 : 32;
		struct cev *p = realloc(g->ev, cap * sizeof(*p));

		if (!p) {
			r = -ENOMEM;
			goto out;
		}
		g->ev = p;
		g->capev = cap;
	}
	e.idx = f->arrivals++;
	if (g->nev && (g->ev[g->nev - 1].seq > e.seq))
		g->sorted = 0;
	g->ev[g->nev++] = e;
	return 0;
out:
	cev_release(&e);
	return r < 0 ? r : 0;
}

/* ---- output ---- */

static int group_cmp(const void *a, const void *b)
{
	const struct group *x = *(const struct group *const *)a,
			   *y = *(const struct group *const *)b;
	int c = trace_pid_cmp(x->pid, y->pid);

	if (c)
		return c;
	return (x->tid > y->tid) - (x->tid < y->tid);
}

static int cev_cmp(const void *a, const void *b)
{
	const struct cev *x = a, *y = b;

	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return (x->idx > y->idx) - (x->idx < y->idx);
}

static int joins(const struct cev *a, const struct cev *b)
{
	return a->kind != K_LINE && a->kind == b->kind && strcmp(a->step, b->step) == 0 &&
	       a->body.len == b->body.len && memcmp(a->body.data, b->body.data, a->body.len) == 0;
}

typedef int (*sink_fn)(void *ctx, const char *p, size_t n);

/* Writes the line for events ev[0..k) (all joining) to line. */
static int put_line(struct buf *line, const struct group *g, const struct cev *ev, size_t k,
		    struct buf *joined)
{
	int64_t n = 0;
	size_t i;
	int r;

	buf_reset(line);
	r = json_obj_open(line);
	if (r >= 0)
		r = json_kv_str(line, "pid", g->pid);
	if (r >= 0)
		r = json_kv_int(line, "tid", g->tid);
	if (r >= 0)
		r = json_kv_str(line, "type", ev[0].type);
	if (r >= 0)
		r = json_kv_str(line, "step", ev[0].step);
	if (r >= 0)
		r = json_key(line, "payload");
	if (r >= 0)
		r = json_obj_open(line);
	if (r >= 0 && ev[0].body.len)
		r = buf_append(line, ev[0].body.data, ev[0].body.len);
	if (r < 0)
		return r;
	for (i = 0; i < k; i++)
		n += ev[i].n;
	if (ev[0].kind == K_SEND) {
		const char *data = ev[0].data.data ? ev[0].data.data : "";
		size_t len = ev[0].data.len;

		if (k > 1) {
			buf_reset(joined);
			for (i = 0; r >= 0 && i < k; i++)
				if (ev[i].data.len)
					r = buf_append(joined, ev[i].data.data, ev[i].data.len);
			if (r < 0)
				return r;
			data = joined->data ? joined->data : "";
			len = joined->len;
		}
		r = json_kv_int(line, "n", n);
		if (r >= 0)
			r = json_kv_bytes(line, "data", data, len);
	} else if (ev[0].kind == K_RANDOM) {
		r = json_kv_int(line, "n", n);
	}
	if (r >= 0)
		r = buf_append(line, "}}\n", 3);
	return r;
}

static int emit(struct fp *f, sink_fn sink, void *ctx)
{
	struct buf line = BUF_INIT, joined = BUF_INIT;
	size_t gi, i, k;
	int r = 0;

	if (f->ngroups > 1)
		qsort(f->groups, f->ngroups, sizeof(*f->groups), group_cmp);
	for (gi = 0; r >= 0 && gi < f->ngroups; gi++) {
		struct group *g = f->groups[gi];

		if (!g->sorted) {
			qsort(g->ev, g->nev, sizeof(*g->ev), cev_cmp);
			g->sorted = 1;
		}
		for (i = 0; r >= 0 && i < g->nev; i += k) {
			for (k = 1; i + k < g->nev && joins(&g->ev[i], &g->ev[i + k]); k++)
				;
			r = put_line(&line, g, &g->ev[i], k, &joined);
			if (r >= 0)
				r = sink(ctx, line.data, line.len);
		}
	}
	buf_release(&line);
	buf_release(&joined);
	return r;
}

static int sink_buf(void *ctx, const char *p, size_t n)
{
	return buf_append(ctx, p, n);
}

static int sink_sha(void *ctx, const char *p, size_t n)
{
	sha256_update(ctx, p, n);
	return 0;
}

int fp_canonical(struct fp *f, struct buf *out)
{
	return emit(f, sink_buf, out);
}

int fp_final(struct fp *f, char hex[FP_HEX_LEN + 1])
{
	struct sha256 *s = sha256_new();
	int r;

	if (!s)
		return -ENOMEM;
	r = emit(f, sink_sha, s);
	sha256_final_hex(s, hex);
	if (r < 0)
		hex[0] = '\0';
	return r;
}

int fp_file(const char *path, char hex[FP_HEX_LEN + 1], struct at_error *reterr)
{
	struct trace_reader *rd;
	struct json_object *ev;
	struct fp *f;
	int r;

	rd = trace_reader_open(path, reterr);
	if (!rd)
		return -EIO;
	f = fp_new();
	if (!f) {
		trace_reader_free(rd);
		at_error_set(reterr, 0, 0, 0, "out of memory");
		return -ENOMEM;
	}
	for (;;) {
		r = trace_reader_next(rd, &ev, reterr);
		if (r <= 0)
			break;
		r = fp_add(f, ev);
		json_object_put(ev);
		if (r < 0) {
			at_error_set(reterr, 0, 0, 0, "out of memory");
			break;
		}
	}
	if (r == 0) {
		r = fp_final(f, hex);
		if (r < 0)
			at_error_set(reterr, 0, 0, 0, "out of memory");
	}
	fp_free(f);
	trace_reader_free(rd);
	return r;
}
