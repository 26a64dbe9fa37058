/* SPDX-License-Identifier: MIT */
/* init.c -- once-only setup of the shim, and who this process is in the trace.
 *
 * The constructor reads ATTRACE_* once (the only place in the shim that reads
 * the environment), works out the logical pid from ATTRACE_CTX (set by the
 * parent at spawn/exec) or becomes the root "0", snapshots argv/cwd/env for
 * agent_start, and starts the recorder, which writes agent_start at once.
 * The executable's SHA-256 comes from a per-user cache (hashed once per
 * binary).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fingerprint.h" /* FP_HEX_LEN */
#include "common/fmt.h"
#include "common/hot.h"
#include "common/json.h"
#include "common/log.h"
#include "common/trace.h"
#include "shim/governance.h"
#include "shim/netcall.h"
#include "shim/real.h"
#include "shim/recorder.h"
#include "shim/replayer.h"
#include "shim/secrets.h"
#include "shim/shim.h"

__thread struct shim_thread shim_tls __attribute__((tls_model("initial-exec"))) = { .tid = -1 };
struct shim_proc shim_proc;
struct at_config shim_config = AT_CONFIG_INIT;
int shim_recording;
int shim_ready;

extern char **environ;

/* Implemented in hook_proc.c once it exists; optional here. */
void shim_signals_init(void) __attribute__((weak));

#define MAX_FORWARD 16

/* Replay mode: the trace being replayed, absolute. */
SHIM_LARGE char shim_replay_in[4096];

static struct {
	struct buf argv_json; /* ["a","b"] */
	struct buf env_json; /* {"K":"v"} */
	char *exe;
	char exe_sha256[FP_HEX_LEN + 1];
	char *hash_cache; /* $XDG_CACHE_HOME/attrace/exe-sha256.d, or "" */
	char *cwd;
	const char *via;
	uint64_t start_seq;
	atomic_int start_claimed; /* agent_start is emitted exactly once */
	atomic_int start_done; /* ... and is in the buffers */
	char *forward[MAX_FORWARD]; /* "ATTRACE_X=v" entries passed to children */
	size_t nforward;
	char *preload; /* LD_PRELOAD at start, for children that lost theirs */
	/* exe, hash_cache and cwd, one after the other, then room for the
	 * hash cache entry's name (exe_sha256): the first touch of a page
	 * costs a fault (about 10 us here), and four PATH_MAX arrays took
	 * four pages for some 150 bytes */
	size_t paths_len;
	char paths[4 * PATH_MAX];
} st;

/* Room in st.paths for the next string, PATH_MAX bytes: the constructor
 * writes each of the three once, kept with path_keep; exe_sha256 then
 * uses the room after them without keeping it. */
AT_HOT static char *path_room(void)
{
	return st.paths + st.paths_len;
}

AT_HOT static char *path_keep(char *s, int ok)
{
	if (!ok)
		s[0] = '\0';
	st.paths_len += strlen(s) + 1;
	return s;
}

AT_HOT static int starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* argv as the constructor receives it (glibc passes argc, argv and envp to
 * ELF constructors): the same strings /proc/self/cmdline holds at this
 * point, without the open, the read and a 64 KiB buffer on the stack (20 us
 * of every process start). */
AT_HOT static void snapshot_argv(int argc, char **argv)
{
	buf_reset(&st.argv_json);
	json_arr_open(&st.argv_json);
	for (int i = 0; argv && i < argc && argv[i]; i++)
		secrets_json_strn(&st.argv_json, argv[i], strlen(argv[i]));
	json_arr_close(&st.argv_json);
}

AT_HOT static void snapshot_env(void)
{
	buf_reset(&st.env_json);
	json_obj_open(&st.env_json);
	for (char **e = environ; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		char name[256];
		size_t nlen;

		if (!eq)
			continue;
		nlen = (size_t)(eq - *e);
		if (nlen >= sizeof(name))
			continue;
		memcpy(name, *e, nlen);
		name[nlen] = '\0';
		/* names are escaped too: an environment may hold anything */
		json_strn(&st.env_json, name, nlen);
		buf_putc(&st.env_json, ':');
		if (config_name_is_secret(name))
			json_str(&st.env_json, "[redacted]");
		else
			secrets_json_strn(&st.env_json, eq + 1, strlen(eq + 1));
	}
	json_obj_close(&st.env_json);
}

/* SHA-256 of an open file (shim/sha256_dl.c: libcrypto loaded on demand,
 * on cache misses only). @return 0 or -1. */
