/* symbolize.c - instruction pointers to function / file:line frames (libdw).
 *
 * One look-up, for address a (ip - 1 for a return address):
 *
 *   dwfl_addrmodule(a)              the ELF module mapping a (re-report the
 *                                   process's mappings once if none does and
 *                                   the loader's counters moved: dlopen)
 *   dwfl_module_addrinfo(a)         the ELF symbol (.symtab, else .dynsym)
 *   dwfl_module_addrdie(a)          the DWARF compile unit
 *   dwarf_getscopes(cu, a)          the scopes at a, innermost first; the
 *                                   first inlined_subroutine or subprogram
 *                                   is the innermost function
 *   dwarf_getscopes_die(that)       its chain of containing scopes in the
 *                                   concrete tree: every inlined_subroutine
 *                                   up to the out-of-line subprogram
 *
 * (dwarf_getscopes alone does not do: past an inlined_subroutine it
 * continues with the scopes of the inline function's abstract definition,
 * not with its caller.)  The innermost frame's line comes from the line
 * table; each outer frame's line is DW_AT_call_file/line/column of the
 * inlined_subroutine just inside it.
 *
 * Memory: every frame array and string lives in an arena owned by the
 * symbolizer and freed only with it, so what td_symbolize() returned stays
 * valid even after the cache is cleared or a module is unloaded from the
 * Dwfl.  The cache is an open-addressing hash table keyed by (ip, is_ret).
 */
#include <dwarf.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trace/symbolize.h"

#define ARENA_CHUNK 16384
#define CACHE_MIN_BITS 6

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, cap;
	max_align_t data[];
};

struct cache_entry {
	uintptr_t ip;
	const td_sym_frame *frames; /* NULL: empty slot */
	size_t n;
	bool is_ret;
};

/* One address range of a compile unit, in DWARF addresses. */
struct cu_range {
	Dwarf_Addr lo, hi; /* [lo, hi) */
	Dwarf_Die cu;
};

/* What we remember about a Dwfl_Module, in its userdata slot (the slot
 * survives a re-report that keeps the module).  Arena memory. */
struct module_note {
	const char *basename;
	uintptr_t bias;          /* ELF vaddr + bias = run-time address */
	struct cu_range *cus;    /* sorted by lo; see cu_by_ranges() */
	size_t ncus;
	bool cus_built;
};

/* A descriptor libdwfl opened through our callbacks, and what it was. */
struct owned_fd {
	int fd;
	dev_t dev;
	ino_t ino;
};

struct td_symbolizer {
	Dwfl *dwfl;
	Dwfl_Callbacks callbacks; /* libdwfl keeps a pointer: must outlive it */
	struct cache_entry *table;
	unsigned bits;            /* table has 1 << bits slots */
	size_t count;
	struct arena_chunk *arena;
	unsigned long long dl_adds, dl_subs; /* loader counters last reported */
	struct owned_fd *fds;     /* every module file libdwfl holds open */
	size_t nfds, cap_fds;
	char open_error[160];     /* the last module that could not be opened
				   * for want of descriptors or memory */
};

/* The symbolizer whose libdwfl call is under way on this thread: the
 * callbacks below get only a module, and record what they open in it. */
static __thread struct td_symbolizer *tls_current;

/* Frames of the address being resolved, before they move to the arena. */
struct builder {
	td_sym_frame *v;
	size_t n, cap;
};

/* ---- arena ------------------------------------------------------------ */

