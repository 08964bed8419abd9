/*
 * sha256.c - the SHA-256 the document digest and the category id use, through OpenSSL's EVP
 * interface (libcrypto), printed as lowercase hex.
 */
#include "cache.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

void frc_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    static const char digits[] = "0123456789abcdef";
    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
        /* Only on a broken libcrypto: an all-zero digest matches no real content. */
        memset(out, '0', 64);
        out[64] = '\0';
        return;
    }
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = digits[md[i] >> 4];
        out[2 * i + 1] = digits[md[i] & 15];
    }
    out[64] = '\0';
}