__attribute__((noinline, cold)) static int sha256_fd(int fd, char hex[FP_HEX_LEN + 1])
{
	char chunk[65536];
	struct sha256 *s = sha256_new();
	ssize_t n;

	if (!s)
		return -1;
	while ((n = REAL(read)(fd, chunk, sizeof(chunk))) > 0)
		sha256_update(s, chunk, (size_t)n);
	sha256_final_hex(s, hex);
	return n == 0 && hex[0] ? 0 : -1;
}

/* 1 when s[0..n) are all lower-case hex digits: strspn(s, "0123456789abcdef")
 * >= n without strspn, which no typical program calls (common/fmt.h). */
AT_HOT static int lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* The executable's SHA-256, through a per-user cache keyed by device,
 * inode, size and mtime: hashing python3 (6.8 MB) took 4 ms of CPU at every
 * start of every traced process, the largest start-up cost of the shim. One
 * small file per binary, named by its key: a hit is one open and a 65-byte
 * read (a single file of lines cost a 16 KiB read, 4 page faults and a scan,
 * about 100 us, and stopped taking new binaries at 16 KiB). Entries are
 * written to a temporary name and renamed, so no reader sees half of one; a
 * missing or read-only cache only means hashing again. @return 0 or -1. */
/* A cache miss: hashes what path names now and, when it is still what sb
 * describes, stores the hash under entry. Out of line with its 64 KiB
 * read buffer: inlined, that buffer moved the stack pointer of every
 * process start 70 KiB down, and the hit path's first touches of the stack
 * there cost two page faults. @return 0 or -1. */
