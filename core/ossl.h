/*
 * ossl.h - OpenSSL, loaded when lia first needs it (dlopen, see
 * core/dynlib.h) rather than linked: libcrypto and libssl are ~1.7 MB of
 * lia's resident memory, and an agent on plain mqtt:// never calls them.
 * libcrypto (ossl_crypto_load) for WebSocket keys and masks, proxy and
 * SCRAM authentication and fleet bundles; libssl too (ossl_ssl_load) for
 * mqtts:// and wss://. The files that use OpenSSL include this instead of
 * <openssl/...> and call it by its usual names, which the #defines below
 * turn into calls through the loaded tables; calling one before its load
 * succeeded is a NULL call, so every entry point loads first.
 */
#ifndef LIA_OSSL_H
#define LIA_OSSL_H

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "dynlib.h"

/* the sonames below are OpenSSL 3's ABI */
#if OPENSSL_VERSION_MAJOR != 3
#error "lia loads libssl.so.3 and libcrypto.so.3: build with OpenSSL 3 (libssl-dev)"
#endif

#define OSSL_CRYPTO_API(X) \
	X(ASN1_TIME_diff) X(CRYPTO_memcmp) X(ERR_clear_error) X(ERR_get_error) \
	X(ERR_peek_error) X(ERR_reason_error_string) X(EVP_DecodeBlock) X(EVP_Digest) \
	X(EVP_DigestFinal_ex) X(EVP_DigestInit_ex) X(EVP_DigestSign) X(EVP_DigestSignInit) \
	X(EVP_DigestUpdate) X(EVP_DigestVerify) X(EVP_DigestVerifyInit) X(EVP_EncodeBlock) \
	X(EVP_MD_CTX_free) X(EVP_MD_CTX_new) X(EVP_PKEY_CTX_free) X(EVP_PKEY_CTX_new_id) \
	X(EVP_PKEY_free) X(EVP_PKEY_get_id) X(EVP_PKEY_keygen) X(EVP_PKEY_keygen_init) \
	X(EVP_sha1) X(EVP_sha256) X(HMAC) X(OPENSSL_cleanse) X(PEM_read_PUBKEY) \
	X(PEM_read_PrivateKey) X(PEM_write_PUBKEY) X(PEM_write_PrivateKey) \
	X(PKCS5_PBKDF2_HMAC) X(RAND_bytes) X(SHA256) X(X509_NAME_oneline) \
	X(X509_VERIFY_PARAM_set1_host) X(X509_VERIFY_PARAM_set1_ip_asc) \
	X(X509_VERIFY_PARAM_set_hostflags) X(X509_get0_notAfter) X(X509_get_subject_name) \
	X(X509_verify_cert_error_string)

#define OSSL_SSL_API(X) \
	X(SSL_CTX_check_private_key) X(SSL_CTX_ctrl) X(SSL_CTX_free) \
	X(SSL_CTX_load_verify_locations) X(SSL_CTX_new) X(SSL_CTX_set_alpn_protos) \
	X(SSL_CTX_set_cipher_list) X(SSL_CTX_set_default_passwd_cb) \
	X(SSL_CTX_set_default_passwd_cb_userdata) X(SSL_CTX_set_default_verify_paths) \
	X(SSL_CTX_set_verify) X(SSL_CTX_use_PrivateKey_file) \
	X(SSL_CTX_use_certificate_chain_file) X(SSL_connect) X(SSL_ctrl) X(SSL_free) \
	X(SSL_get0_param) X(SSL_get0_peer_certificate) X(SSL_get_certificate) \
	X(SSL_get_error) X(SSL_get_verify_result) X(SSL_new) X(SSL_pending) X(SSL_read) \
	X(SSL_set_connect_state) X(SSL_set_fd) X(SSL_shutdown) X(SSL_write) \
	X(TLS_client_method)

DYNLIB_TABLE(ossl_crypto, OSSL_CRYPTO_API)
DYNLIB_TABLE(ossl_ssl, OSSL_SSL_API)

/* Load libcrypto (ossl_crypto_load), or libcrypto and libssl
 * (ossl_ssl_load), once: NULL, or the one-line reason they cannot be had
 * ("libssl.so.3 not found: apt install libssl3"). */
const char *ossl_crypto_load(void);
const char *ossl_ssl_load(void);