static void *arena_alloc(struct td_symbolizer *s, size_t size)
{
	struct arena_chunk *c = s->arena;

	size = (size + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	if (c == NULL || c->cap - c->used < size) {
		size_t cap = size > ARENA_CHUNK ? size : ARENA_CHUNK;

		c = malloc(sizeof(*c) + cap);
		if (c == NULL)
			return NULL;
		c->next = s->arena;
		c->used = 0;
		c->cap = cap;
		s->arena = c;
	}
	void *p = (char *)c->data + c->used;
	c->used += size;
	return p;
}

static const char *arena_strdup(struct td_symbolizer *s, const char *str)
{
	size_t len = strlen(str);
	char *p = arena_alloc(s, len + 1);

	if (p != NULL)
		memcpy(p, str, len + 1);
	return p;
}

/* ---- descriptors libdwfl holds --------------------------------------- */

/* libdwfl opens module files with plain open() and keeps them until
 * dwfl_end().  Kept across dumps, they must not leak into programs the
 * process execs (close-on-exec), and the program may close them - or
 * close them and open its own files under the same numbers.  So every
 * descriptor is recorded with its file's identity, and checked before the
 * symbolizer is used again (td_symbolizer_fds_intact). */
static void note_open(int fd, int err, const char *what)
{
	struct td_symbolizer *s = tls_current;

	if (s == NULL)
		return;
	if (fd < 0) {
		if (err == EMFILE || err == ENFILE || err == ENOMEM)
			snprintf(s->open_error, sizeof(s->open_error),
				 "symbolization could not open %s: %s",
				 what ? what : "a module", strerror(err));
		return;
	}
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	struct stat st;
	if (fstat(fd, &st) != 0)
		return;
	if (s->nfds == s->cap_fds) {
		size_t cap = s->cap_fds ? s->cap_fds * 2 : 16;
		struct owned_fd *v = realloc(s->fds, cap * sizeof(*v));
		if (v == NULL)
			return; /* unchecked, like any fd of libdwfl's */
		s->fds = v;
		s->cap_fds = cap;
	}
	s->fds[s->nfds++] = (struct owned_fd){fd, st.st_dev, st.st_ino};
}

static int find_elf_tracked(Dwfl_Module *mod, void **userdata,
			    const char *modname, Dwarf_Addr base,
			    char **file_name, Elf **elfp)
{
	errno = 0;
	int fd = dwfl_linux_proc_find_elf(mod, userdata, modname, base,
					  file_name, elfp);
	int err = errno;
	/* No descriptor is normal for the vDSO (read from memory). */
	if (fd >= 0 || *elfp == NULL)
		note_open(fd, err, modname);
	return fd;
}

bool td_symbolizer_fds_intact(const struct td_symbolizer *s)
{
	for (size_t i = 0; i < s->nfds; i++) {
		struct stat st;
		if (fstat(s->fds[i].fd, &st) != 0 ||
		    st.st_dev != s->fds[i].dev || st.st_ino != s->fds[i].ino)
			return false;
	}
	return true;
}

const char *td_symbolizer_open_error(const struct td_symbolizer *s)
{
	return s->open_error[0] ? s->open_error : NULL;
}

/* ---- debug information search (no debuginfod) ------------------------- */

/* True when the ELF file open on fd has the module's build-id. */
static bool same_build_id(Dwfl_Module *mod, int fd)
{
	const unsigned char *want;
	const void *have;
	GElf_Addr vaddr;
	int nwant = dwfl_module_build_id(mod, &want, &vaddr);

	if (nwant <= 0)
		return false;
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (elf == NULL)
		return false;
	ssize_t nhave = dwelf_elf_gnu_build_id(elf, &have);
	bool same = nhave == nwant && memcmp(have, want, (size_t)nwant) == 0;
	elf_end(elf);
	return same;
}

/* Try the .gnu_debuglink name next to the module, in its .debug/ folder
 * and under /usr/lib/debug/<its folder>/.  A candidate is accepted only
 * with the module's build-id (the CRC is not checked). */
static int find_by_debuglink(Dwfl_Module *mod, const char *file_name,
			     const char *link, char **found)
{
	static const char *const fmt[] = {"%.*s/%s", "%.*s/.debug/%s",
					  "/usr/lib/debug%.*s/%s"};
	const char *slash = strrchr(file_name, '/');
	int dirlen = slash != NULL ? (int)(slash - file_name) : 0;
	char path[4096];

	if (slash == NULL || strchr(link, '/') != NULL)
		return -1;
	for (size_t i = 0; i < sizeof(fmt) / sizeof(fmt[0]); i++) {
		int len = snprintf(path, sizeof(path), fmt[i], dirlen,
				   file_name, link);
		if (len < 0 || (size_t)len >= sizeof(path) ||
		    strcmp(path, file_name) == 0)
			continue;
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (same_build_id(mod, fd)) {
			*found = strdup(path);
			if (*found != NULL)
				return fd;
		}
		close(fd);
	}
	return -1;
}

/* Dwfl_Callbacks.find_debuginfo: dwfl_standard_find_debuginfo minus its
 * last resort, a debuginfod download (which DEBUGINFOD_URLS in the
 * environment would enable, making a dump wait on the network). */
static int find_debuginfo_local(Dwfl_Module *mod, void **userdata,
				const char *modname, GElf_Addr base,
				const char *file_name, const char *debuglink,
				GElf_Word crc, char **debuginfo_file_name)
{
	errno = 0;
	int fd = dwfl_build_id_find_debuginfo(mod, userdata, modname, base,
					      file_name, debuglink, crc,
					      debuginfo_file_name);
	if (fd < 0 && file_name != NULL && debuglink != NULL)
		fd = find_by_debuglink(mod, file_name, debuglink,
				       debuginfo_file_name);
	note_open(fd, errno, debuglink ? debuglink : modname);
	return fd;
}

/* ---- module reporting ----------------------------------------------- */

struct dl_counts {
	unsigned long long adds, subs;
};

static int read_dl_counts(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct dl_counts *c = arg;

	if (size >= offsetof(struct dl_phdr_info, dlpi_subs) +
			    sizeof(info->dlpi_subs)) {
		c->adds = info->dlpi_adds;
		c->subs = info->dlpi_subs;
	}
	return 1; /* the counters are the same in every entry: stop */
}

static struct dl_counts dl_counts_now(void)
{
	struct dl_counts c = {0, 0};

	dl_iterate_phdr(read_dl_counts, &c);
	return c;
}

/* (Re-)report every mapping of this process.  Modules that are still
 * mapped the same way are kept with their loaded DWARF and notes. */
static int report_modules(struct td_symbolizer *s)
{
	struct dl_counts c = dl_counts_now();

	dwfl_report_begin(s->dwfl);
	int r = dwfl_linux_proc_report(s->dwfl, getpid());
	/* report_end even after a failure: it finishes the report. */
	if (dwfl_report_end(s->dwfl, NULL, NULL) != 0 && r == 0)
		r = -1;
	if (r != 0)
		return r > 0 ? -r : -EIO; /* libdwfl answers an errno */
	s->dl_adds = c.adds;
	s->dl_subs = c.subs;
	return 0;
}

static void cache_clear(struct td_symbolizer *s)
{
	memset(s->table, 0, sizeof(*s->table) << s->bits);
	s->count = 0;
}

int td_symbolizer_refresh(struct td_symbolizer *s)
{
	struct dl_counts c = dl_counts_now();

	if (c.adds == s->dl_adds && c.subs == s->dl_subs)
		return 0;
	struct td_symbolizer *outer = tls_current;
	tls_current = s;
	int r = report_modules(s);
	tls_current = outer;
	/* Even a failed report changed the module list: forget everything
	 * cached (the arena keeps returned arrays alive). */
	cache_clear(s);
	return r < 0 ? r : 1;
}

/* The module whose mappings span a, or NULL.  dwfl_addrmodule() alone
 * is not enough: libdw 0.188 answers the last module for any address above
 * the highest mapping. */
static Dwfl_Module *module_at(struct td_symbolizer *s, uintptr_t a)
{
	Dwfl_Module *mod = dwfl_addrmodule(s->dwfl, a);
	Dwarf_Addr start, end;

	if (mod == NULL || dwfl_module_info(mod, NULL, &start, &end, NULL,
					    NULL, NULL, NULL) == NULL ||
	    a < start || a >= end)
		return NULL;
	return mod;
}

/* The module mapping a, re-reporting once if none does and the loader
 * loaded something since the last report. */
static Dwfl_Module *find_module(struct td_symbolizer *s, uintptr_t a)
{
	Dwfl_Module *mod = module_at(s, a);

	if (mod == NULL && td_symbolizer_refresh(s) > 0)
		mod = module_at(s, a);
	return mod;
}

static struct module_note *module_note(struct td_symbolizer *s,
				       Dwfl_Module *mod)
{
	void **userdata;
	Dwarf_Addr start, bias;
	const char *name = dwfl_module_info(mod, &userdata, &start, NULL, NULL,
					    NULL, NULL, NULL);
	struct module_note *note = *userdata;

	if (note != NULL)
		return note;
	note = arena_alloc(s, sizeof(*note));
	if (note == NULL)
		return NULL;
	memset(note, 0, sizeof(*note));
	if (name == NULL)
		name = "?";
	else if (strncmp(name, "[vdso", 5) == 0)
		name = "[vdso]";
	else if (strrchr(name, '/') != NULL)
		name = strrchr(name, '/') + 1;
	note->basename = arena_strdup(s, name);
	if (note->basename == NULL)
		return NULL;
	/* Without a readable ELF file the lowest mapping stands in for the
	 * bias (right for shared objects, whose first vaddr is 0). */
	note->bias = dwfl_module_getelf(mod, &bias) != NULL ? bias : start;
	*userdata = note;
	return note;
}

/* ---- compile units without .debug_aranges ------------------------------
 * dwfl_module_addrdie() finds a CU through .debug_aranges only (libdw
 * 0.188), which clang does not emit.  For such modules we build, once, a
 * table of every CU's DW_AT_low_pc/high_pc/ranges and binary-search it. */

static int cmp_cu_range(const void *a, const void *b)
{
	const struct cu_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static int build_cu_ranges(struct td_symbolizer *s, Dwfl_Module *mod,
			   struct module_note *note)
{
	struct cu_range *v = NULL, *grown;
	size_t n = 0, cap = 0;
	Dwarf_Die *cu = NULL;
	Dwarf_Addr bias, base, lo, hi;

	note->cus_built = true;
	while ((cu = dwfl_module_nextcu(mod, cu, &bias)) != NULL) {
		ptrdiff_t off = 0;

		while ((off = dwarf_ranges(cu, off, &base, &lo, &hi)) > 0) {
			if (lo >= hi)
				continue;
			if (n == cap) {
				cap = cap != 0 ? cap * 2 : 64;
				grown = realloc(v, cap * sizeof(*v));
				if (grown == NULL) {
					free(v);
					return -ENOMEM;
				}
				v = grown;
			}
			v[n++] = (struct cu_range){lo, hi, *cu};
		}
	}
	if (n > 0) {
		qsort(v, n, sizeof(*v), cmp_cu_range);
		note->cus = arena_alloc(s, n * sizeof(*v));
		if (note->cus == NULL) {
			free(v);
			return -ENOMEM;
		}
		memcpy(note->cus, v, n * sizeof(*v));
		note->ncus = n;
	}
	free(v);
	return 0;
}

/* The CU containing run-time address a, found without .debug_aranges. */
static Dwarf_Die *cu_by_ranges(struct td_symbolizer *s, Dwfl_Module *mod,
			       struct module_note *note, uintptr_t a,
			       Dwarf_Addr *bias)
{
	if (dwfl_module_getdwarf(mod, bias) == NULL)
		return NULL;
	if (!note->cus_built && build_cu_ranges(s, mod, note) != 0)
		return NULL;

	Dwarf_Addr pc = a - *bias;
	size_t lo = 0, hi = note->ncus;

	/* The last range starting at or below pc. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (note->cus[mid].lo <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || pc >= note->cus[lo - 1].hi)
		return NULL;
	return &note->cus[lo - 1].cu;
}

/* ---- frames ----------------------------------------------------------- */

/* A new zeroed frame at the end of b, or NULL when out of memory. */
static td_sym_frame *builder_push(struct builder *b)
{
	if (b->n == b->cap) {
		size_t cap = b->cap != 0 ? b->cap * 2 : 4;
		td_sym_frame *v = realloc(b->v, cap * sizeof(*v));

		if (v == NULL)
			return NULL;
		b->v = v;
		b->cap = cap;
	}
	td_sym_frame *f = &b->v[b->n++];
	memset(f, 0, sizeof(*f));
	return f;
}

/* Location of a frame: a file (arena or libdw string) and line. */
struct srcloc {
	const char *file;
	int line, column;
};

/* Fill f's strings (copied into the arena) and location. */
static int frame_set(struct td_symbolizer *s, td_sym_frame *f,
		     const char *function, const struct srcloc *loc)
{
	f->function = arena_strdup(s, function);
	f->file = loc->file != NULL ? arena_strdup(s, loc->file) : NULL;
	f->line = loc->line;
	f->column = loc->column;
	if (f->function == NULL || (loc->file != NULL && f->file == NULL))
		return -ENOMEM;
	return 0;
}

static const char *die_name(Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	const char *name;

	/* _integrate follows DW_AT_abstract_origin and DW_AT_specification:
	 * inlined instances and out-of-line copies carry no name of their
	 * own. */
	name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &attr));
	if (name == NULL)
		name = dwarf_formstring(dwarf_attr_integrate(
			die, DW_AT_linkage_name, &attr));
	return name;
}

static int udata_attr(Dwarf_Die *die, unsigned name)
{
	Dwarf_Attribute attr;
	Dwarf_Word v;

	if (dwarf_formudata(dwarf_attr(die, name, &attr), &v) != 0 ||
	    v > INT32_MAX)
		return 0;
	return (int)v;
}

/* A file name of CU `cu` as the compiler was given it - what __FILE__
 * says in that file (README.md, "File names"): libdw joins the names of
 * files that sit in the compilation directory itself with that directory,
 * so `cc app.c` would read "/home/me/app.c" in frames and "app.c" in
 * spawned=.  Undone for a CU whose own name is relative (a build that
 * names its files by absolute paths keeps them absolute). */
static const char *as_given(Dwarf_Die *cu, const char *file)
{
	Dwarf_Attribute attr;
	const char *name, *dir;
	size_t n;

	if (file == NULL || file[0] != '/')
		return file;
	name = dwarf_formstring(dwarf_attr(cu, DW_AT_name, &attr));
	dir = dwarf_formstring(dwarf_attr(cu, DW_AT_comp_dir, &attr));
	if (name == NULL || name[0] == '/' || dir == NULL)
		return file;
	n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (n > 1 && strncmp(file, dir, n) == 0 && file[n] == '/' &&
	    file[n + 1] != '\0')
		return file + n + 1;
	return file;
}

/* Where the inlined_subroutine `die` was called from. */
static struct srcloc call_site(Dwarf_Die *die)
{
	struct srcloc loc = {NULL, 0, 0};
	Dwarf_Attribute attr;
	Dwarf_Word idx;
	Dwarf_Die cu;
	Dwarf_Files *files;
	size_t nfiles;

	if (dwarf_formudata(dwarf_attr(die, DW_AT_call_file, &attr), &idx) ==
		    0 &&
	    dwarf_diecu(die, &cu, NULL, NULL) != NULL &&
	    dwarf_getsrcfiles(&cu, &files, &nfiles) == 0 && idx < nfiles)
		loc.file = as_given(&cu, dwarf_filesrc(files, idx, NULL, NULL));
	loc.line = udata_attr(die, DW_AT_call_line);
	loc.column = udata_attr(die, DW_AT_call_column);
	return loc;
}

/* The first function scope (inlined or not) of scopes[0..n), or -1. */
static int first_function(Dwarf_Die *scopes, int n)
{
	for (int i = 0; i < n; i++) {
		int tag = dwarf_tag(&scopes[i]);

		if (tag == DW_TAG_inlined_subroutine ||
		    tag == DW_TAG_subprogram)
			return i;
	}
	return -1;
}

/* Push a frame per function scope of chain[0..n): inlined ones, then the
 * out-of-line one (named `fallback` when DWARF has no name for it).
 * `loc` is the innermost frame's location.  Returns 0 or -ENOMEM. */
static int push_chain(struct td_symbolizer *s, struct builder *b,
		      Dwarf_Die *chain, int n, struct srcloc loc,
		      const char *fallback)
{
	bool done = false;

	for (int i = 0; i < n && !done; i++) {
		int tag = dwarf_tag(&chain[i]);

		if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram)
			continue;
		const char *name = die_name(&chain[i]);
		td_sym_frame *f = builder_push(b);
		if (f == NULL)
			return -ENOMEM;
		f->has_debuginfo = true;
		f->inlined = tag == DW_TAG_inlined_subroutine;
		if (name == NULL)
			name = f->inlined ? "<inlined>" : fallback;
		if (frame_set(s, f, name, &loc) != 0)
			return -ENOMEM;
		if (f->inlined)
			loc = call_site(&chain[i]); /* the next frame's line */
		else
			done = true;
	}
	if (!done && b->n > 0) {
		/* The chain ended inside an inlined call: the caller's
		 * frame from the symbol, at the call site. */
		td_sym_frame *f = builder_push(b);
		if (f == NULL || frame_set(s, f, fallback, &loc) != 0)
			return -ENOMEM;
		f->has_debuginfo = loc.file != NULL;
	}
	return 0;
}

