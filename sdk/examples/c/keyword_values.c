/*
 * keyword_values: a valuescope extractor plugin in freestanding C, built to
 * WebAssembly with clang and lld alone (no libc, no WASI imports at all),
 * from sdk/ABI.md. It is the Python example's extractor
 * (sdk/examples/python) in another language and transport: values from
 * keyword cues ("truth" or "honest" cue honesty, "fair" or "justice"
 * fairness, ...); values cued in the user's turns go in human_values, those
 * in the assistant's in ai_values. Each item is a value with two
 * attributes: the cues found (sorted, comma-separated) and the turns they
 * were found in (0-based, in order).
 *
 * What the ABI asks of a module, and where this file does it:
 *   - exports vs_abi, vs_alloc, vs_describe, vs_configure, vs_process and
 *     its memory as "memory" (wasm-ld exports it under that name);
 *   - vs_alloc(n) gives the host n bytes to write the next request into; it
 *     is called once before every vs_configure and vs_process, so it also
 *     frees what the last call used (an arena reset: the host has copied
 *     the last reply out before it calls in again);
 *   - requests and replies are JSON (no vs_encoding export), replies packed
 *     as (address << 32) | length.
 *
 * Build: ./build.sh (clang --target=wasm32 -nostdlib, wasm-ld --no-entry).
 * Check: valuescope conformance sdk/examples/c/keyword_values.wasm
 */

typedef unsigned char u8;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef unsigned long size_t;

#define EXPORT(name) __attribute__((export_name(name)))

/* clang may call these for copies and fills even in freestanding code. */
void *memcpy(void *dst, const void *src, size_t n) {
	u8 *d = dst;
	const u8 *s = src;
	while (n--) *d++ = *s++;
	return dst;
}

void *memset(void *dst, int c, size_t n) {
	u8 *d = dst;
	while (n--) *d++ = (u8)c;
	return dst;
}

/* --- memory: one arena, reset by every vs_alloc -------------------------- */

extern u8 __heap_base; /* the first byte after the stack and data (wasm-ld) */

static u32 arena_top;

static u32 heap_start(void) { return ((u32)&__heap_base + 15) & ~15u; }

/* alloc returns n bytes, 16-byte aligned, growing the memory as needed; it
 * traps when the host's memory limit is reached (the host reports it). */
static void *alloc(u32 n) {
	if (arena_top == 0) arena_top = heap_start();
	u32 p = arena_top;
	u32 end = p + ((n + 15) & ~15u);
	if (end < p) __builtin_trap();
	u32 have = (u32)__builtin_wasm_memory_size(0) * 65536u;
	if (end > have) {
		u32 pages = (end - have + 65535) / 65536;
		if (__builtin_wasm_memory_grow(0, pages) == (size_t)-1) __builtin_trap();
	}
	arena_top = end;
	return (void *)p;
}

EXPORT("vs_alloc") u32 vs_alloc(u32 n) {
	arena_top = heap_start(); /* the last request and reply are done with */
	return (u32)alloc(n);
}

EXPORT("vs_abi") u32 vs_abi(void) { return 1; }

static u64 pack(const void *p, u32 n) { return ((u64)(u32)p << 32) | n; }

static u32 slen(const char *s) {
	u32 n = 0;
	while (s[n]) n++;
	return n;
}

static int seq(const u8 *a, u32 n, const char *b) {
	u32 i = 0;
	for (; i < n && b[i]; i++)
		if (a[i] != (u8)b[i]) return 0;
	return i == n && b[i] == 0;
}

/* --- the reply writer ------------------------------------------------------ */

typedef struct {
	u8 *p;
	u32 n, cap;
} out;

static void put(out *o, const char *s, u32 n) {
	if (o->n + n > o->cap) { /* grow: a new buffer at the arena's top */
		u32 cap = (o->cap + n) * 2;
		u8 *q = alloc(cap);
		memcpy(q, o->p, o->n);
		o->p = q;
		o->cap = cap;
	}
	memcpy(o->p + o->n, s, n);
	o->n += n;
}

static void puts_(out *o, const char *s) { put(o, s, slen(s)); }

