/* SPDX-License-Identifier: MIT */
/* recorder.c -- per-thread event buffers, the writer thread, and flushing.
 *
 * Each thread appends event lines to its own struct tbuf under a spinlock
 * that only the writer ever contends for. Wall-clock reads are stored as a
 * running batch per thread (first value + zigzag varint deltas) and become a
 * single `time` event when another event, another clock or a flush closes
 * the batch: CPython reads the clock once per time.time(), and a million
 * JSON lines would cost more than the reads themselves.
 *
 * A process starts without a writer thread and writes each event through
 * (a stored zstd frame per event, see settle()); once it records more than
 * SYNC_MAX events in a flush period, or SYNC_BYTES since it started, it
 * starts the writer thread, which wakes every 100 ms, gathers every
 * thread's pending lines into one buffer, compresses it into zstd frames
 * and appends them to the trace with one write(2) per flush. Flushes go
 * through the trace descriptor (tracefd.c):
 * one O_APPEND descriptor per process image, opened in the constructor and
 * kept on a high number the program never gets from open/socket/dup; the
 * hooks keep the program's close, dup2/dup3, F_DUPFD, close_range and
 * closefrom off it, so the program never sees it. Frames from several
 * processes (a fork child shares the descriptor) stay whole because
 * O_APPEND writes of a regular file are serialized by the kernel.
 */
#include "shim/recorder.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "common/hot.h"
#include "common/json.h"
#include "common/log.h"
#include "common/trace.h"
#include "common/zframe.h"
#include "shim/netcall.h"
#include "shim/real.h"
#include "shim/shim.h"
#include "shim/tracefd.h"

#define FLUSH_PERIOD_NS (100 * 1000 * 1000)
/* A thread with FLUSH_KICK pending wakes the writer: the buffers stay small,
 * so their pages stay mapped (a fresh page costs a fault, about 10 us here). */
#define FLUSH_KICK (64u << 10)
/* A thread about to wait in a receive does the writer's work itself from
 * this many bytes pending (rec_idle_work). On W3, 1 KiB (about one
 * exchange) took the recording from 1.07x bare to 1.03x; 8 KiB was no
 * better than leaving it all to the writer (the work then outlasts the
 * wait for nginx's answer, and the answer waits for it). */
#define IDLE_MIN (1u << 10)
/* Inline flushes per period, or bytes flushed inline since the start (or
 * the last fork), before a writer thread pays off. 32 flushes started one
 * in every python3 that imports http.client (about 70 events, mostly small
 * file opens, 22 KB in all, in its first 100 ms), and a process with a
 * writer pays about 3 ms more in all: 128 took such a run from 1.062x bare
 * to 1.039x (61 alternating runs). Alone, 128 let W3 write its first 40
 * exchanges through as stored frames (a trace of 268 KB instead of 153).
 * With SYNC_BYTES at most 32 KiB of a process go out uncompressed: W3's
 * trace is 187 KB, W6's 192 KB (159 before; 231 while the bytes were
 * counted per period). */
#define SYNC_MAX	128
#define SYNC_BYTES	(32u << 10)
#define FLUSH_BYTES	(16u << 20) /* ... and with this much, flushes itself (memory bound) */
#define FRAME_MAX_SRC	(4u << 20) /* lines per frame, uncompressed */
#define RAW_MAX		(4u << 10) /* frames up to this size are stored, not compressed */
#define TIME_MAX_DELTAS (64u << 10) /* close a time batch before its deltas pass this */
/* A batch's first room: most processes read the wall clock a few times.
 * 64 KiB at once cost a short process a page fault and a brk. */
#define TIME_MIN_DELTAS 256u
#define BATCH_FRESH_NS	(10 * 1000 * 1000) /* the periodic flush leaves younger batches open */
#define HELD_MAX	(64u << 20) /* frames kept while no descriptor can be had */

struct tbuf {
	atomic_int lock;
	/* Asymmetric exclusion for the time fast path (see rec_time): the
	 * thread sets in_fast around an append with plain stores; the writer
	 * sets wants and issues membarrier() before touching an open batch. */
	atomic_int in_fast;
	atomic_int wants;
	int tid;
	int dead; /* thread exited: free after the next drain */
	struct buf ev;
	struct buf spare; /* touched only by whoever holds wlock */
	size_t nlate; /* late records in ev */
	int64_t ev_ts; /* the open event's ts (rec_late_iov) */
	size_t spare_nlate;
	/* lines held back by the last gather (a late record past its cutoff
	 * and what followed it): the next gather's first lines. wlock. */
	struct buf carry;
	size_t upto; /* gather: spare[0..upto) goes out now */
	int reap; /* gather: dead when its buffer was taken, so nothing is left */
	size_t idle_base; /* ev.len when a receive last found data (rec_idle_ready) */
	uint64_t tseen; /* tseq+1 of the open batch at the previous flush */
	/* the open time batch, if tclk >= 0 */
	int tclk;
	uint32_t tcount;
	int64_t tfirst;
	int64_t tprev;
	int64_t tts; /* when the batch opened: its event's ts */
	uint64_t tseq;
	const char *tstep;
	unsigned char *tdeltas;
	size_t tlen;
	size_t tcap; /* tdeltas' size: grows from TIME_MIN_DELTAS under tb's lock */
	struct tbuf *next;
};

