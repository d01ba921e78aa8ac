/* Shared declarations of keyprov's fuzz targets (tests/fuzz/fuzz_*.c).
 *
 * Each target defines LLVMFuzzerTestOneInput.  Built with -Dfuzzing=true
 * it links libFuzzer's main; otherwise it links replay.c, whose main() runs
 * it once on every file of the corpus folders given on the command line.
 * A target must return 0, must not keep pointers into `data` after it
 * returns, and must not exit: a crash, a sanitizer report or a hang is the
 * only way it says something is wrong.
 */
#ifndef KP_FUZZ_H
#define KP_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
