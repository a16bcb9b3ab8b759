
/*
 * Copyright (C) ngx_lfv_module authors
 */


/*
 * Signer micro-benchmark: nanoseconds per SigV4 signature made by the
 * module's own ngx_http_lfv_sigv4.c, next to a bare OpenSSL loop that
 * does the same hashing work in the same process (the lower bound).
 *
 * What one signature costs in the module (ngx_http_lfv_sign.c):
 *
 *   SHA-256 of the body (hex)  +  ngx_http_lfv_sigv4_signature():
 *   canonical request, SHA-256 of it (hex), string to sign, HMAC of it
 *   with the keyed HMAC state of the cached signing key (hex)
 *
 * and, once a day or when the credentials change, the derivation of
 * the signing key (4 HMACs, each with a new key) into the cache slot.
 *
 * The lower bound does only the cryptography, with the algorithms
 * fetched beforehand and the contexts reused:
 *
 *   SHA-256 of the body, SHA-256 of a buffer as long as the canonical
 *   request, HMAC-SHA256 of a buffer as long as the string to sign
 *   with an HMAC state keyed beforehand; for the derivation, 4 HMACs
 *   keyed each time, as the derivation has to.
 *
 * The variants are measured in rounds, interleaved, so that drift of a
 * shared machine hits each of them; medians and minimums are printed.
 *
 *   signer_bench [-n iterations] [-r rounds] [-c static|session_token]
 *                [-t token-length]
 *
 * -c measures one case only (for a profiler); -t sets the length of the
 * session token (default 420, as the IMDS simulator issues; real STS
 * tokens are often longer).
 *
 * Output: one "name ns_median ns_min" line per variant, prefixed "sig",
 * and "ratio" lines, parsed by bench/run.sh.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <stdio.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/core_names.h>

#include "ngx_http_lfv_sigv4.h"


#define BENCH_ROUNDS_MAX  64

#define BENCH_SECRET      "static/secret+key/0000000000000000000001"
#define BENCH_BODY        "{\"MinInferenceUnits\":1}"
#define BENCH_URI         "/2020-11-20/projects/bench-project/models/1/start"
#define BENCH_HOST        "lookoutvision.us-east-1.amazonaws.com"
#define BENCH_DATE        "20261127T120000Z"


typedef struct {
    const char                     *name;
    ngx_http_lfv_sigv4_request_t    sr;
    ngx_http_lfv_sigv4_key_t        key;
    size_t                          canonical_len;
    size_t                          sts_len;
} bench_case_t;


typedef struct {
    EVP_MD                         *sha256;
    EVP_MD_CTX                     *md;
    EVP_MAC                        *hmac;
    EVP_MAC_CTX                    *mac;       /* keyed per call */
    EVP_MAC_CTX                    *keyed;     /* keyed once */
} bench_bare_t;


static ngx_http_lfv_sigv4_crypto_t  crypto;
static bench_bare_t                 bare;
static u_char                       scratch[16384];
static u_char                       canonical_buf[16384];
static u_char                       sts_buf[512];
static volatile u_char              sink;

static ngx_str_t  secret = ngx_string(BENCH_SECRET);
static ngx_str_t  body = ngx_string(BENCH_BODY);
static u_char     signing_key[32];


static uint64_t
now_ns(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}


static void
die(const char *what)
{
    fprintf(stderr, "signer_bench: %s failed\n", what);
    exit(2);
}


/* the module: what ngx_http_lfv_sign() does per request, cached key */

static void
module_cached(bench_case_t *bc)
{
    u_char  signature[NGX_HTTP_LFV_SHA256_HEX_LEN];

    if (ngx_http_lfv_sigv4_sha256_hex(&crypto, body.data, body.len,
                                      bc->sr.payload_hash)
        != NGX_OK
        || ngx_http_lfv_sigv4_signature(&crypto, &bc->sr, &bc->key, scratch,
                                        sizeof(scratch), signature)
           != NGX_OK)
    {
        die("module signature");
    }

    sink ^= signature[0];
}


/* the module on a cache miss: the key derived again into its slot */

static void
module_derive(bench_case_t *bc)
{
    u_char  signature[NGX_HTTP_LFV_SHA256_HEX_LEN];

    if (ngx_http_lfv_sigv4_sha256_hex(&crypto, body.data, body.len,
                                      bc->sr.payload_hash)
        != NGX_OK
        || ngx_http_lfv_sigv4_derive_key(&crypto, &secret,
                                         ngx_http_lfv_sigv4_date(&bc->sr),
                                         &bc->sr.region, &bc->sr.service,
                                         &bc->key)
           != NGX_OK
        || ngx_http_lfv_sigv4_signature(&crypto, &bc->sr, &bc->key, scratch,
                                        sizeof(scratch), signature)
           != NGX_OK)
    {
        die("module derivation");
    }

    sink ^= signature[0];
}


