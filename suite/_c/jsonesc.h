/* json.dumps's escape (ensure_ascii=True) of one code point, shared by the C modules that
 * write JSON strings (provenance's file lists, export's manifest, state points' canonical
 * text): each loop prints the plain characters itself and hands every other one here. */
#ifndef SUITE_JSONESC_H
#define SUITE_JSONESC_H

#include <stdint.h>

/* Write the escape of c (not a printable ASCII character other than '"' and '\\', or one of
 * those two) at o: at most 12 bytes (a surrogate pair's two escapes). Returns the end. */
static inline char *
json_escape(char *o, uint32_t c)
{
    static const char hex[] = "0123456789abcdef";
    *o++ = '\\';
    switch (c) {
    case '\\': *o++ = '\\'; return o;
    case '"': *o++ = '"'; return o;
    case '\b': *o++ = 'b'; return o;
    case '\f': *o++ = 'f'; return o;
    case '\n': *o++ = 'n'; return o;
    case '\r': *o++ = 'r'; return o;
    case '\t': *o++ = 't'; return o;
    }
    if (c >= 0x10000) { /* a surrogate pair, each half escaped */
        uint32_t v = c - 0x10000, high = 0xd800 | ((v >> 10) & 0x3ff);
        c = 0xdc00 | (v & 0x3ff);
        *o++ = 'u';
        for (int k = 12; k >= 0; k -= 4)
            *o++ = hex[(high >> k) & 0xf];
        *o++ = '\\';
    }
    *o++ = 'u';
    for (int k = 12; k >= 0; k -= 4)
        *o++ = hex[(c >> k) & 0xf];
    return o;
}

#endif
