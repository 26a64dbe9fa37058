/* SPDX-License-Identifier: MIT */
/* fingerprint.c -- the causal fingerprint: a Merkle hash over the canonical form of a trace.
 *
 * Canonical form v3 (attrace-trace(5), FINGERPRINT) is exactly this.
 *
 * Events kept. Dropped: type "time" (clock reads are noise), "governance",
 * "network_call" (derived from the connection's socket_call bytes, which are
 * kept: a trace with or without them, in any order, has one fingerprint)
 * and "thread_start" (see below); socket_call with errno EAGAIN, EWOULDBLOCK or EINTR (timing);
 * file_open of a path equal to or under /usr /lib /lib64 /bin /sbin /etc
 * /proc /sys /dev /run /var/cache /var/lib (leading slashes collapsed), or
 * with a "__pycache__" or ".cache" component, or ending ".pyc". Never kept:
 * ts, ts_epoch, seq, real pids, fd numbers, local addresses and ports, env,
 * argv and cwd of agent_start, trace ids, conn ids, thread numbers, child
 * lpids.
 *
 * Units. Each process P (logical pid) turns its kept events, taken in seq
 * order (then arrival order, should a seq repeat), into units. A unit is one
 * JSON object, keys in the order listed, members only when the event has them
 * (strings escaped by json.c, numbers as integers, "result" values as
 * canonical JSON: objects' keys sorted bytewise, doubles as the shortest
 * %.15g..%.17g that reads back exactly, non-finite ones as null):
 *   {"type":"socket","step":S,"proto":..,"peer":..,"listen":..,"ops":[..]}
 *       ONE unit per conn id, gathering that connection's socket_call
 *       events from all threads, in seq order. S is the step of its first
 *       event; peer is the first connect's; listen is the local address of
 *       the accept that created the connection (which port a server serves
 *       is behaviour; the client's address is not). ops, each
 *       {"op":..,"step":..(only when not S), ...}:
 *         send     TCP: a run of successful sends in one step joined into
 *                  one op, "data" or "data_b64" (the bytes rule of
 *                  json_kv_bytes over the concatenated bytes), so syscall
 *                  chunking never shows; UDP: one op per datagram, "peer"
 *                  then the data; failed: "peer" (UDP), "errno";
 *         recv     a run of receives in one step, nothing else: what was
 *                  received (and how a receive failed) is input;
 *         connect  the first connect only when it failed (EINPROGRESS is
 *                  not a failure): "errno"; a later connect: "peer", "errno";
 *         connect_result  only when it failed: "errno";
 *         accept   failed (on the listening socket): "errno"; a second
 *                  accept on one conn: "listen";
 *         shutdown "how", "errno";  close "errno";  other ops: "errno".
 *       An HTTP/1 client connection (TCP, its successful sends joined
 *       start with a request line "METHOD ") is no such unit: each request
 *       is one (below), and what is left is the ops that failed (not send
 *       or recv), in a socket unit only when there is one. A pool sends a
 *       request on whichever connection is free, and how many connections
 *       it opens is timing.
 *   {"type":"http_request","step":S,"peer":..,"data"|"data_b64":..}  one
 *       HTTP/1 request (common/http1.h framing: head, then a body by
 *       Content-Length or chunked coding) of such a connection; bytes
 *       after the last complete request are one more unit. S and the
 *       position are those of the send holding its first byte; peer is the
 *       connection's first connect's;
 *   {"type":"random","step":S,"source":..,"n":N}   on the main thread, a
 *       run of successful same-source reads in one step, N summed; off it,
 *       all successful reads of one source in one step by any thread other
 *       than the main one, N summed (how many bytes each worker of a pool
 *       read, and in how many runs, is scheduling); a failed read:
 *       "source", "errno", never joined; a read whose source is not a
 *       string: "source" (when present), never joined;
 *   {"type":"dns","step":S,"fn":..,"name":..,"addr":..(getnameinfo)}
 *       off the main thread, identical lookups in one step are one unit
 *       (each connection of a pool looks its host up);
 *   {"type":"file_open","step":S,"path":..,"flags":..,"result":"ok"|errno}
 *   {"type":"process_spawn","step":S,"op":..,"path":..,"argv":..,"errno":..,
 *    "child":HASH}   HASH is the child's subtree hash (below); no "child"
 *       for exec, failures, or a child that recorded nothing kept;
 *   {"type":"observation"|"tool_call","step":S,"name":..,"phase":..,"result":..}
 *   {"type":"error","step":S,"what":..}   (the count dropped is timing)
 *   {"type":"exec_image","exe":BASENAME}   an agent_start with via "exec"
 *       that is not P's first; conn ids and random runs start afresh after
 *       it (a new image numbers its sockets again);
 *   {"type":TYPE,"step":S}   any other type.
 * P's first agent_start gives the header; other agent_starts that are not
 * execs (malformed) are left out; the agent_complete with the highest seq
 * gives the trailer.
 *
 * Order. A unit's position is the (tid, seq) of its first event. Units
 * positioned on tid 0 come first, in seq order of that event: the main thread's order is
 * the program's own order. Then every other unit as a multiset: sorted by
 * its JSON text, bytewise. Worker threads are interchangeable (a thread pool
 * hands a task to whichever worker is free), so which thread ran a unit, and
 * how units on different threads interleaved, never shows; what each did
 * does. For the same reason thread_start is not a unit: how many threads a
 * pool starts is timing (Python's ThreadPoolExecutor starts a worker only
 * when none is idle, so one run of a program starts 4 and the next 3),
 * and creating a thread exchanges nothing with the world.
 *
 * Process text. '\n'-terminated lines:
 *   {"type":"process","exe":BASENAME,"via":..}   (from the first agent_start)
 *   one line per unit, in the order above
 *   {"type":"exit","status":N} | {"type":"exit","signal":N} | {"type":"exit"}
 *
 * Merkle tree. The parent of process C is C's lpid minus its last component
 * ("0.2.1" -> "0.2") when that process is in the trace; else the parent named
 * by C's first agent_start when it is in the trace and a proper prefix of
 * C's lpid (so the tree never has a cycle); else C is a root. C's subtree
 * hash is the SHA-256 (64 lowercase hex digits) of C's text, in which C's
 * own spawn units already carry their children's subtree hashes. So the
 * hash names a child by content, never by the lpid that scheduling gave it.
 * A child no spawn unit of its parent names (a vfork child whose parent's
 * note was lost) adds {"type":"child","child":HASH} to the parent's
 * multiset. A process that recorded nothing kept is not in the trace.
 *
 * Fingerprint. The root's subtree hash. Several roots (a malformed or
 * merged trace): SHA-256 of their subtree hashes, sorted, each followed by
 * '\n'; no process at all: SHA-256 of nothing.
 *
 * fp_canonical() prints each process depth first in lpid order
 * (trace_pid_cmp): a line {"process":LPID,"subtree":HASH}, then the
 * process's text. The "process" lines are annotations for the reader and
 * are not hashed as such: the fingerprint is the Merkle root above.
 *
 * file_open flags are function-independent: the access mode (O_RDONLY,
 * O_WRONLY, O_RDWR, O_PATH; O_RDONLY when none is named) followed by those of
 * O_CREAT O_EXCL O_TRUNC O_APPEND O_DIRECTORY O_TMPFILE that are set, joined
 * with '|'. An fopen mode string maps to the same flags ("w" is
 * O_WRONLY|O_CREAT|O_TRUNC, "a+" is O_RDWR|O_CREAT|O_APPEND, 'x' adds
 * O_EXCL); an unrecognised mode string is kept as it is. Numeric flags are
 * read with this system's O_* values.
 *
 * Cost: O(n log n) in events. Conn ids, threads and lpids are found through
 * hash tables; each process's items and units are sorted once.
 *
 * Code: canon.c keeps what counts of each event; proctext.c turns one
 * process's events into its text; this file holds the processes, the tree
 * and the hashes.
 */