#define ASN1_TIME_diff (*ossl_crypto.p_ASN1_TIME_diff)
#define CRYPTO_memcmp (*ossl_crypto.p_CRYPTO_memcmp)
#define ERR_clear_error (*ossl_crypto.p_ERR_clear_error)
#define ERR_get_error (*ossl_crypto.p_ERR_get_error)
#define ERR_peek_error (*ossl_crypto.p_ERR_peek_error)
#define ERR_reason_error_string (*ossl_crypto.p_ERR_reason_error_string)
#define EVP_DecodeBlock (*ossl_crypto.p_EVP_DecodeBlock)
#define EVP_Digest (*ossl_crypto.p_EVP_Digest)
#define EVP_DigestFinal_ex (*ossl_crypto.p_EVP_DigestFinal_ex)
#define EVP_DigestInit_ex (*ossl_crypto.p_EVP_DigestInit_ex)
#define EVP_DigestSign (*ossl_crypto.p_EVP_DigestSign)
#define EVP_DigestSignInit (*ossl_crypto.p_EVP_DigestSignInit)
#define EVP_DigestUpdate (*ossl_crypto.p_EVP_DigestUpdate)
#define EVP_DigestVerify (*ossl_crypto.p_EVP_DigestVerify)
#define EVP_DigestVerifyInit (*ossl_crypto.p_EVP_DigestVerifyInit)
#define EVP_EncodeBlock (*ossl_crypto.p_EVP_EncodeBlock)
#define EVP_MD_CTX_free (*ossl_crypto.p_EVP_MD_CTX_free)
#define EVP_MD_CTX_new (*ossl_crypto.p_EVP_MD_CTX_new)
#define EVP_PKEY_CTX_free (*ossl_crypto.p_EVP_PKEY_CTX_free)
#define EVP_PKEY_CTX_new_id (*ossl_crypto.p_EVP_PKEY_CTX_new_id)
#define EVP_PKEY_free (*ossl_crypto.p_EVP_PKEY_free)
#define EVP_PKEY_get_id (*ossl_crypto.p_EVP_PKEY_get_id)
#define EVP_PKEY_keygen (*ossl_crypto.p_EVP_PKEY_keygen)
#define EVP_PKEY_keygen_init (*ossl_crypto.p_EVP_PKEY_keygen_init)
#define EVP_sha1 (*ossl_crypto.p_EVP_sha1)
#define EVP_sha256 (*ossl_crypto.p_EVP_sha256)
#define HMAC (*ossl_crypto.p_HMAC)
#define OPENSSL_cleanse (*ossl_crypto.p_OPENSSL_cleanse)
#define PEM_read_PUBKEY (*ossl_crypto.p_PEM_read_PUBKEY)
#define PEM_read_PrivateKey (*ossl_crypto.p_PEM_read_PrivateKey)
#define PEM_write_PUBKEY (*ossl_crypto.p_PEM_write_PUBKEY)
#define PEM_write_PrivateKey (*ossl_crypto.p_PEM_write_PrivateKey)
#define PKCS5_PBKDF2_HMAC (*ossl_crypto.p_PKCS5_PBKDF2_HMAC)
#define RAND_bytes (*ossl_crypto.p_RAND_bytes)
#define SHA256 (*ossl_crypto.p_SHA256)
#define X509_NAME_oneline (*ossl_crypto.p_X509_NAME_oneline)
#define X509_VERIFY_PARAM_set1_host (*ossl_crypto.p_X509_VERIFY_PARAM_set1_host)
#define X509_VERIFY_PARAM_set1_ip_asc (*ossl_crypto.p_X509_VERIFY_PARAM_set1_ip_asc)
#define X509_VERIFY_PARAM_set_hostflags (*ossl_crypto.p_X509_VERIFY_PARAM_set_hostflags)
#define X509_get0_notAfter (*ossl_crypto.p_X509_get0_notAfter)
#define X509_get_subject_name (*ossl_crypto.p_X509_get_subject_name)
#define X509_verify_cert_error_string (*ossl_crypto.p_X509_verify_cert_error_string)
#define SSL_CTX_check_private_key (*ossl_ssl.p_SSL_CTX_check_private_key)
#define SSL_CTX_ctrl (*ossl_ssl.p_SSL_CTX_ctrl)
#define SSL_CTX_free (*ossl_ssl.p_SSL_CTX_free)
#define SSL_CTX_load_verify_locations (*ossl_ssl.p_SSL_CTX_load_verify_locations)
#define SSL_CTX_new (*ossl_ssl.p_SSL_CTX_new)
#define SSL_CTX_set_alpn_protos (*ossl_ssl.p_SSL_CTX_set_alpn_protos)
#define SSL_CTX_set_cipher_list (*ossl_ssl.p_SSL_CTX_set_cipher_list)
#define SSL_CTX_set_default_passwd_cb (*ossl_ssl.p_SSL_CTX_set_default_passwd_cb)
#define SSL_CTX_set_default_passwd_cb_userdata (*ossl_ssl.p_SSL_CTX_set_default_passwd_cb_userdata)
#define SSL_CTX_set_default_verify_paths (*ossl_ssl.p_SSL_CTX_set_default_verify_paths)
#define SSL_CTX_set_verify (*ossl_ssl.p_SSL_CTX_set_verify)
#define SSL_CTX_use_PrivateKey_file (*ossl_ssl.p_SSL_CTX_use_PrivateKey_file)
#define SSL_CTX_use_certificate_chain_file (*ossl_ssl.p_SSL_CTX_use_certificate_chain_file)
#define SSL_connect (*ossl_ssl.p_SSL_connect)
#define SSL_ctrl (*ossl_ssl.p_SSL_ctrl)
#define SSL_free (*ossl_ssl.p_SSL_free)
#define SSL_get0_param (*ossl_ssl.p_SSL_get0_param)
#define SSL_get0_peer_certificate (*ossl_ssl.p_SSL_get0_peer_certificate)
#define SSL_get_certificate (*ossl_ssl.p_SSL_get_certificate)
#define SSL_get_error (*ossl_ssl.p_SSL_get_error)
#define SSL_get_verify_result (*ossl_ssl.p_SSL_get_verify_result)
#define SSL_new (*ossl_ssl.p_SSL_new)
#define SSL_pending (*ossl_ssl.p_SSL_pending)
#define SSL_read (*ossl_ssl.p_SSL_read)
#define SSL_set_connect_state (*ossl_ssl.p_SSL_set_connect_state)
#define SSL_set_fd (*ossl_ssl.p_SSL_set_fd)
#define SSL_shutdown (*ossl_ssl.p_SSL_shutdown)
#define SSL_write (*ossl_ssl.p_SSL_write)
#define TLS_client_method (*ossl_ssl.p_TLS_client_method)

#endif
