#ifndef TRESTLE_FUZZ_DRIVER_H
#define TRESTLE_FUZZ_DRIVER_H

#include <stddef.h>
#include <stdint.h>

/// libFuzzer's own driver (compiler-rt FuzzerDriver.cpp, "Using libFuzzer as a library"):
/// parses libFuzzer's flags from argv and runs `callback` on each input. Linked in by
/// `-sanitize=fuzzer`.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