#include "common/fingerprint.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/canon.h"
#include "common/http1.h"
#include "common/json.h"
#include "common/jsonv.h"
#include "common/proctext.h"
#include "common/trace.h"

struct proc {
	char *pid;
	struct canon_item *items;
	size_t nitems, capitems;
	int sorted;
	/* set by compute() */
	size_t start; /* the first agent_start item, or nitems */
	struct proc *parent, *first_child, *next_sibling;
	int ncomp; /* components of pid */
	int named; /* a spawn unit of the parent names this process */
	struct buf text;
	char hex[FP_HEX_LEN + 1];
};

struct fp {
	struct proc **procs; /* in arrival order */
	size_t nprocs, capprocs;
	/* pid -> index in procs: a json-c object is a string-keyed hash table,
	 * and there are few processes */
	struct json_object *pids;
	struct proc *last; /* events come in per-process frames */
	size_t arrivals;
	struct http1_names ignore; /* fp_ignore_headers */
};

/* ---- processes and events ---- */

struct fp *fp_new(void)
{
	struct fp *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->pids = json_object_new_object();
	if (!f->pids) {
		free(f);
		return NULL;
	}
	return f;
}

static void item_release(struct canon_item *it)
{
	if (it->type_owned)
		free((char *)it->type);
	free(it->step);
	canon_ev_release(&it->c);
}

