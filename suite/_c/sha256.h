/* SHA-256 (FIPS 180-4) of a buffer in memory, as lowercase hex, without the GIL.
 *
 * Shared by archive/_tarpack.c and suite/provenance/_capture.c: for the small files they
 * hash, hashlib's per-call set-up (OpenSSL context) costs more than the hashing itself, so
 * they hash here. Pure C, no Python API.
 *
 * Two compress functions: the plain one (FIPS 180-4, section 6.2.2) everywhere, and one with
 * the x86 SHA extensions (SHA-NI: sha256rnds2, sha256msg1, sha256msg2), used when the CPU has
 * them (__builtin_cpu_supports, read once per call from libgcc's table: no cpuid per call).
 * Compilers without the target attribute or the feature test get the plain one only.
 * sha256_hex picks; sha256_hex_using forces one (tests compare both with hashlib). */
#ifndef SUITE_C_SHA256_H
#define SUITE_C_SHA256_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if (defined(__x86_64__) || defined(__i386__)) \
    && ((defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11) \
        || (defined(__clang__) && __clang_major__ >= 8))
#define SUITE_SHA256_NI 1
#include <immintrin.h>
#endif

static const uint32_t suite_sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
};

/* which compress function: sha256_hex_using's engine */
enum { SUITE_SHA256_AUTO = 0, SUITE_SHA256_PLAIN = 1, SUITE_SHA256_SHANI = 2 };

static inline uint32_t
suite_sha256_rotr(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

/* n 64-byte blocks from p into the state h (the plain FIPS 180-4 compress function). */
static inline void
suite_sha256_blocks(uint32_t h[8], const unsigned char *p, size_t n)
{
    for (; n; n--, p += 64) {
        uint32_t w[64];
        for (int t = 0; t < 16; t++)
            w[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16
                | (uint32_t)p[4 * t + 2] << 8 | (uint32_t)p[4 * t + 3];
        for (int t = 16; t < 64; t++) {
            uint32_t s0 = suite_sha256_rotr(w[t - 15], 7) ^ suite_sha256_rotr(w[t - 15], 18)
                ^ (w[t - 15] >> 3);
            uint32_t s1 = suite_sha256_rotr(w[t - 2], 17) ^ suite_sha256_rotr(w[t - 2], 19)
                ^ (w[t - 2] >> 10);
            w[t] = w[t - 16] + s0 + w[t - 7] + s1;
        }
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
        for (int t = 0; t < 64; t++) {
            uint32_t t1 = k
                + (suite_sha256_rotr(e, 6) ^ suite_sha256_rotr(e, 11) ^ suite_sha256_rotr(e, 25))
                + ((e & f) ^ (~e & g)) + suite_sha256_k[t] + w[t];
            uint32_t t2 = (suite_sha256_rotr(a, 2) ^ suite_sha256_rotr(a, 13)
                           ^ suite_sha256_rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
            k = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
        }
        h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
    }
}

#ifdef SUITE_SHA256_NI
/* The same with the SHA extensions (Intel's SHA extensions paper, 2013; SDM vol. 2 for
 * SHA256RNDS2/MSG1/MSG2). The state lives in two registers as the instructions want it:
 * abef = (A, B, E, F) and cdgh = (C, D, G, H), A in the highest lane. sha256rnds2 does two
 * rounds with W+K of those rounds in the low two lanes of its third operand; msg1 and msg2
 * compute the schedule four words at a time: W[t..t+3] = msg2(msg1(W[t-16..], W[t-12..]) +
 * W[t-7..t-4], W[t-4..t-1]). */
__attribute__((target("sha,sse4.1"))) static void
suite_sha256_blocks_ni(uint32_t h[8], const unsigned char *p, size_t n)
{
    /* big-endian words: reverse the bytes of each 32-bit lane */
    const __m128i swap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    __m128i dcba = _mm_loadu_si128((const __m128i *)h);        /* lanes a b c d */
    __m128i hgfe = _mm_loadu_si128((const __m128i *)(h + 4));  /* lanes e f g h */
    dcba = _mm_shuffle_epi32(dcba, 0xB1);                      /* b a d c */
    hgfe = _mm_shuffle_epi32(hgfe, 0x1B);                      /* h g f e */
    __m128i abef = _mm_alignr_epi8(dcba, hgfe, 8);             /* f e b a */
    __m128i cdgh = _mm_blend_epi16(hgfe, dcba, 0xF0);          /* h g d c */
    for (; n; n--, p += 64) {
        __m128i abef0 = abef, cdgh0 = cdgh, w[4];
        for (int i = 0; i < 4; i++)
            w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), swap);
        /* unrolled, the ring w[i & 3] stays in registers (at -O2 too: 0.75 -> 1.2 GB/s) */
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++) {  /* four rounds each */
            if (i >= 4) {
                __m128i t = _mm_sha256msg1_epu32(w[i & 3], w[(i + 1) & 3]);
                t = _mm_add_epi32(t, _mm_alignr_epi8(w[(i + 3) & 3], w[(i + 2) & 3], 4));
                w[i & 3] = _mm_sha256msg2_epu32(t, w[(i + 3) & 3]);
            }
            __m128i wk = _mm_add_epi32(w[i & 3],
                                       _mm_loadu_si128((const __m128i *)(suite_sha256_k + 4 * i)));
            /* two rounds: their abef is the next cdgh but one, so the pair swaps twice */
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
            abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0E));
        }
        abef = _mm_add_epi32(abef, abef0);
        cdgh = _mm_add_epi32(cdgh, cdgh0);
    }
    __m128i feba = _mm_shuffle_epi32(abef, 0x1B);                    /* a b e f */
    __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);                    /* g h c d */
    _mm_storeu_si128((__m128i *)h, _mm_blend_epi16(feba, dchg, 0xF0));        /* a b c d */
    _mm_storeu_si128((__m128i *)(h + 4), _mm_alignr_epi8(dchg, feba, 8));    /* e f g h */
}
#endif

