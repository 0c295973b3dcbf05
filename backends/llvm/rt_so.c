/* The runtime library an LLVM-built .so links (compiled when pelkc is built,
 * once per target: see CMakeLists.txt): the public API (pelkc_runtime.c) on
 * top of the generated pelkc_desc, and the kernels the generated code calls. */
#include "../../common/version.h"
#define PELKC_BUILT_BY "pelkc " PELKC_VERSION " (LLVM backend)"
#include "../../runtime/pelkc_kernels_lib.c"
#include "../../runtime/pelkc_runtime.c"
