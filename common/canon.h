/* SPDX-License-Identifier: MIT */
/* canon.h -- one event's canonical pieces, for the fingerprint (common/fingerprint.c).
 *
 * canon_event() reads one event's type and payload and keeps only what the
 * canonical form (the comment at the top of fingerprint.c) says is
 * behaviour. It decides what is dropped (time, governance, system-path opens,
 * EAGAIN/EINTR socket calls) and renders kept members as canonical JSON. How
 * events become units, and units a process's text, is fingerprint.c's part.
 *
 * Internal to common/: not for the shim, the CLI or the collector.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

struct json_object;

enum canon_kind {
	CANON_DROP = 0, /* not behaviour: leave the event out */
	CANON_UNIT, /* one unit: {"type":..,"step":.., body} */
	CANON_SPAWN, /* process_spawn: body, and key = the child's lpid (or NULL) */
	CANON_RANDOM, /* a successful random read: key = source, n = bytes */
	CANON_SOCKET, /* socket_call: key = conn id (or NULL), sop and the v_* values */
	CANON_START, /* agent_start: key = exe basename, v_via, parent */
	CANON_EXIT, /* agent_complete: exit_how, n */
};

enum canon_sop {
	SOP_OTHER = 0, /* v_op names it */
	SOP_CONNECT,
	SOP_CONNECT_RESULT,
	SOP_ACCEPT,
	SOP_SEND,
	SOP_RECV,
	SOP_SHUTDOWN,
	SOP_CLOSE,
};

enum canon_exit {
	EXIT_UNKNOWN = 0,
	EXIT_STATUS,
	EXIT_SIGNAL,
};

/* The v_* members are canonical JSON value texts ("\"tcp\"", "3"), owned,
 * NULL when the event has no such member (or it is not kept). */
struct canon_ev {
	enum canon_kind kind;
	enum canon_sop sop;
	enum canon_exit exit_how;
	int udp; /* socket: proto is "udp" (sends are datagrams, never joined) */
	int64_t n; /* random: bytes; exit: status or signal */
	char *key; /* plain C string, see canon_kind */
	char *parent; /* agent_start: the parent lpid when it is a string */
	char *v_op, *v_proto, *v_peer, *v_local, *v_how;
	char *v_err; /* socket: the errno that counts (never EINPROGRESS, never on recv) */
	char *v_via; /* agent_start */
	struct buf body; /* unit members after "step", comma-separated, no braces */
	struct buf data; /* socket send: the decoded bytes */
};

/* One kept event: its place in the trace and its canonical pieces. */
struct canon_item {
	uint64_t seq;
	size_t idx; /* arrival, to keep the order of repeated seqs */
	int tid; /* -1 when the envelope's is out of range */
	const char *type; /* a trace_types[] entry, or owned (see type_owned) */
	int type_owned;
	char *step;
	struct canon_ev c;
	size_t next; /* used by proctext.c */
};

/* Fills c (which must be zeroed) from an event's type and payload (payload
 * may be NULL or not an object). On failure c may hold partial data: call
 * canon_ev_release() either way.
 * @return 0 (c->kind says what to keep) or -ENOMEM. */
int canon_event(struct canon_ev *c, const char *type, struct json_object *payload);
/* Frees what c holds and zeroes it; accepts NULL. */
void canon_ev_release(struct canon_ev *c);

/* Appends v as canonical JSON (with a separator as json.c writes one):
 * objects' keys sorted bytewise, integers as integers, doubles as the
 * shortest %.15g..%.17g that reads back exactly, non-finite ones as null.
 * @return 0 or a buffer error. */
int canon_json_value(struct buf *b, struct json_object *v);

/* @return 1 when a file_open of path is left out of the canonical form:
 * system locations (/usr, /lib, /etc, /proc, /dev, ...) and language
 * caches (__pycache__, *.pyc, .cache). Strict replay lets a program open
 * these even when the live run did not. */
int canon_path_ignored(const char *path);
