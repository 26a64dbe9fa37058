/* SPDX-License-Identifier: MIT */
/* redact.c -- keeps secrets out of traces: HTTP/1.x-aware streaming redaction (see redact.h).
 *
 * Two layers. The framing layer is a byte-driven state machine over HTTP/1.x
 * messages (start line, header names and values, bodies); it redacts header
 * values by name. The scanner finds key shapes in the bytes the framing
 * layer hands it (start line, other header values, bodies, opaque streams).
 * Every decision depends only on the bytes seen so far, never on where a
 * chunk ends, which is what makes the output independent of chunking. What
 * is held between calls is small and bounded (REDACT_HOLD_MAX); a secret
 * being redacted is a running BLAKE2b state plus its length.
 */
#include "common/redact.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/error.h"
#include "common/h2redact.h"
#include "common/hot.h"
#include "common/http1.h"

#define HASH_LEN      8 /* BLAKE2b output bytes: 16 hex digits */
#define HBUF_MAX      256 /* held header name, cookie name, scheme, message start */
#define SCAN_MAX      64 /* held partial key shape */
#define VAL_MAX	      64 /* parse-only copy of Content-Length, Transfer-Encoding, chunk size */
#define HEAD_MAX      128 /* first bytes of a header secret, to recognise a marker */
#define SCHEME_MAX    32
#define HNAME_LEN_MAX 31 /* the longest builtin_headers[] name fits */

_Static_assert(HBUF_MAX + SCAN_MAX + 1 <= REDACT_HOLD_MAX, "hold bound");

/* ---- character classes ---- */

enum cs {
	CS_KEY, /* [A-Za-z0-9_-] */
	CS_UPNUM, /* [0-9A-Z] */
	CS_ALNUM, /* [A-Za-z0-9] */
	CS_WORD, /* [A-Za-z0-9_] */
	CS_TOKEN68, /* [A-Za-z0-9._~+/=-] */
	CS_QVAL, /* a query value byte */
};

