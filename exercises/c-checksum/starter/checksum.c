/* Adler-32 checksums of standard input or of files: see the statement. */
#include <stdint.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    /* TODO: file arguments, and a few things the tests will point out. */
    char buf[4096];
    size_t n;
    uint32_t a = 1, b = 0;
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) {
        for (size_t i = 0; i < n; i++) {
            a += buf[i];
            b += a;
        }
    }
    a %= 65521;
    b %= 65521;
    printf("%08x\n", (unsigned)((b << 16) | a));
    return 0;
}