__attribute__((noinline, cold)) static int exe_sha256_miss(const char *path, const struct stat *sb,
							   const char *entry, int cache,
							   char hex[FP_HEX_LEN + 1])
{
	char line[FP_HEX_LEN + 1], tmp[PATH_MAX + 32];
	struct stat now;
	int fd, cfd, r;

	fd = REAL(open)(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	/* replaced since the stat: hash what we opened, cache nothing */
	if (fstat(fd, &now) < 0 || now.st_dev != sb->st_dev || now.st_ino != sb->st_ino ||
	    now.st_size != sb->st_size || now.st_mtim.tv_sec != sb->st_mtim.tv_sec ||
	    now.st_mtim.tv_nsec != sb->st_mtim.tv_nsec)
		cache = 0;
	r = sha256_fd(fd, hex);
	REAL(close)(fd);
	if (r == 0 && cache) {
		char *up = strrchr(st.hash_cache, '/'), *top;

		/* mkdir -p of the cache directory, attrace and exe-sha256.d */
		*up = '\0';
		top = strrchr(st.hash_cache, '/');
		*top = '\0';
		mkdir(st.hash_cache, 0700);
		*top = '/';
		mkdir(st.hash_cache, 0700);
		*up = '/';
		mkdir(st.hash_cache, 0700);
		snprintf(tmp, sizeof(tmp), "%s.%d.tmp", entry, (int)shim_proc.real_pid);
		cfd = REAL(open)(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (cfd >= 0) {
			ssize_t w;

			memcpy(line, hex, FP_HEX_LEN);
			line[FP_HEX_LEN] = '\n';
			w = REAL(write)(cfd, line, FP_HEX_LEN + 1);
			REAL(close)(cfd);
			if (w != FP_HEX_LEN + 1 || rename(tmp, entry) < 0)
				unlink(tmp);
		}
	}
	return r;
}

AT_HOT static int exe_sha256(const char *path, char hex[FP_HEX_LEN + 1])
{
	char line[FP_HEX_LEN + 2];
	/* the entry's name goes after the kept paths, on the page they
	 * touched already, and is not kept */
	char *entry = path_room();
	struct stat sb;
	struct fmt f;
	ssize_t n = 0;
	int cfd, cache = st.hash_cache[0] != '\0';

	/* stat, not open: on a cache hit the executable is not opened */
	if (stat(path, &sb) < 0)
		return -1;
	if (cache) {
		/* "%s/%llx-%llx-%llx-%lld.%09ld" (common/fmt.h: why not snprintf) */
		fmt_init(&f, entry, PATH_MAX);
		fmt_str(&f, st.hash_cache);
		fmt_char(&f, '/');
		fmt_hex(&f, (uint64_t)sb.st_dev);
		fmt_char(&f, '-');
		fmt_hex(&f, (uint64_t)sb.st_ino);
		fmt_char(&f, '-');
		fmt_hex(&f, (uint64_t)sb.st_size);
		fmt_char(&f, '-');
		fmt_int(&f, (int64_t)sb.st_mtim.tv_sec, 0);
		fmt_char(&f, '.');
		fmt_int(&f, sb.st_mtim.tv_nsec, 9);
		cache = fmt_fits(&f);
	}
	cfd = cache ? REAL(open)(entry, O_RDONLY | O_CLOEXEC) : -1;
	if (cfd >= 0) {
		/* exactly 64 hex digits and a newline: one byte more to read
		 * tells a longer file */
		n = REAL(read)(cfd, line, sizeof(line));
		REAL(close)(cfd);
		if (n == FP_HEX_LEN + 1 && line[FP_HEX_LEN] == '\n' &&
		    lower_hex(line, FP_HEX_LEN)) {
			memcpy(hex, line, FP_HEX_LEN);
			hex[FP_HEX_LEN] = '\0';
			return 0;
		}
	}
	return exe_sha256_miss(path, &sb, entry, cache, hex);
}

/* agent_start for this image, at the reserved seq, emitted once by whoever
 * claims it first: rec_init in the constructor (or in a fork child), else
 * exit/exec/fork paths if that ever failed to run. With `hash` 0 (a
 * fatal-signal handler) exe_sha256 is null. */
AT_HOT static void emit_agent_start_opt(int hash)
{
	struct shim_thread *t = &shim_tls;
	int saved_tid = t->tid;
	char ts[TRACE_TS_LEN];
	struct buf *b;

	if (atomic_exchange(&st.start_claimed, 1)) {
		/* Someone else is emitting it. Exit paths wait for it,
		 * briefly: the hash is cached, or a few ms. */
		for (int i = 0; hash && !atomic_load(&st.start_done) && i < 20000; i++) {
			struct timespec pause = { 0, 100000 };
			REAL(nanosleep)(&pause, NULL);
		}
		return;
	}
	if (hash && !st.exe_sha256[0] && exe_sha256(st.exe, st.exe_sha256) < 0)
		st.exe_sha256[0] = '\0';
	t->tid = 0;
	b = ev_begin_at(t, "agent_start", st.start_seq, shim_proc.start_ns);
	json_kv_str(b, "format", TRACE_FORMAT);
	json_kv_str(b, "trace_id", shim_proc.trace_id);
	json_kv_str(b, "parent", shim_proc.parent[0] ? shim_proc.parent : NULL);
	json_kv_str(b, "via", st.via);
	json_key(b, "argv");
	buf_append(b, st.argv_json.data, st.argv_json.len);
	json_kv_str(b, "exe", st.exe);
	json_kv_str(b, "exe_sha256", st.exe_sha256[0] ? st.exe_sha256 : NULL);
	json_kv_str(b, "cwd", st.cwd);
	json_key(b, "env");
	buf_append(b, st.env_json.data, st.env_json.len);
	json_kv_str(b, "name", shim_config.name);
	trace_fmt_ts(shim_proc.start_ns, ts);
	json_kv_str(b, "start", ts);
	json_kv_int(b, "real_pid", shim_proc.real_pid);
	ev_end_noflush(t);
	t->tid = saved_tid;
	atomic_store(&st.start_done, 1);
}

AT_HOT static void emit_agent_start(void)
{
	emit_agent_start_opt(1);
}

/* ATTRACE_CTX=<lpid>;<parent>;<via>;<seq>;<next_child>;<trace_id>;<image>, parent "-"
 * for none; image counts the execs of this logical process before it. */
AT_HOT static int parse_ctx(const char *ctx)
{
	char tmp[512];
	char *f[7];
	int n = 0;

	if (!ctx || strlen(ctx) >= sizeof(tmp))
		return -EINVAL;
	memcpy(tmp, ctx, strlen(ctx) + 1);
	for (char *p = tmp; p && n < 7; n++) {
		f[n] = p;
		p = strchr(p, ';');
		if (p)
			*p++ = '\0';
	}
	if (n < 6 || strlen(f[0]) >= sizeof(shim_proc.lpid) || strlen(f[5]) != 32)
		return -EINVAL;
	/* strtol, strtoull and snprintf("%s") as before, without libc's
	 * (common/fmt.h) */
	shim_proc.image = n == 7 ? (int)fmt_parse_int(f[6]) : 0;
	fmt_copy(shim_proc.lpid, sizeof(shim_proc.lpid), f[0]);
	fmt_copy(shim_proc.parent, sizeof(shim_proc.parent), strcmp(f[1], "-") ? f[1] : "");
	st.via = strcmp(f[2], "exec") == 0    ? "exec"
		 : strcmp(f[2], "vfork") == 0 ? "vfork"
		 : strcmp(f[2], "fork") == 0  ? "fork"
					      : "spawn";
	atomic_store(&shim_proc.seq, fmt_parse_uint(f[3]));
	atomic_store(&shim_proc.next_child, (int)fmt_parse_int(f[4]));
	memcpy(shim_proc.trace_id, f[5], 33);
	return 0;
}

AT_HOT static void new_trace_id(void)
{
	unsigned char r[16];
	static const char hex[] = "0123456789abcdef";

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		/* getrandom is hooked, but busy is set: this is the real call */
		int64_t now = rec_now_ns();
		memcpy(r, &now, sizeof(now));
		pid_t pid = REAL(getpid)();
		memcpy(r + 8, &pid, sizeof(pid));
	}
	for (int i = 0; i < 16; i++) {
		shim_proc.trace_id[2 * i] = hex[r[i] >> 4];
		shim_proc.trace_id[2 * i + 1] = hex[r[i] & 15];
	}
	shim_proc.trace_id[32] = '\0';
}

/* Makes p absolute into out[n]. @return 0 or a negative errno. */
static int abs_path(const char *p, char *out, size_t n)
{
	char cwd[PATH_MAX];

	if (p[0] == '/') {
		if (strlen(p) >= n)
			return -ENAMETOOLONG;
		memcpy(out, p, strlen(p) + 1);
		return 0;
	}
	if (!getcwd(cwd, sizeof(cwd)))
		return -errno;
	if ((size_t)snprintf(out, n, "%s/%s", cwd, p) >= n)
		return -ENAMETOOLONG;
	return 0;
}

/* Replay mode: the trace read (absolute) and where the run's own recording
 * goes: ATTRACE_REPLAY_OUT, else TRACE with .jsonl.zst replaced by
 * .replay.jsonl.zst. @return 0 or a negative errno. */
static int set_replay_paths(void)
{
	static const char sfx[] = ".jsonl.zst";
	char out[PATH_MAX];
	size_t n;

	if (!shim_config.trace)
		return -EINVAL;
	if (abs_path(shim_config.trace, shim_replay_in, sizeof(shim_replay_in)) < 0)
		return -ENAMETOOLONG;
	if (shim_config.replay_out)
		return abs_path(shim_config.replay_out, shim_proc.trace_path,
				sizeof(shim_proc.trace_path));
	n = strlen(shim_replay_in);
	if (n > sizeof(sfx) - 1 && strcmp(shim_replay_in + n - (sizeof(sfx) - 1), sfx) == 0)
		n -= sizeof(sfx) - 1;
	if ((size_t)snprintf(out, sizeof(out), "%.*s.replay%s", (int)n, shim_replay_in, sfx) >=
	    sizeof(out))
		return -ENAMETOOLONG;
	return abs_path(out, shim_proc.trace_path, sizeof(shim_proc.trace_path));
}

AT_HOT static int set_trace_path(void)
{
	char cwd[PATH_MAX];
	const char *p = shim_config.trace;
	char dflt[64];
	struct fmt f;

	if (shim_config.mode == AT_MODE_REPLAY)
		return set_replay_paths();

	if (!p || !*p) {
		static const int at[6] = { 2, 5, 8, 11, 14, 17 };
		int64_t now = rec_now_ns();
		time_t secs = (time_t)(now / 1000000000);
		char ts[TRACE_TS_LEN];

		/* attrace-YYMMDD_HHMMSS-PID.jsonl.zst, from the ISO timestamp:
		 * "attrace-%.2s%.2s%.2s_%.2s%.2s%.2s-%d.jsonl.zst" */
		trace_fmt_ts((int64_t)secs * 1000000000, ts);
		fmt_init(&f, dflt, sizeof(dflt));
		fmt_str(&f, "attrace-");
		for (int i = 0; i < 6; i++) {
			if (i == 3)
				fmt_char(&f, '_');
			fmt_strn(&f, ts + at[i], 2);
		}
		fmt_char(&f, '-');
		fmt_int(&f, REAL(getpid)(), 0);
		fmt_str(&f, ".jsonl.zst");
		p = dflt;
	}
	if (p[0] == '/') {
		if (strlen(p) >= sizeof(shim_proc.trace_path))
			return -ENAMETOOLONG;
		memcpy(shim_proc.trace_path, p, strlen(p) + 1);
		return 0;
	}
	if (!getcwd(cwd, sizeof(cwd)))
		return -errno;
	fmt_init(&f, shim_proc.trace_path, sizeof(shim_proc.trace_path));
	fmt_str(&f, cwd);
	fmt_char(&f, '/');
	fmt_str(&f, p);
	return fmt_fits(&f) ? 0 : -ENAMETOOLONG;
}

/* $XDG_CACHE_HOME/attrace/exe-sha256.d, or ~/.cache/attrace/exe-sha256.d
 * (both directories made on first use, as XDG allows); none without either
 * variable. */
AT_HOT static void set_hash_cache(void)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char *p = path_room();
	struct fmt f;
	int ok = 0;

	fmt_init(&f, p, PATH_MAX);
	if (xdg && xdg[0] == '/') {
		fmt_str(&f, xdg);
		fmt_str(&f, "/attrace/exe-sha256.d");
		ok = fmt_fits(&f);
	} else if (home && home[0] == '/') {
		fmt_str(&f, home);
		fmt_str(&f, "/.cache/attrace/exe-sha256.d");
		ok = fmt_fits(&f);
	}
	st.hash_cache = path_keep(p, ok);
}

