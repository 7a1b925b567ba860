// See include/CAllocationCounter.h. Frees are not wrapped: glibc's free handles blocks from
// its own __libc_* allocators, and only allocations are budgeted.
#define _GNU_SOURCE
#include "CAllocationCounter.h"

#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);

// Initial-exec TLS: reading these never allocates (no lazy TLS setup inside malloc).
static __thread int counting __attribute__((tls_model("initial-exec")));
static __thread uint64_t count __attribute__((tls_model("initial-exec")));

// AUGMENTER_ALLOC_TRACE=FILE: the call stack of each counted allocation (the first
// `MAX_TRACES`), written to FILE by `augmenter_allocations_stop` with backtrace_symbols_fd;
// bench/alloc_sites.py groups them by call site. Static storage: recording never allocates.
#define MAX_TRACES 20000
#define TRACE_DEPTH 16
static void *traces[MAX_TRACES][TRACE_DEPTH];
static int trace_depths[MAX_TRACES];
static int tracing;
static __thread int in_trace __attribute__((tls_model("initial-exec")));

static void record(void) {
  if (count < MAX_TRACES && !in_trace) {
    in_trace = 1;
    trace_depths[count] = backtrace(traces[count], TRACE_DEPTH);
    in_trace = 0;
  }
}

#define COUNT() do { if (counting) { if (tracing) record(); count += 1; } } while (0)

void augmenter_allocations_start(void) {
  tracing = getenv("AUGMENTER_ALLOC_TRACE") != NULL;
  if (tracing) {
    void *warm[2];
    backtrace(warm, 2);  // its first call loads the unwinder, which allocates
  }
  count = 0;
  counting = 1;
}

uint64_t augmenter_allocations_stop(void) {
  counting = 0;
  const char *path = getenv("AUGMENTER_ALLOC_TRACE");
  if (tracing && path != NULL) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      for (uint64_t index = 0; index < count && index < MAX_TRACES; index++) {
        (void)!write(fd, "----\n", 5);
        backtrace_symbols_fd(traces[index], trace_depths[index], fd);
      }
      close(fd);
    }
  }
  return count;
}

// Under AddressSanitizer or ThreadSanitizer the runtime owns malloc: these definitions would
// be called by its interceptor setup before anything is initialised (SIGSEGV in malloc while
// listing tests), so sanitizer builds leave allocation counting out (AllocationTests are not
// run under sanitizers).
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define AUGMENTER_SANITIZED 1
#endif
#endif
#ifndef AUGMENTER_SANITIZED
void *malloc(size_t size) {
  COUNT();
  return __libc_malloc(size);
}

void *calloc(size_t count_, size_t size) {
  COUNT();
  return __libc_calloc(count_, size);
}

void *realloc(void *pointer, size_t size) {
  COUNT();
  return __libc_realloc(pointer, size);
}

void *memalign(size_t alignment, size_t size) {
  COUNT();
  return __libc_memalign(alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size) {
  COUNT();
  return __libc_memalign(alignment, size);
}

int posix_memalign(void **result, size_t alignment, size_t size) {
  COUNT();
  if (alignment % sizeof(void *) != 0 || (alignment & (alignment - 1)) != 0) return EINVAL;
  void *pointer = __libc_memalign(alignment, size);
  if (pointer == NULL && size != 0) return ENOMEM;
  *result = pointer;
  return 0;
}
#endif
