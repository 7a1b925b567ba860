// Counts heap allocations made by the calling thread, for the allocation-budget test.
//
// The test executable defines malloc/calloc/realloc/posix_memalign/aligned_alloc/memalign
// itself (this target is linked into it), so every allocation in the process (Swift runtime,
// NIO, SwiftProtobuf, libnghttp2) goes through these wrappers, which forward to glibc's
// __libc_* entry points and count when counting is on for the current thread.
#ifndef C_ALLOCATION_COUNTER_H
#define C_ALLOCATION_COUNTER_H

#include <stdint.h>

/// Starts counting this thread's allocations from zero.
void augmenter_allocations_start(void);
/// Stops counting; returns how many allocations this thread made since `start`. With
/// AUGMENTER_ALLOC_TRACE=FILE set, also writes each counted allocation's call stack to FILE.
uint64_t augmenter_allocations_stop(void);

#endif