/* DWARF frames of address a (module-relative lookups done by libdw).
 * Pushes nothing when the module has no DWARF function at a; *loc gets
 * the line table's answer for a either way. */
static int push_dwarf_frames(struct td_symbolizer *s, struct builder *b,
			     Dwfl_Module *mod, struct module_note *note,
			     uintptr_t a, const char *fallback,
			     struct srcloc *loc)
{
	Dwarf_Addr bias;
	Dwarf_Die *cu = dwfl_module_addrdie(mod, a, &bias);
	Dwarf_Die *scopes = NULL, *chain = NULL, fn;

	if (cu == NULL)
		cu = cu_by_ranges(s, mod, note, a, &bias);
	if (cu == NULL)
		return 0;
	Dwarf_Line *line = dwarf_getsrc_die(cu, a - bias);
	if (line != NULL) {
		loc->file = as_given(cu, dwarf_linesrc(line, NULL, NULL));
		dwarf_lineno(line, &loc->line);
		dwarf_linecol(line, &loc->column);
	}
	int n = dwarf_getscopes(cu, a - bias, &scopes);
	int i = first_function(scopes, n);
	if (i < 0) {
		free(scopes);
		return 0;
	}
	fn = scopes[i];
	free(scopes);
	if (dwarf_tag(&fn) == DW_TAG_subprogram)
		return push_chain(s, b, &fn, 1, *loc, fallback);
	n = dwarf_getscopes_die(&fn, &chain);
	int r = n > 0 ? push_chain(s, b, chain, n, *loc, fallback)
		      : push_chain(s, b, &fn, 1, *loc, fallback);
	free(chain);
	return r;
}