AT_HOT static void save_forwarded_env(void)
{
	for (char **e = environ; e && *e; e++) {
		if (starts_with(*e, "LD_PRELOAD="))
			st.preload = strdup(*e + strlen("LD_PRELOAD="));
		if (!starts_with(*e, "ATTRACE_") || starts_with(*e, "ATTRACE_CTX=") ||
		    starts_with(*e, "ATTRACE_TRACE=") || starts_with(*e, "ATTRACE_REPLAY_OUT=") ||
		    st.nforward == MAX_FORWARD)
			continue;
		st.forward[st.nforward] = strdup(*e);
		if (st.forward[st.nforward])
			st.nforward++;
	}
}

static int preload_has_self(const char *v);

/* strcspn(p, ": ") without strcspn, which no typical program calls
 * (common/fmt.h): the length of one LD_PRELOAD entry. */
AT_HOT static size_t preload_entry_len(const char *p)
{
	size_t n = 0;

	while (p[n] && p[n] != ':' && p[n] != ' ')
		n++;
	return n;
}

/* The program sees the environment it would have without attrace: every
 * ATTRACE_* variable goes, and libattrace.so leaves LD_PRELOAD (the
 * variable goes too when nothing else is in it). The shim has read them
 * and puts them back into every child's environment (shim_child_env). A
 * recorded and a replayed run thus see the same environment, which
 * matters: perl's and python's hash orders depend on how many variables
 * there are. */