static const char *const clock_names[SHIM_CLOCK_COUNT] = {
	[SHIM_CLOCK_REALTIME] = "realtime", [SHIM_CLOCK_REALTIME_COARSE] = "realtime_coarse",
	[SHIM_CLOCK_TAI] = "tai",	    [SHIM_CLOCK_GETTIMEOFDAY] = "gettimeofday",
	[SHIM_CLOCK_TIME] = "time",	    [SHIM_CLOCK_TIMESPEC_GET] = "timespec_get",
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tbuf *threads;
static pthread_key_t tbuf_key;

static pthread_mutex_t wlock = PTHREAD_MUTEX_INITIALIZER;
static int rec_ready; /* rec_init done */
static struct zframe_enc *enc;
static struct buf frame_in = BUF_INIT;
static struct buf frame_out = BUF_INIT;
static int write_failed;
static atomic_int dropped;
static int finished; /* after the final flush every event flushes at once */

/* 1 when membarrier(PRIVATE_EXPEDITED) is registered for this process:
 * only then may rec_time skip the lock. */
static int asym_ok;

static pthread_mutex_t writer_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t writer_cond;
static pthread_t writer;
/* 1 on the writer thread. */
static __thread int on_writer __attribute__((tls_model("initial-exec")));
/* 1 while the writer thread exists. Written under writer_lock (or by the
 * only thread, at fork), read anywhere. */
static atomic_int writer_running;
static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;
static int writer_stop;
static atomic_int writer_kicked;
/* 1 while the writer waits without a timeout because nothing is pending;
 * the first event after that wakes it (see settle and writer_main). */
static atomic_int writer_idle;
/* Inline flushes in the current period (without a writer thread), and the
 * bytes flushed inline since the process started or last forked. */
static atomic_int sync_count;
static atomic_size_t sync_bytes;
static _Atomic int64_t sync_period_ns;
/* Emits agent_start, once, whoever calls it first. */
static void (*start_task)(void);

static void writer_start(void);
static void settle(size_t pending);

static inline void tb_lock(struct tbuf *tb)
{
	while (atomic_exchange_explicit(&tb->lock, 1, memory_order_acquire))
		while (atomic_load_explicit(&tb->lock, memory_order_relaxed))
			__builtin_ia32_pause();
}

static inline int tb_trylock(struct tbuf *tb)
{
	return !atomic_exchange_explicit(&tb->lock, 1, memory_order_acquire);
}

static inline void tb_unlock(struct tbuf *tb)
{
	atomic_store_explicit(&tb->lock, 0, memory_order_release);
}

AT_HOT int64_t rec_now_ns(void)
{
	struct timespec ts;

	REAL(clock_gettime)(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void tbuf_key_dtor(void *p)
{
	struct tbuf *tb = p;

	/* Thread exit: the writer drains and frees it. shim_tls.tb is gone with
	 * the thread's TLS; a late event in another destructor registers anew. */
	shim_tls.tb = NULL;
	__atomic_store_n(&tb->dead, 1, __ATOMIC_RELEASE);
}

AT_HOT static struct tbuf *tbuf_attach(struct shim_thread *t)
{
	struct tbuf *tb = calloc(1, sizeof(*tb));

	if (!tb)
		return NULL;
	tb->tclk = -1;
	if (t->tid < 0)
		t->tid = shim_new_tid();
	tb->tid = t->tid;
	pthread_mutex_lock(&reg_lock);
	tb->next = threads;
	threads = tb;
	pthread_mutex_unlock(&reg_lock);
	pthread_setspecific(tbuf_key, tb);
	t->tb = tb;
	return tb;
}

static void warn_drop(const char *why)
{
	if (atomic_fetch_add(&dropped, 1) == 0)
		log_warn("recording incomplete: %s; the program continues untraced where needed",
			 why);
}

static void head(struct buf *b, uint64_t seq, int tid, const char *type, int64_t ts,
		 const char *step)
{
	struct trace_head h = {
		.seq = seq,
		.pid = shim_proc.lpid,
		.tid = tid,
		.type = type,
		.ts_ns = ts,
		.step = step ? step : "root",
	};
	trace_ev_head(b, &h);
}

/* Appends the open time batch as one event. Caller holds tb's lock. */
AT_HOT static void time_close(struct tbuf *tb)
{
	struct buf *b = &tb->ev;

	if (tb->tclk < 0)
		return;
	head(b, tb->tseq, tb->tid, "time", tb->tts, tb->tstep);
	json_kv_str(b, "clock", clock_names[tb->tclk]);
	json_kv_int(b, "count", tb->tcount);
	json_kv_int(b, "first_ns", tb->tfirst);
	json_key(b, "deltas_b64");
	buf_putc(b, '"');
	b64_encode(b, tb->tdeltas, tb->tlen);
	buf_putc(b, '"');
	trace_ev_tail(b);
	tb->tclk = -1;
	tb->tlen = 0;
}

/* zigzag, then LEB128: small forward steps take one or two bytes */
static inline void append_delta(struct tbuf *tb, int64_t ns)
{
	uint64_t z = ((uint64_t)(ns - tb->tprev) << 1) ^ (uint64_t)((ns - tb->tprev) >> 63);
	unsigned char *p = tb->tdeltas + tb->tlen;

	while (z >= 0x80) {
		*p++ = (unsigned char)(z | 0x80);
		z >>= 7;
	}
	*p++ = (unsigned char)z;
	tb->tlen = (size_t)(p - tb->tdeltas);
	tb->tprev = ns;
	tb->tcount++;
}

/* Keeps rec_time's fast path out of tb's open batch while the caller, who
 * holds tb's lock, closes it. @return 0 when the batch may be touched. */
static int batch_exclude(struct tbuf *tb, int try)
{
	if (!asym_ok)
		return 0;
	atomic_store_explicit(&tb->wants, 1, memory_order_relaxed);
	syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
	while (atomic_load_explicit(&tb->in_fast, memory_order_acquire)) {
		if (try) {
			atomic_store_explicit(&tb->wants, 0, memory_order_release);
			return -EBUSY;
		}
		__builtin_ia32_pause();
	}
	return 0;
}

static void batch_release(struct tbuf *tb)
{
	if (asym_ok)
		atomic_store_explicit(&tb->wants, 0, memory_order_release);
}

static void asym_register(void)
{
	asym_ok = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
}

/* Everything but the common case: a first read, another clock, a full
 * batch, the writer wanting the batch, or no membarrier. Kept out of line
 * so that rec_time() stays a leaf without register saves. */
AT_HOT static __attribute__((noinline)) void rec_time_slow(struct shim_thread *t,
							   enum shim_clock clk, int64_t ns)
{
	struct tbuf *tb = t->tb;
	size_t pending;
	int saved;

	if (!tb) {
		tb = tbuf_attach(t);
		if (!tb)
			return warn_drop("out of memory");
	}
	tb_lock(tb);
	if (tb->tclk == (int)clk && tb->tlen + 10 > tb->tcap && tb->tcap < TIME_MAX_DELTAS) {
		/* Only this thread appends, and the writer reads the deltas
		 * only under tb's lock, held here: they may move. */
		size_t cap = tb->tcap * 2 < TIME_MAX_DELTAS ? tb->tcap * 2 : TIME_MAX_DELTAS;
		unsigned char *p = realloc(tb->tdeltas, cap);

		if (p) {
			tb->tdeltas = p;
			tb->tcap = cap;
		}
	}
	if (tb->tclk == (int)clk && tb->tlen + 10 <= tb->tcap) {
		append_delta(tb, ns);
		tb_unlock(tb);
		return;
	}
	/* hook_time.c relies on errno surviving rec_time */
	saved = errno;
	time_close(tb);
	if (!tb->tdeltas) {
		tb->tdeltas = malloc(TIME_MIN_DELTAS);
		tb->tcap = tb->tdeltas ? TIME_MIN_DELTAS : 0;
		if (!tb->tdeltas) {
			tb_unlock(tb);
			warn_drop("out of memory");
			errno = saved;
			return;
		}
	}
	tb->tclk = clk;
	tb->tcount = 1;
	tb->tfirst = tb->tprev = ns;
	/* time() and gettimeofday() values are truncated: not a timestamp */
	tb->tts = clk == SHIM_CLOCK_REALTIME || clk == SHIM_CLOCK_TIMESPEC_GET ? ns : rec_now_ns();
	tb->tseq = atomic_fetch_add(&shim_proc.seq, 1);
	tb->tstep = t->step;
	pending = tb->ev.len;
	tb_unlock(tb);
	settle(pending);
	errno = saved;
}

AT_HOT void rec_time(struct shim_thread *t, enum shim_clock clk, int64_t ns)
{
	struct tbuf *tb = t->tb;

	if (__builtin_expect(tb != NULL && asym_ok, 1)) {
		/* Fast path without a locked instruction: announce ourselves,
		 * then check that the writer does not want the batch. The
		 * writer's membarrier() orders its `wants` store against our
		 * in_fast store, so one of us always sees the other. */
		atomic_store_explicit(&tb->in_fast, 1, memory_order_relaxed);
		atomic_signal_fence(memory_order_seq_cst);
		if (__builtin_expect(!atomic_load_explicit(&tb->wants, memory_order_relaxed) &&
					     tb->tclk == (int)clk && tb->tlen + 10 <= tb->tcap,
				     1)) {
			append_delta(tb, ns);
			atomic_store_explicit(&tb->in_fast, 0, memory_order_release);
			return;
		}
		atomic_store_explicit(&tb->in_fast, 0, memory_order_release);
	}
	rec_time_slow(t, clk, ns);
}

enum gather_mode {
	GATHER_PERIODIC, /* the writer's tick: leave fresh time batches open */
	GATHER_ALL, /* exit, exec, fork, size: close every batch */
	GATHER_TRY, /* fatal signal: skip anything locked */
};

static void flush_mode(enum gather_mode mode);

static int64_t coarse_now_ns(void)
{
	struct timespec ts;

	REAL(clock_gettime)(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Called after every recorded event, outside any buffer lock, with the
 * thread's pending byte count. This is where the 100 ms promise is kept.
 *
 * How "a kill -9 loses at most the last 100 ms" holds, case by case:
 *
 * - No writer thread (every process starts this way): the event is written
 *   through before the hook returns to the program (an inline flush, which
 *   closes any open time batch). Nothing is ever pending while the program
 *   runs its own code, so whatever it does next -- spin, block in a call we
 *   do not see, block in one we do, sleep forever -- nothing recorded is
 *   lost. Short processes (curl: ~10 events in 10 ms) never pay for a
 *   thread: creating one and sharing the two cores with it cost W2 8%.
 * - Writing through costs an fstat/write per event, so a process that
 *   flushes inline more than SYNC_MAX times in one period starts the writer
 *   thread instead, and from then on events stay buffered. The writer exists
 *   before the hook returns, and flushes at least every 100 ms whatever the
 *   program's threads do: while anything is pending it waits with a 100 ms
 *   timeout, not for their events. Only when a flush left nothing pending
 *   does it wait without one, and then the next event wakes it (the fence
 *   below and the check in writer_main make sure that wake-up is not lost),
 *   so an idle process has no timer ticking in it.
 * - Forking stops the writer (the parent must look single-threaded at fork
 *   time) after a flush; both sides go on writing through until the rate
 *   calls for a writer again.
 * - Exit, _exit, exec and fatal signals flush as before (rec_finish,
 *   shim_before_exec, rec_flush_from_signal).
 *
 * With a writer, a thread with FLUSH_KICK pending wakes it early; past
 * FLUSH_BYTES (the writer cannot keep up) the thread flushes itself. */
/* Wakes the writer for a kick whose flag the caller has just set. The
 * signal is sent under writer_lock: the writer tests the flags under it
 * before each wait, so the wake-up cannot fall between its test and its
 * wait (a lost kick left buffers growing for the rest of the period,
 * into fresh pages that cost a page fault each). */
static void writer_wake(void)
{
	pthread_mutex_lock(&writer_lock);
	pthread_cond_signal(&writer_cond);
	pthread_mutex_unlock(&writer_lock);
}

AT_HOT static void settle(size_t pending)
{
	int64_t now, start;

	if (__builtin_expect(atomic_load_explicit(&writer_running, memory_order_relaxed), 1) &&
	    !finished) {
		/* The event is in the buffer (released by tb_unlock); the fence
		 * orders that store before the load of writer_idle, against the
		 * writer's store of writer_idle before its last look at the
		 * buffers: one of the two sees the other. */
		atomic_thread_fence(memory_order_seq_cst);
		if (__builtin_expect(atomic_load_explicit(&writer_idle, memory_order_relaxed), 0)) {
			pthread_mutex_lock(&writer_lock);
			if (atomic_load(&writer_idle)) {
				atomic_store(&writer_idle, 0);
				pthread_cond_signal(&writer_cond);
			}
			pthread_mutex_unlock(&writer_lock);
		}
		if (__builtin_expect(pending < FLUSH_KICK, 1))
			return;
		if (pending < FLUSH_BYTES) {
			if (!atomic_exchange(&writer_kicked, 1))
				writer_wake();
			return;
		}
		shim_flush();
		return;
	}
	if (!finished) {
		now = coarse_now_ns();
		start = atomic_load_explicit(&sync_period_ns, memory_order_relaxed);
		if (now - start >= FLUSH_PERIOD_NS) {
			atomic_store_explicit(&sync_period_ns, now, memory_order_relaxed);
			atomic_store_explicit(&sync_count, 0, memory_order_relaxed);
		}
		/* Never from a vfork child: it shares our memory and is about
		 * to exec or _exit; a thread started there would be the
		 * parent's, half made. It writes through instead. */
		if ((atomic_fetch_add_explicit(&sync_count, 1, memory_order_relaxed) >= SYNC_MAX ||
		     atomic_fetch_add_explicit(&sync_bytes, pending, memory_order_relaxed) >=
			     SYNC_BYTES) &&
		    REAL(getpid)() == shim_proc.real_pid) {
			writer_start();
			if (atomic_load(&writer_running))
				return;
		}
	}
	shim_flush();
}

AT_HOT struct buf *ev_begin_at(struct shim_thread *t, const char *type, uint64_t seq, int64_t ts_ns)
{
	struct tbuf *tb = t->tb;

	if (__builtin_expect(!tb, 0)) {
		tb = tbuf_attach(t);
		if (!tb) {
			/* Out of memory: write into a scratch buffer that is dropped. */
			static __thread struct buf scratch;
			warn_drop("out of memory");
			buf_reset(&scratch);
			return &scratch;
		}
	}
	tb_lock(tb);
	time_close(tb);
	tb->ev_ts = ts_ns;
	head(&tb->ev, seq, t->tid, type, ts_ns, t->step);
	return &tb->ev;
}

AT_HOT struct buf *ev_begin(struct shim_thread *t, const char *type)
{
	/* seq before the lock is fine: only this thread appends to its buffer */
	return ev_begin_at(t, type, atomic_fetch_add(&shim_proc.seq, 1), rec_now_ns());
}

struct buf *ev_try_begin(struct shim_thread *t, const char *type)
{
	struct tbuf *tb = t->tb;

	if (!tb)
		return ev_begin(t, type);
	if (!tb_trylock(tb))
		return NULL;
	time_close(tb);
	head(&tb->ev, atomic_fetch_add(&shim_proc.seq, 1), t->tid, type, rec_now_ns(), t->step);
	return &tb->ev;
}

AT_HOT void ev_end_noflush(struct shim_thread *t)
{
	struct tbuf *tb = t->tb;

	if (!tb)
		return;
	trace_ev_tail(&tb->ev);
	tb_unlock(tb);
}

void rec_thread_retid(struct shim_thread *t)
{
	if (t->tb)
		t->tb->tid = t->tid;
}

AT_HOT void ev_end(struct shim_thread *t)
{
	struct tbuf *tb = t->tb;
	size_t pending;

	if (__builtin_expect(!tb, 0))
		return;
	trace_ev_tail(&tb->ev);
	pending = tb->ev.len;
	tb_unlock(tb);
	settle(pending);
}

/* ---- late records (recorder.h) ---- */

#define LATE_MARK '\x01' /* JSON text escapes every control byte */

static atomic_uint_fast64_t late_next;

/* A late record in a buffer: the mark, the header, n bytes, a last byte.
 * The last byte is '"' inside an event (the next member's comma is due,
 * see json.c) and '\n' for a bare one (the next line starts clean). */
static inline size_t late_size(size_t n)
{
	return 1 + sizeof(struct rec_late) + n + 1;
}

static int late_put(struct buf *b, struct rec_late *h, const struct iovec *iov, size_t iovcnt,
		    size_t n, char last)
{
	size_t i, off = 0;
	char *o;
	int r;

	if (n > UINT32_MAX)
		return -E2BIG;
	r = buf_reserve(b, late_size(n));
	if (r < 0)
		return r;
	h->n = (uint32_t)n;
	/* taken under the thread's buffer lock: see gather's cutoff */
	h->order = atomic_fetch_add_explicit(&late_next, 1, memory_order_relaxed);
	o = b->data + b->len;
	*o++ = LATE_MARK;
	memcpy(o, h, sizeof(*h));
	o += sizeof(*h);
	for (i = 0; i < iovcnt && off < n; i++) {
		size_t k = iov[i].iov_len < n - off ? iov[i].iov_len : n - off;

		memcpy(o + off, iov[i].iov_base, k);
		off += k;
	}
	o += n;
	*o++ = last;
	*o = '\0';
	b->len += late_size(n);
	return 0;
}

int rec_late_iov(struct buf *b, struct rec_late *h, const struct iovec *iov, size_t iovcnt,
		 size_t n)
{
	struct tbuf *tb = shim_tls.tb;
	int r;

	/* not the thread's buffer (out of memory: the scratch one) */
	if (!tb || b != &tb->ev)
		return -ENOMEM;
	h->ts = tb->ev_ts; /* the event's time */
	r = late_put(b, h, iov, iovcnt, n, '"');
	if (r == 0)
		tb->nlate++;
	return r;
}

void rec_late_bare(struct shim_thread *t, struct rec_late *h)
{
	struct tbuf *tb = t->tb;
	size_t pending;

	if (!tb)
		tb = tbuf_attach(t);
	if (!tb) {
		net_late_expand(h, NULL, NULL, NULL);
		return;
	}
	tb_lock(tb);
	time_close(tb);
	if (late_put(&tb->ev, h, NULL, 0, 0, '\n') == 0)
		tb->nlate++;
	else
		h->kind = 0; /* dropped below */
	pending = tb->ev.len;
	tb_unlock(tb);
	if (!h->kind)
		net_late_expand(h, NULL, NULL, NULL);
	settle(pending);
}

/* A late record found by gather, in its thread's spare buffer. */
struct lref {
	uint64_t order;
	struct tbuf *tb;
	size_t at; /* the mark's offset */
	size_t eoff, elen; /* its text in late_text */
};

static struct lref *lrefs;
static size_t nlrefs, cap_lrefs;
static uint32_t *lorder; /* indexes of lrefs, by order */
static struct buf late_text = BUF_INIT;
static struct buf late_lines = BUF_INIT; /* network_call lines, after the others */

static int lref_add(const struct lref *r)
{
	if (nlrefs == cap_lrefs) {
		size_t cap = cap_lrefs ? 2 * cap_lrefs : 256;
		struct lref *v = realloc(lrefs, cap * sizeof(*v));
		uint32_t *o;

		if (!v)
			return -ENOMEM;
		lrefs = v;
		o = realloc(lorder, cap * sizeof(*o));
		if (!o)
			return -ENOMEM;
		lorder = o;
		cap_lrefs = cap;
	}
	lrefs[nlrefs++] = *r;
	return 0;
}

static int lorder_cmp(const void *a, const void *b)
{
	uint64_t x = lrefs[*(const uint32_t *)a].order, y = lrefs[*(const uint32_t *)b].order;

	return x < y ? -1 : x > y;
}

/* Finds the late records of tb's spare buffer. Records at or past cutoff
 * stay for the next gather, with the rest of their line and every line
 * after them (tb->upto). */
static void late_scan(struct tbuf *tb, uint64_t cutoff)
{
	const char *d = tb->spare.data, *m;
	size_t pos = 0, len = tb->spare.len;
	struct rec_late h;

	tb->upto = len;
	while (pos < len && (m = memchr(d + pos, LATE_MARK, len - pos))) {
		struct lref r = { .tb = tb, .at = (size_t)(m - d) };

		memcpy(&h, m + 1, sizeof(h));
		if (h.order >= cutoff) {
			const char *nl = r.at ? memrchr(d, '\n', r.at) : NULL;

			tb->upto = h.kind == REC_LATE_CLOSE ? r.at : nl ? (size_t)(nl - d) + 1 : 0;
			return;
		}
		r.order = h.order;
		if (lref_add(&r) < 0) {
			/* cannot track it: the rest waits (and is tried again) */
			const char *nl = r.at ? memrchr(d, '\n', r.at) : NULL;

			tb->upto = h.kind == REC_LATE_CLOSE ? r.at : nl ? (size_t)(nl - d) + 1 : 0;
			return;
		}
		pos = r.at + late_size(h.n);
	}
}

/* Copies tb->spare[0..upto) to frame_in, each late record replaced by its
 * text; refs are tb's records (in buffer order). */
static void late_emit(struct tbuf *tb, const struct lref *refs, size_t n)
{
	const char *d = tb->spare.data;
	size_t pos = 0, i;
	int r = 0;

	for (i = 0; i < n && r == 0; i++) {
		struct rec_late h;

		memcpy(&h, d + refs[i].at + 1, sizeof(h));
		r = buf_append(&frame_in, d + pos, refs[i].at - pos);
		if (r == 0)
			r = buf_append(&frame_in, late_text.data + refs[i].eoff, refs[i].elen);
		pos = refs[i].at + late_size(h.n);
	}
	if (r == 0)
		r = buf_append(&frame_in, d + pos, tb->upto - pos);
	if (r < 0)
		warn_drop("out of memory");
}

/* The fatal-signal path: no allocation, no redaction. Every record becomes
 * data_dropped (inside an event) or nothing (bare); references leak. */
static void late_emit_dropped(const struct buf *b)
{
	static const char dropped_kv[] = ",\"data_dropped\":true";
	const char *d = b->data, *m;
	size_t pos = 0, len = b->len;
	int r = 0;

	while (r == 0 && pos < len && (m = memchr(d + pos, LATE_MARK, len - pos))) {
		struct rec_late h;
		size_t at = (size_t)(m - d);

		memcpy(&h, m + 1, sizeof(h));
		r = buf_append(&frame_in, d + pos, at - pos);
		if (r == 0 && h.kind == REC_LATE_DATA)
			r = buf_append(&frame_in, dropped_kv, sizeof(dropped_kv) - 1);
		pos = at + late_size(h.n);
	}
	if (r == 0 && pos < len)
		buf_append(&frame_in, d + pos, len - pos);
}

/* The zstd encoder (about 1 MB of context, and libzstd itself: see
 * zstd_lazy.c), made when the writer thread starts: a process that never
 * starts one never loads libzstd. Caller holds wlock. */
static int enc_ready(void)
{
	if (!enc)
		enc = zframe_enc_new(1, FRAME_MAX_SRC);
	return enc != NULL;
}

/* Appends iov[0..n) (whole frames) to the trace. @return 1 when the bytes
 * must wait for a later flush (no descriptor to be had now), else 0:
 * written, or dropped with a warning. */
AT_HOT static int trace_put(struct iovec *iov, int n, int try)
{
	int r;

	/* Without the trace descriptor (the program ran out of numbers) a
	 * flush opens the file for a moment, on the lowest free number: from
	 * the writer, that could be the number the program's own open, at
	 * that moment, was to get. The frames wait for a flush on a program
	 * thread, or for the descriptor to come back. */
	if (on_writer && tracefd_peek() < 0 &&
	    atomic_load_explicit(&tracefd_lost_, memory_order_relaxed))
		return 1;
	r = tracefd_writev(shim_proc.trace_path, iov, n, try);
	if (r == -EAGAIN || r == -EMFILE || r == -ENFILE)
		return 1;
	if (r < 0 && !write_failed++)
		log_warn("cannot write trace '%s': %s; events are being dropped",
			 shim_proc.trace_path, strerror(-r));
	return 0;
}

/* frame_in as one stored frame, head and tail around it, in one writev.
 * @return 0 when done with frame_in, -1 when the frame must take the
 * general path (too big for one block, or held: then in frame_out). */
AT_HOT static int write_stored_direct(int try)
{
	unsigned char head[ZFRAME_STORE_HEAD], tail[ZFRAME_STORE_TAIL];
	struct iovec iov[3] = { { head, sizeof(head) },
				{ frame_in.data, frame_in.len },
				{ tail, sizeof(tail) } };

	if (zframe_store_parts(frame_in.data, frame_in.len, head, tail) < 0 ||
	    trace_put(iov, 3, try))
		return -1;
	buf_reset(&frame_in);
	return 0;
}

/* Appends a frame's worth of lines to the trace file. Caller holds wlock.
 * Up to RAW_MAX bytes, or without an encoder, go out as a stored
 * (uncompressed) frame; larger batches are compressed. Frames that found
 * no descriptor (the program at its RLIMIT_NOFILE, see tracefd.h) stay in
 * frame_out, up to HELD_MAX, and go out with the next flush. try: the
 * signal path, which must not wait for the trace descriptor's lock. */
AT_HOT static void write_frames(int try)
{
	struct iovec iov;
	size_t off = 0;
	int r;

	if (frame_in.len == 0 && frame_out.len == 0)
		return;
	/* A process without a writer writes each event through: the frame goes
	 * out in pieces, straight from frame_in, and frame_out is not touched
	 * (its pages cost a fault each in every short process). */
	if (frame_out.len == 0 && (frame_in.len <= RAW_MAX || !enc) &&
	    write_stored_direct(try) == 0)
		return;
	if (frame_out.len > HELD_MAX) {
		warn_drop("no file descriptor left to write the trace");
		buf_reset(&frame_out);
	}
	while (off < frame_in.len) {
		size_t n = frame_in.len - off;

		/* frames hold whole lines: cut at the last newline that fits */
		if (n > FRAME_MAX_SRC) {
			const char *nl = memrchr(frame_in.data + off, '\n', FRAME_MAX_SRC);
			n = nl ? (size_t)(nl - (frame_in.data + off)) + 1 : n;
		}
		if (try && frame_out.cap - frame_out.len <= zframe_store_bound(n)) {
			/* A signal handler allocates nothing (frame_out is made
			 * by the first flush that needs it, off this path) and
			 * prints nothing: the frame is counted as dropped. It
			 * was lost before too, held for a flush that a dying
			 * process never makes. */
			atomic_fetch_add(&dropped, 1);
			break;
		}
		if (n <= RAW_MAX || !enc)
			r = zframe_store(frame_in.data + off, n, &frame_out);
		else
			r = zframe_compress(enc, frame_in.data + off, n, &frame_out);
		if (r < 0) {
			warn_drop("zstd compression failed");
			break;
		}
		off += n;
	}
	buf_reset(&frame_in);
	if (frame_out.len == 0)
		return;
	iov = (struct iovec){ frame_out.data, frame_out.len };
	if (!trace_put(&iov, 1, try))
		buf_reset(&frame_out);
}

/* Moves every thread's pending lines into frame_in. Caller holds wlock.
 * A thread's lock is held only to swap its event buffer with the spare, so
 * a thread reading the clock in a tight loop rarely waits for the writer.
 * The periodic flush leaves an open time batch to its thread only while it
 * is younger than BATCH_FRESH_NS (a thread reading the clock in a tight
 * loop is not fenced at every flush for reads made just now); an older one
 * is closed and written, so a read is on disk at most 100 ms + 10 ms after
 * it was made. A batch open at the previous flush is closed whatever its
 * age (the wall clock may have been set back), as is a gone thread's; other
 * modes close every batch (the image may vanish next). GATHER_TRY skips
 * threads whose lock is taken (signal-handler path). */
AT_HOT static int gather(enum gather_mode mode)
{
	int try = mode == GATHER_TRY;
	int64_t now = mode == GATHER_PERIODIC ? rec_now_ns() : 0;
	/* Late records made from here on wait for the next gather: a thread
	 * visited early could otherwise make one that a thread visited later
	 * overtakes (a connection handed from one thread to another). */
	uint64_t cutoff = atomic_load_explicit(&late_next, memory_order_relaxed);
	struct tbuf **pp, *tb;
	size_t i, j;
	int held = 0;

	if (try ? pthread_mutex_trylock(&reg_lock) : pthread_mutex_lock(&reg_lock))
		return 0;
	nlrefs = 0;
	buf_reset(&late_text);
	for (tb = threads; tb; tb = tb->next) {
		struct buf tmp;
		int dead;

		tb->upto = 0;
		tb->spare_nlate = 0;
		tb->reap = 0;
		if (try) {
			if (!tb_trylock(tb))
				continue;
		} else {
			tb_lock(tb);
		}
		dead = __atomic_load_n(&tb->dead, __ATOMIC_ACQUIRE);
		if (tb->tclk >= 0) {
			if (dead) {
				time_close(tb);
			} else if (mode != GATHER_PERIODIC || tb->tseen == tb->tseq + 1 ||
				   now - tb->tts >= BATCH_FRESH_NS) {
				if (batch_exclude(tb, try) == 0)
					time_close(tb);
				batch_release(tb);
			} else {
				tb->tseen = tb->tseq + 1;
			}
		}
		tmp = tb->ev;
		tb->ev = tb->spare;
		tb->spare = tmp;
		tb->spare_nlate = tb->nlate;
		tb->nlate = 0;
		tb->reap = dead;
		tb_unlock(tb);
		if (try) {
			if (tb->carry.len) {
				late_emit_dropped(&tb->carry);
				buf_reset(&tb->carry);
			}
			if (tb->spare_nlate)
				late_emit_dropped(&tb->spare);
			else if (tb->spare.len &&
				 buf_append(&frame_in, tb->spare.data, tb->spare.len) < 0)
				warn_drop("out of memory");
			buf_reset(&tb->spare);
			continue;
		}
		if (tb->carry.len) {
			/* last gather's held lines come first */
			if (buf_append(&tb->carry, tb->spare.data, tb->spare.len) < 0)
				warn_drop("out of memory");
			tmp = tb->carry;
			tb->carry = tb->spare;
			tb->spare = tmp;
			buf_reset(&tb->carry);
			tb->spare_nlate = 1;
		}
		if (tb->spare_nlate) {
			late_scan(tb, cutoff);
		} else {
			if (tb->spare.len &&
			    buf_append(&frame_in, tb->spare.data, tb->spare.len) < 0)
				warn_drop("out of memory");
			buf_reset(&tb->spare);
		}
	}
	if (!try && nlrefs) {
		int sorted = 1;

		for (i = 0; i < nlrefs; i++) {
			lorder[i] = (uint32_t)i;
			if (i && lrefs[i - 1].order > lrefs[i].order)
				sorted = 0;
		}
		if (!sorted)
			qsort(lorder, nlrefs, sizeof(*lorder), lorder_cmp);
		for (i = 0; i < nlrefs; i++) {
			struct lref *r = &lrefs[lorder[i]];
			const char *m = r->tb->spare.data + r->at;
			struct rec_late h;

			memcpy(&h, m + 1, sizeof(h));
			r->eoff = late_text.len;
			net_late_expand(&h, (const unsigned char *)m + 1 + sizeof(h), &late_text,
					&late_lines);
			r->elen = late_text.len - r->eoff;
		}
	}
	/* each thread's lines, in order, its records replaced */
	for (i = 0, tb = threads; !try && tb; tb = tb->next) {
		if (!tb->spare_nlate)
			continue;
		for (j = i; j < nlrefs && lrefs[j].tb == tb; j++)
			;
		late_emit(tb, lrefs + i, j - i);
		i = j;
		if (tb->upto < tb->spare.len) {
			held = 1;
			if (buf_append(&tb->carry, tb->spare.data + tb->upto,
				       tb->spare.len - tb->upto) < 0)
				warn_drop("out of memory");
		}
		buf_reset(&tb->spare);
	}
	if (late_lines.len) {
		if (buf_append(&frame_in, late_lines.data, late_lines.len) < 0)
			warn_drop("out of memory");
		buf_reset(&late_lines);
	}
	for (pp = &threads; !try && (tb = *pp);) {
		if (tb->reap && !tb->carry.len) {
			*pp = tb->next;
			buf_release(&tb->ev);
			buf_release(&tb->spare);
			buf_release(&tb->carry);
			free(tb->tdeltas);
			free(tb);
			continue;
		}
		pp = &tb->next;
	}
	pthread_mutex_unlock(&reg_lock);
	return held;
}

AT_HOT static void flush_mode(enum gather_mode mode)
{
	struct shim_thread *t = &shim_tls;
	int was_busy = t->busy;
	int i;

	if (!rec_ready)
		return;
	t->busy = 1;
	pthread_mutex_lock(&wlock);
	/* Outside the writer's tick everything must go: lines held back for
	 * a late record made meanwhile get another gather or two. */
	for (i = 0; gather(mode) && mode != GATHER_PERIODIC && i < 3; i++)
		;
	/* at exit, the exchanges still open: written by the exiting thread
	 * once it has gathered its own lines (nc_end), never by the writer */
	if (finished || (mode != GATHER_PERIODIC && nc_ending()))
		nc_drain(&frame_in);
	write_frames(0);
	pthread_mutex_unlock(&wlock);
	t->busy = was_busy;
}

/* Both read the thread's pending count without its lock: only this
 * thread appends to ev, a gather only empties it, and a count a moment
 * old does no harm here. No lock also means no deadlock when a signal
 * handler receives while its thread holds the lock. idle_base is this
 * thread's alone. */
static size_t idle_pending(const struct tbuf *tb)
{
	return __atomic_load_n(&tb->ev.len, __ATOMIC_RELAXED);
}

int rec_idle_due(void)
{
	struct tbuf *tb = shim_tls.tb;
	size_t n;

	if (!tb || !atomic_load_explicit(&writer_running, memory_order_relaxed) || finished)
		return 0;
	n = idle_pending(tb);
	/* a gather emptied the buffer since the last look */
	if (n < tb->idle_base)
		tb->idle_base = 0;
	return n >= tb->idle_base + IDLE_MIN && n < FLUSH_KICK;
}

void rec_idle_ready(void)
{
	struct tbuf *tb = shim_tls.tb;

	if (tb)
		tb->idle_base = idle_pending(tb);
}

void rec_idle_work(void)
{
	struct shim_thread *t = &shim_tls;
	struct tbuf *tb;
	sigset_t all, old;
	size_t sum = 0;
	int was_busy = t->busy;

	/* not in a vfork child (the parent's writer runs on in our memory) */
	if (!rec_ready || t->busy || REAL(getpid)() != shim_proc.real_pid)
		return;
	/* Signals wait until the work is done: a fatal one's handler flushes
	 * only when it can take wlock, which this thread would be holding;
	 * a handled one comes just before the call, as it could anyway. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	/* never when the writer is at it: it has the work in hand */
	if (pthread_mutex_trylock(&wlock)) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return;
	}
	t->busy = 1;
	/* The other threads' lines come too (a gather takes them all, in
	 * order): not when they make a kick's worth, which is the writer's. */
	pthread_mutex_lock(&reg_lock);
	for (tb = threads; tb; tb = tb->next)
		sum += idle_pending(tb);
	pthread_mutex_unlock(&reg_lock);
	if (sum < FLUSH_KICK) {
		gather(GATHER_PERIODIC);
		if (frame_in.len >= FLUSH_KICK)
			write_frames(0);
	}
	pthread_mutex_unlock(&wlock);
	if (t->tb)
		t->tb->idle_base = 0;
	t->busy = was_busy;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

AT_HOT void shim_flush(void)
{
	flush_mode(GATHER_ALL);
}

void rec_flush_from_signal(void)
{
	struct shim_thread *t = &shim_tls;
	int was_busy = t->busy;

	if (!rec_ready || pthread_mutex_trylock(&wlock))
		return;
	t->busy = 1;
	gather(GATHER_TRY);
	write_frames(1);
	pthread_mutex_unlock(&wlock);
	t->busy = was_busy;
}

/* @return 1 when some thread has buffered lines or an open time batch. */
static int anything_pending(void)
{
	struct tbuf *tb;
	int any = 0;

	/* wlock first (the order gather takes them in): lines a program's
	 * thread gathered while it waited (rec_idle_work) sit in frame_in */
	pthread_mutex_lock(&wlock);
	any = frame_in.len > 0;
	pthread_mutex_lock(&reg_lock);
	for (tb = threads; tb && !any; tb = tb->next) {
		tb_lock(tb);
		any = tb->ev.len > 0 || tb->tclk >= 0 || tb->carry.len > 0;
		tb_unlock(tb);
	}
	pthread_mutex_unlock(&reg_lock);
	pthread_mutex_unlock(&wlock);
	return any;
}

static void *writer_main(void *arg)
{
	struct timespec deadline;

	(void)arg;
	shim_tls.busy = 1; /* everything this thread does is the shim's own */
	on_writer = 1;
	/* This process records enough to compress: make the room the signal
	 * path should not have to allocate, off the program's threads (the
	 * encoder is made by writer_start). */
	pthread_mutex_lock(&wlock);
	buf_reserve(&frame_in, 256u << 10);
	buf_reserve(&frame_out, zframe_bound(256u << 10));
	pthread_mutex_unlock(&wlock);
	pthread_mutex_lock(&writer_lock);
	while (!writer_stop) {
		if (atomic_load(&writer_idle)) {
			/* Woken by the first event after an idle spell (or by a
			 * stop, or spuriously): that event opens a window, which
			 * is flushed after the timed wait below, not at once. */
			pthread_cond_wait(&writer_cond, &writer_lock);
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_nsec += FLUSH_PERIOD_NS;
		if (deadline.tv_nsec >= 1000000000) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000;
		}
		/* A kick (or a stop) ends the wait, also one made before it
		 * began. */
		while (!writer_stop && !atomic_load(&writer_kicked))
			if (pthread_cond_timedwait(&writer_cond, &writer_lock, &deadline) ==
			    ETIMEDOUT)
				break;
		if (writer_stop)
			break;
		atomic_store(&writer_kicked, 0);
		pthread_mutex_unlock(&writer_lock);
		flush_mode(GATHER_PERIODIC);
		/* Idle only if nothing is pending after idle is announced: an
		 * event appended before the announcement is seen here; one
		 * appended after it sees the announcement in settle(), which
		 * clears writer_idle under writer_lock, either before we take
		 * the lock again (then we wait with the timeout) or while we
		 * sit in cond_wait (then it wakes us). */
		pthread_mutex_lock(&writer_lock);
		atomic_store(&writer_idle, 1);
		pthread_mutex_unlock(&writer_lock);
		atomic_thread_fence(memory_order_seq_cst);
		if (anything_pending()) {
			pthread_mutex_lock(&writer_lock);
			atomic_store(&writer_idle, 0);
		} else {
			pthread_mutex_lock(&writer_lock);
		}
	}
	pthread_mutex_unlock(&writer_lock);
	return NULL;
}

/* Starts the writer thread unless it runs. Any thread may call it. */
static void writer_start(void)
{
	pthread_condattr_t ca;
	sigset_t all, old;
	int was_busy;

	if (atomic_load(&writer_running) || pthread_mutex_trylock(&start_lock))
		return;
	if (atomic_load(&writer_running)) {
		pthread_mutex_unlock(&start_lock);
		return;
	}
	/* Only a second thread that closes this one's time batches needs the
	 * fence: a single thread writing through takes the locked path. */
	if (!asym_ok)
		asym_register();
	/* The encoder, and with it the dlopen() of libzstd, which opens (and
	 * closes) a descriptor on the lowest free number: made here, on the
	 * thread that starts the writer, inside its hook, so that this thread
	 * at least cannot be allocating a descriptor of its own meanwhile.
	 * The program's other threads can: see zstd_lazy.c. */
	was_busy = shim_tls.busy;
	shim_tls.busy = 1;
	pthread_mutex_lock(&wlock);
	enc_ready();
	pthread_mutex_unlock(&wlock);
	shim_tls.busy = was_busy;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&writer_cond, &ca);
	pthread_condattr_destroy(&ca);
	writer_stop = 0;
	atomic_store(&writer_idle, 0);
	/* The writer must never take the program's signals. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (REAL(pthread_create)(&writer, NULL, writer_main, NULL) == 0)
		atomic_store(&writer_running, 1);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_mutex_unlock(&start_lock);
}

static void writer_halt(void)
{
	if (!writer_running)
		return;
	pthread_mutex_lock(&writer_lock);
	writer_stop = 1;
	pthread_cond_signal(&writer_cond);
	pthread_mutex_unlock(&writer_lock);
	pthread_join(writer, NULL);
	atomic_store(&writer_running, 0);
}

static int paused_running; /* the writer ran when rec_writer_pause stopped it */

void rec_writer_pause(void)
{
	paused_running = atomic_load(&writer_running);
	writer_halt();
}

void rec_writer_resume(void)
{
	if (paused_running && !finished)
		writer_start();
	paused_running = 0;
}

AT_HOT int rec_init(int truncate, void (*emit_start)(void))
{
	int r;

	/* Room for a stored frame (a signal handler's flush allocates
	 * nothing; without a writer nothing waits in frame_in between events,
	 * and 16 KiB here took 32 KiB of heap); the writer thread reserves
	 * more when it starts,
	 * and makes the encoder (level 1: level 3 made traces ~10% smaller for
	 * twice the cycles). No frame_out yet: frames written through go out
	 * straight from frame_in (write_stored_direct). */
	if (buf_reserve(&frame_in, RAW_MAX) < 0)
		return -ENOMEM;
	pthread_key_create(&tbuf_key, tbuf_key_dtor);
	/* The trace descriptor, opened here, in the constructor, while the
	 * program has no thread that could want the low number it borrows for
	 * a moment; the root starts the trace empty now, before any child can
	 * append a frame. */
	r = tracefd_open(shim_proc.trace_path, truncate);
	if (r < 0)
		log_warn("cannot write trace '%s': %s; events are being dropped",
			 shim_proc.trace_path, strerror(-r));
	rec_ready = 1;
	/* No writer thread yet (see settle): agent_start is written through
	 * now, so a process killed at any later point is in the trace. */
	start_task = emit_start;
	start_task();
	shim_flush();
	return 0;
}

/* Tells the writer to stop without waiting for it: joining made every
 * exiting process wait for the writer thread to be scheduled (most of the
 * per-process cost of W2). The exiting thread writes the last frame itself
 * under wlock; the writer, if it wakes at all, finds nothing to do, and
 * exit_group() ends it. */
static void writer_signal_stop(void)
{
	if (!writer_running)
		return;
	pthread_mutex_lock(&writer_lock);
	writer_stop = 1;
	pthread_cond_signal(&writer_cond);
	pthread_mutex_unlock(&writer_lock);
}

AT_HOT void rec_stop_writer(void)
{
	writer_signal_stop();
}

AT_HOT void rec_finish(void)
{
	writer_signal_stop();
	/* agent_start: claimed here if the writer never got to it, else
	 * waited for (start_task is the claim-once emitter). */
	start_task();
	finished = 1;
	shim_flush();
}

void rec_before_fork(void)
{
	writer_halt();
	start_task();
	shim_flush();
	pthread_mutex_lock(&wlock);
	pthread_mutex_lock(&reg_lock);
}

void rec_after_fork_parent(void)
{
	pthread_mutex_unlock(&reg_lock);
	pthread_mutex_unlock(&wlock);
	/* Nothing is pending: the parent writes through until settle() finds
	 * a writer worth starting again (a shell forking a curl every 13 ms
	 * paid a join and a pthread_create per fork). */
	atomic_store(&sync_bytes, 0);
}

void rec_after_fork_child(void)
{
	struct shim_thread *t = &shim_tls;
	struct tbuf *tb = t->tb;

	/* Only this thread exists now. Other threads' buffers belong to the
	 * parent (and were flushed before fork): forget them, leaking a little
	 * rather than touching memory whose owners vanished mid-operation. */
	pthread_mutex_init(&reg_lock, NULL);
	pthread_mutex_init(&wlock, NULL);
	pthread_mutex_init(&writer_lock, NULL);
	pthread_mutex_init(&start_lock, NULL);
	tracefd_after_fork_child();
	threads = NULL;
	atomic_store(&writer_running, 0);
	atomic_store(&writer_idle, 0);
	atomic_store(&sync_count, 0);
	atomic_store(&sync_bytes, 0);
	nc_after_fork_child();
	if (tb) {
		atomic_store(&tb->lock, 0);
		buf_reset(&tb->ev);
		buf_reset(&tb->spare);
		buf_reset(&tb->carry); /* the parent's to write */
		tb->nlate = 0;
		tb->tclk = -1;
		tb->tlen = 0;
		tb->next = NULL;
		tb->dead = 0;
		threads = tb;
	}
}

void rec_after_fork_child_start(void)
{
	/* the registration belongs to the parent's mm: the child registers
	 * again if it ever starts a writer */
	asym_ok = 0;
	/* agent_start goes to the file now, so a child killed before its next
	 * event still shows in the trace; the child writes through like any
	 * new process (most fork children exec at once). */
	shim_flush();
}
