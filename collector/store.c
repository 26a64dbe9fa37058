/* SPDX-License-Identifier: MIT */
/* store.c -- segment files + SQLite index, group commit, checked reads. */
#include "collector/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "collector/ingest.h"
#include "common/fingerprint.h"
#include "common/json.h"
#include "common/log.h"
#include "common/trace.h"
#include "common/zframe.h"

#define SEGMENT_MAX   ((uint64_t)256 << 20) /* start a new segment past this */
#define STORE_ZLEVEL  1
#define MAX_CHUNK_OUT ((size_t)1 << 31) /* one chunk's decompressed size, when read back */

/* outbox ids are AUTOINCREMENT: never reused once the outbox empties, so a
 * forwarder can go on from the last id it sent. */
static const char schema[] = "PRAGMA journal_mode=WAL;"
			     "PRAGMA synchronous=FULL;"
			     "CREATE TABLE IF NOT EXISTS traces("
			     " id INTEGER PRIMARY KEY,"
			     " trace_id TEXT NOT NULL UNIQUE,"
			     " name TEXT,"
			     " status TEXT NOT NULL,"
			     " exit_status INTEGER NOT NULL,"
			     " fingerprint TEXT NOT NULL,"
			     " start_ns INTEGER NOT NULL,"
			     " end_ns INTEGER NOT NULL,"
			     " first_ns INTEGER NOT NULL,"
			     " processes INTEGER NOT NULL,"
			     " events INTEGER NOT NULL,"
			     " bytes INTEGER NOT NULL,"
			     " uploads INTEGER NOT NULL,"
			     " received_ns INTEGER NOT NULL,"
			     " updated_ns INTEGER NOT NULL);"
			     "CREATE INDEX IF NOT EXISTS traces_name ON traces(name, id);"
			     "CREATE INDEX IF NOT EXISTS traces_fp ON traces(fingerprint);"
			     "CREATE TABLE IF NOT EXISTS chunks("
			     " id INTEGER PRIMARY KEY,"
			     " trace_id TEXT NOT NULL,"
			     " segment INTEGER NOT NULL,"
			     " off INTEGER NOT NULL,"
			     " len INTEGER NOT NULL,"
			     " sha256 TEXT NOT NULL,"
			     " events INTEGER NOT NULL);"
			     "CREATE INDEX IF NOT EXISTS chunks_trace ON chunks(trace_id, id);"
			     "CREATE TABLE IF NOT EXISTS outbox("
			     " id INTEGER PRIMARY KEY AUTOINCREMENT,"
			     " chunk INTEGER NOT NULL,"
			     " trace_id TEXT NOT NULL,"
			     " enqueued_ns INTEGER NOT NULL);";

struct store {
	char *dir;
	char *db_path;
	sqlite3 *db; /* the writer's connection; used under lock only */
	pthread_mutex_t lock;
	pthread_cond_t work; /* the committer: something is pending */
	pthread_cond_t done; /* uploaders: an epoch became durable */
	pthread_t committer;
	int committer_started;
	int stop;
	int dirty; /* the open transaction holds writes */
	uint64_t epoch; /* the open transaction's number */
	uint64_t durable; /* last committed epoch */
	uint64_t failed; /* last epoch whose commit failed */
	int outbox;
	unsigned seg_no;
	int seg_fd;
	uint64_t seg_size; /* bytes written (maybe not yet durable) */
	uint64_t seg_committed; /* bytes covered by committed chunks */
};

int64_t store_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int db_err(sqlite3 *db, struct at_error *reterr, const char *what)
{
	at_error_set(reterr, 0, 0, 0, "%s: %s", what, db ? sqlite3_errmsg(db) : "no database");
	return -EIO;
}

static int exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_error("sqlite: %s: %s", sql, msg ? msg : "?");
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

static char *seg_path(const struct store *s, unsigned no)
{
	char *p = NULL;

	if (asprintf(&p, "%s/segments/%08u.seg", s->dir, no) < 0)
		return NULL;
	return p;
}

static int open_segment(struct store *s, unsigned no, int truncate_to_committed)
{
	char *p = seg_path(s, no);
	struct stat st;
	int fd, r = 0;

	if (!p)
		return -ENOMEM;
	fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		goto out;
	}
	if (truncate_to_committed && (uint64_t)st.st_size > s->seg_committed) {
		/* Bytes past the last indexed chunk: an upload that was never
		 * acknowledged (a crash between append and commit). */
		log_warn("segment '%s': discarding %llu bytes past the last committed chunk", p,
			 (unsigned long long)(st.st_size - s->seg_committed));
		if (ftruncate(fd, (off_t)s->seg_committed) < 0 || fdatasync(fd) < 0) {
			r = -errno;
			close(fd);
			goto out;
		}
	} else if (!truncate_to_committed) {
		s->seg_committed = (uint64_t)st.st_size;
	}
	if (s->seg_fd >= 0)
		close(s->seg_fd);
	s->seg_fd = fd;
	s->seg_no = no;
	s->seg_size = s->seg_committed;
out:
	free(p);
	return r;
}

/* Drops segment files newer than the last one the index names: they hold
 * nothing acknowledged. */
static void drop_newer_segments(struct store *s, unsigned last)
{
	char dir[4096];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/segments", s->dir);
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		unsigned long no;
		char *end;

		no = strtoul(de->d_name, &end, 10);
		if (end == de->d_name || strcmp(end, ".seg") != 0 || no <= last)
			continue;
		log_warn("segment '%s' holds no committed chunk: removed", de->d_name);
		unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}

