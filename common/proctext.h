/* SPDX-License-Identifier: MIT */
/* proctext.h -- one process's canonical text for the fingerprint: events into units, units in order.
 *
 * The rules are the ones in the comment at the top of fingerprint.c; this
 * module applies those about units, their order and the header and trailer
 * lines. Knowing which process is whose child is fingerprint.c's part.
 *
 * Internal to common/: not for the shim, the CLI or the collector.
 */
#pragma once

#include <stddef.h>

#include "common/buf.h"

struct canon_item;
struct http1_names;
struct proctext;

/* @return the subtree hash (64 hex digits) of the child of this process
 * that a spawn names by lpid, or NULL when lpid names no child of it. */
typedef const char *(*proctext_child_fn)(void *ctx, const char *lpid);

struct proctext_in {
	struct canon_item
		*items; /* sorted by seq then arrival; their next members are overwritten */
	size_t nitems;
	size_t start; /* the first agent_start among items, or nitems for none */
	proctext_child_fn child_hash;
	void *ctx;
	const char *const *orphans; /* hashes of children no spawn names */
	size_t norphans;
	/* header fields left out of http_request units (fp_ignore_headers);
	 * NULL or empty for the canonical form itself */
	const struct http1_names *ignore;
};

/* Scratch space, reused from one process to the next. @return NULL on ENOMEM. */
struct proctext *proctext_new(void);
void proctext_free(struct proctext *pt); /* accepts NULL */
/* Appends the process's text (header line, unit lines, trailer line) to out.
 * @return 0, -ENOMEM or a buffer error (out may then hold a partial text). */
int proctext_write(struct proctext *pt, const struct proctext_in *in, struct buf *out);