/* Resolve ip into b (at least one frame unless out of memory). */
static int resolve(struct td_symbolizer *s, uintptr_t ip, bool is_ret,
		   struct builder *b)
{
	uintptr_t a = is_ret && ip != 0 ? ip - 1 : ip;
	struct srcloc loc = {NULL, 0, 0};
	char buf[256];
	td_sym_frame *f;

	Dwfl_Module *mod = find_module(s, a);
	if (mod == NULL) {
		snprintf(buf, sizeof(buf), "0x%" PRIxPTR, ip);
		f = builder_push(b);
		return f == NULL ? -ENOMEM : frame_set(s, f, buf, &loc);
	}
	struct module_note *note = module_note(s, mod);
	if (note == NULL)
		return -ENOMEM;
	GElf_Off symoff = 0;
	GElf_Sym sym;
	const char *symname =
		dwfl_module_addrinfo(mod, a, &symoff, &sym, NULL, NULL, NULL);
	uintptr_t modoff = ip - note->bias;
	if (symname == NULL || *symname == '\0') {
		snprintf(buf, sizeof(buf), "%s+0x%" PRIxPTR, note->basename,
			 modoff);
		symname = buf;
		symoff = 0;
	} else {
		symoff += ip - a; /* relative to ip, not to the look-up */
	}

