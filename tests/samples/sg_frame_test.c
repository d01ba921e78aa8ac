/*
 * Unit tests for samples/gen/sg_frame.c: RFC 1071 checksums and the
 * Ethernet/IPv4/TCP/UDP framing kp-samplegen builds its captures with.
 * Expected checksums of the synthetic segments below were computed with an
 * independent implementation (Python, struct + folding).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sg_frame.h"

#define IP_192_0_2_1 0xc0000201u
#define IP_198_51_100_2 0xc6336402u

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* RFC 1071 section 3 example: the words 0001 f203 f4f5 f6f7 sum to ddf2. */
static void test_rfc1071_example(void **state)
{
	static const uint8_t b[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};

	(void)state;
	assert_int_equal(sg_cksum_finish(sg_cksum_add(0, b, sizeof(b))), 0x220d);
	/* Splitting at an even boundary gives the same sum. */
	assert_int_equal(sg_cksum_finish(sg_cksum_add(sg_cksum_add(0, b, 4), b + 4, 4)), 0x220d);
}

static void test_odd_length(void **state)
{
	static const uint8_t b[] = {0xab};

	(void)state;
	/* A trailing byte counts as the high half of a zero-padded word. */
	assert_int_equal(sg_cksum_finish(sg_cksum_add(0, b, 1)), (uint16_t)~0xab00);
	assert_int_equal(sg_cksum_finish(sg_cksum_add(0, b, 0)), 0xffff);
}

/* A widely reproduced IPv4 header (UDP, 192.168.0.1 -> 192.168.0.199) whose checksum is b861. */
static void test_ipv4_header_vector(void **state)
{
	uint8_t h[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
			 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};

	(void)state;
	assert_int_equal(sg_ipv4_cksum(h, sizeof(h)), 0xb861);
	h[10] = 0xb8;
	h[11] = 0x61;
	/* RFC 1071: a header with a correct checksum sums to all ones, complement zero. */
	assert_int_equal(sg_ipv4_cksum(h, sizeof(h)), 0);
}

static void test_tcp_pseudo_header(void **state)
{
	uint8_t syn[20] = {0x30, 0x39, 0x01, 0xbb, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xfa, 0xf0, 0, 0, 0, 0};
	uint8_t seg[27] = {0x01, 0xbb, 0x30, 0x39, 0x01, 0x02, 0x03, 0x04, 0x0a, 0x0b, 0x0c, 0x0d, 0x50, 0x18,
			   0x01, 0xf5, 0, 0, 0, 0, 'k', 'e', 'y', 'p', 'r', 'o', 'v'};

	(void)state;
	assert_int_equal(sg_l4_cksum(IP_192_0_2_1, IP_198_51_100_2, SG_IPPROTO_TCP, syn, sizeof(syn)), 0x96c5);
	/* Odd-length payload, addresses the other way round. */
	assert_int_equal(sg_l4_cksum(IP_198_51_100_2, IP_192_0_2_1, SG_IPPROTO_TCP, seg, sizeof(seg)), 0xa841);
	seg[16] = 0xa8;
	seg[17] = 0x41;
	assert_int_equal(sg_l4_cksum(IP_198_51_100_2, IP_192_0_2_1, SG_IPPROTO_TCP, seg, sizeof(seg)), 0);
}

static struct sg_l3 test_l3(void)
{
	struct sg_l3 l3;

	memset(&l3, 0, sizeof(l3));
	memcpy(l3.src_mac, "\x02\x00\x00\x00\x00\x01", 6);
	memcpy(l3.dst_mac, "\x02\x00\x00\x00\x00\x02", 6);
	l3.src_ip = IP_192_0_2_1;
	l3.dst_ip = IP_198_51_100_2;
	l3.ip_id = 0x1234;
	l3.ttl = 64;
	return l3;
}

