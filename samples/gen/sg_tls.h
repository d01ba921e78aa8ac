/*
 * sg_tls: a real TLS 1.2 session between an OpenSSL client and an OpenSSL
 * server over memory BIOs, its bytes carried by an sg_tcp connection.
 * Certificates come from a synthetic sample CA made at run time.
 */
#ifndef SG_TLS_H
#define SG_TLS_H

#include "sg_rng.h"
#include "sg_scenario.h"
#include "sg_tcp.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>

#define SG_PKI_MAX_LEAVES 8

struct sg_pki_leaf {
	const struct sg_cert_profile *profile;
	EVP_PKEY *key;
	X509 *cert;
};

/* The sample CA and the leaf certificates issued so far (one per profile). */
struct sg_pki {
	EVP_PKEY *ca_key;
	X509 *ca;
	struct sg_pki_leaf leaves[SG_PKI_MAX_LEAVES];
	size_t n_leaves;
};

/* Makes the sample CA (RSA-2048). Returns 0, or -1 with a message in err. */
int sg_pki_init(struct sg_pki *pki, char *err, size_t errlen);
void sg_pki_free(struct sg_pki *pki);

struct sg_tls_params {
	const char *sni;
	const struct sg_cert_profile *cert;
	const struct sg_exchange *exchanges;
	size_t n_exchanges;
	uint32_t close_after_ms;
	int64_t verify_time; /* the client verifies the chain as of this Unix time */
	FILE *keylog;        /* NULL, or where the client appends NSS key log lines */
};

/*
 * Runs the connection: TCP handshake at t0, TLS handshake (the client sends
 * SNI and ALPN http/1.1 and verifies the chain and host name), the
 * exchanges, close_notify both ways and a FIN exchange. Returns 0, or -1
 * with a message in err.
 */
int sg_tls_run(struct sg_tcp *tcp, uint64_t t0, struct sg_pki *pki, const struct sg_tls_params *p,
	       struct sg_rng *rng, char *err, size_t errlen);

#endif