static void *committer_main(void *arg);

struct store *store_open(const char *dir, int outbox, struct at_error *reterr)
{
	struct store *s = calloc(1, sizeof(*s));
	sqlite3_stmt *st = NULL;
	char sub[4096];
	unsigned last = 0;

	if (!s) {
		at_error_set(reterr, 0, 0, 0, "out of memory");
		return NULL;
	}
	s->seg_fd = -1;
	s->outbox = outbox;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->work, NULL);
	pthread_cond_init(&s->done, NULL);
	s->dir = strdup(dir);
	if (!s->dir || asprintf(&s->db_path, "%s/index.sqlite", dir) < 0) {
		s->db_path = NULL;
		at_error_set(reterr, 0, 0, 0, "out of memory");
		goto fail;
	}
	snprintf(sub, sizeof(sub), "%s/segments", dir);
	if ((mkdir(dir, 0700) < 0 && errno != EEXIST) ||
	    (mkdir(sub, 0700) < 0 && errno != EEXIST)) {
		at_error_set(reterr, 0, 0, 0, "cannot create '%s': %s", sub, strerror(errno));
		goto fail;
	}
	if (sqlite3_open_v2(s->db_path, &s->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		db_err(s->db, reterr, "cannot open the index");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 10000);
	if (exec(s->db, schema) < 0) {
		db_err(s->db, reterr, "cannot set up the index");
		goto fail;
	}
	/* Where appends go on: the last segment, cut back to its last chunk. */
	if (sqlite3_prepare_v2(s->db,
			       "SELECT segment, max(off + len) FROM chunks WHERE segment = "
			       "(SELECT max(segment) FROM chunks)",
			       -1, &st, NULL) != SQLITE_OK) {
		db_err(s->db, reterr, "cannot read the index");
		goto fail;
	}
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		last = (unsigned)sqlite3_column_int64(st, 0);
		s->seg_committed = (uint64_t)sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	st = NULL;
	drop_newer_segments(s, last);
	if (open_segment(s, last, 1) < 0) {
		at_error_set(reterr, 0, 0, 0, "cannot open segment %u: %s", last, strerror(errno));
		goto fail;
	}
	if (exec(s->db, "BEGIN") < 0) {
		db_err(s->db, reterr, "cannot start a transaction");
		goto fail;
	}
	s->epoch = 1;
	if (pthread_create(&s->committer, NULL, committer_main, s) != 0) {
		at_error_set(reterr, 0, 0, 0, "cannot start the committer thread");
		goto fail;
	}
	s->committer_started = 1;
	return s;
fail:
	store_free(s);
	return NULL;
}

void store_free(struct store *s)
{
	if (!s)
		return;
	if (s->committer_started) {
		pthread_mutex_lock(&s->lock);
		s->stop = 1;
		pthread_cond_signal(&s->work);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->committer, NULL);
	}
	if (s->db) {
		if (sqlite3_get_autocommit(s->db) == 0)
			exec(s->db, "COMMIT");
		sqlite3_close(s->db);
	}
	if (s->seg_fd >= 0)
		close(s->seg_fd);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->work);
	pthread_cond_destroy(&s->done);
	free(s->dir);
	free(s->db_path);
	free(s);
}

