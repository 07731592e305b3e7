/*
 * fuzz_ws_frame.c - libFuzzer target over the WebSocket frame parser
 * (core/ws_frame.c). The first byte picks the payload cap; the rest is a
 * stream of frames decoded one after another. A header that decodes must
 * lie inside the input, obey RFC 6455's rules (control frames short and
 * final), and encode back (ws_frame_header) to the same header; masking
 * a payload twice must give it back.
 */
#include <stdlib.h>
#include <string.h>

#include "ws_frame.h"

static void roundtrip(const struct ws_frame *f)
{
	uint8_t hdr[WS_MAX_HEADER];
	struct ws_frame g;
	size_t n = ws_frame_header(hdr, f->fin, f->opcode, f->len, f->masked ? f->mask : NULL);
	if (n > sizeof hdr)
		abort();
	int r = ws_frame_decode(hdr, n, UINT64_MAX, &g);
	if (r != (int)n || g.fin != f->fin || g.opcode != f->opcode || g.len != f->len ||
			g.masked != f->masked || (f->masked && memcmp(g.mask, f->mask, 4)))
		abort();
}

static void mask_twice(uint8_t *p, size_t len, const struct ws_frame *f, uint64_t off)
{
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy)
		return;
	memcpy(copy, p, len);
	ws_mask(p, len, f->mask, off);
	ws_mask(p, len, f->mask, off);
	if (memcmp(copy, p, len))
		abort();
	free(copy);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	if (size < 1)
		return 0;
	static const uint64_t caps[] = { 0, 125, 4096, 1 << 20, UINT64_MAX };
	uint64_t cap = caps[data[0] % 5];
	uint8_t *buf = malloc(size);
	size_t off = 1;
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	while (off < size) {
		struct ws_frame f;
		int r = ws_frame_decode(buf + off, size - off, cap, &f);
		if (r <= 0)
			break;          /* INCOMPLETE, MALFORMED or TOO_BIG: the caller stops */
		if ((size_t)r > size - off || r > WS_MAX_HEADER || f.len > cap)
			abort();
		if ((f.opcode & 0x8) && (f.len > WS_MAX_CONTROL || !f.fin))
			abort();
		roundtrip(&f);
		off += (size_t)r;
		size_t body = f.len < size - off ? (size_t)f.len : size - off;
		if (f.masked)
			mask_twice(buf + off, body, &f, 0);
		off += body;
	}
	free(buf);
	return 0;
}
