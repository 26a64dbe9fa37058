/* SPDX-License-Identifier: MIT */
/* recorder.h -- the recorder's lifecycle, used by init.c (events: shim.h). */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Sets up the recorder and writes emit_start's event (agent_start) to the
 * trace at once. No writer thread yet: the process writes its events through
 * until it records often enough for a writer thread to pay off (see settle()
 * in recorder.c). emit_start must run its work only once however often it
 * is called: exit and fork paths call it too. `truncate`: the root empties
 * the trace file now. @return 0 or -ENOMEM. */
int rec_init(int truncate, void (*emit_start)(void));
/* Asks the writer thread to stop, without waiting for it (the process is
 * ending: the caller writes what is left itself). */
void rec_stop_writer(void);
/* Stops the writer thread and waits for it (a program about to call
 * unshare(CLONE_NEWUSER), which needs a single-threaded process), then
 * starts it again. */
void rec_writer_pause(void);
void rec_writer_resume(void);
/* Stops the writer and writes everything; later events flush at once. */
void rec_finish(void);
/* Fork protocol: stop the writer (if any), flush and take the locks; then
 * release them in the parent, or reset to a single thread in the child,
 * which writes its agent_start with rec_after_fork_child_start once its
 * state is set. Both go on writing through, without a writer thread. */
void rec_before_fork(void);
void rec_after_fork_parent(void);
void rec_after_fork_child(void);
void rec_after_fork_child_start(void);
/* Best effort from a fatal-signal handler: skips anything locked. */
void rec_flush_from_signal(void);
/* Wall clock through the real clock_gettime. */
int64_t rec_now_ns(void);

struct shim_thread;
struct buf;
/* ev_begin with an explicit seq and timestamp (agent_start's reserved seq). */
struct buf *ev_begin_at(struct shim_thread *t, const char *type, uint64_t seq, int64_t ts_ns);
/* ev_begin that gives up (NULL) instead of waiting for the thread's lock:
 * for a fatal-signal handler that may have interrupted the shim itself. */
struct buf *ev_try_begin(struct shim_thread *t, const char *type);
/* ev_end without the size-triggered flush. */
void ev_end_noflush(struct shim_thread *t);
/* After fork: the surviving thread's buffer takes its new logical tid. */
void rec_thread_retid(struct shim_thread *t);

/* ---- late records ----
 * A hook may leave part of an event to be written later: rec_late_iov()
 * copies the bytes raw into the event being written (between ev_begin and
 * ev_end), behind a header and a mark byte that JSON text never holds;
 * when the lines are gathered, the records of all threads are taken in the
 * order they were made (order, under the thread's buffer lock) and
 * net_late_expand() turns each into the text that replaces it. So the
 * program's thread only copies, and redaction, the data's JSON and the
 * HTTP reconstruction run on the writer thread. A record made while a
 * gather is under way (order past the gather's cutoff) waits, with the
 * rest of its thread's lines, for the next one. On the fatal-signal path,
 * which must not allocate, records become "data_dropped". */
struct late_state;

enum { REC_LATE_DATA = 1, REC_LATE_CLOSE };

struct rec_late {
	uint64_t order; /* set by the recorder */
	struct late_state *ls; /* a reference, which the expansion drops */
	int64_t ts; /* rec_late_iov: set to the event's */
	const char *step;
	int32_t tid;
	uint32_t n; /* bytes that follow */
	uint8_t kind;
	uint8_t out; /* sent (1) or received (0) */
	uint8_t tls;
	uint8_t h2;
};

struct iovec;
/* Appends the first n bytes spread over iov as a late record to b, the
 * event the caller has open. @return 0, or -ENOMEM / -E2BIG (nothing
 * appended). */
int rec_late_iov(struct buf *b, struct rec_late *h, const struct iovec *iov, size_t iovcnt,
		 size_t n);
/* Appends a late record that stands outside any event (h->n == 0). */
void rec_late_bare(struct shim_thread *t, struct rec_late *h);

/* ---- the program's waits ----
 * A thread about to block in a receive has nothing to do until its peer
 * answers, and a CPU of its own meanwhile. The receive hooks (hook_netio.c)
 * ask rec_idle_due() first: true when a writer thread runs and this
 * thread's buffer holds at least IDLE_MIN bytes (and less than a kick's
 * worth: the writer has that). They then look whether the socket has
 * anything to read (poll with no timeout); when it has not and the socket
 * blocks, rec_idle_work() gathers and expands what is pending on this
 * thread -- the redaction and the HTTP reconstruction the writer would do
 * on another CPU -- and writes a frame when a kick's worth has gathered,
 * before the receive waits. rec_idle_ready() notes that the socket had
 * data: the next look waits for IDLE_MIN more bytes. See libattrace(7),
 * HOW IT RECORDS. */
int rec_idle_due(void);
void rec_idle_ready(void);
void rec_idle_work(void);

/* Implemented by hook_netio.c, called under the write lock: writes the
 * text replacing record h (with p[0..h->n) after it) to line, appends any
 * line it completes (network_call) to lines, and drops h->ls. */
void net_late_expand(const struct rec_late *h, const unsigned char *p, struct buf *line,
		     struct buf *lines);
