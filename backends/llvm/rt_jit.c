/* The runtime API for models JIT-compiled in process (llvm_jit.c): the same
 * pelkc_runtime.c as in every .so, with its exported names prefixed pelkc_jit_
 * so they cannot clash with a loaded .so, and its pelkc_desc read through a
 * pointer that the JIT sets to the compiled model's descriptor. */
#define PELKC_PREFIX pelkc_jit_
#define pelkc_desc (*pelkc_jit_desc)
#include "../../common/version.h"
#define PELKC_BUILT_BY "pelkc " PELKC_VERSION " (LLVM JIT)"
#include "../../runtime/pelkc_runtime.c"

const pelkc_model_desc *pelkc_jit_desc;