static void putu(out *o, u32 v) {
	char b[10];
	int i = 10;
	do b[--i] = (char)('0' + v % 10); while (v /= 10);
	put(o, b + i, (u32)(10 - i));
}

/* putjs writes s as a JSON string: quotes, backslashes and control
 * characters escaped (an error message may quote the request). */
static void putjs(out *o, const u8 *s, u32 n) {
	static const char hex[] = "0123456789abcdef";
	put(o, "\"", 1);
	for (u32 i = 0; i < n; i++) {
		u8 c = s[i];
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			put(o, e, 2);
		} else if (c < 0x20) {
			char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			put(o, e, 6);
		} else {
			put(o, (const char *)&c, 1);
		}
	}
	put(o, "\"", 1);
}

static u64 reply(out *o) { return pack(o->p, o->n); }

static out new_out(u32 cap) {
	out o = {alloc(cap), 0, cap};
	return o;
}

/* error_msg answers {"error": msg}. */
static u64 error_msg(const out *msg) {
	out o = new_out(msg->n * 6 + 16);
	puts_(&o, "{\"error\":");
	putjs(&o, msg->p, msg->n);
	puts_(&o, "}");
	return reply(&o);
}

/* error_reply answers {"error": what + detail}, quoting at most 40 bytes of
 * the offending text, not all of it. */
static u64 error_reply(const char *what, const u8 *detail, u32 n) {
	out msg = new_out(128);
	puts_(&msg, what);
	put(&msg, (const char *)detail, n > 40 ? 40 : n);
	return error_msg(&msg);
}

/* --- a JSON reader: just enough to walk a request ------------------------- */

typedef struct {
	const u8 *p, *end, *start;
	const char *err; /* the first problem, or 0 */
} json;

