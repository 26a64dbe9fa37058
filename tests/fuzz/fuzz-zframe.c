/* SPDX-License-Identifier: MIT */
/* fuzz-zframe.c -- fuzzes the zstd frame decoder, and round-trips the input through the encoder. */
#include <stdlib.h>
#include <string.h>

#include "common/zframe.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct zframe_enc *enc;
	struct buf out = BUF_INIT, z = BUF_INIT, all = BUF_INIT;
	struct zframe_dec d;
	struct at_error e;
	int k;

	/* decode whatever this is, with a 1 MiB cap per frame */
	if (zframe_dec_init(&d, data, size, 1 << 20) < 0)
		abort();
	while ((k = zframe_dec_next(&d, &out, &e)) == 1)
		;
	if (k < 0 && e.msg[0] == '\0')
		abort();
	zframe_dec_release(&d);

	/* encode it in small frames and decode it back exactly */
	if (!enc)
		enc = zframe_enc_new(1, 4096);
	if (!enc || zframe_compress(enc, data, size, &z) < 0)
		abort();
	if (zframe_dec_init(&d, z.data, z.len, 0) < 0)
		abort();
	while ((k = zframe_dec_next(&d, &out, &e)) == 1)
		buf_append(&all, out.data, out.len);
	if (k != 0 || all.len != size || (size && memcmp(all.data, data, size) != 0))
		abort();
	zframe_dec_release(&d);
	buf_release(&out);
	buf_release(&z);
	buf_release(&all);
	return 0;
}
