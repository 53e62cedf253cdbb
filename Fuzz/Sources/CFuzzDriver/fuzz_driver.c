// The header declares libFuzzer's entry point; SwiftPM needs one source file per C target.
#include "fuzz_driver.h"
