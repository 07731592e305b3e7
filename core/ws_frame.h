/*
 * ws_frame.h - the WebSocket (RFC 6455) frame codec and handshake key, pure:
 * no sockets, no allocation. Used by transport_ws.c; tested on byte vectors.
 */
#ifndef LIA_WS_FRAME_H
#define LIA_WS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WS_OP_CONT 0x0
#define WS_OP_TEXT 0x1
#define WS_OP_BINARY 0x2
#define WS_OP_CLOSE 0x8
#define WS_OP_PING 0x9
#define WS_OP_PONG 0xA

#define WS_MAX_HEADER 14        /* 2 + 8 length + 4 mask */
#define WS_MAX_CONTROL 125

/* Results of ws_frame_decode besides a header length > 0. */
#define WS_INCOMPLETE 0
#define WS_MALFORMED (-1)
#define WS_TOO_BIG (-2)

struct ws_frame {
	bool fin;
	uint8_t opcode;
	bool masked;
	uint8_t mask[4];
	uint64_t len;           /* payload length */
};

/* Decode a frame header from len bytes at p. Returns the header length
 * (the payload follows), WS_INCOMPLETE, WS_MALFORMED (reserved bits or
 * opcodes, a control frame over 125 bytes or fragmented, a 64-bit length
 * with the top bit set, a non-minimal length) or WS_TOO_BIG (payload over
 * cap; decided from the header alone, before anything is allocated). */
int ws_frame_decode(const uint8_t *p, size_t len, uint64_t cap, struct ws_frame *f);

/* Encode a header for a payload of len bytes into out (WS_MAX_HEADER
 * bytes); mask NULL: unmasked (server side). Returns its length. */
size_t ws_frame_header(uint8_t *out, bool fin, uint8_t opcode, uint64_t len, const uint8_t *mask);

/* XOR len bytes with mask, starting at payload offset off (so a payload
 * can be (un)masked in pieces). */
void ws_mask(uint8_t *p, size_t len, const uint8_t mask[4], uint64_t off);

/* Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key GUID)),
 * into out (at least 29 bytes). */
void ws_accept_key(const char *key, char out[29]);

#endif
