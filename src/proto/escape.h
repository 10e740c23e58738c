/* Names made safe for a terminal: what diofsctl prints of a file name (and
 * of any line the daemon sends) goes through term_escape, so that a name
 * holding escape sequences cannot drive the operator's terminal. */
#ifndef DIOFS_PROTO_ESCAPE_H
#define DIOFS_PROTO_ESCAPE_H

#include <stddef.h>

/* Length of the valid UTF-8 sequence at s (1 for ASCII), 0 if the bytes
 * there are not one (overlong forms and surrogates included). */
size_t utf8_seq_len(const unsigned char *s);

/* s with every control character (C0, DEL, and C1 as UTF-8), every byte
 * that is not valid UTF-8 and every backslash written as \xNN (backslash as
 * \\); printable UTF-8 stays as it is.  Like snprintf: writes at most len
 * bytes including the NUL, returns the length of the whole escaped string
 * (at most 4 * strlen(s)). */
size_t term_escape(char *out, size_t len, const char *s);

#endif
