/*
 * pcap_floor — the floor bench/run compares keyprov with: a bare libpcap loop over a
 * file that reads every packet with pcap_next_ex and touches one byte of it, so the
 * time is what any libpcap-based reader pays before it does any work. A benchmark
 * helper, not part of `meson test`; bench/run compiles it with cc.
 *
 *   pcap_floor FILE    prints "packets caplen_bytes wire_bytes xor" on standard output
 */
#define _DEFAULT_SOURCE /* u_int and friends in <pcap/bpf.h> */
#include <pcap/pcap.h>

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: pcap_floor FILE\n");
        return 2;
    }
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_open_offline(argv[1], err);
    if (pc == NULL) {
        fprintf(stderr, "pcap_floor: %s\n", err);
        return 2;
    }
    struct pcap_pkthdr *h;
    const u_char *p;
    uint64_t packets = 0, cap = 0, wire = 0;
    unsigned x = 0;   /* the touched bytes, printed so the reads cannot be optimised away */
    int rc;
    while ((rc = pcap_next_ex(pc, &h, &p)) == 1) {
        packets++;
        cap += h->caplen;
        wire += h->len;
        if (h->caplen > 0) {
            x ^= p[h->caplen / 2];
        }
    }
    if (rc == PCAP_ERROR) {
        fprintf(stderr, "pcap_floor: %s: %s\n", argv[1], pcap_geterr(pc));
        pcap_close(pc);
        return 2;
    }
    pcap_close(pc);
    printf("%" PRIu64 " %" PRIu64 " %" PRIu64 " %u\n", packets, cap, wire, x);
    return 0;
}