AT_HOT static void scrub_env(void)
{
	char keep[4096];
	const char *pre = getenv("LD_PRELOAD");
	size_t n = 0, selfn = strlen(shim_proc.self_path);

	if (pre && preload_has_self(pre)) {
		for (const char *p = pre; *p;) {
			size_t len = preload_entry_len(p);

			if (len && !(len == selfn && memcmp(p, shim_proc.self_path, len) == 0) &&
			    n + len + 2 < sizeof(keep)) {
				if (n)
					keep[n++] = ':';
				memcpy(keep + n, p, len);
				n += len;
			}
			p += len;
			if (*p)
				p++;
		}
		keep[n] = '\0';
		if (n)
			setenv("LD_PRELOAD", keep, 1);
		else
			unsetenv("LD_PRELOAD");
	}
	for (;;) {
		char name[64];
		struct fmt f;
		size_t len = 0;
		char **e;

		for (e = environ; e && *e; e++)
			if (starts_with(*e, "ATTRACE_"))
				break;
		if (!e || !*e)
			break;
		while ((*e)[len] && (*e)[len] != '=')
			len++;
		fmt_init(&f, name, sizeof(name));
		fmt_strn(&f, *e, len);
		if (unsetenv(name) < 0)
			break;
	}
}

/* Perl orders hash keys (HTTP::Tiny's request headers, say) by a hash
 * function seeded from /dev/urandom, which is recorded and replayed, and by
 * default perturbs each hash's order by a state that every hash creation
 * advances: how many hashes a run creates depends on how its input arrived
 * (one read or three), so a replay would send headers in another order.
 * Unless the user chose otherwise, ask perl for PERL_PERTURB_KEYS=0
 * (perlrun(1)): the order still follows the random seed, but only it and
 * the keys. Set in the process's own environment before perl reads it. */