/* The committer: makes each epoch durable, segment first, then the index. */
static void *committer_main(void *arg)
{
	struct store *s = arg;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		int r = 0;

		while (!s->dirty && !s->stop)
			pthread_cond_wait(&s->work, &s->lock);
		if (!s->dirty && s->stop)
			break;
		if (fdatasync(s->seg_fd) < 0) {
			log_error("fdatasync of segment %u: %s", s->seg_no, strerror(errno));
			r = -EIO;
		}
		if (r == 0)
			r = exec(s->db, "COMMIT");
		if (r < 0) {
			/* Nothing of this epoch was acknowledged: undo it all. */
			exec(s->db, "ROLLBACK");
			if (ftruncate(s->seg_fd, (off_t)s->seg_committed) < 0)
				log_error("cannot cut segment %u back: %s", s->seg_no,
					  strerror(errno));
			s->seg_size = s->seg_committed;
			s->failed = s->epoch;
		} else {
			s->seg_committed = s->seg_size;
		}
		s->durable = s->epoch;
		s->epoch++;
		s->dirty = 0;
		if (exec(s->db, "BEGIN") < 0)
			log_error("cannot start a transaction");
		pthread_cond_broadcast(&s->done);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* ---- reading chunks -------------------------------------------------------- */

static int read_chunk(const char *dir, int64_t segment, int64_t off, int64_t len, const char *sha,
		      struct buf *out, struct at_error *reterr)
{
	char path[4200], hex[FP_HEX_LEN + 1];
	size_t start = out->len, got = 0;
	int fd, r;

	snprintf(path, sizeof(path), "%s/segments/%08u.seg", dir, (unsigned)segment);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		at_error_set(reterr, 0, 0, 0, "stored data missing: segment %u: %s",
			     (unsigned)segment, strerror(errno));
		return -EIO;
	}
	r = buf_reserve(out, (size_t)len);
	if (r < 0)
		goto out;
	while (got < (size_t)len) {
		ssize_t n = pread(fd, out->data + start + got, (size_t)len - got, off + (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got < (size_t)len) {
		at_error_set(reterr, 0, 0, 0,
			     "stored data torn: segment %u ends before chunk at %lld (+%lld)",
			     (unsigned)segment, (long long)off, (long long)len);
		r = -EIO;
		goto out;
	}
	sha256_hex(out->data + start, got, hex);
	if (strcmp(hex, sha) != 0) {
		at_error_set(reterr, 0, 0, 0,
			     "stored data corrupt: chunk at segment %u offset %lld fails its "
			     "SHA-256",
			     (unsigned)segment, (long long)off);
		r = -EIO;
		goto out;
	}
	out->len = start + got;
	out->data[out->len] = '\0';
out:
	close(fd);
	if (r < 0 && out->data) {
		out->len = start;
		out->data[start] = '\0';
	}
	return r;
}

/* Appends every chunk of trace_id (through db) to out. @return chunks or -errno. */
static int read_trace_frames(sqlite3 *db, const char *dir, const char *trace_id, struct buf *out,
			     struct at_error *reterr)
{
	sqlite3_stmt *st = NULL;
	int r = 0, n = 0, k;

	if (sqlite3_prepare_v2(db,
			       "SELECT segment, off, len, sha256 FROM chunks WHERE trace_id = ? "
			       "ORDER BY id",
			       -1, &st, NULL) != SQLITE_OK)
		return db_err(db, reterr, "index");
	sqlite3_bind_text(st, 1, trace_id, -1, SQLITE_STATIC);
	while ((k = sqlite3_step(st)) == SQLITE_ROW) {
		r = read_chunk(dir, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
			       sqlite3_column_int64(st, 2),
			       (const char *)sqlite3_column_text(st, 3), out, reterr);
		if (r < 0)
			break;
		n++;
	}
	if (r == 0 && k != SQLITE_DONE)
		r = db_err(db, reterr, "index");
	sqlite3_finalize(st);
	return r < 0 ? r : n;
}

/* ---- ingest ---------------------------------------------------------------- */

/* Compresses the selected events of b, one frame per process, into out. */
static int make_frames(struct ingest_batch *b, const unsigned char *sel, struct buf *out,
		       size_t *ret_n)
{
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	struct buf lines = BUF_INIT;
	size_t p, i, n = 0;
	int r = 0;

	if (!cctx)
		return -ENOMEM;
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, STORE_ZLEVEL);
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
	for (p = 0; p < b->seen.npids && r == 0; p++) {
		size_t z;

		buf_reset(&lines);
		for (i = 0; i < b->n && r == 0; i++) {
			if (b->ev[i].pid != p || (sel && !sel[i]))
				continue;
			r = buf_append(&lines, b->text.data + b->ev[i].off, b->ev[i].len);
			if (r == 0)
				r = buf_putc(&lines, '\n');
			n++;
		}
		if (r < 0 || lines.len == 0)
			continue;
		r = buf_reserve(out, ZSTD_compressBound(lines.len));
		if (r < 0)
			break;
		z = ZSTD_compress2(cctx, out->data + out->len, out->cap - 1 - out->len, lines.data,
				   lines.len);
		if (ZSTD_isError(z)) {
			r = -EIO;
			break;
		}
		out->len += z;
		out->data[out->len] = '\0';
	}
	buf_release(&lines);
	ZSTD_freeCCtx(cctx);
	*ret_n = n;
	return r;
}

struct merged {
	struct seqset set;
	struct trace_summary sum;
	struct fp *fp;
};

/* Folds the lines of zstd frames into m: into m->set only, or with full
 * into the summary and the fingerprint too. Stored data was validated when
 * it arrived; a line that fails now is skipped with an error in the log. */
static int fold_frames(struct merged *m, const struct buf *frames, const char *what, int full)
{
	struct zframe_dec dec;
	struct buf fr = BUF_INIT, scratch = BUF_INIT;
	struct at_error err = { 0 };
	char msg[200];
	int r;

	r = zframe_dec_init(&dec, frames->data, frames->len, MAX_CHUNK_OUT);
	if (r < 0)
		return r;
	while ((r = zframe_dec_next(&dec, &fr, &err)) > 0) {
		size_t pos = 0;

		while (pos < fr.len) {
			char *s = fr.data + pos, *nl = memchr(s, '\n', fr.len - pos);
			size_t n = nl ? (size_t)(nl - s) : fr.len - pos;
			struct ingest_line l;
			int p;

			pos += n + 1;
			if (n == 0)
				continue;
			if (nl)
				*nl = '\0';
			r = ingest_line_parse(&l, s, n, full, &scratch, msg, sizeof(msg));
			if (r == -ENOMEM)
				goto out;
			if (r < 0) {
				log_error("%s: stored line skipped: %s", what, msg);
				continue;
			}
			p = seqset_pid(&m->set, l.e.pid);
			if (p >= 0)
				r = seqset_add(&m->set, (uint32_t)p, (uint64_t)l.e.seq);
			else
				r = p;
			if (r == 1 && full) {
				r = summary_add_parts(&m->sum, &l.e, msg, sizeof(msg));
				if (r == 0)
					r = fp_add_parts(m->fp, l.e.pid, l.e.type, l.e.step,
							 l.e.tid, (uint64_t)l.e.seq, l.e.payload);
				if (r == -EINVAL)
					r = 0; /* stored under this id already: keep it */
			}
			ingest_line_release(&l);
			if (r < 0)
				goto out;
		}
	}
	if (r < 0)
		log_error("%s: %s", what, err.msg);
out:
	zframe_dec_release(&dec);
	buf_release(&fr);
	buf_release(&scratch);
	return r < 0 ? r : 0;
}

/* @return 1 when b has an event that m->set lacks. */
static int has_new(const struct merged *m, const struct ingest_batch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		if (!seqset_has(&m->set, b->seen.pids[b->ev[i].pid], b->ev[i].seq))
			return 1;
	return 0;
}

static int append_segment(struct store *s, const struct buf *frames, uint64_t *ret_off)
{
	size_t done = 0;
	int r;

	if (s->seg_size > 0 && s->seg_size + frames->len > SEGMENT_MAX) {
		/* Rotate: the old segment must be durable before the index can
		 * stop syncing it. */
		if (fdatasync(s->seg_fd) < 0)
			return -errno;
		s->seg_committed = 0;
		r = open_segment(s, s->seg_no + 1, 0);
		if (r < 0)
			return r;
		s->seg_committed = 0;
		s->seg_size = 0;
	}
	while (done < frames->len) {
		ssize_t n = pwrite(s->seg_fd, frames->data + done, frames->len - done,
				   (off_t)(s->seg_size + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			/* Leave nothing half-written behind the next chunk. */
			if (ftruncate(s->seg_fd, (off_t)s->seg_size) < 0)
				log_error("cannot cut segment %u back: %s", s->seg_no,
					  strerror(errno));
			return r;
		}
		done += (size_t)n;
	}
	*ret_off = s->seg_size;
	s->seg_size += frames->len;
	return 0;
}

static int put_chunk(struct store *s, const char *trace_id, const struct buf *frames, size_t events,
		     struct at_error *reterr)
{
	char hex[FP_HEX_LEN + 1];
	sqlite3_stmt *st = NULL;
	uint64_t off = 0;
	int64_t chunk;
	int r;

	r = append_segment(s, frames, &off);
	if (r < 0) {
		at_error_set(reterr, 0, 0, 0, "cannot write segment %u: %s", s->seg_no,
			     strerror(-r));
		return r;
	}
	sha256_hex(frames->data, frames->len, hex);
	if (sqlite3_prepare_v2(s->db,
			       "INSERT INTO chunks(trace_id, segment, off, len, sha256, events) "
			       "VALUES(?, ?, ?, ?, ?, ?)",
			       -1, &st, NULL) != SQLITE_OK)
		return db_err(s->db, reterr, "index");
	sqlite3_bind_text(st, 1, trace_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, s->seg_no);
	sqlite3_bind_int64(st, 3, (int64_t)off);
	sqlite3_bind_int64(st, 4, (int64_t)frames->len);
	sqlite3_bind_text(st, 5, hex, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, (int64_t)events);
	r = sqlite3_step(st) == SQLITE_DONE ? 0 : db_err(s->db, reterr, "index");
	sqlite3_finalize(st);
	if (r < 0 || !s->outbox)
		return r;
	chunk = sqlite3_last_insert_rowid(s->db);
	if (sqlite3_prepare_v2(s->db,
			       "INSERT INTO outbox(chunk, trace_id, enqueued_ns) VALUES(?, ?, ?)",
			       -1, &st, NULL) != SQLITE_OK)
		return db_err(s->db, reterr, "index");
	sqlite3_bind_int64(st, 1, chunk);
	sqlite3_bind_text(st, 2, trace_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, store_now_ns());
	r = sqlite3_step(st) == SQLITE_DONE ? 0 : db_err(s->db, reterr, "index");
	sqlite3_finalize(st);
	return r;
}

static int put_trace(struct store *s, const struct trace_summary *sum, const char *fp,
		     uint64_t processes, uint64_t bytes, struct at_error *reterr)
{
	sqlite3_stmt *st = NULL;
	int64_t now = store_now_ns();
	int r;

	if (sqlite3_prepare_v2(
		    s->db,
		    "INSERT INTO traces(trace_id, name, status, exit_status, fingerprint, start_ns, "
		    "end_ns, first_ns, processes, events, bytes, uploads, received_ns, updated_ns) "
		    "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 1, ?12, ?12) "
		    "ON CONFLICT(trace_id) DO UPDATE SET name = excluded.name, status = "
		    "excluded.status, exit_status = excluded.exit_status, fingerprint = "
		    "excluded.fingerprint, start_ns = excluded.start_ns, end_ns = excluded.end_ns, "
		    "first_ns = excluded.first_ns, processes = excluded.processes, events = "
		    "excluded.events, bytes = bytes + excluded.bytes, uploads = uploads + 1, "
		    "updated_ns = excluded.updated_ns",
		    -1, &st, NULL) != SQLITE_OK)
		return db_err(s->db, reterr, "index");
	sqlite3_bind_text(st, 1, sum->trace_id, -1, SQLITE_STATIC);
	if (sum->name)
		sqlite3_bind_text(st, 2, sum->name, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 2);
	sqlite3_bind_text(st, 3, sum->status, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, sum->exit_status);
	sqlite3_bind_text(st, 5, fp, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, sum->start_ns);
	sqlite3_bind_int64(st, 7, sum->end_ns);
	sqlite3_bind_int64(st, 8, sum->first_ns);
	sqlite3_bind_int64(st, 9, (int64_t)processes);
	sqlite3_bind_int64(st, 10, (int64_t)sum->events);
	sqlite3_bind_int64(st, 11, (int64_t)bytes);
	sqlite3_bind_int64(st, 12, now);
	r = sqlite3_step(st) == SQLITE_DONE ? 0 : db_err(s->db, reterr, "index");
	sqlite3_finalize(st);
	return r;
}

/* @return 1 with the answer when the trace exists, 0 when not, -errno. */
static int lookup(sqlite3 *db, const char *trace_id, struct store_answer *ret)
{
	sqlite3_stmt *st = NULL;
	int k;

	if (sqlite3_prepare_v2(
		    db, "SELECT fingerprint, events, processes FROM traces WHERE trace_id = ?", -1,
		    &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(st, 1, trace_id, -1, SQLITE_STATIC);
	k = sqlite3_step(st);
	if (k == SQLITE_ROW) {
		snprintf(ret->trace_id, sizeof(ret->trace_id), "%s", trace_id);
		snprintf(ret->fingerprint, sizeof(ret->fingerprint), "%s",
			 (const char *)sqlite3_column_text(st, 0));
		ret->events = (uint64_t)sqlite3_column_int64(st, 1);
		ret->processes = (uint64_t)sqlite3_column_int64(st, 2);
	}
	sqlite3_finalize(st);
	return k == SQLITE_ROW ? 1 : k == SQLITE_DONE ? 0 : -EIO;
}

/* Under the lock: the trace exists; merge b into it. */
static int merge_locked(struct store *s, struct ingest_batch *b, struct store_answer *ret,
			struct at_error *reterr)
{
	struct merged m = { 0 };
	struct buf old = BUF_INIT, frames = BUF_INIT, scratch = BUF_INIT;
	unsigned char *sel = NULL;
	size_t i, nsel = 0, nstored;
	char msg[200];
	int r;

	seqset_init(&m.set);
	summary_init(&m.sum);
	m.fp = fp_new();
	sel = calloc(b->n ? b->n : 1, 1);
	if (!m.fp || !sel) {
		r = -ENOMEM;
		goto out;
	}
	r = read_trace_frames(s->db, s->dir, b->sum.trace_id, &old, reterr);
	if (r < 0)
		goto out;
	/* A repeat (the common case of a merge: a retry, a second push) is
	 * told from the stored (pid, seq) alone, without any payload. */
	r = fold_frames(&m, &old, b->sum.trace_id, 0);
	if (r < 0)
		goto out;
	if (!has_new(&m, b))
		goto repeat;
	seqset_release(&m.set);
	seqset_init(&m.set);
	r = fold_frames(&m, &old, b->sum.trace_id, 1);
	if (r < 0)
		goto out;
	for (i = 0; i < b->n; i++) {
		const char *pid = b->seen.pids[b->ev[i].pid];
		struct ingest_line l;
		char *line = b->text.data + b->ev[i].off;
		char c = line[b->ev[i].len];
		int p;

		if (seqset_has(&m.set, pid, b->ev[i].seq))
			continue;
		line[b->ev[i].len] = '\0';
		r = ingest_line_parse(&l, line, b->ev[i].len, 1, &scratch, msg, sizeof(msg));
		line[b->ev[i].len] = c;
		if (r < 0) {
			r = r == -ENOMEM ? r : -EIO;
			goto out;
		}
		p = seqset_pid(&m.set, pid);
		r = p < 0 ? p : seqset_add(&m.set, (uint32_t)p, b->ev[i].seq);
		if (r >= 0)
			r = summary_add_parts(&m.sum, &l.e, msg, sizeof(msg));
		if (r == 0)
			r = fp_add_parts(m.fp, l.e.pid, l.e.type, l.e.step, l.e.tid,
					 (uint64_t)l.e.seq, l.e.payload);
		ingest_line_release(&l);
		if (r < 0)
			goto out;
		sel[i] = 1;
		nsel++;
	}
	if (nsel == 0)
		goto repeat;
	r = make_frames(b, sel, &frames, &nstored);
	if (r < 0)
		goto out;
	memcpy(m.sum.trace_id, b->sum.trace_id, sizeof(m.sum.trace_id));
	r = fp_final(m.fp, ret->fingerprint);
	if (r == 0)
		r = put_chunk(s, b->sum.trace_id, &frames, nstored, reterr);
	if (r == 0)
		r = put_trace(s, &m.sum, ret->fingerprint, m.set.npids, frames.len, reterr);
	if (r < 0)
		goto out;
	s->dirty = 1;
	memcpy(ret->trace_id, b->sum.trace_id, sizeof(ret->trace_id));
	ret->events = m.sum.events;
	ret->processes = m.set.npids;
	ret->new_events = nsel;
	ret->created = 0;
	goto out;
repeat:
	/* A repeat: the stored answer, nothing written. */
	r = lookup(s->db, b->sum.trace_id, ret) == 1 ? 0 : -EIO;
	ret->new_events = 0;
	ret->created = 0;
out:
	seqset_release(&m.set);
	summary_release(&m.sum);
	fp_free(m.fp);
	free(sel);
	buf_release(&old);
	buf_release(&frames);
	buf_release(&scratch);
	return r;
}

int store_ingest(struct store *s, struct ingest_batch *b, struct store_answer *ret,
		 struct at_error *reterr)
{
	struct buf frames = BUF_INIT;
	size_t nstored = 0;
	uint64_t my_epoch, seg_before;
	unsigned seg_no_before;
	int r, k, wait;

	memset(ret, 0, sizeof(*ret));
	/* Compressed outside the lock, assuming a new trace (the common case). */
	r = make_frames(b, NULL, &frames, &nstored);
	if (r < 0) {
		at_error_set(reterr, 0, 0, 0, "cannot compress: %s", strerror(-r));
		goto out;
	}
	pthread_mutex_lock(&s->lock);
	seg_before = s->seg_size;
	seg_no_before = s->seg_no;
	exec(s->db, "SAVEPOINT upload");
	k = lookup(s->db, b->sum.trace_id, ret);
	if (k < 0) {
		r = db_err(s->db, reterr, "index");
	} else if (k == 0) {
		r = put_chunk(s, b->sum.trace_id, &frames, nstored, reterr);
		if (r == 0)
			r = put_trace(s, &b->sum, b->fp_hex, b->seen.npids, frames.len, reterr);
		if (r == 0) {
			s->dirty = 1;
			memcpy(ret->trace_id, b->sum.trace_id, sizeof(ret->trace_id));
			memcpy(ret->fingerprint, b->fp_hex, sizeof(ret->fingerprint));
			ret->events = b->n;
			ret->processes = b->seen.npids;
			ret->new_events = b->n;
			ret->created = 1;
		}
	} else {
		r = merge_locked(s, b, ret, reterr);
	}
	if (r < 0) {
		/* Undo this upload alone; others in the transaction stay. */
		exec(s->db, "ROLLBACK TO upload");
		if (s->seg_no == seg_no_before && s->seg_size > seg_before) {
			if (ftruncate(s->seg_fd, (off_t)seg_before) == 0)
				s->seg_size = seg_before;
		}
	}
	exec(s->db, "RELEASE upload");
	/* Whatever we wrote or read may still be in the open transaction:
	 * answer only once that transaction is durable. */
	my_epoch = s->epoch;
	wait = s->dirty;
	if (wait)
		pthread_cond_signal(&s->work);
	while (wait && s->durable < my_epoch)
		pthread_cond_wait(&s->done, &s->lock);
	if (r == 0 && wait && s->failed == my_epoch) {
		at_error_set(reterr, 0, 0, 0, "cannot make the upload durable (see the log)");
		r = -EIO;
	}
	pthread_mutex_unlock(&s->lock);
out:
	buf_release(&frames);
	return r;
}

/* ---- queries --------------------------------------------------------------- */

static sqlite3 *open_reader(struct store *s)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(s->db_path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		log_error("cannot open '%s': %s", s->db_path, db ? sqlite3_errmsg(db) : "?");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 10000);
	return db;
}

static const char trace_cols[] = "id, trace_id, name, status, exit_status, fingerprint, start_ns, "
				 "end_ns, first_ns, processes, events, bytes, uploads, "
				 "received_ns, updated_ns";

static int kv_time(struct buf *out, const char *key, int64_t ns)
{
	char ts[TRACE_TS_LEN];

	if (ns <= 0)
		return json_key(out, key) || json_null(out);
	trace_fmt_ts(ns, ts);
	return json_kv_str(out, key, ts);
}

/* One traces row (selected with trace_cols) as a JSON object. */
static int row_json(sqlite3_stmt *st, struct buf *out)
{
	int64_t start = sqlite3_column_int64(st, 6), end = sqlite3_column_int64(st, 7);
	int64_t first = sqlite3_column_int64(st, 8);
	int r = 0;

	r |= json_obj_open(out);
	r |= json_kv_str(out, "trace_id", (const char *)sqlite3_column_text(st, 1));
	r |= json_kv_str(out, "name", (const char *)sqlite3_column_text(st, 2));
	r |= json_kv_str(out, "status", (const char *)sqlite3_column_text(st, 3));
	if (sqlite3_column_int(st, 4) >= 0 &&
	    strcmp((const char *)sqlite3_column_text(st, 3), "running"))
		r |= json_kv_int(out,
				 strcmp((const char *)sqlite3_column_text(st, 3), "killed") == 0
					 ? "signal"
					 : "exit_status",
				 sqlite3_column_int(st, 4));
	r |= json_kv_str(out, "fingerprint", (const char *)sqlite3_column_text(st, 5));
	r |= kv_time(out, "start", start ? start : first);
	r |= kv_time(out, "end", end);
	r |= json_key(out, "duration_ms");
	if (start && end >= start)
		r |= json_int(out, (end - start) / 1000000);
	else
		r |= json_null(out);
	r |= json_kv_int(out, "processes", sqlite3_column_int64(st, 9));
	r |= json_kv_int(out, "events", sqlite3_column_int64(st, 10));
	r |= json_kv_int(out, "bytes", sqlite3_column_int64(st, 11));
	r |= json_kv_int(out, "uploads", sqlite3_column_int64(st, 12));
	r |= kv_time(out, "received", sqlite3_column_int64(st, 13));
	r |= kv_time(out, "updated", sqlite3_column_int64(st, 14));
	r |= json_obj_close(out);
	return r ? -ENOMEM : 0;
}

int store_list(struct store *s, const struct store_query *q, struct buf *out)
{
	sqlite3 *db = open_reader(s);
	sqlite3_stmt *st = NULL;
	char sql[1024];
	unsigned n = 0;
	int64_t last = 0;
	int r = 0, k;

	if (!db)
		return -EIO;
	snprintf(sql, sizeof(sql),
		 "SELECT %s FROM traces WHERE (?1 IS NULL OR name = ?1) AND (?2 IS NULL OR "
		 "status = ?2) AND (?3 IS NULL OR substr(fingerprint, 1, length(?3)) = ?3) AND "
		 "(?4 = 0 OR (CASE WHEN start_ns > 0 THEN start_ns ELSE first_ns END) >= ?4) AND "
		 "(?5 = 0 OR (CASE WHEN start_ns > 0 THEN start_ns ELSE first_ns END) < ?5) AND "
		 "(?6 = 0 OR id < ?6) ORDER BY id DESC LIMIT ?7",
		 trace_cols);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		r = -EIO;
		goto out;
	}
	if (q->name)
		sqlite3_bind_text(st, 1, q->name, -1, SQLITE_STATIC);
	if (q->status)
		sqlite3_bind_text(st, 2, q->status, -1, SQLITE_STATIC);
	if (q->fingerprint)
		sqlite3_bind_text(st, 3, q->fingerprint, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, q->since_ns);
	sqlite3_bind_int64(st, 5, q->until_ns);
	sqlite3_bind_int64(st, 6, q->cursor);
	sqlite3_bind_int64(st, 7, (int64_t)q->limit + 1);
	r |= json_obj_open(out);
	r |= json_key(out, "traces");
	r |= json_arr_open(out);
	while ((k = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == q->limit) {
			n++;
			break;
		}
		r |= row_json(st, out);
		last = sqlite3_column_int64(st, 0);
		n++;
	}
	if (k != SQLITE_ROW && k != SQLITE_DONE)
		r = -EIO;
	r |= json_arr_close(out);
	r |= json_key(out, "next_cursor");
	if (n > q->limit) {
		char c[32];

		snprintf(c, sizeof(c), "%lld", (long long)last);
		r |= json_str(out, c);
	} else {
		r |= json_null(out);
	}
	r |= json_obj_close(out);
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return r < 0 ? r : r ? -ENOMEM : 0;
}

int store_trace_json(struct store *s, const char *trace_id, struct buf *out)
{
	sqlite3 *db = open_reader(s);
	sqlite3_stmt *st = NULL;
	char sql[512];
	int r, k;

	if (!db)
		return -EIO;
	snprintf(sql, sizeof(sql), "SELECT %s FROM traces WHERE trace_id = ?", trace_cols);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, trace_id, -1, SQLITE_STATIC);
	k = sqlite3_step(st);
	r = k == SQLITE_ROW ? row_json(st, out) : k == SQLITE_DONE ? -ENOENT : -EIO;
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return r;
}

int store_trace_frames(struct store *s, const char *trace_id, struct buf *out,
		       struct at_error *reterr)
{
	sqlite3 *db = open_reader(s);
	int r;

	if (!db)
		return -EIO;
	r = read_trace_frames(db, s->dir, trace_id, out, reterr);
	sqlite3_close(db);
	if (r == 0)
		return -ENOENT;
	return r < 0 ? r : 0;
}

static int count_by(sqlite3 *db, const char *key, const char *sql, struct buf *out)
{
	sqlite3_stmt *st = NULL;
	int r = 0, k;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	r |= json_key(out, key);
	r |= json_obj_open(out);
	while ((k = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);

		/* Keys are user data: escaped like any string. */
		r |= json_str(out, name ? name : "");
		r |= buf_putc(out, ':');
		r |= json_int(out, sqlite3_column_int64(st, 1));
	}
	r |= json_obj_close(out);
	sqlite3_finalize(st);
	return k == SQLITE_DONE && r == 0 ? 0 : -EIO;
}

int store_stats_json(struct store *s, struct buf *out)
{
	sqlite3 *db = open_reader(s);
	sqlite3_stmt *st = NULL;
	int r = 0;

	if (!db)
		return -EIO;
	if (sqlite3_prepare_v2(
		    db,
		    "SELECT count(*), coalesce(sum(events), 0), coalesce(sum(bytes), 0), "
		    "coalesce(sum(processes), 0) FROM traces",
		    -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		r = -EIO;
		goto out;
	}
	r |= json_kv_int(out, "traces", sqlite3_column_int64(st, 0));
	r |= json_kv_int(out, "events", sqlite3_column_int64(st, 1));
	r |= json_kv_int(out, "bytes", sqlite3_column_int64(st, 2));
	r |= json_kv_int(out, "processes", sqlite3_column_int64(st, 3));
	if (r == 0)
		r = count_by(db, "by_status",
			     "SELECT status, count(*) FROM traces GROUP BY status ORDER BY status",
			     out);
	if (r == 0)
		r = count_by(db, "by_name",
			     "SELECT coalesce(name, ''), count(*) AS n FROM traces GROUP BY name "
			     "ORDER BY n DESC, name LIMIT 100",
			     out);
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return r ? (r < 0 ? r : -ENOMEM) : 0;
}

int store_correlation_json(struct store *s, const char *id, struct buf *out)
{
	sqlite3 *db = open_reader(s);
	sqlite3_stmt *st = NULL;
	struct buf ids = BUF_INIT;
	int r = 0, k, n = 0;

	if (!db)
		return -EIO;
	if (sqlite3_prepare_v2(db,
			       "SELECT trace_id FROM traces WHERE instr(name, ?) > 0 ORDER BY id",
			       -1, &st, NULL) != SQLITE_OK) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	r |= json_arr_open(&ids);
	while ((k = sqlite3_step(st)) == SQLITE_ROW) {
		r |= json_str(&ids, (const char *)sqlite3_column_text(st, 0));
		n++;
	}
	r |= json_arr_close(&ids);
	if (k != SQLITE_DONE)
		r = -EIO;
	r |= json_obj_open(out);
	r |= json_kv_str(out, "correlation_id", id);
	r |= json_kv_str(out, "status", n ? "observed" : "awaiting");
	r |= json_key(out, "trace_ids");
	r |= buf_append(out, ids.data, ids.len);
	r |= json_obj_close(out);
out:
	buf_release(&ids);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return r ? (r < 0 ? r : -ENOMEM) : 0;
}

/* ---- outbox ---------------------------------------------------------------- */

int store_outbox_peek(struct store *s, int64_t after, struct store_outbox_item *items, int max)
{
	sqlite3 *db = open_reader(s);
	sqlite3_stmt *st = NULL;
	int n = 0, k = SQLITE_DONE;

	if (!db)
		return -EIO;
	if (sqlite3_prepare_v2(db,
			       "SELECT id, chunk, trace_id, enqueued_ns FROM outbox WHERE id > ? "
			       "ORDER BY id LIMIT ?",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, after);
		sqlite3_bind_int(st, 2, max);
		while (n < max && (k = sqlite3_step(st)) == SQLITE_ROW) {
			items[n].id = sqlite3_column_int64(st, 0);
			items[n].chunk = sqlite3_column_int64(st, 1);
			snprintf(items[n].trace_id, sizeof(items[n].trace_id), "%s",
				 (const char *)sqlite3_column_text(st, 2));
			items[n].enqueued_ns = sqlite3_column_int64(st, 3);
			n++;
		}
	} else {
		k = SQLITE_ERROR;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return k == SQLITE_DONE || k == SQLITE_ROW ? n : -EIO;
}

int store_outbox_done(struct store *s, int64_t upto)
{
	sqlite3_stmt *st = NULL;
	int r;

	/* Through the writer, inside its transaction: the deletion becomes
	 * durable with the next commit (a repeat after a crash is harmless,
	 * the tables deduplicate). */
	pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(s->db, "DELETE FROM outbox WHERE id <= ?", -1, &st, NULL) !=
	    SQLITE_OK) {
		r = -EIO;
	} else {
		sqlite3_bind_int64(st, 1, upto);
		r = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
	}
	sqlite3_finalize(st);
	if (r == 0) {
		s->dirty = 1;
		pthread_cond_signal(&s->work);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_outbox_depth(struct store *s, int64_t *ret_depth, int64_t *ret_oldest_ns)
{
	sqlite3 *db = open_reader(s);
	sqlite3_stmt *st = NULL;
	int r = -EIO;

	*ret_depth = 0;
	*ret_oldest_ns = 0;
	if (!db)
		return -EIO;
	if (sqlite3_prepare_v2(db, "SELECT count(*), coalesce(min(enqueued_ns), 0) FROM outbox", -1,
			       &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW) {
		*ret_depth = sqlite3_column_int64(st, 0);
		*ret_oldest_ns = sqlite3_column_int64(st, 1);
		r = 0;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return r;
}

int store_chunk_frames(struct store *s, int64_t chunk, struct buf *out, struct at_error *reterr)
{
	sqlite3 *db = open_reader(s);
	sqlite3_stmt *st = NULL;
	int r = -EIO, k;

	if (!db)
		return -EIO;
	if (sqlite3_prepare_v2(db, "SELECT segment, off, len, sha256 FROM chunks WHERE id = ?", -1,
			       &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, chunk);
		k = sqlite3_step(st);
		if (k == SQLITE_ROW)
			r = read_chunk(s->dir, sqlite3_column_int64(st, 0),
				       sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2),
				       (const char *)sqlite3_column_text(st, 3), out, reterr);
		else if (k == SQLITE_DONE)
			r = -ENOENT;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return r;
}

/* TSV escaping as ClickHouse reads it. */
static int tsv_str(struct buf *out, const char *v)
{
	int r = 0;

	for (; v && *v && r == 0; v++) {
		switch (*v) {
		case '\t':
			r = buf_puts(out, "\\t");
			break;
		case '\n':
			r = buf_puts(out, "\\n");
			break;
		case '\\':
			r = buf_puts(out, "\\\\");
			break;
		default:
			r = buf_putc(out, *v);
		}
	}
	return r;
}

int store_trace_tsv(struct store *s, const char *trace_id, struct buf *out)
{
	sqlite3 *db = open_reader(s);
	sqlite3_stmt *st = NULL;
	int r = -EIO, k;

	if (!db)
		return -EIO;
	if (sqlite3_prepare_v2(
		    db,
		    "SELECT trace_id, coalesce(name, ''), fingerprint, status, "
		    "CASE WHEN start_ns > 0 THEN start_ns ELSE first_ns END, "
		    "CASE WHEN end_ns > start_ns AND start_ns > 0 THEN end_ns - start_ns "
		    "ELSE 0 END, processes, events, bytes, updated_ns FROM traces WHERE "
		    "trace_id = ?",
		    -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, trace_id, -1, SQLITE_STATIC);
		k = sqlite3_step(st);
		if (k == SQLITE_ROW) {
			r = 0;
			r |= tsv_str(out, (const char *)sqlite3_column_text(st, 0));
			r |= buf_putc(out, '\t');
			r |= tsv_str(out, (const char *)sqlite3_column_text(st, 1));
			r |= buf_putc(out, '\t');
			r |= tsv_str(out, (const char *)sqlite3_column_text(st, 2));
			r |= buf_putc(out, '\t');
			r |= tsv_str(out, (const char *)sqlite3_column_text(st, 3));
			r |= buf_printf(out, "\t%lld\t%.6f\t%lld\t%lld\t%lld\t%lld\t%lld\n",
					(long long)(sqlite3_column_int64(st, 4) / 1000000000),
					sqlite3_column_int64(st, 4) / 1e9,
					(long long)(sqlite3_column_int64(st, 5) / 1000000),
					(long long)sqlite3_column_int64(st, 6),
					(long long)sqlite3_column_int64(st, 7),
					(long long)sqlite3_column_int64(st, 8),
					(long long)sqlite3_column_int64(st, 9));
			r = r ? -ENOMEM : 0;
		} else if (k == SQLITE_DONE) {
			r = -ENOENT;
		}
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return r;
}
