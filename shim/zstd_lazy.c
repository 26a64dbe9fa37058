/* SPDX-License-Identifier: MIT */
/* zstd_lazy.c -- the libzstd functions common/zframe.c calls, loaded on first use.
 *
 * Most traced processes never compress: a short one writes its few events
 * as stored frames (zframe_store), and only a process that records enough
 * to start a writer thread makes a zstd encoder. Linking libzstd made every
 * process map and relocate it at start anyway (about 0.5% of benchmark
 * W2, 300 curl runs). These definitions satisfy zframe.o's references
 * inside libattrace.so (the version script keeps them local, so they never
 * interpose on a program's own libzstd); the first call dlopen()s
 * libzstd.so.1 and later calls go straight through. Without libzstd the
 * encoder cannot be made and the recorder writes stored frames only.
 *
 * The encoder is made when the writer thread starts (recorder.c,
 * writer_start), on the program's thread whose event called for the
 * writer, inside that hook and never in a signal handler. The dlopen opens
 * libzstd.so.1 (and /etc/ld.so.cache) on the lowest free descriptor for a
 * moment: this thread allocates nothing meanwhile, but another program
 * thread that opens a file at that instant may get the next number up
 * (documented in libattrace(7), THE TRACE DESCRIPTOR). The decoder
 * functions are here only to complete the link: the shim never reads a
 * trace.
 */
#define ZSTD_STATIC_LINKING_ONLY
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <zstd.h>
#include <zstd_errors.h>

#define ZSTD_FUNCS(X)                         \
	X(ZSTD_getCParams)                    \
	X(ZSTD_estimateCCtxSize_usingCParams) \
	X(ZSTD_initStaticCCtx)                \
	X(ZSTD_CCtx_setParameter)             \
	X(ZSTD_compressBound)                 \
	X(ZSTD_compress2)                     \
	X(ZSTD_isError)                       \
	X(ZSTD_getErrorName)                  \
	X(ZSTD_getErrorCode)                  \
	X(ZSTD_createDCtx)                    \
	X(ZSTD_freeDCtx)                      \
	X(ZSTD_DCtx_setParameter)             \
	X(ZSTD_DCtx_reset)                    \
	X(ZSTD_DStreamOutSize)                \
	X(ZSTD_decompressStream)              \
	X(ZSTD_decompressDCtx)                \
	X(ZSTD_getFrameContentSize)           \
	X(ZSTD_findFrameCompressedSize)

static struct {
#define FIELD(name) __typeof__(name) *name;
	ZSTD_FUNCS(FIELD)
#undef FIELD
} z;
static int z_ok;
static pthread_once_t z_once = PTHREAD_ONCE_INIT;

static void z_load(void)
{
	void *h = dlopen("libzstd.so.1", RTLD_NOW | RTLD_LOCAL);

	if (!h)
		return;
#define RESOLVE(name) z.name = (__typeof__(name) *)dlsym(h, #name);
	ZSTD_FUNCS(RESOLVE)
#undef RESOLVE
#define CHECK(name) &&z.name
	z_ok = 1 ZSTD_FUNCS(CHECK);
#undef CHECK
}

/* @return 1 when libzstd is loaded with every function above. */
static int loaded(void)
{
	pthread_once(&z_once, z_load);
	return z_ok;
}

/* Without libzstd every call fails the way zframe.c checks for: a zero
 * context size (no encoder), NULL contexts, error codes. */
#define Z_ERR ((size_t)-ZSTD_error_GENERIC)

ZSTD_compressionParameters ZSTD_getCParams(int level, unsigned long long src, size_t dict)
{
	if (!loaded())
		return (ZSTD_compressionParameters){ 0 };
	return z.ZSTD_getCParams(level, src, dict);
}

size_t ZSTD_estimateCCtxSize_usingCParams(ZSTD_compressionParameters cp)
{
	return loaded() ? z.ZSTD_estimateCCtxSize_usingCParams(cp) : 0;
}

ZSTD_CCtx *ZSTD_initStaticCCtx(void *ws, size_t size)
{
	return loaded() ? z.ZSTD_initStaticCCtx(ws, size) : NULL;
}

size_t ZSTD_CCtx_setParameter(ZSTD_CCtx *c, ZSTD_cParameter p, int v)
{
	return loaded() ? z.ZSTD_CCtx_setParameter(c, p, v) : Z_ERR;
}

size_t ZSTD_compressBound(size_t n)
{
	/* zstd's own formula (ZSTD_COMPRESSBOUND), so no load is needed */
	return ZSTD_COMPRESSBOUND(n);
}

size_t ZSTD_compress2(ZSTD_CCtx *c, void *dst, size_t cap, const void *src, size_t n)
{
	return loaded() ? z.ZSTD_compress2(c, dst, cap, src, n) : Z_ERR;
}

unsigned ZSTD_isError(size_t code)
{
	return code > (size_t)-ZSTD_error_maxCode;
}

const char *ZSTD_getErrorName(size_t code)
{
	return loaded() ? z.ZSTD_getErrorName(code) : "libzstd.so.1 not loaded";
}

ZSTD_ErrorCode ZSTD_getErrorCode(size_t code)
{
	return loaded() ? z.ZSTD_getErrorCode(code) : ZSTD_error_GENERIC;
}

ZSTD_DCtx *ZSTD_createDCtx(void)
{
	return loaded() ? z.ZSTD_createDCtx() : NULL;
}

size_t ZSTD_freeDCtx(ZSTD_DCtx *d)
{
	return d && loaded() ? z.ZSTD_freeDCtx(d) : 0;
}

size_t ZSTD_DCtx_setParameter(ZSTD_DCtx *d, ZSTD_dParameter p, int v)
{
	return loaded() ? z.ZSTD_DCtx_setParameter(d, p, v) : Z_ERR;
}

size_t ZSTD_DCtx_reset(ZSTD_DCtx *d, ZSTD_ResetDirective r)
{
	return loaded() ? z.ZSTD_DCtx_reset(d, r) : Z_ERR;
}

size_t ZSTD_DStreamOutSize(void)
{
	return loaded() ? z.ZSTD_DStreamOutSize() : 0;
}

size_t ZSTD_decompressStream(ZSTD_DStream *d, ZSTD_outBuffer *out, ZSTD_inBuffer *in)
{
	return loaded() ? z.ZSTD_decompressStream(d, out, in) : Z_ERR;
}

size_t ZSTD_decompressDCtx(ZSTD_DCtx *d, void *dst, size_t cap, const void *src, size_t n)
{
	return loaded() ? z.ZSTD_decompressDCtx(d, dst, cap, src, n) : Z_ERR;
}

unsigned long long ZSTD_getFrameContentSize(const void *src, size_t n)
{
	return loaded() ? z.ZSTD_getFrameContentSize(src, n) : ZSTD_CONTENTSIZE_ERROR;
}

size_t ZSTD_findFrameCompressedSize(const void *src, size_t n)
{
	return loaded() ? z.ZSTD_findFrameCompressedSize(src, n) : Z_ERR;
}
