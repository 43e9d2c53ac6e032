/* Instruction-count markers for tools/firmware/icount.py.
 *
 * A measured region is written  icount_begin(); ...region...; icount_end();  The counter records
 * QEMU's execution trace (one translation block per instruction) and counts the instructions executed
 * after icount_begin returns up to and including the branch into icount_end; instructions inside
 * the two marker functions are not counted. Regions may repeat; each is reported in order.
 * The markers cost nothing but a call on any target, and are empty on the host.
 */
#ifndef ICOUNT_MARKERS_H
#define ICOUNT_MARKERS_H

/* noipa: keeps both functions out of inlining, cloning and identical-code folding, so that each
 * has its own address. Distinct bodies as a second guard. */
static void __attribute__((noinline, noipa, used)) icount_begin(void)
{
    __asm__ volatile("" ::: "memory");
}

static void __attribute__((noinline, noipa, used)) icount_end(void)
{
    __asm__ volatile("nop" ::: "memory");
}

#endif