	int r = push_dwarf_frames(s, b, mod, note, a, symname, &loc);
	if (r != 0)
		return r;
	if (b->n == 0) {
		/* No DWARF function here: the symbol, and the line table's
		 * answer if there is one (assembly, -g1). */
		f = builder_push(b);
		if (f == NULL || frame_set(s, f, symname, &loc) != 0)
			return -ENOMEM;
		f->has_debuginfo = loc.file != NULL;
	}
	for (size_t i = 0; i < b->n; i++) {
		b->v[i].module = note->basename;
		b->v[i].module_offset = modoff;
	}
	b->v[b->n - 1].symbol_offset = symoff;
	return 0;
}

/* ---- cache ------------------------------------------------------------ */

static size_t cache_slot(const struct td_symbolizer *s, uintptr_t ip,
			 bool is_ret)
{
	uint64_t h = ((uint64_t)ip << 1 | is_ret) * 0x9e3779b97f4a7c15ull;

	return (size_t)(h >> (64 - s->bits));
}

/* The entry for (ip, is_ret), or the empty slot where it belongs. */
static struct cache_entry *cache_find(struct td_symbolizer *s, uintptr_t ip,
				      bool is_ret)
{
	size_t mask = ((size_t)1 << s->bits) - 1;
	size_t i = cache_slot(s, ip, is_ret);

	/* Load stays <= 1/2, so an empty slot always ends the probe. */
	for (;; i = (i + 1) & mask) {
		struct cache_entry *e = &s->table[i];

		if (e->frames == NULL || (e->ip == ip && e->is_ret == is_ret))
			return e;
	}
}