void fp_free(struct fp *f)
{
	size_t i, j;

	if (!f)
		return;
	for (i = 0; i < f->nprocs; i++) {
		struct proc *p = f->procs[i];

		for (j = 0; j < p->nitems; j++)
			item_release(&p->items[j]);
		free(p->items);
		free(p->pid);
		buf_release(&p->text);
		free(p);
	}
	free(f->procs);
	json_object_put(f->pids);
	http1_names_release(&f->ignore);
	free(f);
}

int fp_ignore_headers(struct fp *f, const char *list)
{
	http1_names_release(&f->ignore);
	return http1_names_parse(&f->ignore, list);
}

static struct proc *proc_find(const struct fp *f, const char *pid)
{
	struct json_object *v;

	if (!json_object_object_get_ex(f->pids, pid, &v))
		return NULL;
	return f->procs[json_object_get_int64(v)];
}

/* The process named by pid[0..n). */
static struct proc *proc_findn(const struct fp *f, const char *pid, size_t n)
{
	char stack[64], *s = n < sizeof(stack) ? stack : malloc(n + 1);
	struct proc *p;

	if (!s)
		return NULL;
	memcpy(s, pid, n);
	s[n] = '\0';
	p = proc_find(f, s);
	if (s != stack)
		free(s);
	return p;
}

static struct proc *proc_get(struct fp *f, const char *pid)
{
	struct json_object *v;
	struct proc *p;

	if (f->last && strcmp(f->last->pid, pid) == 0)
		return f->last;
	p = proc_find(f, pid);
	if (p)
		return f->last = p;
	if (f->nprocs == f->capprocs) {
		struct proc **a = array_room(f->procs, f->nprocs, &f->capprocs, sizeof(*a));

		if (!a)
			return NULL;
		f->procs = a;
	}
	p = calloc(1, sizeof(*p));
	v = json_object_new_int64((int64_t)f->nprocs);
	if (p)
		p->pid = strdup(pid);
	if (!p || !p->pid || !v || json_object_object_add(f->pids, pid, v) < 0) {
		if (p)
			free(p->pid);
		free(p);
		json_object_put(v);
		return NULL;
	}
	p->sorted = 1;
	f->procs[f->nprocs++] = p;
	return f->last = p;
}

int fp_add(struct fp *f, struct json_object *ev)
{
	const char *pid = jv_str(ev, "pid"), *type = jv_str(ev, "type");
	struct json_object *v;
	int64_t tid = 0;
	uint64_t seq = 0;

	if (!pid || !type)
		return 0; /* not an event: nothing to say about it */
	v = jv_member(ev, "tid");
	if (json_object_is_type(v, json_type_int))
		tid = json_object_get_int64(v);
	v = jv_member(ev, "seq");
	if (json_object_is_type(v, json_type_int))
		seq = (uint64_t)json_object_get_int64(v);
	return fp_add_parts(f, pid, type, jv_str(ev, "step"), tid, seq, jv_member(ev, "payload"));
}