static void ws(json *j) {
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

static int fail(json *j, const char *why) {
	if (!j->err) j->err = why;
	return 0;
}

static int eat(json *j, u8 c) {
	ws(j);
	if (j->p < j->end && *j->p == c) {
		j->p++;
		return 1;
	}
	return 0;
}

static u32 hex4(json *j) {
	u32 v = 0;
	for (int i = 0; i < 4; i++, j->p++) {
		if (j->p >= j->end) return fail(j, "a truncated \\u escape"), 0;
		u8 c = *j->p;
		v <<= 4;
		if (c >= '0' && c <= '9') v |= c - '0';
		else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
		else return fail(j, "a bad \\u escape"), 0;
	}
	return v;
}

static void utf8(out *o, u32 r) {
	char b[4];
	if (r < 0x80) {
		b[0] = (char)r;
		put(o, b, 1);
	} else if (r < 0x800) {
		b[0] = (char)(0xc0 | r >> 6), b[1] = (char)(0x80 | (r & 0x3f));
		put(o, b, 2);
	} else if (r < 0x10000) {
		b[0] = (char)(0xe0 | r >> 12), b[1] = (char)(0x80 | (r >> 6 & 0x3f)), b[2] = (char)(0x80 | (r & 0x3f));
		put(o, b, 3);
	} else {
		b[0] = (char)(0xf0 | r >> 18), b[1] = (char)(0x80 | (r >> 12 & 0x3f)), b[2] = (char)(0x80 | (r >> 6 & 0x3f)), b[3] = (char)(0x80 | (r & 0x3f));
		put(o, b, 4);
	}
}

/* str reads a JSON string; decoded into *o when o is not 0. */
static int str(json *j, out *o) {
	if (!eat(j, '"')) return fail(j, "want a string");
	while (j->p < j->end) {
		const u8 *run = j->p; /* copy runs of plain bytes at once */
		while (j->p < j->end && *j->p != '"' && *j->p != '\\' && *j->p >= 0x20) j->p++;
		if (o && j->p > run) put(o, (const char *)run, (u32)(j->p - run));
		if (j->p >= j->end) break;
		u8 c = *j->p++;
		if (c == '"') return 1;
		if (c < 0x20) return fail(j, "a control character in a string");
		if (j->p >= j->end) break;
		c = *j->p++;
		u32 r;
		switch (c) {
		case '"': case '\\': case '/': r = c; break;
		case 'b': r = '\b'; break;
		case 'f': r = '\f'; break;
		case 'n': r = '\n'; break;
		case 'r': r = '\r'; break;
		case 't': r = '\t'; break;
		case 'u':
			r = hex4(j);
			if (r >= 0xd800 && r < 0xdc00 && j->end - j->p >= 6 && j->p[0] == '\\' && j->p[1] == 'u') {
				const u8 *back = j->p;
				j->p += 2;
				u32 lo = hex4(j);
				if (lo >= 0xdc00 && lo < 0xe000) r = 0x10000 + ((r - 0xd800) << 10) + (lo - 0xdc00);
				else j->p = back;
			}
			if (r >= 0xd800 && r < 0xe000) r = 0xfffd; /* a lone surrogate */
			break;
		default:
			return fail(j, "a bad escape in a string");
		}
		if (j->err) return 0;
		if (o) utf8(o, r);
	}
	return fail(j, "an unterminated string");
}

/* skip reads any JSON value and drops it. Nesting is bounded: a request's
 * values are shallow, and a hostile one must not exhaust the stack. */
static int skip(json *j, int depth) {
	if (depth > 64) return fail(j, "values nested over 64 deep");
	ws(j);
	if (j->p >= j->end) return fail(j, "want a value");
	u8 c = *j->p;
	if (c == '"') return str(j, 0);
	if (c == '{' || c == '[') {
		u8 close = c == '{' ? '}' : ']';
		j->p++;
		if (eat(j, close)) return 1;
		do {
			if (c == '{' && (!str(j, 0) || !eat(j, ':'))) return fail(j, "want \"key\": value");
			if (!skip(j, depth + 1)) return 0;
		} while (eat(j, ','));
		return eat(j, close) ? 1 : fail(j, "want , or the end of an object or array");
	}
	/* a number, true, false or null */
	const u8 *s = j->p;
	while (j->p < j->end && ((*j->p >= '0' && *j->p <= '9') || (*j->p >= 'a' && *j->p <= 'z') || *j->p == '-' || *j->p == '+' || *j->p == '.' || *j->p == 'E'))
		j->p++;
	return j->p > s ? 1 : fail(j, "want a value");
}

/* key reads an object member's key into a small buffer (keys longer than
 * it are unknown keys anyway) and the colon after it. */
static int key(json *j, out *k) {
	k->n = 0;
	return str(j, k) && (eat(j, ':') || fail(j, "want : after a key"));
}

/* --- the extractor --------------------------------------------------------- */

static const char *const value_names[] = {"autonomy", "fairness", "family", "honesty", "kindness", "safety"};
#define NVALUES 6

/* The cues, sorted (an item's cues are listed in this order), with the value
 * each cues. */
static const struct {
	const char *word;
	u8 value;
} cues[] = {
	{"children", 2}, {"choice", 0}, {"choose", 0}, {"compassion", 4}, {"danger", 5},
	{"dangerous", 5}, {"equal", 1}, {"fair", 1}, {"fairness", 1}, {"family", 2},
	{"father", 2}, {"free", 0}, {"freedom", 0}, {"gentle", 4}, {"harm", 5},
	{"honest", 3}, {"honesty", 3}, {"independence", 0}, {"justice", 1}, {"kind", 4},
	{"kindness", 4}, {"lie", 3}, {"lying", 3}, {"mother", 2}, {"parents", 2},
	{"safe", 5}, {"safety", 5}, {"truth", 3}, {"truthful", 3}, {"unfair", 1},
};
#define NCUES (sizeof cues / sizeof cues[0])

static int letter(u8 c) { return c >= 'a' && c <= 'z'; }

/* scan returns the set of cues (a bit per index in cues) in text, words
 * read as the Python example reads them: [a-z]+('[a-z]+)? after lower-casing
 * ASCII letters. */
static u64 scan(u8 *t, u32 n) {
	static u8 by_letter[27]; /* the first cue of each letter, or of a later one */
	if (!by_letter[26]) {
		for (u32 l = 0, c = 0; l < 27; l++) {
			while (c < NCUES && (u8)cues[c].word[0] < 'a' + l) c++;
			by_letter[l] = (u8)c;
		}
	}
	u64 found = 0;
	for (u32 i = 0; i < n; i++)
		if (t[i] >= 'A' && t[i] <= 'Z') t[i] += 'a' - 'A';
	u32 i = 0;
	while (i < n) {
		if (!letter(t[i])) {
			i++;
			continue;
		}
		u32 s = i;
		while (i < n && letter(t[i])) i++;
		if (i + 1 < n && t[i] == '\'' && letter(t[i + 1])) {
			i++;
			while (i < n && letter(t[i])) i++;
		}
		/* cues is sorted: those of the word's first letter are together */
		for (u32 c = by_letter[t[s] - 'a']; c < NCUES && (u8)cues[c].word[0] == t[s]; c++)
			if (seq(t + s, i - s, cues[c].word)) found |= 1ull << c;
	}
	return found;
}

enum { OTHER, USER, ASSISTANT };

typedef struct {
	u8 role;
	u64 cues;
} turn;

typedef struct {
	turn *t;
	u32 n, cap;
} turns;

static void push(turns *ts, turn t) {
	if (ts->n == ts->cap) {
		u32 cap = ts->cap ? ts->cap * 2 : 64;
		turn *q = alloc(cap * sizeof(turn));
		memcpy(q, ts->t, ts->n * sizeof(turn));
		ts->t = q;
		ts->cap = cap;
	}
	ts->t[ts->n++] = t;
}

/* read_turn reads one {"role": ..., "content": ...} object, in either order
 * and with any other members, and scans its content. */
static int read_turn(json *j, turns *ts) {
	out k = new_out(32);
	turn t = {OTHER, 0};
	if (!eat(j, '{')) return fail(j, "a turn: want an object");
	if (eat(j, '}')) {
		push(ts, t);
		return 1;
	}
	do {
		if (!key(j, &k)) return 0;
		if (seq(k.p, k.n, "role")) {
			out r = new_out(16);
			if (!str(j, &r)) return 0;
			t.role = seq(r.p, r.n, "user") ? USER : seq(r.p, r.n, "assistant") ? ASSISTANT : OTHER;
		} else if (seq(k.p, k.n, "content")) {
			u32 mark = arena_top;
			out c = new_out(1024);
			if (!str(j, &c)) return 0;
			t.cues = scan(c.p, c.n);
			arena_top = mark; /* the text is scanned: its memory is free again */
		} else if (!skip(j, 1)) {
			return 0;
		}
	} while (eat(j, ','));
	if (!eat(j, '}')) return fail(j, "a turn: want , or }");
	push(ts, t);
	return 1;
}

/* read_request reads a ProcessRequest, keeping its conversation's turns.
 * Fields at their zero value may be left out (sdk/ABI.md): a request
 * without a conversation is one with an empty conversation. */
static int read_request(json *j, turns *ts) {
	out k = new_out(32);
	if (!eat(j, '{')) return fail(j, "want an object");
	if (eat(j, '}')) return 1;
	do {
		if (!key(j, &k)) return 0;
		if (!seq(k.p, k.n, "conversation")) {
			if (!skip(j, 1)) return 0;
			continue;
		}
		if (!eat(j, '{')) return fail(j, "conversation: want an object");
		if (eat(j, '}')) continue;
		do {
			if (!key(j, &k)) return 0;
			if (!seq(k.p, k.n, "turns")) {
				if (!skip(j, 2)) return 0;
				continue;
			}
			if (!eat(j, '[')) return fail(j, "turns: want an array");
			if (eat(j, ']')) continue;
			do {
				if (!read_turn(j, ts)) return 0;
			} while (eat(j, ','));
			if (!eat(j, ']')) return fail(j, "turns: want , or ]");
		} while (eat(j, ','));
		if (!eat(j, '}')) return fail(j, "conversation: want , or }");
	} while (eat(j, ','));
	if (!eat(j, '}')) return fail(j, "want , or }");
	ws(j);
	return j->p == j->end || fail(j, "text after the request");
}

/* write_field writes the annotation of one field: the values cued in the
 * turns of one role, in name order; nothing when none is. */
static void write_field(out *o, const turns *ts, u8 role, const char *field, int *first) {
	u64 mask[NVALUES] = {0};
	for (u32 c = 0; c < NCUES; c++) mask[cues[c].value] |= 1ull << c;
	int any = 0;
	for (u32 v = 0; v < NVALUES; v++) {
		u64 found = 0;
		for (u32 i = 0; i < ts->n; i++)
			if (ts->t[i].role == role) found |= ts->t[i].cues & mask[v];
		if (!found) continue;
		puts_(o, any ? "," : *first ? "{\"field\":\"" : ",{\"field\":\"");
		if (!any) {
			puts_(o, field);
			puts_(o, "\",\"items\":[");
		}
		any = 1;
		*first = 0;
		puts_(o, "{\"name\":\"");
		puts_(o, value_names[v]);
		puts_(o, "\",\"attrs\":{\"cues\":\"");
		int sep = 0;
		for (u32 c = 0; c < NCUES; c++)
			if (found & 1ull << c) {
				if (sep) puts_(o, ",");
				puts_(o, cues[c].word);
				sep = 1;
			}
		puts_(o, "\",\"turns\":\"");
		sep = 0;
		for (u32 i = 0; i < ts->n; i++)
			if (ts->t[i].role == role && (ts->t[i].cues & mask[v])) {
				if (sep) puts_(o, ",");
				putu(o, i);
				sep = 1;
			}
		puts_(o, "\"}}");
	}
	if (any) puts_(o, "]}");
}

EXPORT("vs_process") u64 vs_process(const u8 *req, u32 n) {
	json j = {req, req + n, req, 0};
	turns ts = {0, 0, 0};
	if (!read_request(&j, &ts)) {
		out o = new_out(128);
		puts_(&o, "request: ");
		puts_(&o, j.err);
		puts_(&o, " at byte ");
		putu(&o, (u32)(j.p - j.start));
		return error_msg(&o);
	}
	out o = new_out(1024);
	int first = 1;
	puts_(&o, "{\"annotations\":[");
	write_field(&o, &ts, USER, "human_values", &first);
	write_field(&o, &ts, ASSISTANT, "ai_values", &first);
	puts_(&o, "]}");
	return reply(&o);
}

/* --- describe and configure ------------------------------------------------ */

static const char manifest[] =
	"{\"name\":\"keyword-values-c\",\"version\":\"0.1.0\",\"abi\":1,\"kind\":\"extractor\","
	"\"field\":\"human_values\",\"fields\":[\"ai_values\"],"
	"\"description\":\"Values from keyword cues, in freestanding C: human_values from the user's turns, ai_values from the assistant's.\"}";

EXPORT("vs_describe") u64 vs_describe(void) { return pack(manifest, sizeof manifest - 1); }

/* vs_configure accepts an empty config table ({}) and refuses anything
 * else: this plugin has no settings, and a key it does not know is a typo
 * in the run config that must stop the run. */
EXPORT("vs_configure") u64 vs_configure(const u8 *req, u32 n) {
	json j = {req, req + n, req, 0};
	out k = new_out(32), config = new_out(256);
	int ok = eat(&j, '{');
	if (ok && !eat(&j, '}')) {
		do {
			if (!(ok = key(&j, &k))) break;
			ok = seq(k.p, k.n, "config_json") ? str(&j, &config) : skip(&j, 1);
		} while (ok && eat(&j, ','));
		ok = ok && eat(&j, '}');
	}
	if (!ok) return error_reply("configure: a request that is not a ConfigureRequest: ", (const u8 *)(j.err ? j.err : ""), j.err ? slen(j.err) : 0);
	if (config.n == 0) return pack("{}", 2); /* no table: the empty one */
	json c = {config.p, config.p + config.n, config.p, 0};
	if (!skip(&c, 0) || (ws(&c), c.p != c.end)) {
		out msg = new_out(128);
		puts_(&msg, "config: config_json is not JSON: ");
		puts_(&msg, c.err ? c.err : "text after the value");
		puts_(&msg, " at byte ");
		putu(&msg, (u32)(c.p - c.start));
		return error_msg(&msg);
	}
	c.p = c.start;
	if (!eat(&c, '{')) return error_reply("config: want a JSON object (a table), got ", config.p, config.n);
	if (eat(&c, '}')) return pack("{}", 2);
	out name = new_out(64);
	str(&c, &name);
	return error_reply("config: unknown key ", name.p, name.n);
}
