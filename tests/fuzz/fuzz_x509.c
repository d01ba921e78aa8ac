/* Fuzz target: the X.509 summary (analyze/x509.c) of one DER certificate. */
#include <stdlib.h>

#include "fuzz.h"
#include "x509.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kp_cert_info *info = malloc(sizeof(*info));
    if (info != NULL) {
        (void)kp_x509_summarize(data, size, info);
    }
    free(info);
    return 0;
}