AT_HOT static void perl_deterministic_keys(void)
{
	const char *base = strrchr(st.exe, '/');

	base = base ? base + 1 : st.exe;
	if (strncmp(base, "perl", 4) == 0 && !getenv("PERL_PERTURB_KEYS"))
		setenv("PERL_PERTURB_KEYS", "0", 0);
}

/* Replay: a process or exec'd image the trace does not hold is a program
 * the live run never ran. */
static void check_replayed_image(void)
{
	if (rp_nevents() == 0)
		gov_violation(GOV_LEAK, "subprocess leak: execve(\"%s\")", st.exe);
}

AT_HOT __attribute__((constructor)) static void shim_init(int argc, char **argv, char **envp)
{
	struct shim_thread *t = &shim_tls;
	struct at_error err = { 0 };
	struct dl_find_object self;
	ssize_t n;
	char *p;
	int root;

	/* Not the whole table: resolving all ~115 functions cost 1.1 ms per
	 * process in curl (40 libraries to search), 12% of W2. Hooks resolve
	 * on first use; see rule 1 in real.c. */
	real_init_early();
	t->busy = 1;
	st.exe = st.cwd = st.hash_cache = st.paths; /* "" until set */
	shim_proc.self_path = "";
	if (config_from_env(&shim_config, environ, &err) < 0) {
		log_warn("%s; recording disabled", err.msg);
		shim_config.mode = AT_MODE_OFF;
	}
	log_level = shim_config.log_level;
	if (shim_config.mode == AT_MODE_REPLAY && !shim_config.trace) {
		log_warn("ATTRACE_MODE=replay needs ATTRACE_TRACE; the program runs unreplayed");
		shim_config.mode = AT_MODE_OFF;
	}
	if (shim_config.mode == AT_MODE_OFF)
		goto out;

	/* the link map's name is dladdr's dli_fname, without dladdr's search
	 * for the nearest symbol */
	if (_dl_find_object((void *)shim_init, &self) == 0 && self.dlfo_link_map &&
	    self.dlfo_link_map->l_name)
		shim_proc.self_path = self.dlfo_link_map->l_name;
	if (set_trace_path() < 0) {
		log_warn("cannot resolve the trace path; recording disabled");
		goto out;
	}
	root = parse_ctx(shim_config.ctx) < 0;
	if (root) {
		fmt_copy(shim_proc.lpid, sizeof(shim_proc.lpid), "0");
		shim_proc.parent[0] = '\0';
		st.via = "root";
		new_trace_id();
	}
	shim_proc.real_pid = REAL(getpid)();
	shim_proc.start_ns = rec_now_ns();
	atomic_store(&shim_proc.next_tid, 1);
	st.start_seq = atomic_fetch_add(&shim_proc.seq, 1);
	t->tid = 0;

	save_forwarded_env();
	set_hash_cache();
	(void)envp;
	secrets_init(environ);
	snapshot_argv(argc, argv);
	snapshot_env();
	p = path_room();
	st.cwd = path_keep(p, getcwd(p, PATH_MAX) != NULL);
	p = path_room();
	n = readlink("/proc/self/exe", p, PATH_MAX - 1);
	if (n >= 0)
		p[n] = '\0';
	st.exe = path_keep(p, n >= 0);
	perl_deterministic_keys();
	scrub_env();

	/* Replay: this process's inputs, indexed before the program runs. A
	 * trace the CLI checked cannot fail here; without the CLI, say so
	 * once and run unreplayed. */
	if (shim_config.mode == AT_MODE_REPLAY && rp_load(shim_replay_in) < 0)
		log_warn("replay disabled: the program runs against the real world");
	if (rec_init(root, emit_agent_start) < 0) {
		log_warn("out of memory at start; recording disabled");
		goto out;
	}
	if (shim_signals_init)
		shim_signals_init();
	shim_recording = 1;
	if (shim_replaying)
		check_replayed_image();
out:
	shim_ready = 1;
	t->busy = 0;
}

AT_HOT __attribute__((destructor)) static void shim_fini(void)
{
	struct shim_thread *t = &shim_tls;

	if (!shim_recording)
		return;
	t->busy = 1;
	rec_finish();
	t->busy = 0;
}

