/*
 * copycount.c - an LD_PRELOAD shim for make bench (tests/bench.py's
 * "large payloads" rows): counts the bytes a process copies in user space,
 * so "bytes copied per message" is measured, not argued.
 *
 * Counted: every memcpy, memmove, mempcpy (and their _chk forms) of at least
 * COPY_MIN bytes that the process calls through the dynamic linker - lia's
 * own code, its statically linked Lua (lua_pushlstring, luaL_Buffer) - and
 * every realloc that moves a heap block (glibc copies the old contents:
 * counted as min(old, new) bytes). A realloc of an mmap'ed block is moved by
 * mremap, which copies nothing: counted apart ("remapped"). Not counted:
 * copies inside libc itself (stdio) and the kernel's copies in read/write,
 * which every client pays alike. Smaller copies (topic names, headers,
 * property values) are left out so the number is the payload's.
 *
 * At exit it writes "copied BYTES calls N remapped BYTES" to $COPYCOUNT_OUT.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COPY_MIN 4096

static uint64_t copied, calls, remapped;
static void *(*real_memmove)(void *, const void *, size_t);
static void *(*real_realloc)(void *, size_t);

static void count(size_t n)
{
	if (n >= COPY_MIN) {
		__atomic_add_fetch(&copied, n, __ATOMIC_RELAXED);
		__atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED);
	}
}

/* memmove does every copy (overlap-safe); a byte loop until dlsym answers
 * (the loop is built with -fno-builtin -fno-tree-loop-distribute-patterns
 * so the compiler does not turn it back into a memcpy call) */
static void *move(void *dst, const void *src, size_t n)
{
	if (!real_memmove)
		real_memmove = (void *(*)(void *, const void *, size_t))dlsym(RTLD_NEXT, "memmove");
	if (real_memmove)
		return real_memmove(dst, src, n);
	unsigned char *d = dst;
	const unsigned char *s = src;
	if (d < s)
		for (size_t i = 0; i < n; i++)
			d[i] = s[i];
	else
		for (size_t i = n; i > 0; i--)
			d[i - 1] = s[i - 1];
	return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
	count(n);
	return move(dst, src, n);
}

void *memmove(void *dst, const void *src, size_t n)
{
	count(n);
	return move(dst, src, n);
}

void *mempcpy(void *dst, const void *src, size_t n)
{
	count(n);
	return (char *)move(dst, src, n) + n;
}

void *__memcpy_chk(void *dst, const void *src, size_t n, size_t cap);
void *__memcpy_chk(void *dst, const void *src, size_t n, size_t cap)
{
	if (n > cap)
		abort();
	return memcpy(dst, src, n);
}

void *__memmove_chk(void *dst, const void *src, size_t n, size_t cap);
void *__memmove_chk(void *dst, const void *src, size_t n, size_t cap)
{
	if (n > cap)
		abort();
	return memmove(dst, src, n);
}

/* glibc's chunk header: bit 1 of the size word marks an mmap'ed chunk */
static int is_mmapped(void *p)
{
	return (((size_t *)p)[-1] & 2) != 0;
}

void *realloc(void *p, size_t n)
{
	if (!real_realloc)
		real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
	size_t old = p ? malloc_usable_size(p) : 0;
	int mapped = p ? is_mmapped(p) : 0;
	void *q = real_realloc(p, n);
	if (q && p && q != p) {
		size_t moved = old < n ? old : n;
		if (mapped)
			__atomic_add_fetch(&remapped, moved, __ATOMIC_RELAXED);
		else
			count(moved);
	}
	return q;
}

__attribute__((destructor)) static void report(void)
{
	const char *path = getenv("COPYCOUNT_OUT");
	FILE *f = path ? fopen(path, "w") : NULL;
	if (!f)
		return;
	fprintf(f, "copied %llu calls %llu remapped %llu\n", (unsigned long long)copied,
		(unsigned long long)calls, (unsigned long long)remapped);
	fclose(f);
}
