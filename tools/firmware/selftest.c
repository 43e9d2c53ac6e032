/* Self-test main of the firmware infrastructure (not a model): exercises semihosting file I/O and
 * the fault handler so that the runner's error reporting can be tested.
 *
 *   fw copy IN OUT     copies file IN to file OUT, byte for byte; exit 0
 *   fw exit N          exit(N)
 *   fw fault           store to an unmapped address (BusFault, exit status 105)
 *   fw udf             permanently undefined instruction (UsageFault, exit status 106)
 *   fw hang            loops forever (the runner's timeout must catch it)
 *   fw nops            runs exactly 1000 NOP instructions between the instruction-count markers
 *   fw stack           prints "stack 0x........" (the address of a local variable of main)
 *   fw float X         prints "float Y" with Y = X * 1.5f + 0.25f as an integer: float arithmetic,
 *                      in the FP registers on a hard-float build (the FPU must be on)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "icount_markers.h"

#if defined(__arm__)
/* Exactly 1000 NOPs between the markers: the instruction counter must report 1000. */
static void __attribute__((naked, noinline)) run_nops(void)
{
    __asm__ volatile("push {r4, lr}\n"
                     "bl icount_begin\n"
                     ".rept 1000\n nop\n .endr\n"
                     "bl icount_end\n"
                     "pop {r4, pc}\n");
}
#endif

static int copy_file(const char *in_path, const char *out_path)
{
    FILE *in = fopen(in_path, "rb");
    if (!in) {
        fprintf(stderr, "selftest: cannot open %s\n", in_path);
        return 2;
    }
    FILE *out = fopen(out_path, "wb");
    if (!out) {
        fprintf(stderr, "selftest: cannot create %s\n", out_path);
        fclose(in);
        return 2;
    }
    static char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, in)) > 0) {
        if (fwrite(buffer, 1, n, out) != n) {
            fprintf(stderr, "selftest: short write to %s\n", out_path);
            return 2;
        }
    }
    fclose(in);
    return fclose(out) == 0 ? 0 : 2;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "copy") == 0) {
        return copy_file(argv[2], argv[3]);
    }
    if (argc >= 3 && strcmp(argv[1], "exit") == 0) {
        exit(atoi(argv[2]));
    }
    if (argc >= 2 && strcmp(argv[1], "stack") == 0) {
        volatile int local = 0;
        printf("stack %p\n", (void *)&local);
        return local;
    }
    if (argc >= 3 && strcmp(argv[1], "float") == 0) {
        volatile float x = (float)atoi(argv[2]);
        const float y = x * 1.5f + 0.25f;
        printf("float %d\n", (int)y);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "hang") == 0) {
        for (volatile int spin = 1; spin;) {
        }
    }
#if defined(__arm__)
    if (argc >= 2 && strcmp(argv[1], "fault") == 0) {
        *(volatile int *)0x30000000 = 1;
    }
    if (argc >= 2 && strcmp(argv[1], "udf") == 0) {
        __asm__ volatile("udf #0");
    }
    if (argc >= 2 && strcmp(argv[1], "nops") == 0) {
        run_nops();
        return 0;
    }
#endif
    fprintf(stderr, "selftest: unknown command\n");
    return 2;
}