static int cache_grow(struct td_symbolizer *s)
{
	struct cache_entry *old = s->table;
	size_t n = (size_t)1 << s->bits;
	struct cache_entry *table = calloc(n * 2, sizeof(*table));

	if (table == NULL)
		return -ENOMEM;
	s->table = table;
	s->bits++;
	for (size_t i = 0; i < n; i++)
		if (old[i].frames != NULL)
			*cache_find(s, old[i].ip, old[i].is_ret) = old[i];
	free(old);
	return 0;
}

/* Move b's frames into the arena and cache them under (ip, is_ret). */
static int cache_insert(struct td_symbolizer *s, uintptr_t ip, bool is_ret,
			const struct builder *b, const td_sym_frame **out)
{
	if ((s->count + 1) * 2 > (size_t)1 << s->bits && cache_grow(s) != 0)
		return -ENOMEM;
	td_sym_frame *frames = arena_alloc(s, b->n * sizeof(*frames));
	if (frames == NULL)
		return -ENOMEM;
	memcpy(frames, b->v, b->n * sizeof(*frames));
	struct cache_entry *e = cache_find(s, ip, is_ret);
	e->ip = ip;
	e->is_ret = is_ret;
	e->frames = frames;
	e->n = b->n;
	s->count++;
	*out = frames;
	return 0;
}

