/* The demo's two outputs, written together so that they cannot disagree:
 * the narration (one sentence per step on stdout, as it happens) and the
 * event record (--events FILE: one JSON object per line) that
 * tests/demo/render-html turns into the timeline page.
 *
 * Records, all with "kind" and, inside a story, "story":
 *   {"kind":"run", "kernel":uname -r, "machine", "page_size", "pages",
 *    "pins":bool, "pins_why", "pfns":bool, "pfns_why", "pace_ms"}
 *   {"kind":"story", "story", "title", "t_ns"}            a story begins
 *   {"kind":"step", "story", "step", "t_ns", "text",
 *    ["acquired", "released"]                               pin counters then
 *    ...step's own members}
 *   {"kind":"say", "story", "t_ns", "text"}                a sentence between steps
 *   {"kind":"trace", "story", "line":{diofs's trace object}}
 *   {"kind":"bytes", "story", "who", "page", "offset", "hex", "text"}
 *   {"kind":"pages", "story", "who", "what", "states":[...]} one per page
 *   {"kind":"result", "story", ...}                         the outcome
 *   {"kind":"end", "story", "status":"completed"|"failed", "why"}
 * t_ns is CLOCK_MONOTONIC, the clock of diofs's trace "start"/"end". */
#ifndef DIOFS_DEMO_EVENTS_H
#define DIOFS_DEMO_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "harness/pins.h"

/* JSON members built up for a record: "k":v,"k":v (no braces). */
struct jbuf {
	char s[4096];
	size_t len;
};

void jb_init(struct jbuf *j);
void jb_str(struct jbuf *j, const char *key, const char *value);
void jb_u64(struct jbuf *j, const char *key, uint64_t value);
void jb_i64(struct jbuf *j, const char *key, int64_t value);
void jb_bool(struct jbuf *j, const char *key, bool value);
/* value is already JSON (an object, an array). */
void jb_raw(struct jbuf *j, const char *key, const char *value);

/* Where records go (NULL: nowhere); the narration always goes to stdout. */
void ev_open(FILE *f);
void ev_close(void);
uint64_t ev_now(void);

/* Begin a story: a heading on stdout, a "story" record; times in the
 * narration count from here. */
void ev_story(const char *story, const char *title);
/* One step: its sentence (printf-style) on stdout at time t (0: now), with
 * the pin counters if pins is not NULL and extra members. */
void ev_step(const char *step, uint64_t t, const struct pin_counts *pins,
	     const struct jbuf *extra, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* A sentence with no step of its own (the evidence, the outcome). */
void ev_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Any other record of the current story (or none: story NULL). */
void ev_record(const char *kind, const struct jbuf *members);

#endif
