/* The precompiled kernels (runtime/pelkc_host.h) by name, for tcc_add_symbol. */
#ifndef PELK_HOST_KERNELS_H
#define PELK_HOST_KERNELS_H

typedef struct host_symbol {
    const char *name;
    const void *addr;
} host_symbol;

extern const host_symbol host_kernel_symbols[];
extern const int host_kernel_count;

#endif