int fp_add_parts(struct fp *f, const char *pid, const char *type, const char *step, int64_t tid,
		 uint64_t seq, struct json_object *payload)
{
	struct canon_item it = { .tid = 0 };
	struct proc *p;
	size_t i;
	int r;

	if (!pid || !type)
		return 0;
	it.tid = tid < 0 || tid > INT32_MAX ? -1 : (int)tid;
	it.seq = seq;
	r = canon_event(&it.c, type, payload);
	if (r < 0 || it.c.kind == CANON_DROP)
		goto out;
	r = -ENOMEM;
	for (i = 0; trace_types[i] && !it.type; i++)
		if (type[0] == trace_types[i][0] && strcmp(type, trace_types[i]) == 0)
			it.type = trace_types[i];
	if (!it.type) {
		it.type = strdup(type);
		it.type_owned = 1;
	}
	it.step = strdup(step ? step : "root");
	if (!it.type || !it.step)
		goto out;
	p = proc_get(f, pid);
	if (!p)
		goto out;
	if (p->nitems == p->capitems) {
		struct canon_item *a = array_room(p->items, p->nitems, &p->capitems, sizeof(*a));

		if (!a)
			goto out;
		p->items = a;
	}
	it.idx = f->arrivals++;
	if (p->nitems && p->items[p->nitems - 1].seq > it.seq)
		p->sorted = 0;
	p->items[p->nitems++] = it;
	return 0;
out:
	item_release(&it);
	return r < 0 ? r : 0;
}

/* ---- the tree ---- */

static int item_cmp(const void *a, const void *b)
{
	const struct canon_item *x = a, *y = b;

	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return (x->idx > y->idx) - (x->idx < y->idx);
}

static int depth_cmp(const void *a, const void *b)
{
	const struct proc *x = *(const struct proc *const *)a, *y = *(const struct proc *const *)b;

	if (x->ncomp != y->ncomp)
		return x->ncomp > y->ncomp ? -1 : 1;
	return strcmp(x->pid, y->pid);
}

static int pid_cmp(const void *a, const void *b)
{
	const struct proc *x = *(const struct proc *const *)a, *y = *(const struct proc *const *)b;
	int c = trace_pid_cmp(x->pid, y->pid);

	return c ? c : strcmp(x->pid, y->pid);
}

/* The lpid minus its last component, else the parent agent_start names if
 * it is a proper prefix (so there is never a cycle), when in the trace. */
static struct proc *find_parent(const struct fp *f, const struct proc *p)
{
	const char *dot = strrchr(p->pid, '.'), *named;
	struct proc *q;
	size_t n;

	if (dot) {
		q = proc_findn(f, p->pid, (size_t)(dot - p->pid));
		if (q)
			return q;
	}
	named = p->start < p->nitems ? p->items[p->start].c.parent : NULL;
	if (!named)
		return NULL;
	n = strlen(named);
	if (n >= strlen(p->pid) || strncmp(p->pid, named, n) != 0 || p->pid[n] != '.')
		return NULL;
	return proc_findn(f, named, n);
}

struct child_ctx {
	const struct fp *f;
	const struct proc *parent;
};

static const char *child_hash(void *ctx, const char *lpid)
{
	const struct child_ctx *cc = ctx;
	const struct proc *c = proc_find(cc->f, lpid);

	return c && c->parent == cc->parent ? c->hex : NULL;
}

/* Writes p's text to out; its children's hashes must be known. */
static int proc_text(struct proctext *pt, const struct fp *f, struct proc *p, struct buf *out)
{
	struct child_ctx cc = { .f = f, .parent = p };
	struct proctext_in in = {
		.items = p->items,
		.nitems = p->nitems,
		.start = p->start,
		.child_hash = child_hash,
		.ctx = &cc,
		.ignore = &f->ignore,
	};
	const char **orphans = NULL;
	struct proc *c;
	size_t i, n = 0;
	int r;

	for (i = 0; i < p->nitems; i++) {
		const struct canon_ev *e = &p->items[i].c;

		c = e->kind == CANON_SPAWN && e->key ? proc_find(f, e->key) : NULL;
		if (c && c->parent == p)
			c->named = 1;
	}
	for (c = p->first_child; c; c = c->next_sibling)
		n += !c->named;
	if (n) {
		orphans = malloc(n * sizeof(*orphans));
		if (!orphans)
			return -ENOMEM;
		n = 0;
		for (c = p->first_child; c; c = c->next_sibling)
			if (!c->named)
				orphans[n++] = c->hex;
	}
	in.orphans = orphans;
	in.norphans = n;
	r = proctext_write(pt, &in, out);
	free(orphans);
	return r;
}

