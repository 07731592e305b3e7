/*
 * ws_frame.c - WebSocket frame headers (RFC 6455 section 5.2). Lengths are
 * checked against the cap before any caller allocates; a reader never
 * looks past the bytes it was given.
 */
#include <string.h>

#include "ossl.h"

#include "ws_frame.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

static bool opcode_known(uint8_t op)
{
	return op <= WS_OP_BINARY || (op >= WS_OP_CLOSE && op <= WS_OP_PONG);
}

int ws_frame_decode(const uint8_t *p, size_t len, uint64_t cap, struct ws_frame *f)
{
	size_t need = 2;
	uint64_t n;
	if (len < 2)
		return WS_INCOMPLETE;
	f->fin = p[0] & 0x80;
	f->opcode = p[0] & 0x0F;
	f->masked = p[1] & 0x80;
	n = p[1] & 0x7F;
	if ((p[0] & 0x70) || !opcode_known(f->opcode))
		return WS_MALFORMED;
	if (f->opcode >= WS_OP_CLOSE && (n > WS_MAX_CONTROL || !f->fin))
		return WS_MALFORMED;
	need += n == 126 ? 2 : n == 127 ? 8 : 0;
	need += f->masked ? 4 : 0;
	if (len < need)
		return WS_INCOMPLETE;
	if (n == 126) {
		n = (uint64_t)p[2] << 8 | p[3];
		if (n < 126)
			return WS_MALFORMED;
	} else if (n == 127) {
		n = 0;
		for (int i = 0; i < 8; i++)
			n = n << 8 | p[2 + i];
		if (n >> 63 || n <= 0xFFFF)
			return WS_MALFORMED;
	}
	if (f->masked)
		memcpy(f->mask, p + need - 4, 4);
	f->len = n;
	return n > cap ? WS_TOO_BIG : (int)need;
}

size_t ws_frame_header(uint8_t *out, bool fin, uint8_t opcode, uint64_t len, const uint8_t *mask)
{
	size_t n = 2;
	out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0F));
	if (len < 126) {
		out[1] = (uint8_t)len;
	} else if (len <= 0xFFFF) {
		out[1] = 126;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		n = 4;
	} else {
		out[1] = 127;
		for (int i = 0; i < 8; i++)
			out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
		n = 10;
	}
	if (mask) {
		out[1] |= 0x80;
		memcpy(out + n, mask, 4);
		n += 4;
	}
	return n;
}

void ws_mask(uint8_t *p, size_t len, const uint8_t mask[4], uint64_t off)
{
	for (size_t i = 0; i < len; i++)
		p[i] ^= mask[(off + i) & 3];
}

void ws_accept_key(const char *key, char out[29])
{
	unsigned char md[SHA_DIGEST_LENGTH];
	unsigned int mdlen = 0;
	if (ossl_crypto_load()) {   /* matches no key: the handshake fails */
		out[0] = '\0';
		return;
	}
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	memset(md, 0, sizeof md);
	if (ctx && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1 &&
			EVP_DigestUpdate(ctx, key, strlen(key)) == 1 &&
			EVP_DigestUpdate(ctx, WS_GUID, strlen(WS_GUID)) == 1)
		EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	EVP_EncodeBlock((unsigned char *)out, md, SHA_DIGEST_LENGTH);
}
