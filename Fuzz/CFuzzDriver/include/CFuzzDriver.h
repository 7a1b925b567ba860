// libFuzzer's driver entry point (compiler-rt FuzzerInterface.h): runs the fuzzing loop, or the
// given inputs, with libFuzzer's command-line flags, calling `callback` once per input.
#ifndef AUGMENTER_CFUZZDRIVER_H
#define AUGMENTER_CFUZZDRIVER_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