AT_HOT void shim_complete_how(int status, int sig, const char *how)
{
	struct shim_thread *t = &shim_tls;
	int was_busy = t->busy;
	struct buf *b;

	if (!shim_recording || atomic_exchange(&shim_proc.completed, 1))
		return;
	t->busy = 1;
	if (shim_replaying && !sig) {
		rp_consume_simple("agent_complete", NULL);
		gov_at_exit();
	}
	if (sig) {
		/* A handler may not wait: no hash if agent_start is still pending. */
		emit_agent_start_opt(0);
		b = ev_try_begin(t, "agent_complete");
	} else {
		rec_stop_writer();
		emit_agent_start();
		/* network_call lines still to come (from bytes not gathered yet,
		 * and exchanges left open) go before agent_complete */
		nc_end();
		shim_flush();
		b = ev_begin(t, "agent_complete");
	}
	if (b) {
		char signame[32];

		json_kv_str(b, "how", how);
		if (sig) {
			const char *abbrev = sigabbrev_np(sig);

			snprintf(signame, sizeof(signame), "SIG%s", abbrev ? abbrev : "UNKNOWN");
			json_kv_int(b, "signal", sig);
			json_kv_str(b, "signame", signame);
		} else {
			json_kv_int(b, "status", status & 0xff);
		}
		ev_end_noflush(t);
	}
	if (sig)
		rec_flush_from_signal();
	else
		shim_flush();
	if (shim_replaying && !sig && shim_config.report && shim_proc.parent[0] == '\0')
		gov_report();
	/* A replay's own recording is not shipped: it is checked, not kept. */
	if (!shim_replaying)
		shim_ship(sig != 0);
	t->busy = was_busy;
}

AT_HOT void shim_complete(int status, int sig)
{
	shim_complete_how(status, sig, sig ? "signal" : "exit");
}

void shim_before_fork(void)
{
	struct shim_thread *t = &shim_tls;
	int was_busy = t->busy;

	if (!shim_recording)
		return;
	t->busy = 1;
	rec_before_fork();
	t->busy = was_busy;
}

void shim_after_fork_parent(void)
{
	if (shim_recording)
		rec_after_fork_parent();
}

void shim_after_fork_child(const char *lpid)
{
	struct shim_thread *t = &shim_tls;
	int was_busy = t->busy;

	if (!shim_recording)
		return;
	t->busy = 1;
	rec_after_fork_child();
	snprintf(shim_proc.parent, sizeof(shim_proc.parent), "%s", shim_proc.lpid);
	snprintf(shim_proc.lpid, sizeof(shim_proc.lpid), "%s", lpid);
	shim_proc.real_pid = REAL(getpid)();
	shim_proc.start_ns = rec_now_ns();
	atomic_store(&shim_proc.seq, 0);
	atomic_store(&shim_proc.next_tid, 1);
	atomic_store(&shim_proc.next_child, 0);
	atomic_store(&shim_proc.completed, 0);
	t->tid = 0;
	rec_thread_retid(t);
	st.via = "fork";
	st.start_seq = atomic_fetch_add(&shim_proc.seq, 1);
	atomic_store(&st.start_claimed, 0);
	atomic_store(&st.start_done, 0);
	emit_agent_start();
	rec_after_fork_child_start();
	shim_proc.image = 0;
	rp_after_fork_child();
	if (shim_replaying && rp_nevents() == 0)
		gov_violation(GOV_LEAK, "subprocess leak: fork() in %s", shim_proc.parent);
	t->busy = was_busy;
}

void shim_before_exec(void)
{
	struct shim_thread *t = &shim_tls;
	int was_busy = t->busy;

	if (!shim_recording)
		return;
	t->busy = 1;
	/* The image is about to vanish: its agent_start must be out first. */
	if (!atomic_load(&st.start_claimed))
		emit_agent_start();
	shim_flush();
	t->busy = was_busy;
}

int shim_new_tid(void)
{
	return atomic_fetch_add(&shim_proc.next_tid, 1);
}

void shim_new_child_lpid(char *out, size_t n)
{
	int k = atomic_fetch_add(&shim_proc.next_child, 1) + 1;

	snprintf(out, n, "%s.%d", shim_proc.lpid, k);
}

/* Arena for shim_child_env: either the caller's arrays or malloc'd ones. */
struct arena {
	char *p;
	size_t left;
};

static char *arena_printf(struct arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static char *arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *s = a->p;

	va_start(ap, fmt);
	n = vsnprintf(a->p, a->left, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= a->left)
		return NULL;
	a->p += n + 1;
	a->left -= (size_t)n + 1;
	return s;
}