static void
bare_sha256(u_char *data, size_t len, u_char *out)
{
    if (EVP_DigestInit_ex(bare.md, bare.sha256, NULL) != 1
        || EVP_DigestUpdate(bare.md, data, len) != 1
        || EVP_DigestFinal_ex(bare.md, out, NULL) != 1)
    {
        die("bare SHA-256");
    }
}


static void
bare_hmac(EVP_MAC_CTX *ctx, u_char *key, size_t key_len, u_char *data,
    size_t len, u_char *out)
{
    size_t  n;

    if (EVP_MAC_init(ctx, key, key_len, NULL) != 1
        || EVP_MAC_update(ctx, data, len) != 1
        || EVP_MAC_final(ctx, out, &n, 32) != 1)
    {
        die("bare HMAC");
    }
}


/* the lower bound of a signature with a cached key */

static void
bare_cached(bench_case_t *bc)
{
    u_char  md[32];

    bare_sha256(body.data, body.len, md);
    bare_sha256(canonical_buf, bc->canonical_len, md);
    bare_hmac(bare.keyed, NULL, 0, sts_buf, bc->sts_len, md);

    sink ^= md[0];
}


/* the lower bound with the key derivation: 4 HMACs keyed each time */

static void
bare_derive(bench_case_t *bc)
{
    u_char   md[32];
    u_char   k[32];
    u_char   buf[4 + sizeof(BENCH_SECRET)];

    bare_sha256(body.data, body.len, md);

    ngx_memcpy(buf, "AWS4", 4);
    ngx_memcpy(buf + 4, secret.data, secret.len);

    bare_hmac(bare.mac, buf, 4 + secret.len,
              ngx_http_lfv_sigv4_date(&bc->sr), 8, k);
    bare_hmac(bare.mac, k, 32, bc->sr.region.data, bc->sr.region.len, k);
    bare_hmac(bare.mac, k, 32, bc->sr.service.data, bc->sr.service.len, k);
    bare_hmac(bare.mac, k, 32, (u_char *) "aws4_request", 12, k);

    bare_sha256(canonical_buf, bc->canonical_len, md);
    bare_hmac(bare.mac, k, 32, sts_buf, bc->sts_len, md);

    sink ^= md[0];
}


static void
bare_init(void)
{
    OSSL_PARAM  params[2];

    bare.sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    bare.hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    bare.md = EVP_MD_CTX_new();

    if (bare.sha256 == NULL || bare.hmac == NULL || bare.md == NULL) {
        die("bare init");
    }

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *) "SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();

    bare.mac = EVP_MAC_CTX_new(bare.hmac);
    bare.keyed = EVP_MAC_CTX_new(bare.hmac);

    if (bare.mac == NULL || bare.keyed == NULL
        || EVP_MAC_CTX_set_params(bare.mac, params) != 1
        || EVP_MAC_CTX_set_params(bare.keyed, params) != 1)
    {
        die("bare HMAC init");
    }

    ngx_memset(signing_key, 0x5a, sizeof(signing_key));

    if (EVP_MAC_init(bare.keyed, signing_key, sizeof(signing_key), NULL)
        != 1)
    {
        die("bare HMAC key");
    }
}


static void
case_init(bench_case_t *bc, const char *name, ngx_str_t *token)
{
    u_char  *p;

    ngx_memzero(bc, sizeof(bench_case_t));

    bc->name = name;

    ngx_str_set(&bc->sr.method, "POST");
    ngx_str_set(&bc->sr.uri, BENCH_URI);
    ngx_str_set(&bc->sr.header[NGX_HTTP_LFV_H_HOST], BENCH_HOST);
    ngx_str_set(&bc->sr.header[NGX_HTTP_LFV_H_CONTENT_TYPE],
                "application/json");
    ngx_str_set(&bc->sr.header[NGX_HTTP_LFV_H_AMZ_DATE], BENCH_DATE);
    bc->sr.header[NGX_HTTP_LFV_H_SECURITY_TOKEN] = *token;
    ngx_str_null(&bc->sr.header[NGX_HTTP_LFV_H_CLIENT_TOKEN]);
    ngx_str_set(&bc->sr.region, "us-east-1");
    ngx_str_set(&bc->sr.service, "lookoutvision");
    ngx_str_set(&bc->sr.access_key_id, "AKIDSTATIC0000000001");

    if (ngx_http_lfv_sigv4_sha256_hex(&crypto, body.data, body.len,
                                      bc->sr.payload_hash)
        != NGX_OK
        || ngx_http_lfv_sigv4_derive_key(&crypto, &secret,
                                         ngx_http_lfv_sigv4_date(&bc->sr),
                                         &bc->sr.region, &bc->sr.service,
                                         &bc->key)
           != NGX_OK)
    {
        die("case init");
    }

    /* the lower bound hashes buffers exactly as long as the module's */

    p = ngx_http_lfv_sigv4_canonical(&bc->sr, canonical_buf);
    bc->canonical_len = p - canonical_buf;

    bc->sts_len = sizeof("AWS4-HMAC-SHA256\n") - 1
                  + NGX_HTTP_LFV_AMZ_DATE_LEN + 1
                  + NGX_HTTP_LFV_DATE_LEN + 1 + bc->sr.region.len + 1
                  + bc->sr.service.len + 1 + sizeof("aws4_request\n") - 1
                  + NGX_HTTP_LFV_SHA256_HEX_LEN;

    ngx_memset(sts_buf, 's', sizeof(sts_buf));
}


