/* Adler-32 checksums of standard input or of files (reference solution). */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define MOD_ADLER 65521u

/* Adds the bytes of `in` to the running sums *a and *b; returns 0, or -1 on a read
   error (errno set). */
static int adler32_stream(FILE *in, uint32_t *a, uint32_t *b)
{
    unsigned char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) {
        for (size_t i = 0; i < n; i++) {
            /* Both sums stay below 65521, so neither addition can overflow. */
            *a = (*a + buf[i]) % MOD_ADLER;
            *b = (*b + *a) % MOD_ADLER;
        }
    }
    return ferror(in) ? -1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        uint32_t a = 1, b = 0;
        if (adler32_stream(stdin, &a, &b) != 0) {
            fprintf(stderr, "checksum: standard input: %s\n", strerror(errno));
            return 1;
        }
        printf("%08" PRIx32 "\n", (b << 16) | a);
        return 0;
    }
    int status = 0;
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (f == NULL) {
            fprintf(stderr, "checksum: %s: %s\n", argv[i], strerror(errno));
            status = 1;
            continue;
        }
        uint32_t a = 1, b = 0;
        errno = 0;
        if (adler32_stream(f, &a, &b) != 0) {
            fprintf(stderr, "checksum: %s: %s\n", argv[i], strerror(errno ? errno : EIO));
            status = 1;
        } else {
            printf("%08" PRIx32 "  %s\n", (b << 16) | a, argv[i]);
        }
        fclose(f);
    }
    return status;
}
