// Empty: the target only declares libFuzzer's LLVMFuzzerRunDriver (include/CFuzzDriver.h).
#include "CFuzzDriver.h"