static int
cmp_double(const void *a, const void *b)
{
    double  x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}


static double
median(double *v, int n)
{
    double  s[BENCH_ROUNDS_MAX];

    ngx_memcpy(s, v, n * sizeof(double));
    qsort(s, n, sizeof(double), cmp_double);

    return (n & 1) ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}


static double
minimum(double *v, int n)
{
    int     i;
    double  m = v[0];

    for (i = 1; i < n; i++) {
        m = v[i] < m ? v[i] : m;
    }

    return m;
}


static double
run(void (*fn)(bench_case_t *), bench_case_t *bc, long iterations)
{
    long      i;
    uint64_t  start;

    start = now_ns();

    for (i = 0; i < iterations; i++) {
        fn(bc);
    }

    return (double) (now_ns() - start) / iterations;
}


#define VARIANTS  4

int
main(int argc, char **argv)
{
    int            i, c, v, rounds, c0, c1;
    const char    *only;
    long           iterations;
    size_t         token_len;
    double         ns[2][VARIANTS][BENCH_ROUNDS_MAX], med[VARIANTS];
    ngx_str_t      token, none;
    bench_case_t   cases[2];
    static u_char  token_buf[4096];

    static const char  *names[VARIANTS] = {
        "module_cached", "bare_cached", "module_derive", "bare_derive"
    };

    static void  (*fns[VARIANTS])(bench_case_t *) = {
        module_cached, bare_cached, module_derive, bare_derive
    };

    iterations = 200000;
    rounds = 9;
    only = NULL;
    token_len = 420;

    for (i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "-n") == 0) {
            iterations = atol(argv[i + 1]);

        } else if (strcmp(argv[i], "-r") == 0) {
            rounds = atoi(argv[i + 1]);

        } else if (strcmp(argv[i], "-c") == 0) {
            only = argv[i + 1];

        } else if (strcmp(argv[i], "-t") == 0) {
            token_len = atol(argv[i + 1]);
        }
    }

    if (iterations < 1 || rounds < 1 || rounds > BENCH_ROUNDS_MAX
        || token_len < 1 || token_len > sizeof(token_buf))
    {
        fprintf(stderr, "usage: signer_bench [-n iterations] [-r rounds] "
                "[-c static|session_token] [-t 1..4096]\n");
        return 2;
    }

    if (ngx_http_lfv_sigv4_crypto_init(&crypto) != NGX_OK) {
        die("crypto init");
    }

    bare_init();

    /* static credentials; and temporary ones, with a session token of
     * the size IMDS hands out (~400 characters) */

    ngx_memset(token_buf, 'T', sizeof(token_buf));
    token.data = token_buf;
    token.len = token_len;

    ngx_str_null(&none);

    case_init(&cases[0], "static", &none);
    case_init(&cases[1], "session_token", &token);

    c0 = 0;
    c1 = 2;

    if (only) {
        c0 = (strcmp(only, "session_token") == 0);
        c1 = c0 + 1;
    }

    /* warm up */

    for (c = c0; c < c1; c++) {
        for (v = 0; v < VARIANTS; v++) {
            (void) run(fns[v], &cases[c], iterations / 10 + 1);
        }
    }

    for (i = 0; i < rounds; i++) {
        for (c = c0; c < c1; c++) {
            for (v = 0; v < VARIANTS; v++) {
                ns[c][v][i] = run(fns[v], &cases[c],
                                  v >= 2 ? iterations / 4 + 1 : iterations);
            }
        }
    }

    printf("# %s; %ld iterations (derive: %ld) x %d rounds, interleaved\n",
           OpenSSL_version(OPENSSL_VERSION), iterations, iterations / 4 + 1,
           rounds);

    for (c = c0; c < c1; c++) {
        printf("# case %s: canonical request %zu bytes, string to sign "
               "%zu bytes, body %zu bytes\n", cases[c].name,
               cases[c].canonical_len, cases[c].sts_len, body.len);

        for (v = 0; v < VARIANTS; v++) {
            med[v] = median(ns[c][v], rounds);
            printf("sig %s %s %.1f %.1f\n", cases[c].name, names[v], med[v],
                   minimum(ns[c][v], rounds));
        }

        printf("ratio %s cached %.3f\n", cases[c].name, med[0] / med[1]);
        printf("ratio %s derive %.3f\n", cases[c].name, med[2] / med[3]);
    }

    for (c = c0; c < c1; c++) {
        ngx_http_lfv_sigv4_key_free(&cases[c].key);
    }

    ngx_http_lfv_sigv4_crypto_free(&crypto);

    return (sink & 0) != 0;
}
