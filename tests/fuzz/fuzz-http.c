/* SPDX-License-Identifier: MIT */
/* fuzz-http.c -- fuzzes HTTP exchange reconstruction (common/http.c).
 *
 * Input: one byte of options (bit 0: ALPN "h2"; bit 1: tiny limits), then
 * segments of one header byte (bit 7: received, else sent; bits 0-6: length)
 * and that many bytes, fed in order. Every exchange is written as JSON.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/http.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct http_limits tiny = { 16, 64, 4, 256, 2 };
	struct http_conn *c = http_conn_new("http", NULL, "127.0.0.1:80");
	struct http_exchange *x;
	struct buf out = BUF_INIT;
	size_t i = 1;
	int64_t ts = 1;

	if (!c)
		abort();
	if (size && (data[0] & 1))
		http_conn_set_alpn(c, "h2");
	if (size && (data[0] & 2))
		http_conn_set_limits(c, &tiny);
	while (i < size) {
		size_t n = data[i] & 0x7f;
		int sent = !(data[i] & 0x80);

		i++;
		if (n > size - i)
			n = size - i;
		if (http_conn_feed(c, sent, data + i, n, ts++) == -EPROTO && !http_conn_error(c))
			abort();
		i += n;
	}
	http_conn_close(c, ts);
	for (x = http_conn_next(c); x; x = http_conn_next(c)) {
		buf_reset(&out);
		if (!x->method || !x->url || http_exchange_json(x, &out) < 0)
			abort();
		http_exchange_free(x);
	}
	buf_release(&out);
	http_conn_free(c);
	return 0;
}