/* ---- API -------------------------------------------------------------- */

int td_symbolize(struct td_symbolizer *s, uintptr_t ip, bool is_return_address,
		 const td_sym_frame **frames, size_t *nframes)
{
	struct builder b = {NULL, 0, 0};

	if (s == NULL || frames == NULL || nframes == NULL)
		return -EINVAL;
	const struct cache_entry *e = cache_find(s, ip, is_return_address);
	if (e->frames != NULL) {
		*frames = e->frames;
		*nframes = e->n;
		return 0;
	}
	/* resolve() may re-report modules and clear the cache: insert
	 * afterwards, looking the slot up again. */
	struct td_symbolizer *outer = tls_current;
	tls_current = s;
	int r = resolve(s, ip, is_return_address, &b);
	tls_current = outer;
	if (r == 0)
		r = cache_insert(s, ip, is_return_address, &b, frames);
	if (r == 0)
		*nframes = b.n;
	free(b.v);
	return r;
}

struct td_symbolizer *td_symbolizer_new(void)
{
	struct td_symbolizer *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->callbacks.find_elf = find_elf_tracked;
	s->callbacks.find_debuginfo = find_debuginfo_local;
	s->bits = CACHE_MIN_BITS;
	s->table = calloc((size_t)1 << s->bits, sizeof(*s->table));
	s->dwfl = dwfl_begin(&s->callbacks);
	struct td_symbolizer *outer = tls_current;
	tls_current = s;
	int r = s->table == NULL || s->dwfl == NULL ? -ENOMEM
						    : report_modules(s);
	tls_current = outer;
	if (r != 0) {
		td_symbolizer_free(s);
		errno = -r;
		return NULL;
	}
	return s;
}

