// Real functions for the OpenSSL 3.0 macro APIs the Swift importer cannot see (see COpenSSL.h).
#include "COpenSSL.h"

#include <stdio.h>
#include <time.h>

int augmenter_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}

int augmenter_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_max_proto_version(ctx, version);
}

uint64_t augmenter_SSL_CTX_set_server_options(SSL_CTX *ctx) {
    SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
    return SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
}

int augmenter_options_have_no_ticket(uint64_t options) {
    return (options & SSL_OP_NO_TICKET) != 0;
}

int augmenter_options_have_no_compression_no_renegotiation(uint64_t options) {
    const uint64_t wanted = SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION;
    return (options & wanted) == wanted;
}

long augmenter_SSL_CTX_set_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_mode(ctx, mode);
}

long augmenter_SSL_MODE_RELEASE_BUFFERS(void) {
    return SSL_MODE_RELEASE_BUFFERS;
}

void augmenter_SSL_CTX_enable_server_session_cache(SSL_CTX *ctx, long cacheSize) {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(ctx, cacheSize);
}

int augmenter_SSL_CTX_add0_chain_cert(SSL_CTX *ctx, X509 *cert) {
    return (int)SSL_CTX_add0_chain_cert(ctx, cert);
}

void augmenter_BIO_set_mem_eof_return(BIO *bio, int value) {
    (void)BIO_set_mem_eof_return(bio, value);
}

int augmenter_ERR_is_pem_no_start_line(unsigned long error) {
    return ERR_GET_LIB(error) == ERR_LIB_PEM && ERR_GET_REASON(error) == PEM_R_NO_START_LINE;
}

void augmenter_OPENSSL_free(void *pointer) {
    OPENSSL_free(pointer);
}

int augmenter_sk_GENERAL_NAME_num(const GENERAL_NAMES *names) {
    return sk_GENERAL_NAME_num(names);
}

GENERAL_NAME *augmenter_sk_GENERAL_NAME_value(const GENERAL_NAMES *names, int index) {
    return sk_GENERAL_NAME_value(names, index);
}

GENERAL_NAMES *augmenter_X509_get_subject_alt_names(const X509 *cert) {
    return (GENERAL_NAMES *)X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
}

int augmenter_X509_NAME_print_rfc2253(BIO *bio, const X509_NAME *name) {
    return X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
}

int augmenter_ASN1_TIME_format_rfc3339(const ASN1_TIME *time, char *buffer, size_t capacity) {
    struct tm parts;
    if (ASN1_TIME_to_tm(time, &parts) != 1) {
        return 0;
    }
    int written = snprintf(buffer, capacity, "%04d-%02d-%02dT%02d:%02d:%02dZ",
                           parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                           parts.tm_hour, parts.tm_min, parts.tm_sec);
    return written > 0 && (size_t)written < capacity;
}
