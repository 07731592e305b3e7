/*
 * lhttp_curl.h - libcurl for lia.http, loaded when a script first requires
 * lia.http (dlopen, see core/dynlib.h): an agent that makes no HTTP request
 * carries neither libcurl nor the dozen libraries it loads (GnuTLS, Kerberos,
 * LDAP, libssh2, ...). lhttp.c includes this instead of <curl/curl.h> and
 * calls libcurl by its usual names.
 */
#ifndef LIA_LHTTP_CURL_H
#define LIA_LHTTP_CURL_H

/* curl's type-checking wrappers are function-like macros with the
 * functions' own names, which the slots below must replace (#undef) */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_multi_setopt

#include "dynlib.h"

#define LHTTP_CURL_API(X) \
	X(curl_global_init) X(curl_version) X(curl_easy_init) X(curl_easy_cleanup) \
	X(curl_easy_setopt) X(curl_easy_getinfo) X(curl_easy_strerror) \
	X(curl_slist_append) X(curl_slist_free_all) \
	X(curl_multi_init) X(curl_multi_cleanup) X(curl_multi_setopt) \
	X(curl_multi_add_handle) X(curl_multi_remove_handle) X(curl_multi_socket_action) \
	X(curl_multi_info_read) X(curl_multi_strerror)

DYNLIB_TABLE(lhttp_curl, LHTTP_CURL_API)

/* Load libcurl once: NULL, or the one-line reason it cannot be had
 * ("libcurl.so.4 not found: apt install libcurl4"). */
const char *lhttp_curl_load(void);

#define curl_global_init (*lhttp_curl.p_curl_global_init)
#define curl_version (*lhttp_curl.p_curl_version)
#define curl_easy_init (*lhttp_curl.p_curl_easy_init)
#define curl_easy_cleanup (*lhttp_curl.p_curl_easy_cleanup)
#define curl_easy_setopt (*lhttp_curl.p_curl_easy_setopt)
#define curl_easy_getinfo (*lhttp_curl.p_curl_easy_getinfo)
#define curl_easy_strerror (*lhttp_curl.p_curl_easy_strerror)
#define curl_slist_append (*lhttp_curl.p_curl_slist_append)
#define curl_slist_free_all (*lhttp_curl.p_curl_slist_free_all)
#define curl_multi_init (*lhttp_curl.p_curl_multi_init)
#define curl_multi_cleanup (*lhttp_curl.p_curl_multi_cleanup)
#define curl_multi_setopt (*lhttp_curl.p_curl_multi_setopt)
#define curl_multi_add_handle (*lhttp_curl.p_curl_multi_add_handle)
#define curl_multi_remove_handle (*lhttp_curl.p_curl_multi_remove_handle)
#define curl_multi_socket_action (*lhttp_curl.p_curl_multi_socket_action)
#define curl_multi_info_read (*lhttp_curl.p_curl_multi_info_read)
#define curl_multi_strerror (*lhttp_curl.p_curl_multi_strerror)

#endif
