/*
 * fuzz.h - what every libFuzzer harness of tests/fuzz shares.
 *
 * Each harness is one LLVMFuzzerTestOneInput over one of stepup's parsers
 * of outside input; libFuzzer (clang's -fsanitize=fuzzer) provides main.
 * Besides the sanitizers (AddressSanitizer with leak detection, UBSan),
 * a harness checks what the parser's header promises with FUZZ_CHECK,
 * which aborts (a crash libFuzzer reports and saves) when it does not hold.
 */
#ifndef STEPUP_FUZZ_H
#define STEPUP_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                          \
    do {                                                                          \
        if (!(cond)) {                                                            \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                              \
        }                                                                         \
    } while (0)

/* A NUL-terminated copy of data (a NUL byte in it ends the string early); free it. */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    FUZZ_CHECK(s != NULL);
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

#endif
