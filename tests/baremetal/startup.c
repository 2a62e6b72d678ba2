/* SPDX-License-Identifier: MIT */
/* Start-up for qemu's mps2-an386 (Cortex-M4), instead of newlib's crt0:
 * the vector table, a reset handler that zeroes .bss, opens the semihosting
 * standard streams (newlib's rdimon) and calls main, and an end through
 * semihosting SYS_EXIT whose reason qemu turns into its exit status (0 for
 * a normal exit, 1 otherwise). A fault ends the run the same way, as a
 * failure, so a crash cannot leave qemu running. */
#include <stdint.h>
#include <stdio.h>

int main(void);
void initialise_monitor_handles(void);
void reset_handler(void);
void fault_handler(void);
_Noreturn void semihosting_exit(int status);

extern uint32_t __bss_start__[], __bss_end__[], __stack[];

enum {
    SYS_WRITE0 = 0x04,
    SYS_EXIT = 0x18,
    ADP_STOPPED_APPLICATION_EXIT = 0x20026,
    ADP_STOPPED_RUNTIME_ERROR = 0x20023,
};

_Noreturn void semihosting_exit(int status)
{
    register uint32_t r0 __asm__("r0") = SYS_EXIT;
    register uint32_t r1 __asm__("r1") =
        status == 0 ? ADP_STOPPED_APPLICATION_EXIT : ADP_STOPPED_RUNTIME_ERROR;
    for (;;)
        __asm__ volatile("bkpt 0xab" : : "r"(r0), "r"(r1) : "memory");
}

void reset_handler(void)
{
    for (uint32_t *p = __bss_start__; p < __bss_end__; p++)
        *p = 0;
    initialise_monitor_handles();
    const int status = main();
    fflush(stdout);
    semihosting_exit(status);
}

void fault_handler(void)
{
    /* Not stdio: the fault may have come from inside it. */
    static const char msg[] = "baremetal: FAIL: a fault exception\n";
    register uint32_t r0 __asm__("r0") = SYS_WRITE0;
    register const char *r1 __asm__("r1") = msg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    semihosting_exit(1);
}

/* The vector table: the initial stack pointer, then the handlers of reset,
 * NMI, HardFault, MemManage, BusFault and UsageFault. */
struct vector_table {
    uint32_t *stack;
    void (*handler[6])(void);
};
__attribute__((section(".vectors"), used)) static const struct vector_table vectors = {
    __stack,
    {reset_handler, fault_handler, fault_handler, fault_handler, fault_handler, fault_handler},
};
