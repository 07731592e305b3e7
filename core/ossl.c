/*
 * ossl.c - OpenSSL's functions, looked up on first use (see ossl.h).
 */
#include "ossl.h"

struct ossl_crypto_table ossl_crypto;
struct ossl_ssl_table ossl_ssl;

#define DYNLIB_API ossl_crypto
static int fill_crypto(struct dynlib *d)
{
	OSSL_CRYPTO_API(DYNLIB_FILL)
	return 0;
}
#undef DYNLIB_API

#define DYNLIB_API ossl_ssl
static int fill_ssl(struct dynlib *d)
{
	OSSL_SSL_API(DYNLIB_FILL)
	return 0;
}
#undef DYNLIB_API

const char *ossl_crypto_load(void)
{
	static struct dynlib lib = { .soname = "libcrypto.so.3", .package = "libssl3" };
	return dynlib_load(&lib, fill_crypto) == 0 ? NULL : lib.err;
}

const char *ossl_ssl_load(void)
{
	static struct dynlib lib = { .soname = "libssl.so.3", .package = "libssl3" };
	const char *why = ossl_crypto_load();
	if (why)
		return why;
	return dynlib_load(&lib, fill_ssl) == 0 ? NULL : lib.err;
}