static void test_frame_tcp(void **state)
{
	struct sg_l3 l3 = test_l3();
	struct sg_tcp_hdr th;
	uint8_t f[SG_FRAME_MAX];
	const uint8_t *ip = f + SG_ETH_HLEN;
	const uint8_t *tcp = ip + SG_IPV4_HLEN;
	size_t n;

	(void)state;
	memset(&th, 0, sizeof(th));
	th.sport = 12345;
	th.dport = 443;
	th.seq = 1;
	th.flags = SG_TCP_SYN;
	th.window = 64240;
	n = sg_frame_tcp(f, sizeof(f), &l3, &th, NULL, 0);
	/* 54 bytes of headers, padded to the Ethernet minimum. */
	assert_int_equal(n, SG_ETH_MIN_FRAME);
	assert_memory_equal(f, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00", 14);
	assert_int_equal(ip[0], 0x45);
	assert_int_equal(get16(ip + 2), 40);
	assert_int_equal(get16(ip + 4), 0x1234);
	assert_int_equal(get16(ip + 6), 0x4000);
	assert_int_equal(ip[8], 64);
	assert_int_equal(ip[9], SG_IPPROTO_TCP);
	assert_int_equal(get16(ip + 10), 0x3c65);
	assert_int_equal(get16(tcp + 16), 0x96c5);
	assert_int_equal(f[54], 0);
	assert_int_equal(f[59], 0);

	/* Options and payload: both checksums verify to zero. */
	{
		static const uint8_t opts[12] = {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2};
		uint8_t payload[1448];

		memset(payload, 0x5a, sizeof(payload));
		th.opts = opts;
		th.opts_len = sizeof(opts);
		th.flags = SG_TCP_ACK | SG_TCP_PSH;
		n = sg_frame_tcp(f, sizeof(f), &l3, &th, payload, sizeof(payload));
		assert_int_equal(n, SG_FRAME_MAX);
		assert_int_equal(tcp[12] >> 4, 8);
		assert_int_equal(sg_ipv4_cksum(ip, SG_IPV4_HLEN), 0);
		assert_int_equal(sg_l4_cksum(l3.src_ip, l3.dst_ip, SG_IPPROTO_TCP, tcp, n - 34), 0);
		th.opts_len = 10;
		assert_int_equal(sg_frame_tcp(f, sizeof(f), &l3, &th, payload, 10), 0);
		th.opts_len = 12;
		assert_int_equal(sg_frame_tcp(f, 59, &l3, &th, NULL, 0), 0);
	}
}

static void test_frame_tcp_too_long(void **state)
{
	struct sg_l3 l3 = test_l3();
	struct sg_tcp_hdr th;
	uint8_t f[SG_FRAME_MAX + 16];
	uint8_t payload[1461];

	(void)state;
	memset(&th, 0, sizeof(th));
	memset(payload, 0, sizeof(payload));
	assert_int_equal(sg_frame_tcp(f, sizeof(f), &l3, &th, payload, 1460), SG_FRAME_MAX);
	assert_int_equal(sg_frame_tcp(f, sizeof(f), &l3, &th, payload, 1461), 0);
}

static void test_frame_udp(void **state)
{
	struct sg_l3 l3 = test_l3();
	static const uint8_t payload[4] = {0x05, 0x00, 0x01, 0x00};
	uint8_t f[SG_FRAME_MAX];
	uint8_t zero_sum[2];
	const uint8_t *udp = f + SG_ETH_HLEN + SG_IPV4_HLEN;
	size_t n;

	(void)state;
	n = sg_frame_udp(f, sizeof(f), &l3, 54321, 8801, payload, sizeof(payload));
	assert_int_equal(n, SG_ETH_MIN_FRAME);
	assert_int_equal(get16(f + SG_ETH_HLEN + 2), 32);
	assert_int_equal(f[SG_ETH_HLEN + 9], SG_IPPROTO_UDP);
	assert_int_equal(get16(udp + 4), 12);
	assert_int_equal(get16(udp + 6), 0x170c);

	/* RFC 768: a payload that makes the sum come out as zero is sent as ffff. */
	n = sg_frame_udp(f, sizeof(f), &l3, 54321, 8801, (const uint8_t *)"\0\0", 2);
	assert_int_not_equal(n, 0);
	zero_sum[0] = udp[6];
	zero_sum[1] = udp[7];
	n = sg_frame_udp(f, sizeof(f), &l3, 54321, 8801, zero_sum, 2);
	assert_int_not_equal(n, 0);
	assert_int_equal(get16(udp + 6), 0xffff);
	assert_int_equal(sg_l4_cksum(l3.src_ip, l3.dst_ip, SG_IPPROTO_UDP, udp, 10), 0);
}

static void test_set_ip_id(void **state)
{
	struct sg_l3 l3 = test_l3();
	uint8_t f[SG_FRAME_MAX];
	size_t n;

	(void)state;
	n = sg_frame_udp(f, sizeof(f), &l3, 1, 2, NULL, 0);
	assert_true(sg_frame_set_ip_id(f, n, 0xbeef));
	assert_int_equal(get16(f + SG_ETH_HLEN + 4), 0xbeef);
	assert_int_equal(sg_ipv4_cksum(f + SG_ETH_HLEN, SG_IPV4_HLEN), 0);
	assert_false(sg_frame_set_ip_id(f, 33, 1));
	assert_int_equal(get16(f + SG_ETH_HLEN + 4), 0xbeef);
}

static void test_parse_ipv4(void **state)
{
	uint32_t a = 7;

	(void)state;
	assert_true(sg_parse_ipv4("52.81.151.250", &a));
	assert_int_equal(a, 0x345197fau);
	assert_false(sg_parse_ipv4("52.81.151", &a));
	assert_false(sg_parse_ipv4("52.81.151.256", &a));
	assert_false(sg_parse_ipv4("", &a));
	assert_int_equal(a, 0x345197fau);
}

static void test_put(void **state)
{
	uint8_t b[4];

	(void)state;
	sg_put16(b, 0x0102);
	assert_memory_equal(b, "\x01\x02", 2);
	sg_put32(b, 0xa1b2c3d4u);
	assert_memory_equal(b, "\xa1\xb2\xc3\xd4", 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc1071_example),
		cmocka_unit_test(test_odd_length),
		cmocka_unit_test(test_ipv4_header_vector),
		cmocka_unit_test(test_tcp_pseudo_header),
		cmocka_unit_test(test_frame_tcp),
		cmocka_unit_test(test_frame_tcp_too_long),
		cmocka_unit_test(test_frame_udp),
		cmocka_unit_test(test_set_ip_id),
		cmocka_unit_test(test_parse_ipv4),
		cmocka_unit_test(test_put),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