/* Computes every process's subtree hash, children first; with keep_text,
 * leaves each process's text in proc.text. *ret_sorted (nprocs entries, the
 * caller frees) gets the processes. @return 0 or -ENOMEM. */
static int compute(struct fp *f, int keep_text, struct proc ***ret_sorted)
{
	struct buf scratch = BUF_INIT;
	struct proctext *pt;
	struct proc **v, *p;
	size_t i, j;
	int r = 0;

	v = malloc((f->nprocs ? f->nprocs : 1) * sizeof(*v));
	pt = proctext_new();
	if (!v || !pt) {
		free(v);
		proctext_free(pt);
		return -ENOMEM;
	}
	for (i = 0; i < f->nprocs; i++) {
		p = v[i] = f->procs[i];
		if (!p->sorted) {
			qsort(p->items, p->nitems, sizeof(*p->items), item_cmp);
			p->sorted = 1;
		}
		for (j = 0; j < p->nitems && p->items[j].c.kind != CANON_START; j++)
			;
		p->start = j;
		p->first_child = p->next_sibling = NULL;
		p->named = 0;
		p->ncomp = 1;
		for (j = 0; p->pid[j]; j++)
			p->ncomp += p->pid[j] == '.';
		buf_release(&p->text);
	}
	for (i = 0; i < f->nprocs; i++) {
		p = f->procs[i];
		p->parent = find_parent(f, p);
		if (p->parent) {
			p->next_sibling = p->parent->first_child;
			p->parent->first_child = p;
		}
	}
	/* a parent's lpid is a proper prefix of its child's: deeper ones first */
	if (f->nprocs > 1)
		qsort(v, f->nprocs, sizeof(*v), depth_cmp);
	for (i = 0; r >= 0 && i < f->nprocs; i++) {
		struct buf *out = keep_text ? &v[i]->text : &scratch;

		buf_reset(out);
		r = proc_text(pt, f, v[i], out);
		if (r >= 0)
			sha256_hex(out->data ? out->data : "", out->len, v[i]->hex);
	}
	proctext_free(pt);
	buf_release(&scratch);
	if (r < 0) {
		free(v);
		return r;
	}
	*ret_sorted = v;
	return 0;
}

static int hex_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int fp_canonical(struct fp *f, struct buf *out)
{
	struct proc **v;
	size_t i;
	int r;

	r = compute(f, 1, &v);
	if (r < 0)
		return r;
	if (f->nprocs > 1)
		qsort(v, f->nprocs, sizeof(*v), pid_cmp);
	for (i = 0; r >= 0 && i < f->nprocs; i++) {
		r = json_obj_open(out);
		if (r >= 0)
			r = json_kv_str(out, "process", v[i]->pid);
		if (r >= 0)
			r = json_kv_str(out, "subtree", v[i]->hex);
		if (r >= 0)
			r = buf_append(out, "}\n", 2);
		if (r >= 0)
			r = buf_append(out, v[i]->text.data, v[i]->text.len);
		buf_release(&v[i]->text);
	}
	free(v);
	return r;
}

int fp_final(struct fp *f, char hex[FP_HEX_LEN + 1])
{
	const char **roots;
	struct sha256 *s;
	struct proc **v;
	size_t i, n = 0;
	int r;

	hex[0] = '\0';
	r = compute(f, 0, &v);
	if (r < 0)
		return r;
	roots = malloc((f->nprocs ? f->nprocs : 1) * sizeof(*roots));
	s = sha256_new();
	if (!roots || !s) {
		free(roots);
		free(s);
		free(v);
		return -ENOMEM;
	}
	for (i = 0; i < f->nprocs; i++)
		if (!v[i]->parent)
			roots[n++] = v[i]->hex;
	if (n == 1) {
		memcpy(hex, roots[0], FP_HEX_LEN + 1);
		free(s);
	} else {
		if (n > 1)
			qsort(roots, n, sizeof(*roots), hex_cmp);
		for (i = 0; i < n; i++) {
			sha256_update(s, roots[i], FP_HEX_LEN);
			sha256_update(s, "\n", 1);
		}
		sha256_final_hex(s, hex);
	}
	free(roots);
	free(v);
	return 0;
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
	/* checked, not parsed: the canonical form leaves network_call out */
	trace_reader_skip_type_checked(rd, "network_call");
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