/* Free what is ours; the Dwfl only when `end_dwfl`. */
static void release(struct td_symbolizer *s, bool end_dwfl)
{
	if (s->dwfl != NULL && end_dwfl)
		dwfl_end(s->dwfl);
	while (s->arena != NULL) {
		struct arena_chunk *c = s->arena;

		s->arena = c->next;
		free(c);
	}
	free(s->fds);
	free(s->table);
	free(s);
}

void td_symbolizer_free(struct td_symbolizer *s)
{
	if (s != NULL)
		release(s, true);
}

int td_symbolizer_with_dwfl(struct td_symbolizer *s,
			    int (*fn)(Dwfl *dwfl, void *arg), void *arg)
{
	struct td_symbolizer *outer = tls_current;
	tls_current = s;
	int r = fn(s->dwfl, arg);
	tls_current = outer;
	return r;
}

/* ---- the process's symbolizer ---------------------------------------- */

/* Kept from one dump to the next (only the first dump pays for reading
 * the mappings and each module's DWARF); used under the dump lock only. */
static struct td_symbolizer *shared;

/* Dwfls left behind because the program took over their descriptors.
 * Their memory is lost either way; holding the pointers keeps it
 * reachable, so that leak checkers (LeakSanitizer, valgrind) do not report
 * the program for what a dump did.  Past the array's end a Dwfl is simply
 * dropped: a program closing our descriptors that often is rare. */
static Dwfl *abandoned[64];
static size_t nabandoned;

void td_symbolizer_after_fork_child(bool mid_dump)
{
	if (!mid_dump || shared == NULL)
		return;
	if (nabandoned < sizeof(abandoned) / sizeof(abandoned[0]))
		abandoned[nabandoned++] = shared->dwfl;
	shared = NULL; /* (its own memory: lost, like its Dwfl) */
}

struct td_symbolizer *td_symbolizer_shared(bool *renewed)
{
	*renewed = false;
	if (shared != NULL && !td_symbolizer_fds_intact(shared)) {
		/* The program closed a descriptor of ours, or reused its
		 * number: dwfl_end() would close the program's file.  Leave
		 * the Dwfl be (its memory is lost) and start afresh. */
		if (nabandoned < sizeof(abandoned) / sizeof(abandoned[0]))
			abandoned[nabandoned++] = shared->dwfl;
		release(shared, false);
		shared = NULL;
		*renewed = true;
	}
	if (shared == NULL) {
		shared = td_symbolizer_new();
		return shared;
	}
	shared->open_error[0] = '\0';
	if (td_symbolizer_refresh(shared) < 0) {
		td_symbolizer_free(shared);
		shared = td_symbolizer_new();
	}
	return shared;
}
