/* MD5 (RFC 1321): the job id is the MD5 of a state point's canonical text.
 *
 * Shared by suite/_spcanon.c and archive/_importjobs.c. Include after <Python.h>
 * (Py_hexdigits). */
#ifndef SUITE_C_MD5_H
#define SUITE_C_MD5_H

#include <stdint.h>
#include <string.h>

typedef struct {
    uint32_t a, b, c, d;
} md5_state;

static const uint32_t md5_k[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613,
    0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193,
    0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d,
    0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
    0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122,
    0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
    0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244,
    0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
    0xeb86d391};

static const unsigned char md5_r[64] = {
    7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9,  14, 20, 5, 9,
    14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
    4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21};

static void
md5_block(md5_state *s, const unsigned char *p)
{
    uint32_t m[16];
    for (int i = 0; i < 16; i++)
        m[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
               (uint32_t)p[4 * i + 3] << 24;
    uint32_t a = s->a, b = s->b, c = s->c, d = s->d;
    for (int i = 0; i < 64; i++) {
        uint32_t f;
        int g;
        if (i < 16) {
            f = (b & c) | (~b & d);
            g = i;
        }
        else if (i < 32) {
            f = (d & b) | (~d & c);
            g = (5 * i + 1) & 15;
        }
        else if (i < 48) {
            f = b ^ c ^ d;
            g = (3 * i + 5) & 15;
        }
        else {
            f = c ^ (b | ~d);
            g = (7 * i) & 15;
        }
        uint32_t t = d;
        d = c;
        c = b;
        uint32_t x = a + f + md5_k[i] + m[g];
        b = b + ((x << md5_r[i]) | (x >> (32 - md5_r[i])));
        a = t;
    }
    s->a += a;
    s->b += b;
    s->c += c;
    s->d += d;
}

/* The MD5 of data[:n] as 32 lowercase hex digits in hex (no terminating zero). */
static void
md5_hex(const unsigned char *data, size_t n, char *hex)
{
    md5_state s = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
    size_t whole = n & ~(size_t)63;
    for (size_t i = 0; i < whole; i += 64)
        md5_block(&s, data + i);
    unsigned char tail[128] = {0};
    size_t rest = n - whole;
    memcpy(tail, data + whole, rest);
    tail[rest] = 0x80;
    size_t tail_len = rest < 56 ? 64 : 128;
    uint64_t bits = (uint64_t)n * 8;
    for (int i = 0; i < 8; i++)
        tail[tail_len - 8 + i] = (unsigned char)(bits >> (8 * i));
    md5_block(&s, tail);
    if (tail_len == 128)
        md5_block(&s, tail + 64);
    uint32_t words[4] = {s.a, s.b, s.c, s.d};
    for (int w = 0; w < 4; w++)
        for (int i = 0; i < 4; i++) {
            unsigned v = (words[w] >> (8 * i)) & 0xff;
            *hex++ = Py_hexdigits[v >> 4];
            *hex++ = Py_hexdigits[v & 15];
        }
}

#endif
