/*
 * dynlib.c - system libraries loaded on first use (see dynlib.h).
 */
#include <dlfcn.h>
#include <stdio.h>

#include "dynlib.h"

int dynlib_load(struct dynlib *d, dynlib_fill_fn *fill)
{
	if (d->ready)
		return 0;
	if (d->failed)
		return -1;
	/* RTLD_LOCAL: the library's symbols are ours alone, found with dlsym;
	 * lia never re-exports them to C modules a script loads */
	d->handle = dlopen(d->soname, RTLD_NOW | RTLD_LOCAL);
	if (!d->handle) {
		d->failed = true;
		snprintf(d->err, sizeof d->err, "%s not found: apt install %s", d->soname, d->package);
		return -1;
	}
	if (fill(d) < 0) {
		d->failed = true;
		return -1;
	}
	d->ready = true;
	return 0;
}

void *dynlib_sym(struct dynlib *d, const char *fn)
{
	void *p = d->handle ? dlsym(d->handle, fn) : NULL;
	if (!p)
		snprintf(d->err, sizeof d->err, "%s has no %s (too old): apt install %s",
			d->soname, fn, d->package);
	return p;
}