/* 1 if sha256_hex uses the SHA extensions on this CPU, else 0. */
static inline int
sha256_accelerated(void)
{
#ifdef SUITE_SHA256_NI
    return __builtin_cpu_supports("sha") && __builtin_cpu_supports("sse4.1");
#else
    return 0;
#endif
}

/* The SHA-256 of data[:n] as its eight state words into h, by the given engine
 * (SUITE_SHA256_*). Returns 0, or -1 (h untouched) for SHA-NI where the CPU lacks it. */
static inline int
sha256_words_using(const unsigned char *data, size_t n, uint32_t h_out[8], int engine)
{
    if (engine == SUITE_SHA256_AUTO)
        engine = sha256_accelerated() ? SUITE_SHA256_SHANI : SUITE_SHA256_PLAIN;
    if (engine == SUITE_SHA256_SHANI && !sha256_accelerated())
        return -1;
    void (*blocks)(uint32_t *, const unsigned char *, size_t) = suite_sha256_blocks;
#ifdef SUITE_SHA256_NI
    if (engine == SUITE_SHA256_SHANI)
        blocks = suite_sha256_blocks_ni;
#endif
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    size_t full = n / 64;
    if (full)
        blocks(h, data, full);
    unsigned char last[128] = {0};  /* the rest, 0x80, zeros, the length in bits */
    size_t rest = n - 64 * full, tail = rest < 56 ? 1 : 2;
    if (rest)
        memcpy(last, data + 64 * full, rest);
    last[rest] = 0x80;
    uint64_t bits = (uint64_t)n * 8;
    for (int i = 0; i < 8; i++)
        last[tail * 64 - 1 - i] = (unsigned char)(bits >> (8 * i));
    blocks(h, last, tail);
    memcpy(h_out, h, sizeof h);
    return 0;
}

/* The SHA-256 of data[:n] as 64 lowercase hex digits and a NUL into out, by the given engine
 * (SUITE_SHA256_*). Returns 0, or -1 (out untouched) for SHA-NI where the CPU lacks it. */
static inline int
sha256_hex_using(const unsigned char *data, size_t n, char out[65], int engine)
{
    uint32_t h[8];
    if (sha256_words_using(data, n, h, engine) < 0)
        return -1;
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++)
            out[8 * i + j] = digits[(h[i] >> (28 - 4 * j)) & 0xf];
    out[64] = '\0';
    return 0;
}

/* The SHA-256 of data[:n] as its 32 bytes into out (the fastest engine this CPU has). */
static inline void
sha256_raw(const unsigned char *data, size_t n, unsigned char out[32])
{
    uint32_t h[8];
    (void)sha256_words_using(data, n, h, SUITE_SHA256_AUTO);
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 4; j++)
            out[4 * i + j] = (unsigned char)(h[i] >> (24 - 8 * j));
}

/* The SHA-256 of data[:n] as 64 lowercase hex digits and a NUL into out (the fastest engine
 * this CPU has). */
static inline void
sha256_hex(const unsigned char *data, size_t n, char out[65])
{
    (void)sha256_hex_using(data, n, out, SUITE_SHA256_AUTO);
}

#endif
