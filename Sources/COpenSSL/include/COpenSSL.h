// Shim over the system OpenSSL 3.0 (Debian bookworm libssl-dev).
// Only the TLS target imports this module; no C type leaves it.
//
// OpenSSL exposes part of its API as macros (SSL_CTX_set_min_proto_version, SSL_CTX_set_mode,
// sk_GENERAL_NAME_*, OPENSSL_free, ...) or as 64-bit flag macros built from expressions
// (SSL_OP_*), which the Swift importer cannot see. Each such API gets a real function here,
// prefixed `augmenter_`, with the same meaning and no policy of its own.
#ifndef C_OPENSSL_SHIM_H
#define C_OPENSSL_SHIM_H

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stddef.h>
#include <stdint.h>

// MARK: SSL_CTX control macros

/// SSL_CTX_set_min_proto_version (macro over SSL_CTX_ctrl). Returns 1 on success.
int augmenter_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version);
/// SSL_CTX_set_max_proto_version (macro over SSL_CTX_ctrl). Returns 1 on success.
int augmenter_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version);
/// SSL_CTX_set_options with the options every Augmenter server context gets: no compression and
/// no renegotiation; SSL_OP_NO_TICKET is cleared explicitly so session tickets (TLS 1.3
/// resumption) stay on. SSL_OP_* are 64-bit expression macros the importer cannot see.
/// Returns the resulting option mask.
uint64_t augmenter_SSL_CTX_set_server_options(SSL_CTX *ctx);
/// True when the option mask has SSL_OP_NO_TICKET (used by tests of the option set).
int augmenter_options_have_no_ticket(uint64_t options);
/// True when the option mask has SSL_OP_NO_COMPRESSION and SSL_OP_NO_RENEGOTIATION.
int augmenter_options_have_no_compression_no_renegotiation(uint64_t options);
/// SSL_CTX_set_mode (macro over SSL_CTX_ctrl). Returns the new mode mask.
long augmenter_SSL_CTX_set_mode(SSL_CTX *ctx, long mode);
/// SSL_MODE_RELEASE_BUFFERS, which is a plain define but kept here with the other mode APIs.
long augmenter_SSL_MODE_RELEASE_BUFFERS(void);
/// SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER) and SSL_CTX_sess_set_cache_size.
void augmenter_SSL_CTX_enable_server_session_cache(SSL_CTX *ctx, long cacheSize);
/// SSL_CTX_add0_chain_cert (macro over SSL_CTX_ctrl): takes ownership of `cert` on success.
int augmenter_SSL_CTX_add0_chain_cert(SSL_CTX *ctx, X509 *cert);

// MARK: BIO macros

/// BIO_set_mem_eof_return: -1 makes an empty memory BIO report "retry" (WANT_READ) instead of EOF.
void augmenter_BIO_set_mem_eof_return(BIO *bio, int value);

// MARK: Errors

/// ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE: the normal end of a
/// PEM stream when reading certificates in a loop.
int augmenter_ERR_is_pem_no_start_line(unsigned long error);

// MARK: Memory

/// OPENSSL_free (macro over CRYPTO_free).
void augmenter_OPENSSL_free(void *pointer);

// MARK: X509 helpers

/// sk_GENERAL_NAME_num (macro over OPENSSL_sk_num).
int augmenter_sk_GENERAL_NAME_num(const GENERAL_NAMES *names);
/// sk_GENERAL_NAME_value (macro over OPENSSL_sk_value).
GENERAL_NAME *augmenter_sk_GENERAL_NAME_value(const GENERAL_NAMES *names, int index);
/// X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL): the subjectAltName names, or NULL.
/// Free with GENERAL_NAMES_free.
GENERAL_NAMES *augmenter_X509_get_subject_alt_names(const X509 *cert);
/// X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253): XN_FLAG_RFC2253 is a composed flag macro.
int augmenter_X509_NAME_print_rfc2253(BIO *bio, const X509_NAME *name);
/// ASN1_TIME_to_tm, formatted as RFC 3339 UTC ("2027-11-21T10:00:00Z") into `buffer`.
/// Returns 1 on success.
int augmenter_ASN1_TIME_format_rfc3339(const ASN1_TIME *time, char *buffer, size_t capacity);

#endif
