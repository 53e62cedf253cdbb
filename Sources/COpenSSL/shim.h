#ifndef TRESTLE_COPENSSL_SHIM_H
#define TRESTLE_COPENSSL_SHIM_H
// OpenSSL 3 for the TLS module (its only importer). Function-like macros and the SSL_OP_* bits
// (built with SSL_OP_BIT) do not import into Swift: each one used is wrapped here, nothing else.
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/evp.h>
#include <string.h>
#include <time.h>

static const uint64_t trestle_SSL_OP_NO_RENEGOTIATION = SSL_OP_NO_RENEGOTIATION;
static const uint64_t trestle_SSL_OP_NO_COMPRESSION = SSL_OP_NO_COMPRESSION;
static const uint64_t trestle_SSL_OP_NO_TICKET = SSL_OP_NO_TICKET;
static const uint64_t trestle_SSL_OP_ALL = SSL_OP_ALL;

static inline int trestle_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}
static inline int trestle_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_max_proto_version(ctx, version);
}
static inline long trestle_SSL_CTX_set_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_mode(ctx, mode);
}
static inline long trestle_SSL_CTX_set_session_cache_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_session_cache_mode(ctx, mode);
}
static inline int trestle_SSL_CTX_set1_groups_list(SSL_CTX *ctx, const char *list) {
    return (int)SSL_CTX_set1_groups_list(ctx, list);
}
static inline int trestle_SSL_CTX_set_tlsext_servername_callback(SSL_CTX *ctx, int (*cb)(SSL *, int *, void *)) {
    return (int)SSL_CTX_set_tlsext_servername_callback(ctx, cb);
}
static inline int trestle_SSL_set_tlsext_host_name(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}
static inline void trestle_BIO_set_retry_read(BIO *b) { BIO_set_retry_read(b); }
static inline void trestle_BIO_clear_retry_flags(BIO *b) { BIO_clear_retry_flags(b); }
static inline long trestle_BIO_get_mem_data(BIO *b, char **out) { return BIO_get_mem_data(b, out); }

// Stacks: the sk_TYPE_* accessors are macros over OPENSSL_sk_*.
static inline int trestle_sk_X509_num(const STACK_OF(X509) *sk) { return sk_X509_num(sk); }
static inline X509 *trestle_sk_X509_value(const STACK_OF(X509) *sk, int i) { return sk_X509_value(sk, i); }
static inline STACK_OF(X509) *trestle_sk_X509_new_null(void) { return sk_X509_new_null(); }
static inline int trestle_sk_X509_push(STACK_OF(X509) *sk, X509 *x) { return sk_X509_push(sk, x); }
static inline void trestle_sk_X509_free(STACK_OF(X509) *sk) { sk_X509_free(sk); }
static inline void trestle_sk_X509_pop_free_all(STACK_OF(X509) *sk) { sk_X509_pop_free(sk, X509_free); }
static inline int trestle_sk_GENERAL_NAME_num(const GENERAL_NAMES *sk) { return sk_GENERAL_NAME_num(sk); }
static inline GENERAL_NAME *trestle_sk_GENERAL_NAME_value(const GENERAL_NAMES *sk, int i) {
    return sk_GENERAL_NAME_value(sk, i);
}
static inline void trestle_GENERAL_NAMES_free_all(GENERAL_NAMES *sk) { GENERAL_NAMES_free(sk); }
static inline int trestle_sk_X509_NAME_num(const STACK_OF(X509_NAME) *sk) { return sk_X509_NAME_num(sk); }

// GENERAL_NAME's union, read without Swift having to know its layout.
static inline int trestle_GENERAL_NAME_type(const GENERAL_NAME *name) { return name->type; }
static inline const ASN1_STRING *trestle_GENERAL_NAME_string(const GENERAL_NAME *name) {
    switch (name->type) {
    case GEN_DNS: return name->d.dNSName;
    case GEN_URI: return name->d.uniformResourceIdentifier;
    case GEN_EMAIL: return name->d.rfc822Name;
    case GEN_IPADD: return name->d.iPAddress;
    default: return NULL;
    }
}

static const unsigned long trestle_XN_FLAG_RFC2253 = XN_FLAG_RFC2253;
static const unsigned long trestle_XN_FLAG_ONELINE = XN_FLAG_ONELINE;

// errno-free time: the current UTC time in seconds.
static inline int64_t trestle_now(void) { return (int64_t)time(NULL); }

#endif
