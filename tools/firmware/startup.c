/* Bare-metal start-up for the QEMU mps2-an386 board (Cortex-M4).
 *
 * Vector table at 0x0 (initial MSP = __stack_top, the top of SRAM, see link.ld; Reset_Handler, the
 * fault vectors); Reset_Handler copies .data from its load address in flash to RAM, zeroes .bss,
 * and does what newlib's rdimon _start would do, except moving the stack: semihosting file handles
 * (initialise_monitor_handles), constructors, argv from the semihosting command line (split at
 * spaces; the runner's arguments hold none), main, exit. (newlib's _start would take the stack
 * from semihosting HEAPINFO, which QEMU puts at the top of the board's PSRAM, outside link.ld's RAM.)
 * Every fault and unexpected exception ends in fault_report(): one line on the semihosting console
 * ("FIRMWARE FAULT ..." with the exception number, CFSR, HFSR, MMFAR, BFAR and the stacked PC/LR),
 * then a semihosting SYS_EXIT_EXTENDED with status FAULT_EXIT_BASE + exception number (103 for a
 * HardFault), so that a crash ends qemu with a non-zero status instead of hanging.
 */
#include <stdint.h>
#include <stdlib.h>

#define FAULT_EXIT_BASE 100u

extern uint32_t __data_load, __data_start, __data_end, __bss_start__, __bss_end__, __stack_top;
extern void initialise_monitor_handles(void);
extern void __libc_init_array(void);
extern void __libc_fini_array(void);
extern int main(int argc, char **argv);

void Reset_Handler(void) __attribute__((noreturn));
void Fault_Handler(void) __attribute__((naked, noreturn));

/* Semihosting call: operation in r0, argument in r1, result in r0 (BKPT 0xAB on M-profile). */
static uint32_t semihost(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

#define SYS_WRITE0 0x04u
#define SYS_GET_CMDLINE 0x15u
#define MAX_ARGS 16
#define SYS_EXIT_EXTENDED 0x20u
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u

static char *put_hex(char *p, uint32_t v)
{
    *p++ = '0';
    *p++ = 'x';
    for (int i = 7; i >= 0; --i) {
        *p++ = "0123456789abcdef"[(v >> (4 * i)) & 0xfu];
    }
    return p;
}

static char *put_str(char *p, const char *s)
{
    while (*s) {
        *p++ = *s++;
    }
    return p;
}

/* Called from Fault_Handler with the stacked exception frame (r0-r3, r12, lr, pc, xpsr). */
void fault_report(const uint32_t *frame, uint32_t exc_number) __attribute__((noreturn, used));
void fault_report(const uint32_t *frame, uint32_t exc_number)
{
    volatile const uint32_t *scb = (volatile const uint32_t *)0xE000ED00u;
    char line[200];
    char *p = line;
    p = put_str(p, "\nFIRMWARE FAULT exception=");
    *p++ = (char)('0' + exc_number / 10u);
    *p++ = (char)('0' + exc_number % 10u);
    p = put_str(p, " CFSR=");
    p = put_hex(p, scb[0x28 / 4]);
    p = put_str(p, " HFSR=");
    p = put_hex(p, scb[0x2C / 4]);
    p = put_str(p, " MMFAR=");
    p = put_hex(p, scb[0x34 / 4]);
    p = put_str(p, " BFAR=");
    p = put_hex(p, scb[0x38 / 4]);
    p = put_str(p, " PC=");
    p = put_hex(p, frame[6]);
    p = put_str(p, " LR=");
    p = put_hex(p, frame[5]);
    *p++ = '\n';
    *p = '\0';
    semihost(SYS_WRITE0, line);
    uint32_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, FAULT_EXIT_BASE + exc_number};
    semihost(SYS_EXIT_EXTENDED, block);
    for (;;) {
    }
}

/* Picks the stack that holds the exception frame (bit 2 of EXC_RETURN) and the exception number
 * (IPSR), then reports. */
void Fault_Handler(void)
{
    __asm__ volatile(
        "tst lr, #4\n"
        "ite eq\n"
        "mrseq r0, msp\n"
        "mrsne r0, psp\n"
        "mrs r1, ipsr\n"
        "b fault_report\n");
}

/* argc/argv from the semihosting command line ("fw IN OUT ..."), split at spaces. */
static int command_line(char **argv)
{
    static char line[1024];
    uint32_t block[2] = {(uint32_t)line, sizeof line - 1};
    int argc = 0;
    if (semihost(SYS_GET_CMDLINE, block) == 0) {
        line[block[1] < sizeof line ? block[1] : sizeof line - 1] = '\0';
        for (char *p = line; *p && argc < MAX_ARGS - 1;) {
            while (*p == ' ') {
                *p++ = '\0';
            }
            if (*p) {
                argv[argc++] = p;
            }
            while (*p && *p != ' ') {
                ++p;
            }
        }
    }
    argv[argc] = 0;
    return argc;
}

/* The C part of the reset handler (after the FPU is on). */
void reset_c(void) __attribute__((noreturn, used));

/* Reset entry: with an FPU build (__ARM_FP: -mfloat-abi=hard or softfp), grants full access to
 * coprocessors CP10/CP11 (CPACR bits 20-23) before any C code runs, since GCC may use the FP
 * registers in integer code too (without it the first FP instruction is a UsageFault NOCP); DSB and
 * ISB make the new access rights take effect. Then reset_c. Naked: no compiled code before. */
__attribute__((naked)) void Reset_Handler(void)
{
#if defined(__ARM_FP)
    __asm__ volatile(
        "movw r0, #0xED88\n"
        "movt r0, #0xE000\n"
        "ldr r1, [r0]\n"
        "orr r1, r1, #(0xF << 20)\n"
        "str r1, [r0]\n"
        "dsb\n"
        "isb\n"
        "b reset_c\n");
#else
    __asm__ volatile("b reset_c\n");
#endif
}

void reset_c(void)
{
    /* Trap integer division by zero (CCR.DIV_0_TRP) so that it faults instead of giving 0. */
    *(volatile uint32_t *)0xE000ED14u |= 1u << 4;
    /* Enable the MemManage, BusFault and UsageFault exceptions (SHCSR) for precise reports. */
    *(volatile uint32_t *)0xE000ED24u |= (1u << 16) | (1u << 17) | (1u << 18);
    uint32_t *src = &__data_load;
    for (uint32_t *dst = &__data_start; dst < &__data_end;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = &__bss_start__; dst < &__bss_end__;) {
        *dst++ = 0;
    }
    static char *argv[MAX_ARGS];
    initialise_monitor_handles();
    atexit(__libc_fini_array);
    __libc_init_array();
    const int argc = command_line(argv);
    exit(main(argc, argv));
}

/* 16 system vectors and 32 interrupt lines, all but reset routed to Fault_Handler. */
__attribute__((section(".vectors"), used)) static void (*const vector_table[48])(void) = {
    (void (*)(void))(&__stack_top),
    Reset_Handler,
    [2 ... 47] = Fault_Handler,
};