static int is_alnum(unsigned c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static unsigned lower(unsigned c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int cs_slow(enum cs s, unsigned c)
{
	switch (s) {
	case CS_KEY:
		return is_alnum(c) || c == '_' || c == '-';
	case CS_UPNUM:
		return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z');
	case CS_ALNUM:
		return is_alnum(c);
	case CS_WORD:
		return is_alnum(c) || c == '_';
	case CS_TOKEN68:
		return is_alnum(c) || strchr("._~+/=-", (int)c) != NULL;
	case CS_QVAL:
		return c > 0x20 && c != 0x7f && !strchr("&#;\"'<>[]\\", (int)c);
	}
	return 0;
}

static inline int is_tchar(unsigned c)
{
	return c < 256 && http1_tchar[c];
}

/* ---- key shapes ---- */

enum left {
	L_WORD, /* the byte before is not a letter or digit */
	L_QUERY, /* the byte before is '?' or '&' */
};

struct shape {
	const char *prefix; /* lower-case when icase */
	unsigned char plen, icase, set, min, keep_prefix, left;
};

#define SHAPE(p, ic, s, m, k, l)                                                     \
	{                                                                            \
		.prefix = p, .plen = sizeof(p) - 1, .icase = ic, .set = s, .min = m, \
		.keep_prefix = k, .left = l                                          \
	}

static const struct shape shapes[] = {
	SHAPE("sk-", 0, CS_KEY, 20, 0, L_WORD),
	SHAPE("AKIA", 0, CS_UPNUM, 16, 0, L_WORD),
	SHAPE("ghp_", 0, CS_ALNUM, 36, 0, L_WORD),
	SHAPE("gho_", 0, CS_ALNUM, 36, 0, L_WORD),
	SHAPE("ghu_", 0, CS_ALNUM, 36, 0, L_WORD),
	SHAPE("ghs_", 0, CS_ALNUM, 36, 0, L_WORD),
	SHAPE("ghr_", 0, CS_ALNUM, 36, 0, L_WORD),
	SHAPE("github_pat_", 0, CS_WORD, 22, 0, L_WORD),
	SHAPE("AIza", 0, CS_KEY, 35, 0, L_WORD),
	SHAPE("bearer ", 1, CS_TOKEN68, 16, 1, L_WORD),
	SHAPE("api_key=", 1, CS_QVAL, 1, 1, L_QUERY),
	SHAPE("apikey=", 1, CS_QVAL, 1, 1, L_QUERY),
	SHAPE("key=", 1, CS_QVAL, 1, 1, L_QUERY),
	SHAPE("token=", 1, CS_QVAL, 1, 1, L_QUERY),
	SHAPE("access_token=", 1, CS_QVAL, 1, 1, L_QUERY),
	SHAPE("password=", 1, CS_QVAL, 1, 1, L_QUERY),
};

#define N_SHAPES (sizeof(shapes) / sizeof(shapes[0]))
_Static_assert(N_SHAPES <= 32, "alive mask is 32 bits");

/* Lookup tables, built once (pthread_once) from cs_slow() and shapes[]:
 * which classes a byte is in, and which shapes a byte can start. */
static struct {
	pthread_once_t once;
	uint8_t cs[256]; /* bit (1 << enum cs) */
	uint32_t first[256]; /* shapes whose prefix starts with the byte */
	uint32_t query; /* the L_QUERY shapes */
	uint32_t hlen[HNAME_LEN_MAX + 1]; /* builtin_headers[] entries by name length */
} tab = { .once = PTHREAD_ONCE_INIT };

static void hlen_build(void);

AT_HOT static void tab_build(void)
{
	unsigned c, s;
	size_t i;

	for (c = 0; c < 256; c++)
		for (s = CS_KEY; s <= CS_QVAL; s++)
			if (cs_slow((enum cs)s, c))
				tab.cs[c] |= (uint8_t)(1u << s);
	for (i = 0; i < N_SHAPES; i++) {
		unsigned f = (unsigned char)shapes[i].prefix[0];

		assert((size_t)shapes[i].plen + shapes[i].min <= SCAN_MAX);
		tab.first[f] |= 1u << i;
		if (shapes[i].icase && f >= 'a' && f <= 'z')
			tab.first[f - 32] |= 1u << i;
		if (shapes[i].left == L_QUERY)
			tab.query |= 1u << i;
	}
	hlen_build();
}

static inline int in_cs(enum cs s, unsigned c)
{
	return tab.cs[c] >> s & 1;
}

/* ---- header names redacted by default ---- */

enum hkind {
	H_OTHER = 0,
	H_SECRET, /* whole value */
	H_AUTH, /* scheme kept, the rest is the secret */
	H_COOKIE, /* every cookie's value */
	H_SETCOOKIE, /* the first pair's value */
	H_CLEN,
	H_TE,
	H_UPGRADE,
};

#define BH(n, k)                    \
	{                           \
		n, sizeof(n) - 1, k \
	}

static const struct {
	const char *name;
	size_t len;
	enum hkind kind;
} builtin_headers[] = {
	BH("authorization", H_AUTH),
	BH("proxy-authorization", H_AUTH),
	BH("cookie", H_COOKIE),
	BH("set-cookie", H_SETCOOKIE),
	BH("set-cookie2", H_SETCOOKIE),
	BH("x-api-key", H_SECRET),
	BH("api-key", H_SECRET),
	BH("anthropic-api-key", H_SECRET),
	BH("x-anthropic-api-key", H_SECRET),
	BH("openai-api-key", H_SECRET),
	BH("x-openai-api-key", H_SECRET),
	BH("x-goog-api-key", H_SECRET),
	BH("x-amz-security-token", H_SECRET),
	BH("x-auth-token", H_SECRET),
	BH("private-token", H_SECRET),
	BH("content-length", H_CLEN),
	BH("transfer-encoding", H_TE),
	BH("upgrade", H_UPGRADE),
};

#undef BH

#define N_BUILTIN (sizeof(builtin_headers) / sizeof(builtin_headers[0]))
_Static_assert(N_BUILTIN <= 32, "hlen masks are 32 bits");

static void hlen_build(void)
{
	size_t i;

	for (i = 0; i < N_BUILTIN; i++) {
		assert(builtin_headers[i].len <= HNAME_LEN_MAX);
		tab.hlen[builtin_headers[i].len] |= 1u << i;
	}
}

static int name_eq(const char *lower_name, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!lower_name[i] || (unsigned char)lower_name[i] != lower((unsigned char)s[i]))
			return 0;
	return lower_name[n] == '\0';
}

static enum hkind header_kind(const struct redact_config *cfg, const char *name, size_t n)
{
	uint32_t m = n <= HNAME_LEN_MAX ? tab.hlen[n] : 0;
	size_t i;

	/* Most header names are none of these: the length (a table lookup)
	 * and the first letter rule them out before a byte-by-byte
	 * comparison. A header line costs this once per message. */
	while (m) {
		i = (size_t)__builtin_ctz(m);
		m &= m - 1;
		if ((unsigned char)builtin_headers[i].name[0] == lower((unsigned char)name[0]) &&
		    name_eq(builtin_headers[i].name, name, n))
			return builtin_headers[i].kind;
	}
	for (i = 0; cfg && i < cfg->n_names; i++)
		if (name_eq(cfg->names[i], name, n))
			return H_SECRET;
	return H_OTHER;
}

int redact_header_is_secret(const struct redact_config *cfg, const char *name, size_t n)
{
	enum hkind k;

	pthread_once(&tab.once, tab_build);
	k = header_kind(cfg, name, n);

	return k == H_SECRET || k == H_AUTH || k == H_COOKIE || k == H_SETCOOKIE;
}

/* ---- configuration ---- */

void redact_config_release(struct redact_config *cfg)
{
	size_t i;

	if (!cfg)
		return;
	for (i = 0; i < cfg->n_names; i++)
		free(cfg->names[i]);
	free(cfg->names);
	cfg->names = NULL;
	cfg->n_names = 0;
	sodium_memzero(cfg->key, sizeof(cfg->key));
}

int redact_config_parse(struct redact_config *cfg, const char *names,
			const uint8_t key[REDACT_KEY_LEN], struct at_error *reterr)
{
	const char *p = names ? names : "";
	int r;

	*cfg = (struct redact_config){ .names = NULL };
	memcpy(cfg->key, key, REDACT_KEY_LEN);
	for (;;) {
		const char *s;
		size_t n = config_list_next(&p, &s), i;
		char *copy;

		if (n == 0)
			break;
		for (i = 0; i < n; i++)
			if (!is_tchar((unsigned char)s[i]))
				break;
		if (i < n || n > REDACT_NAME_MAX) {
			at_error_set(reterr, 0, 0, (size_t)(s - names),
				     "ATTRACE_REDACT: '%.*s' is not a header name",
				     (int)(n > 64 ? 64 : n), s);
			r = -EINVAL;
			goto fail;
		}
		if (cfg->n_names == REDACT_MAX_NAMES) {
			at_error_set(reterr, 0, 0, (size_t)(s - names),
				     "ATTRACE_REDACT: more than %d names", REDACT_MAX_NAMES);
			r = -EINVAL;
			goto fail;
		}
		if (!cfg->names) {
			cfg->names = calloc(REDACT_MAX_NAMES, sizeof(*cfg->names));
			if (!cfg->names) {
				r = -ENOMEM;
				goto fail;
			}
		}
		copy = malloc(n + 1);
		if (!copy) {
			r = -ENOMEM;
			goto fail;
		}
		for (i = 0; i < n; i++)
			copy[i] = (char)lower((unsigned char)s[i]);
		copy[n] = '\0';
		cfg->names[cfg->n_names++] = copy;
	}
	return 0;
fail:
	for (size_t i = 0; i < cfg->n_names; i++)
		free(cfg->names[i]);
	free(cfg->names);
	cfg->names = NULL;
	cfg->n_names = 0;
	return r;
}

/* ---- markers ---- */

static void hex8(const uint8_t h[HASH_LEN], char hex[2 * HASH_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < HASH_LEN; i++) {
		hex[2 * i] = digits[h[i] >> 4];
		hex[2 * i + 1] = digits[h[i] & 15];
	}
	hex[2 * HASH_LEN] = '\0';
}

/* Appends the marker for hash h; fit_len 0 = the 27-byte form. */
static int put_marker(const uint8_t h[HASH_LEN], size_t fit_len, struct buf *out)
{
	char hex[2 * HASH_LEN + 1];
	size_t len0 = out->len, i;
	int r;

	hex8(h, hex);
	if (fit_len == 0 || fit_len >= REDACT_MARKER_LEN) {
		r = buf_printf(out, "[redacted:%s", hex);
		for (i = REDACT_MARKER_LEN; r == 0 && i < fit_len; i++)
			r = buf_putc(out, '_');
		if (r == 0)
			r = buf_putc(out, ']');
	} else if (fit_len >= 12) {
		r = buf_printf(out, "[redacted:%.*s]", (int)(fit_len - 11), hex);
	} else {
		r = buf_append(out, hex, fit_len);
	}
	if (r < 0)
		out->len = len0;
	if (out->data)
		out->data[out->len] = '\0';
	return r;
}

static const uint8_t *cfg_key(const struct redact_config *cfg)
{
	if (cfg->load_key)
		cfg->load_key();
	return cfg->key;
}

int redact_marker(const struct redact_config *cfg, const void *secret, size_t n, size_t fit_len,
		  struct buf *out)
{
	uint8_t h[HASH_LEN];

	crypto_generichash(h, sizeof(h), secret, n, cfg_key(cfg), REDACT_KEY_LEN);
	return put_marker(h, fit_len, out);
}

/* @return 1 when s[0..n) is a marker in any of its forms with brackets. */
static int is_marker(const char *s, size_t n)
{
	static const char pre[] = "[redacted:";
	size_t i = sizeof(pre) - 1, hexn = 0;

	if (n < i + 2 || memcmp(s, pre, i) != 0 || s[n - 1] != ']')
		return 0;
	for (; i < n - 1 && ((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')); i++)
		hexn++;
	for (; i < n - 1 && s[i] == '_'; i++)
		;
	return i == n - 1 && hexn >= 1 && hexn <= REDACT_HEX_LEN;
}

/* ---- the redactor ---- */

enum st {
	ST_START, /* message start: hbuf holds bytes until they classify the stream */
	ST_LINE, /* start line, scanned, until LF */
	ST_NAME, /* header name, held in hbuf until ':' */
	ST_OWS, /* whitespace before a value, verbatim */
	ST_VALUE, /* header value, scanned, until LF */
	ST_SECRET, /* header value, hashed, until LF */
	ST_SCHEME, /* Authorization scheme, held in hbuf until SP */
	ST_CNAME, /* cookie name, held in hbuf until '=' */
	ST_CVALUE, /* cookie value, hashed, until ';' or LF */
	ST_PEEK, /* a response body's first bytes, held: a status line means a HEAD response */
	ST_BODY, /* Content-Length body, scanned */
	ST_CHUNK_SIZE, /* chunk-size line, verbatim, until LF */
	ST_CHUNK_DATA, /* chunk data, scanned */
	ST_CHUNK_END, /* CRLF after chunk data, verbatim */
	ST_RAW, /* opaque bytes to the end, scanned */
	ST_H2, /* HTTP/2 to the end: h2redact.c */
};

enum ctx {
	CTX_HEAD, /* 27-byte markers */
	CTX_BODY, /* markers fitted to the secret's length */
};

struct redactor {
	const struct redact_config *cfg;
	int err;
	enum st st;
	/* framing */
	enum hkind kind;
	int response, status, chunked, trailers;
	int up_h2c; /* this message has "Upgrade: h2c" */
	struct h2red *h2; /* ST_H2: owned */
	long long clen; /* -1: none */
	unsigned long long remain;
	char hbuf[HBUF_MAX];
	size_t hblen;
	char val[VAL_MAX];
	size_t vlen;
	int cr; /* a CR held back at the end of a hashed value */
	/* scanner */
	enum ctx ctx;
	unsigned char prev; /* the byte before hold[0] */
	unsigned char hold[SCAN_MAX];
	size_t hlen;
	uint32_t alive;
	int sec; /* shape being hashed, or -1 */
	/* the secret being hashed (one at a time) */
	crypto_generichash_state hs;
	size_t slen;
	char shead[HEAD_MAX];
};

static void reset(struct redactor *r)
{
	const struct redact_config *cfg = r->cfg;

	sodium_memzero(r, sizeof(*r));
	r->cfg = cfg;
	r->st = ST_START;
	r->clen = -1;
	r->sec = -1;
}

struct redactor *redactor_new(const struct redact_config *cfg)
{
	struct redactor *r;

	pthread_once(&tab.once, tab_build);
	/* crypto_generichash_state wants 64-byte alignment */
	r = aligned_alloc(_Alignof(struct redactor), sizeof(*r));
	if (!r)
		return NULL;
	r->cfg = cfg;
	reset(r);
	return r;
}

void redactor_free(struct redactor *r)
{
	if (!r)
		return;
	h2red_free(r->h2);
	sodium_memzero(r, sizeof(*r));
	free(r);
}

size_t redactor_held(const struct redactor *r)
{
	if (r->st == ST_H2)
		return 0; /* a partial frame is not released by a flush */
	return r->hblen + r->hlen + (size_t)r->cr;
}

/* ---- secret hashing ---- */

static void hs_begin(struct redactor *r)
{
	crypto_generichash_init(&r->hs, cfg_key(r->cfg), REDACT_KEY_LEN, HASH_LEN);
	r->slen = 0;
}

static void hs_update(struct redactor *r, const void *p, size_t n)
{
	if (r->slen < HEAD_MAX)
		memcpy(r->shead + r->slen, p, n < HEAD_MAX - r->slen ? n : HEAD_MAX - r->slen);
	crypto_generichash_update(&r->hs, p, n);
	r->slen += n;
}

/* Ends the secret: appends its marker (nothing for an empty value). A
 * header value that already is a marker is kept (see redact.h). */
static int hs_end(struct redactor *r, enum ctx ctx, int keep_markers, struct buf *out)
{
	uint8_t h[HASH_LEN];

	size_t n = r->slen < HEAD_MAX ? r->slen : HEAD_MAX;
	int k;

	crypto_generichash_final(&r->hs, h, sizeof(h));
	if (r->slen == 0)
		k = 0;
	else if (keep_markers && r->slen <= HEAD_MAX && is_marker(r->shead, r->slen))
		k = buf_append(out, r->shead, r->slen);
	else
		k = put_marker(h, ctx == CTX_HEAD ? 0 : r->slen, out);
	sodium_memzero(r->shead, n); /* the secret's first bytes */
	return k;
}

/* ---- scanner ---- */

/* @return 0 when no shape can start at c after prev (the fast path). */
/* start_mask(prev, c) != 0, for the loop that copies bytes starting no
 * shape: a query shape ("key=", "token=") starts only after '?' or '&',
 * so the common words starting with its letter are copied too. */
static inline int may_start(unsigned prev, unsigned c)
{
	uint32_t m = prev == '?' || prev == '&' ? tab.first[c] : tab.first[c] & ~tab.query;

	return m && !in_cs(CS_ALNUM, prev);
}

static uint32_t start_mask(unsigned prev, unsigned c)
{
	uint32_t m = tab.first[c];

	if (in_cs(CS_ALNUM, prev))
		return 0;
	if (prev != '?' && prev != '&')
		m &= ~tab.query;
	return m;
}

/* Which of the shapes in m still match with byte c at position pos. */
static uint32_t step_mask(uint32_t m, size_t pos, unsigned c)
{
	uint32_t left = m;

	while (left) {
		unsigned i = (unsigned)__builtin_ctz(left);
		const struct shape *s = &shapes[i];

		left &= left - 1;
		if (pos < s->plen) {
			if ((s->icase ? lower(c) : c) != (unsigned char)s->prefix[pos])
				m &= ~(1u << i);
		} else if (!in_cs(s->set, c)) {
			m &= ~(1u << i);
		}
	}
	return m;
}

static int sec_finish(struct redactor *r, struct buf *out)
{
	r->sec = -1;
	return hs_end(r, r->ctx, 0, out);
}

static int scan_byte(struct redactor *r, unsigned c, struct buf *out);

static int scan_settle(struct redactor *r, struct buf *out)
{
	unsigned char rest[SCAN_MAX];
	size_t i, n;
	int k;

	if (r->alive) {
		for (i = 0; i < N_SHAPES; i++) {
			const struct shape *s = &shapes[i];
			size_t skip = s->keep_prefix ? s->plen : 0;

			if (!(r->alive & (1u << i)) || r->hlen != (size_t)s->plen + s->min)
				continue;
			/* confirmed: the prefix (when kept) goes out, the rest is hashed */
			k = buf_append(out, r->hold, skip);
			if (k < 0)
				return k;
			hs_begin(r);
			hs_update(r, r->hold + skip, r->hlen - skip);
			r->prev = r->hold[r->hlen - 1];
			r->hlen = 0;
			r->alive = 0;
			r->sec = (int)i;
			return 0;
		}
		return 0;
	}
	/* no match starts at hold[0]: it goes out, and the rest is looked at again */
	k = buf_putc(out, (char)r->hold[0]);
	if (k < 0)
		return k;
	r->prev = r->hold[0];
	n = r->hlen - 1;
	memcpy(rest, r->hold + 1, n);
	r->hlen = 0;
	for (i = 0; i < n; i++) {
		k = scan_byte(r, rest[i], out);
		if (k < 0)
			return k;
	}
	return 0;
}

static int scan_byte(struct redactor *r, unsigned c, struct buf *out)
{
	int k;

	if (r->sec >= 0) {
		if (in_cs(shapes[r->sec].set, c)) {
			unsigned char b = (unsigned char)c;

			hs_update(r, &b, 1);
			r->prev = b;
			return 0;
		}
		k = sec_finish(r, out);
		if (k < 0)
			return k;
		/* prev is the secret's last byte: a letter or digit, or a query byte */
	}
	if (r->hlen == 0) {
		r->alive = start_mask(r->prev, c);
		if (!r->alive) {
			r->prev = (unsigned char)c;
			return buf_putc(out, (char)c);
		}
	} else {
		r->alive = step_mask(r->alive, r->hlen, c);
	}
	r->hold[r->hlen++] = (unsigned char)c;
	return scan_settle(r, out);
}

static int scan_bytes(struct redactor *r, const unsigned char *p, size_t n, struct buf *out)
{
	size_t i;
	int k;

	while (n) {
		if (r->sec >= 0) {
			/* hash the run in one go */
			for (i = 0; i < n && in_cs(shapes[r->sec].set, p[i]); i++)
				;
			if (i) {
				hs_update(r, p, i);
				r->prev = p[i - 1];
				p += i;
				n -= i;
				continue;
			}
		} else if (r->hlen == 0) {
			/* copy the bytes that cannot start a shape in one go;
			 * most start none whatever precedes them */
			for (i = 0; i < n; i++)
				if (tab.first[p[i]] && may_start(i ? p[i - 1] : r->prev, p[i]))
					break;
			if (i) {
				k = buf_append(out, p, i);
				if (k < 0)
					return k;
				r->prev = p[i - 1];
				p += i;
				n -= i;
				continue;
			}
		}
		k = scan_byte(r, *p, out);
		if (k < 0)
			return k;
		p++;
		n--;
	}
	return 0;
}

/* Ends a scanned segment: a secret in progress ends, a partial shape goes out. */
static int scan_end(struct redactor *r, struct buf *out)
{
	int k = 0;

	if (r->sec >= 0)
		k = sec_finish(r, out);
	else if (r->hlen)
		k = buf_append(out, r->hold, r->hlen);
	r->hlen = 0;
	r->alive = 0;
	return k;
}

static void scan_begin(struct redactor *r, enum ctx ctx, unsigned prev)
{
	r->ctx = ctx;
	r->prev = (unsigned char)prev;
	r->hlen = 0;
	r->alive = 0;
	r->sec = -1;
}

/* ---- framing ---- */

/* @return 1 when h[0..n) is all of "HTTP/1.x NNN", 0 when a prefix of it, -1 when not. */
AT_HOT static int status_prefix(const char *h, size_t n)
{
	static const char resp[] = "HTTP/1.";
	size_t i;

	for (i = 0; i < n && i < 12; i++) {
		unsigned c = (unsigned char)h[i];
		int ok = i < 7	  ? c == (unsigned char)resp[i]
			 : i == 8 ? c == ' '
				  : (c >= '0' && c <= '9');

		if (!ok)
			return -1;
	}
	return i == 12 ? 1 : 0;
}

#define METHOD(s)                \
	{                        \
		s, sizeof(s) - 1 \
	}

static const struct {
	const char *s;
	size_t len;
} methods[] = {
	METHOD("GET "),	    METHOD("HEAD "),   METHOD("POST "),
	METHOD("PUT "),	    METHOD("DELETE "), METHOD("CONNECT "),
	METHOD("OPTIONS "), METHOD("TRACE "),  METHOD("PATCH "),
};

#undef METHOD

/* memcmp(h, lit, n) == 0 for the few bytes of a message start, inline:
 * classify_start() runs once per byte until the start is told, and most
 * candidates differ in the first byte. */
static inline int prefix_eq(const char *h, const char *lit, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (h[i] != lit[i])
			return 0;
	return 1;
}

#define H2_PREFACE     "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_PREFACE_LEN 24

/* @return 1: h[0..n) starts an HTTP message (complete; *status is the
 * status code, or -1 for a request), 2: it is the HTTP/2 client preface,
 * 0: could still, -1: cannot. */
AT_HOT static int start_verdict(const char *h, size_t n, int *status)
{
	int maybe = 0, st = status_prefix(h, n);

	/* "HTTP/1.x NNN" */
	if (st == 1) {
		*status = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
		return 1;
	}
	if (st == 0)
		maybe = 1;
	if (prefix_eq(h, H2_PREFACE, n < H2_PREFACE_LEN ? n : H2_PREFACE_LEN)) {
		if (n >= H2_PREFACE_LEN)
			return 2;
		maybe = 1;
	}
	for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]); m++) {
		size_t ml = methods[m].len;

		if (n >= ml && prefix_eq(h, methods[m].s, ml)) {
			*status = -1;
			return 1;
		}
		if (n < ml && prefix_eq(h, methods[m].s, n))
			maybe = 1;
	}
	return maybe ? 0 : -1;
}

/* start_verdict on the bytes held, noting a message's kind in r. */
static int classify_start(struct redactor *r)
{
	int status, v = start_verdict(r->hbuf, r->hblen, &status);

	if (v == 1) {
		r->response = status >= 0;
		if (status >= 0)
			r->status = status;
	}
	return v;
}

AT_HOT int redact_may_change(const void *in, size_t n)
{
	const unsigned char *p = in;
	const char *h = in;
	size_t s = 0;
	int status;

	pthread_once(&tab.once, tab_build);
	/* a start of an HTTP message or the HTTP/2 preface (or a prefix of one),
	 * after any empty lines, switches to the header rules */
	while (s < n && (h[s] == '\r' || h[s] == '\n'))
		s++;
	if (s < n && start_verdict(h + s, n - s, &status) >= 0)
		return 1;
	/* a key shape's prefix anywhere, whatever precedes or follows it */
	for (size_t i = 0; i < n; i++) {
		uint32_t live = tab.first[p[i]];

		while (live) {
			const struct shape *sh = &shapes[__builtin_ctz(live)];
			size_t k = 0;

			live &= live - 1;
			if (n - i < sh->plen)
				continue;
			while (k < sh->plen && (sh->icase ? lower(p[i + k]) : p[i + k]) ==
						       (unsigned char)sh->prefix[k])
				k++;
			if (k == sh->plen)
				return 1;
		}
	}
	return 0;
}

/* The commonest starts in one go: at a message's first byte, with the
 * whole status line prefix ("HTTP/1.x NNN") or a method and its space in
 * p[0..n), these are the bytes classify_start() would take one by one to
 * the same verdict (no candidate is told by a prefix of another). @return
 * classify_start()'s verdict with the bytes held and *used set, or 0. */
static int start_whole(struct redactor *r, const unsigned char *p, size_t n, size_t *used)
{
	const char *h = (const char *)p;
	size_t m, take = 0;

	if (r->hblen)
		return 0;
	if (n >= 12 && h[0] == 'H' && status_prefix(h, 12) == 1) {
		take = 12;
	} else {
		for (m = 0; m < sizeof(methods) / sizeof(methods[0]); m++)
			if (n >= methods[m].len && prefix_eq(h, methods[m].s, methods[m].len)) {
				take = methods[m].len;
				break;
			}
	}
	if (!take)
		return 0;
	memcpy(r->hbuf, h, take);
	r->hblen = take;
	*used = take;
	return classify_start(r);
}

static int step(struct redactor *r, const unsigned char *p, size_t n, size_t *used,
		struct buf *out);

/* Hands the held bytes to state st, as if they arrived now. */
static int refeed(struct redactor *r, enum st st, struct buf *out)
{
	unsigned char tmp[HBUF_MAX];
	size_t n = r->hblen, i = 0, used;
	int k = 0;

	memcpy(tmp, r->hbuf, n);
	r->hblen = 0;
	r->st = st;
	while (k == 0 && i < n) {
		k = step(r, tmp + i, n - i, &used, out);
		i += used;
	}
	return k;
}

static void to_raw(struct redactor *r)
{
	r->st = ST_RAW;
	scan_begin(r, CTX_BODY, 0);
}

static void new_message(struct redactor *r)
{
	r->st = ST_START;
	r->hblen = 0;
	r->trailers = 0;
}

static void start_headers(struct redactor *r)
{
	r->st = ST_NAME;
	r->hblen = 0;
}

static void parse_value(struct redactor *r)
{
	if (r->kind == H_CLEN) {
		long long v = 0;
		size_t i = 0;

		while (i < r->vlen && (r->val[i] == ' ' || r->val[i] == '\t'))
			i++;
		if (i == r->vlen || r->val[i] < '0' || r->val[i] > '9')
			return;
		for (; i < r->vlen && r->val[i] >= '0' && r->val[i] <= '9'; i++) {
			if (v > (1LL << 50))
				return; /* absurd: leave the framing unknown */
			v = v * 10 + (r->val[i] - '0');
		}
		r->clen = v;
	} else if (r->kind == H_TE) {
		/* chunked when it is the last coding */
		size_t e = r->vlen;

		while (e &&
		       (r->val[e - 1] == ' ' || r->val[e - 1] == '\t' || r->val[e - 1] == '\r'))
			e--;
		r->chunked = e >= 7 && name_eq("chunked", r->val + e - 7, 7) &&
			     (e == 7 || r->val[e - 8] == ',' || r->val[e - 8] == ' ');
	} else if (r->kind == H_UPGRADE) {
		size_t i = 0, e = r->vlen;

		while (i < e && (r->val[i] == ' ' || r->val[i] == '\t'))
			i++;
		while (e > i &&
		       (r->val[e - 1] == ' ' || r->val[e - 1] == '\t' || r->val[e - 1] == '\r'))
			e--;
		r->up_h2c = e - i == 3 && name_eq("h2c", r->val + i, 3);
	}
}

/* The empty line after the headers (or trailers). */
static void end_headers(struct redactor *r)
{
	int st = r->status;

	if (r->trailers) {
		new_message(r);
		return;
	}
	if (r->response && st == 101) {
		if (r->up_h2c)
			r->st = ST_H2; /* the server's frames follow, without a preface */
		else
			to_raw(r);
		return;
	}
	if (r->response && ((st >= 100 && st < 200) || st == 204 || st == 304)) {
		new_message(r);
		return;
	}
	if (r->chunked) {
		r->st = ST_CHUNK_SIZE;
		r->vlen = 0;
		return;
	}
	if (r->clen > 0) {
		/* a response to HEAD has Content-Length and no body: look first */
		r->st = r->response ? ST_PEEK : ST_BODY;
		r->hblen = 0;
		r->remain = (unsigned long long)r->clen;
		scan_begin(r, CTX_BODY, '&');
		return;
	}
	if (r->clen == 0 || !r->response) {
		new_message(r);
		return;
	}
	r->st = ST_RAW; /* a response read until close */
	scan_begin(r, CTX_BODY, '&');
}

/* The value's first byte decides how it is redacted. */
static void begin_value(struct redactor *r)
{
	switch (r->kind) {
	case H_SECRET:
		r->st = ST_SECRET;
		r->cr = 0;
		hs_begin(r);
		break;
	case H_AUTH:
		r->st = ST_SCHEME;
		r->hblen = 0;
		break;
	case H_COOKIE:
	case H_SETCOOKIE:
		r->st = ST_CNAME;
		r->hblen = 0;
		break;
	default:
		r->st = ST_VALUE;
		r->vlen = 0;
		scan_begin(r, CTX_HEAD, ' ');
		break;
	}
}

/* Ends a hashed header or cookie value at LF (the held CR goes out after the marker). */
static int end_hashed_line(struct redactor *r, struct buf *out)
{
	int k = hs_end(r, CTX_HEAD, 1, out);

	if (k == 0 && r->cr)
		k = buf_putc(out, '\r');
	r->cr = 0;
	if (k == 0)
		k = buf_putc(out, '\n');
	start_headers(r);
	return k;
}

/* Processes in[0..n) from state; returns the bytes consumed via *used (at least 1). */
/* A header line whose value needs no hashing (not a secret, cookie or
 * Authorization field), whole in p[0..n): its name, colon and blanks go
 * out in one piece and the value is left to ST_VALUE, as the byte steps
 * below would do in four dispatches or more (most of the redactor's time
 * for a typical head). @return 1 when p does not start such a line (the
 * byte steps take it), else 0 (*used set) or an error. */
static int header_line(struct redactor *r, const unsigned char *p, size_t n, size_t *used,
		       struct buf *out)
{
	const unsigned char *lf = memchr(p, '\n', n);
	size_t i = 0, v, e;
	enum hkind kind;
	int k;

	if (!lf)
		return 1;
	e = (size_t)(lf - p);
	while (i < e && i < HBUF_MAX - 1 && is_tchar(p[i]))
		i++;
	if (i == 0 || i == e || p[i] != ':')
		return 1;
	kind = header_kind(r->cfg, (const char *)p, i);
	if (kind != H_OTHER && kind != H_CLEN && kind != H_TE && kind != H_UPGRADE)
		return 1;
	for (v = i + 1; v < e && (p[v] == ' ' || p[v] == '\t'); v++)
		;
	r->kind = kind;
	/* A value where no key shape can start (most of them) goes out with
	 * its line in one piece: what ST_VALUE would do byte run by byte run,
	 * after scan_begin(r, CTX_HEAD, ' '). */
	for (i = v; i < e; i++)
		if (tab.first[p[i]] && may_start(i > v ? p[i - 1] : ' ', p[i]))
			break;
	if (i == e) {
		k = buf_append(out, p, e + 1);
		if (k < 0)
			return k;
		r->vlen = e - v < VAL_MAX ? e - v : VAL_MAX;
		memcpy(r->val, p + v, r->vlen);
		parse_value(r);
		start_headers(r);
		*used = e + 1;
		return 0;
	}
	k = buf_append(out, p, v);
	if (k < 0)
		return k;
	begin_value(r);
	*used = v;
	return 0;
}

static int step(struct redactor *r, const unsigned char *p, size_t n, size_t *used, struct buf *out)
{
	unsigned c = p[0];
	const unsigned char *lf;
	size_t i;
	int k = 0;

	*used = 1;
	switch (r->st) {
	case ST_START:
		if (r->hblen == 0 && (c == '\r' || c == '\n'))
			return buf_putc(out, (char)c); /* blank lines between messages */
		k = start_whole(r, p, n, used);
		/* else byte by byte, without a dispatch per byte: the start is
		 * told on the byte that tells it (a request line may be
		 * shorter than the longest candidate) */
		for (i = 0; k == 0 && i < n;) {
			r->hbuf[r->hblen++] = (char)p[i++];
			k = classify_start(r);
			*used = i;
		}
		if (k == 0)
			return 0;
		if (k < 0) {
			to_raw(r);
			k = scan_bytes(r, (unsigned char *)r->hbuf, r->hblen, out);
			r->hblen = 0;
			return k;
		}
		if (k == 2) /* prior knowledge, or the client after an h2c upgrade */
			return refeed(r, ST_H2, out);
		r->st = ST_LINE;
		r->clen = -1;
		r->chunked = 0;
		r->up_h2c = 0;
		scan_begin(r, CTX_HEAD, 0);
		k = scan_bytes(r, (unsigned char *)r->hbuf, r->hblen, out);
		r->hblen = 0;
		return k;
	case ST_LINE:
	case ST_VALUE:
		lf = memchr(p, '\n', n);
		i = lf ? (size_t)(lf - p) : n;
		if (r->st == ST_VALUE &&
		    (r->kind == H_CLEN || r->kind == H_TE || r->kind == H_UPGRADE)) {
			size_t m = i < VAL_MAX - r->vlen ? i : VAL_MAX - r->vlen;

			memcpy(r->val + r->vlen, p, m);
			r->vlen += m;
		}
		k = scan_bytes(r, p, i, out);
		*used = lf ? i + 1 : n;
		if (k < 0 || !lf)
			return k;
		k = scan_end(r, out);
		if (k == 0)
			k = buf_putc(out, '\n');
		if (r->st == ST_VALUE)
			parse_value(r);
		start_headers(r);
		return k;
	case ST_NAME:
		if (r->hblen == 0 && (k = header_line(r, p, n, used, out)) != 1)
			return k;
		if (is_tchar(c) && !(r->hblen == 1 && r->hbuf[0] == '\r')) {
			/* the name's run of token bytes in one go */
			for (i = 0; i < n && r->hblen + i < HBUF_MAX && is_tchar(p[i]); i++)
				;
			if (i) {
				memcpy(r->hbuf + r->hblen, p, i);
				r->hblen += i;
				*used = i;
				return 0;
			}
		}
		if (c == '\n' && (r->hblen == 0 || (r->hblen == 1 && r->hbuf[0] == '\r'))) {
			k = buf_append(out, r->hbuf, r->hblen);
			if (k == 0)
				k = buf_putc(out, '\n');
			r->hblen = 0;
			end_headers(r);
			return k;
		}
		if (r->hblen == 0 && (c == ' ' || c == '\t')) {
			/* obsolete line folding: a continuation, scanned as a value */
			r->kind = H_OTHER;
			begin_value(r);
			return buf_putc(out, (char)c);
		}
		if (c == ':' && !(r->hblen == 1 && r->hbuf[0] == '\r')) {
			r->kind = header_kind(r->cfg, r->hbuf, r->hblen);
			k = buf_append(out, r->hbuf, r->hblen);
			if (k == 0)
				k = buf_putc(out, ':');
			r->hblen = 0;
			r->st = ST_OWS;
			return k;
		}
		if ((is_tchar(c) || (c == '\r' && r->hblen == 0)) && r->hblen < HBUF_MAX &&
		    !(r->hblen == 1 && r->hbuf[0] == '\r')) {
			r->hbuf[r->hblen++] = (char)c;
			return 0;
		}
		/* not a header line: the rest of the stream is opaque */
		to_raw(r);
		k = scan_bytes(r, (unsigned char *)r->hbuf, r->hblen, out);
		r->hblen = 0;
		*used = 0;
		return k;
	case ST_OWS:
		if (c == ' ' || c == '\t')
			return buf_putc(out, (char)c);
		begin_value(r);
		*used = 0;
		return 0;
	case ST_SECRET:
	case ST_CVALUE:
		if (r->cr) {
			if (c == '\n')
				return end_hashed_line(r, out);
			r->cr = 0;
			hs_update(r, "\r", 1);
		}
		if (c == '\n')
			return end_hashed_line(r, out);
		if (c == '\r') {
			r->cr = 1;
			return 0;
		}
		if (r->st == ST_CVALUE && c == ';') {
			k = hs_end(r, CTX_HEAD, 1, out);
			if (k == 0)
				k = buf_putc(out, ';');
			if (r->kind == H_COOKIE) {
				r->st = ST_CNAME;
				r->hblen = 0;
			} else {
				r->st = ST_VALUE; /* Set-Cookie attributes */
				r->kind = H_OTHER;
				r->vlen = 0;
				scan_begin(r, CTX_HEAD, ';');
			}
			return k;
		}
		for (i = 0;
		     i < n && p[i] != '\r' && p[i] != '\n' && !(r->st == ST_CVALUE && p[i] == ';');
		     i++)
			;
		hs_update(r, p, i);
		*used = i;
		return 0;
	case ST_SCHEME:
		if (is_tchar(c) && r->hblen < SCHEME_MAX) {
			r->hbuf[r->hblen++] = (char)c;
			return 0;
		}
		if (c == ' ' && r->hblen > 0) {
			k = buf_append(out, r->hbuf, r->hblen);
			r->hblen = 0;
			r->kind = H_SECRET;
			r->st = ST_OWS;
			*used = 0;
			return k;
		}
		/* no scheme: it is all secret */
		r->st = ST_SECRET;
		r->cr = 0;
		hs_begin(r);
		hs_update(r, r->hbuf, r->hblen);
		r->hblen = 0;
		*used = 0;
		return 0;
	case ST_CNAME:
		if (r->hblen == 0 && (c == ' ' || c == '\t'))
			return buf_putc(out, (char)c);
		if (c == '=') {
			k = buf_append(out, r->hbuf, r->hblen);
			if (k == 0)
				k = buf_putc(out, '=');
			r->hblen = 0;
			r->st = ST_CVALUE;
			r->cr = 0;
			hs_begin(r);
			return k;
		}
		if (c != ';' && c != '\r' && c != '\n' && r->hblen < HBUF_MAX) {
			r->hbuf[r->hblen++] = (char)c;
			return 0;
		}
		/* a cookie without '=' (or an overlong name): all of it is value */
		r->st = ST_CVALUE;
		r->cr = 0;
		hs_begin(r);
		hs_update(r, r->hbuf, r->hblen);
		r->hblen = 0;
		*used = 0;
		return 0;
	case ST_PEEK:
		r->hbuf[r->hblen++] = (char)c;
		k = status_prefix(r->hbuf, r->hblen);
		if (k == 0 && r->hblen < r->remain)
			return 0;
		/* a status line: the next response; else the body it claimed */
		return refeed(r, k == 1 ? ST_START : ST_BODY, out);
	case ST_BODY:
	case ST_CHUNK_DATA:
		i = n < r->remain ? n : (size_t)r->remain;
		k = scan_bytes(r, p, i, out);
		if (k < 0)
			return k;
		*used = i;
		r->remain -= i;
		if (r->remain)
			return 0;
		k = scan_end(r, out);
		if (r->st == ST_BODY) {
			new_message(r);
		} else {
			r->st = ST_CHUNK_END;
		}
		return k;
	case ST_CHUNK_END:
		if (c == '\r')
			return buf_putc(out, '\r');
		if (c == '\n') {
			r->st = ST_CHUNK_SIZE;
			r->vlen = 0;
			return buf_putc(out, '\n');
		}
		to_raw(r);
		*used = 0;
		return 0;
	case ST_CHUNK_SIZE: {
		unsigned long long size = 0;
		size_t digits = 0;

		if (c != '\n') {
			if (r->vlen == VAL_MAX) {
				to_raw(r);
				*used = 0;
				return 0;
			}
			r->val[r->vlen++] = (char)c;
			return buf_putc(out, (char)c);
		}
		k = buf_putc(out, '\n');
		for (i = 0; i < r->vlen; i++) {
			unsigned d = lower((unsigned char)r->val[i]);

			if (d >= '0' && d <= '9')
				d -= '0';
			else if (d >= 'a' && d <= 'f')
				d = d - 'a' + 10;
			else
				break;
			if (++digits > 15)
				break;
			size = size * 16 + d;
		}
		if (digits == 0 || digits > 15 ||
		    (i < r->vlen && r->val[i] != ';' && r->val[i] != ' ' && r->val[i] != '\t' &&
		     r->val[i] != '\r')) {
			to_raw(r);
			return k;
		}
		if (size == 0) {
			r->trailers = 1;
			start_headers(r);
			return k;
		}
		r->st = ST_CHUNK_DATA;
		r->remain = size;
		scan_begin(r, CTX_BODY, 0);
		return k;
	}
	case ST_RAW:
		*used = n;
		return scan_bytes(r, p, n, out);
	case ST_H2:
		if (!r->h2) {
			r->h2 = h2red_new(r->cfg);
			if (!r->h2)
				return -ENOMEM;
		}
		*used = n;
		return h2red_feed(r->h2, p, n, out);
	}
	return k;
}

int redactor_feed(struct redactor *r, const void *in, size_t n, struct buf *out)
{
	const unsigned char *p = in;
	size_t len0 = out->len, used;
	int k;

	if (r->err)
		return r->err;
	while (n) {
		k = step(r, p, n, &used, out);
		if (k < 0) {
			r->err = k;
			out->len = len0;
			if (out->data)
				out->data[len0] = '\0';
			return k;
		}
		p += used;
		n -= used;
	}
	return 0;
}

int redactor_flush(struct redactor *r, struct buf *out)
{
	size_t len0 = out->len;
	int k = 0;

	if (r->err)
		return r->err;
	if (r->st == ST_H2) {
		/* a partial frame at the end of a stream was never read whole
		 * by the peer either: it is dropped, not written */
		h2red_free(r->h2);
		r->h2 = NULL;
		reset(r);
		return 0;
	}
	switch (r->st) {
	case ST_START:
	case ST_NAME:
		/* a partial message start or header name: scanned as opaque bytes */
		to_raw(r);
		k = scan_bytes(r, (unsigned char *)r->hbuf, r->hblen, out);
		r->hblen = 0;
		break;
	case ST_PEEK:
		k = refeed(r, ST_BODY, out);
		break;
	case ST_SCHEME:
	case ST_CNAME:
		/* whatever came of the value is secret */
		hs_begin(r);
		hs_update(r, r->hbuf, r->hblen);
		r->hblen = 0;
		k = hs_end(r, CTX_HEAD, 1, out);
		break;
	case ST_SECRET:
	case ST_CVALUE:
		if (r->cr)
			hs_update(r, "\r", 1);
		r->cr = 0;
		k = hs_end(r, CTX_HEAD, 1, out);
		break;
	default:
		break;
	}
	if (k == 0)
		k = scan_end(r, out);
	if (k < 0) {
		r->err = k;
		out->len = len0;
		if (out->data)
			out->data[len0] = '\0';
		return k;
	}
	reset(r);
	return 0;
}

int redactor_set_h2(struct redactor *r)
{
	if (r->st == ST_H2)
		return 1;
	if (r->err || r->st != ST_START || r->hblen)
		return 0;
	r->st = ST_H2;
	return 1;
}

int redactor_is_h2(const struct redactor *r)
{
	return r->st == ST_H2;
}

int redactor_body(struct redactor *r, const void *in, size_t n, struct buf *out)
{
	int k;

	if (r->st == ST_H2 || r->err)
		return -EINVAL;
	reset(r);
	r->st = ST_RAW;
	scan_begin(r, CTX_BODY, '&');
	k = redactor_feed(r, in, n, out);
	if (k == 0)
		k = redactor_flush(r, out);
	return k;
}

int redact_bytes(const struct redact_config *cfg, const void *in, size_t n, struct buf *out)
{
	struct redactor *r = redactor_new(cfg);
	size_t len0 = out->len;
	int k;

	if (!r)
		return -ENOMEM;
	k = redactor_feed(r, in, n, out);
	if (k == 0)
		k = redactor_flush(r, out);
	if (k < 0) {
		out->len = len0;
		if (out->data)
			out->data[len0] = '\0';
	}
	redactor_free(r);
	return k;
}
