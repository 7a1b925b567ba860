// Heap-allocation counter for scripts/bench, loaded with LD_PRELOAD.
//
// Counts every call to malloc, calloc, realloc, aligned_alloc, posix_memalign, memalign and free
// in the whole process (Swift runtime, NIO, libnghttp2, glibc alike) with relaxed atomics. The
// counters live in a file-backed shared page named by $MALLOC_COUNTER_FILE, so the benchmark
// reads them at any moment without signalling the process: allocations per check is
// (allocations after N checks - allocations before) / N.
//
// File layout: 8 little-endian uint64: magic 0x414c4c4f43435452 ("ALLOCCTR"), malloc, calloc,
// realloc, aligned (aligned_alloc + posix_memalign + memalign), free, bytes requested, reserved.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct counters { uint64_t magic, malloc, calloc, realloc, aligned, free, bytes, reserved; };
static struct counters early;             // counts until the shared page is mapped
static struct counters *c = &early;
static void *(*real_malloc)(size_t), *(*real_calloc)(size_t, size_t), *(*real_realloc)(void *, size_t);
static void *(*real_aligned_alloc)(size_t, size_t), *(*real_memalign)(size_t, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void (*real_free)(void *);
static char boot[8192];                   // serves dlsym's own calloc while we resolve
static size_t boot_used;
static int resolving;

#define COUNT(field, n) __atomic_fetch_add(&c->field, (n), __ATOMIC_RELAXED)
static int is_boot(void *p) { return (char *)p >= boot && (char *)p < boot + sizeof boot; }
static void *boot_alloc(size_t n) {
  n = (n + 15) & ~(size_t)15;
  if (boot_used + n > sizeof boot) return NULL;
  void *p = boot + boot_used;
  boot_used += n;
  return p;
}
static void resolve(void) {
  if (real_malloc || resolving) return;
  resolving = 1;
  real_calloc = dlsym(RTLD_NEXT, "calloc");
  real_realloc = dlsym(RTLD_NEXT, "realloc");
  real_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
  real_memalign = dlsym(RTLD_NEXT, "memalign");
  real_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
  real_free = dlsym(RTLD_NEXT, "free");
  real_malloc = dlsym(RTLD_NEXT, "malloc");
  resolving = 0;
}

__attribute__((constructor)) static void map_counters(void) {
  resolve();
  const char *path = getenv("MALLOC_COUNTER_FILE");
  if (!path) return;
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || ftruncate(fd, 4096) != 0) return;
  struct counters *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (shared == MAP_FAILED) return;
  memcpy(shared, &early, sizeof early);
  shared->magic = 0x414c4c4f43435452ULL;
  c = shared;
}

void *malloc(size_t n) {
  resolve();
  if (!real_malloc) return boot_alloc(n);
  COUNT(malloc, 1); COUNT(bytes, n);
  return real_malloc(n);
}
void *calloc(size_t k, size_t n) {
  resolve();
  if (!real_calloc) return boot_alloc(k * n);  // boot is zeroed static storage
  COUNT(calloc, 1); COUNT(bytes, k * n);
  return real_calloc(k, n);
}
void *realloc(void *p, size_t n) {
  resolve();
  COUNT(realloc, 1); COUNT(bytes, n);
  if (is_boot(p)) {
    void *q = real_malloc(n);
    if (q) memcpy(q, p, n < (size_t)(boot + sizeof boot - (char *)p) ? n : (size_t)(boot + sizeof boot - (char *)p));
    return q;
  }
  return real_realloc(p, n);
}
void free(void *p) {
  if (!p || is_boot(p)) return;
  resolve();
  COUNT(free, 1);
  real_free(p);
}
void *aligned_alloc(size_t a, size_t n) { resolve(); COUNT(aligned, 1); COUNT(bytes, n); return real_aligned_alloc(a, n); }
void *memalign(size_t a, size_t n) { resolve(); COUNT(aligned, 1); COUNT(bytes, n); return real_memalign(a, n); }
int posix_memalign(void **out, size_t a, size_t n) { resolve(); COUNT(aligned, 1); COUNT(bytes, n); return real_posix_memalign(out, a, n); }