AT_HOT static int preload_has_self(const char *v)
{
	size_t n = strlen(shim_proc.self_path);

	for (const char *p = v; p && *p;) {
		const char *end = p + preload_entry_len(p);
		if ((size_t)(end - p) == n && memcmp(p, shim_proc.self_path, n) == 0)
			return 1;
		p = *end ? end + 1 : end;
	}
	return 0;
}

char **shim_child_env(char *const *envp, const char *ctx_lpid, uint64_t ctx_seq, char **stack,
		      size_t stack_n, char *strbuf, size_t strbuf_n)
{
	/* Same argument order as the CTX string; "via" and "parent" depend on
	 * whether the child is this process (exec) or a new one. */
	int is_exec = strcmp(ctx_lpid, shim_proc.lpid) == 0;
	const char *via = is_exec ? "exec" : stack ? "vfork" : "spawn";
	const char *old_preload = NULL;
	size_t n = 0, cap, strcap;
	char **env, *heap_str = NULL;
	struct arena a;

	for (char *const *e = envp; e && *e; e++, n++)
		if (starts_with(*e, "LD_PRELOAD="))
			old_preload = *e + strlen("LD_PRELOAD=");
	cap = n + st.nforward + 5; /* TRACE, REPLAY_OUT, LD_PRELOAD, CTX, NULL */
	strcap = 3 * PATH_MAX + 1024 + (old_preload ? strlen(old_preload) : 0) +
		 (st.preload ? strlen(st.preload) : 0);
	if (stack) {
		if (cap > stack_n || strcap > strbuf_n)
			return NULL;
		env = stack;
		a = (struct arena){ strbuf, strbuf_n };
	} else {
		env = malloc(cap * sizeof(*env) + strcap);
		if (!env)
			return NULL;
		heap_str = (char *)(env + cap);
		a = (struct arena){ heap_str, strcap };
	}

	size_t k = 0;
	for (char *const *e = envp; e && *e; e++) {
		if (starts_with(*e, "LD_PRELOAD=") || starts_with(*e, "ATTRACE_"))
			continue;
		env[k++] = *e;
	}
	for (size_t i = 0; i < st.nforward; i++)
		env[k++] = st.forward[i];
	if (shim_replaying) {
		/* replay: the trace read stays the input; the run's own
		 * recording goes on into the replay output */
		env[k] = arena_printf(&a, "ATTRACE_TRACE=%s", shim_replay_in);
		if (!env[k])
			goto fail;
		k++;
		env[k] = arena_printf(&a, "ATTRACE_REPLAY_OUT=%s", shim_proc.trace_path);
	} else {
		env[k] = arena_printf(&a, "ATTRACE_TRACE=%s", shim_proc.trace_path);
	}
	if (!env[k])
		goto fail;
	k++;
	if (old_preload && preload_has_self(old_preload))
		env[k] = arena_printf(&a, "LD_PRELOAD=%s", old_preload);
	else if (old_preload && *old_preload)
		env[k] = arena_printf(&a, "LD_PRELOAD=%s:%s",
				      st.preload && preload_has_self(st.preload)
					      ? st.preload
					      : shim_proc.self_path,
				      old_preload);
	else
		env[k] = arena_printf(&a, "LD_PRELOAD=%s",
				      st.preload && preload_has_self(st.preload)
					      ? st.preload
					      : shim_proc.self_path);
	if (!env[k])
		goto fail;
	k++;
	env[k] = arena_printf(
		&a, "ATTRACE_CTX=%s;%s;%s;%" PRIu64 ";%d;%s;%d", ctx_lpid,
		is_exec ? (shim_proc.parent[0] ? shim_proc.parent : "-") : shim_proc.lpid, via,
		is_exec ? ctx_seq : 0, is_exec ? atomic_load(&shim_proc.next_child) : 0,
		shim_proc.trace_id, is_exec ? shim_proc.image + 1 : 0);
	if (!env[k])
		goto fail;
	env[++k] = NULL;
	return env;
fail:
	if (!stack)
		free(env);
	return NULL;
}

void shim_env_free(char **env)
{
	free(env);
}

const char *shim_intern(const char *s)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static struct interned {
		struct interned *next;
		char s[];
	} * head;
	struct interned *i;
	size_t n = strlen(s);

	pthread_mutex_lock(&lock);
	for (i = head; i; i = i->next)
		if (strcmp(i->s, s) == 0)
			break;
	if (!i) {
		i = malloc(sizeof(*i) + n + 1);
		if (i) {
			memcpy(i->s, s, n + 1);
			i->next = head;
			head = i;
		}
	}
	pthread_mutex_unlock(&lock);
	return i ? i->s : NULL;
}
