// See include/CAllocationCounter.h. Frees are not wrapped: glibc's free handles blocks from
// its own __libc_* allocators, and only allocations are budgeted.
#define _GNU_SOURCE
#include "CAllocationCounter.h"

#include <errno.h>
#include <stddef.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);

// Initial-exec TLS: reading these never allocates (no lazy TLS setup inside malloc).
static __thread int counting __attribute__((tls_model("initial-exec")));
static __thread uint64_t count __attribute__((tls_model("initial-exec")));

#define COUNT() do { if (counting) count += 1; } while (0)

void augmenter_allocations_start(void) {
  count = 0;
  counting = 1;
}

uint64_t augmenter_allocations_stop(void) {
  counting = 0;
  return count;
}

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
