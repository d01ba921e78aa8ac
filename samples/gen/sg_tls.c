#include "sg_tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define C SG_TCP_CLIENT
#define S SG_TCP_SERVER

/* Fixed validity and serial, so every certificate has the same DER length on every run. */
#define CA_SERIAL 0x1b4b5053414d5031u /* "KPSAMP1" */
#define CA_NOT_BEFORE 1546300800       /* 2019-01-01T00:00:00Z */
#define CA_NOT_AFTER 1861920000        /* 2029-01-01T00:00:00Z */

static const char ca_cn[] = "keyprov Sample Root CA";
static const char ca_o[] = "keyprov samples";

/* Offered like a 2020 desktop client: ECDHE with AEAD first, then CBC and plain RSA. */
static const char client_ciphers[] =
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
	"ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
	"ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA:AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA:"
	"AES256-SHA";
static const char server_ciphers[] = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384";
static const unsigned char alpn_http11[] = "\x08http/1.1";

static void ssl_error(char *err, size_t errlen, const char *what)
{
	char buf[256];
	unsigned long e = ERR_get_error();

	if (e != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		snprintf(err, errlen, "%s: %s", what, buf);
	} else {
		snprintf(err, errlen, "%s failed", what);
	}
	ERR_clear_error();
}

static int add_name(X509_NAME *n, const char *field, const char *value)
{
	if (value == NULL) {
		return 1;
	}
	return X509_NAME_add_entry_by_txt(n, field, MBSTRING_UTF8, (const unsigned char *)value, -1, -1,
					  0);
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	memset(&ctx, 0, sizeof(ctx));
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL) {
		return 0;
	}
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

/*
 * A version 3 certificate for key, issued by issuer (NULL: self-signed with
 * key), signed with SHA-256.
 */
static X509 *make_cert(EVP_PKEY *key, X509_NAME *subject, uint64_t serial, int64_t not_before,
		       int64_t not_after, X509 *issuer, EVP_PKEY *issuer_key, const char *san)
{
	X509 *x = X509_new();
	X509 *ext_issuer;
	int ok;

	if (x == NULL) {
		return NULL;
	}
	ext_issuer = issuer != NULL ? issuer : x;
	ok = X509_set_version(x, X509_VERSION_3) &&
	     ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), serial) &&
	     ASN1_TIME_set(X509_getm_notBefore(x), (time_t)not_before) != NULL &&
	     ASN1_TIME_set(X509_getm_notAfter(x), (time_t)not_after) != NULL && X509_set_pubkey(x, key) &&
	     X509_set_subject_name(x, subject) &&
	     X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : subject);
	if (ok && issuer == NULL) {
		ok = add_ext(x, ext_issuer, NID_basic_constraints, "critical,CA:TRUE") &&
		     add_ext(x, ext_issuer, NID_key_usage, "critical,keyCertSign,cRLSign") &&
		     add_ext(x, ext_issuer, NID_subject_key_identifier, "hash");
	} else if (ok) {
		ok = add_ext(x, ext_issuer, NID_basic_constraints, "critical,CA:FALSE") &&
		     add_ext(x, ext_issuer, NID_key_usage, "critical,digitalSignature,keyEncipherment") &&
		     add_ext(x, ext_issuer, NID_ext_key_usage, "serverAuth,clientAuth") &&
		     add_ext(x, ext_issuer, NID_subject_alt_name, san) &&
		     add_ext(x, ext_issuer, NID_subject_key_identifier, "hash") &&
		     add_ext(x, ext_issuer, NID_authority_key_identifier, "keyid:always");
	}
	if (ok) {
		ok = X509_sign(x, issuer_key != NULL ? issuer_key : key, EVP_sha256()) > 0;
	}
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static EVP_PKEY *rsa2048(void)
{
	/* RSA, not ECDSA: fixed-length signatures keep packet sizes identical across runs. */
	return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
}

int sg_pki_init(struct sg_pki *pki, char *err, size_t errlen)
{
	X509_NAME *name = NULL;
	int rc = -1;

	memset(pki, 0, sizeof(*pki));
	pki->ca_key = rsa2048();
	name = X509_NAME_new();
	if (pki->ca_key == NULL || name == NULL || !add_name(name, "O", ca_o) || !add_name(name, "CN", ca_cn)) {
		ssl_error(err, errlen, "sample CA key");
		goto out_free;
	}
	pki->ca = make_cert(pki->ca_key, name, CA_SERIAL, CA_NOT_BEFORE, CA_NOT_AFTER, NULL, NULL, NULL);
	if (pki->ca == NULL) {
		ssl_error(err, errlen, "sample CA certificate");
		goto out_free;
	}
	rc = 0;
out_free:
	X509_NAME_free(name);
	if (rc != 0) {
		sg_pki_free(pki);
	}
	return rc;
}

void sg_pki_free(struct sg_pki *pki)
{
	size_t i;

	for (i = 0; i < pki->n_leaves; i++) {
		X509_free(pki->leaves[i].cert);
		EVP_PKEY_free(pki->leaves[i].key);
	}
	X509_free(pki->ca);
	EVP_PKEY_free(pki->ca_key);
	memset(pki, 0, sizeof(*pki));
}

/* The leaf for profile, issued on first use. */
static const struct sg_pki_leaf *pki_leaf(struct sg_pki *pki, const struct sg_cert_profile *prof, char *err,
					  size_t errlen)
{
	struct sg_pki_leaf *leaf;
	X509_NAME *name = NULL;
	char san[512];
	size_t used = 0;
	size_t i;

	for (i = 0; i < pki->n_leaves; i++) {
		if (pki->leaves[i].profile == prof) {
			return &pki->leaves[i];
		}
	}
	if (pki->n_leaves == SG_PKI_MAX_LEAVES) {
		snprintf(err, errlen, "too many certificate profiles");
		return NULL;
	}
	san[0] = '\0';
	for (i = 0; prof->sans[i] != NULL; i++) {
		int n = snprintf(san + used, sizeof(san) - used, "%sDNS:%s", i ? "," : "", prof->sans[i]);

		if (n < 0 || (size_t)n >= sizeof(san) - used) {
			snprintf(err, errlen, "subjectAltName too long");
			return NULL;
		}
		used += (size_t)n;
	}

	leaf = &pki->leaves[pki->n_leaves];
	memset(leaf, 0, sizeof(*leaf));
	leaf->profile = prof;
	leaf->key = rsa2048();
	name = X509_NAME_new();
	/* Conventional order C, ST, L, O, CN: printed per RFC 4514 as CN=..., O=..., L=..., ST=..., C=... */
	if (leaf->key == NULL || name == NULL || !add_name(name, "C", prof->c) || !add_name(name, "ST", prof->st) ||
	    !add_name(name, "L", prof->l) || !add_name(name, "O", prof->o) || !add_name(name, "CN", prof->cn)) {
		ssl_error(err, errlen, "leaf key");
		goto out_fail;
	}
	leaf->cert = make_cert(leaf->key, name, prof->serial, prof->not_before, prof->not_after, pki->ca,
			       pki->ca_key, san);
	if (leaf->cert == NULL) {
		ssl_error(err, errlen, "leaf certificate");
		goto out_fail;
	}
	X509_NAME_free(name);
	pki->n_leaves++;
	return leaf;
out_fail:
	X509_NAME_free(name);
	EVP_PKEY_free(leaf->key);
	memset(leaf, 0, sizeof(*leaf));
	return NULL;
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
		       unsigned int inlen, void *arg)
{
	unsigned char *sel = NULL;

	if (SSL_select_next_proto(&sel, outlen, alpn_http11, sizeof(alpn_http11) - 1, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED) {
		return SSL_TLSEXT_ERR_NOACK;
	}
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/* NSS key log format (as SSLKEYLOGFILE), so tshark can decrypt the sample's sessions. */
static void keylog_line(const SSL *ssl, const char *line)
{
	FILE *f = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));

	if (f != NULL) {
		fprintf(f, "%s\n", line);
	}
}

/* The two ends of one session. */
struct pair {
	SSL_CTX *ctx[2];
	SSL *ssl[2];
	BIO *in[2];  /* what the side reads (bytes from the peer) */
	BIO *out[2]; /* what the side writes (bytes to the peer) */
	uint8_t *buf;
	size_t buf_cap;
};

static void pair_free(struct pair *p)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (p->ssl[i] != NULL) {
			SSL_free(p->ssl[i]); /* frees the BIOs it owns */
		} else {
			BIO_free(p->in[i]);
			BIO_free(p->out[i]);
		}
		SSL_CTX_free(p->ctx[i]);
	}
	free(p->buf);
}

static int pair_init(struct pair *p, const struct sg_pki_leaf *leaf, X509 *ca, const struct sg_tls_params *prm,
		     char *err, size_t errlen)
{
	X509_VERIFY_PARAM *vp;
	int i;

	memset(p, 0, sizeof(*p));
	p->ctx[C] = SSL_CTX_new(TLS_client_method());
	p->ctx[S] = SSL_CTX_new(TLS_server_method());
	if (p->ctx[C] == NULL || p->ctx[S] == NULL) {
		ssl_error(err, errlen, "SSL_CTX_new");
		return -1;
	}
	for (i = 0; i < 2; i++) {
		/* TLS 1.2 as in 2020: the certificate travels in clear. */
		if (!SSL_CTX_set_min_proto_version(p->ctx[i], TLS1_2_VERSION) ||
		    !SSL_CTX_set_max_proto_version(p->ctx[i], TLS1_2_VERSION)) {
			ssl_error(err, errlen, "TLS version");
			return -1;
		}
	}
	/* No tickets: a ticket's length could vary from run to run with the session's encoding. */
	SSL_CTX_set_options(p->ctx[S], SSL_OP_NO_TICKET | SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (!SSL_CTX_set_cipher_list(p->ctx[C], client_ciphers) ||
	    !SSL_CTX_set_cipher_list(p->ctx[S], server_ciphers) ||
	    !SSL_CTX_set1_groups_list(p->ctx[C], "X25519:P-256:P-384") ||
	    !SSL_CTX_set1_groups_list(p->ctx[S], "X25519:P-256") ||
	    !SSL_CTX_use_certificate(p->ctx[S], leaf->cert) || !SSL_CTX_use_PrivateKey(p->ctx[S], leaf->key) ||
	    !SSL_CTX_add1_chain_cert(p->ctx[S], ca) || !X509_STORE_add_cert(SSL_CTX_get_cert_store(p->ctx[C]), ca)) {
		ssl_error(err, errlen, "TLS context");
		return -1;
	}
	SSL_CTX_set_alpn_select_cb(p->ctx[S], alpn_select, NULL);
	if (prm->keylog != NULL) {
		SSL_CTX_set_app_data(p->ctx[C], prm->keylog);
		SSL_CTX_set_keylog_callback(p->ctx[C], keylog_line);
	}

	for (i = 0; i < 2; i++) {
		p->in[i] = BIO_new(BIO_s_mem());
		p->out[i] = BIO_new(BIO_s_mem());
		if (p->in[i] == NULL || p->out[i] == NULL) {
			ssl_error(err, errlen, "BIO_new");
			return -1;
		}
		/* An empty read BIO means "wait for the peer", not end of stream. */
		BIO_set_mem_eof_return(p->in[i], -1);
		p->ssl[i] = SSL_new(p->ctx[i]);
		if (p->ssl[i] == NULL) {
			ssl_error(err, errlen, "SSL_new");
			return -1;
		}
		SSL_set_bio(p->ssl[i], p->in[i], p->out[i]);
	}
	SSL_set_connect_state(p->ssl[C]);
	SSL_set_accept_state(p->ssl[S]);
	vp = SSL_get0_param(p->ssl[C]);
	X509_VERIFY_PARAM_set_time(vp, (time_t)prm->verify_time);
	SSL_set_verify(p->ssl[C], SSL_VERIFY_PEER, NULL);
	/* SSL_set_tlsext_host_name() is a macro that casts its argument to
	 * (void *), which clang's -Wcast-qual rejects for a const string: hand
	 * it a private copy.  ALPN takes a length-prefixed list: 0 on success,
	 * unlike most of the API. */
	char sni[256];
	if (snprintf(sni, sizeof(sni), "%s", prm->sni) >= (int)sizeof(sni)) {
		snprintf(err, errlen, "server name too long: %s", prm->sni);
		return -1;
	}
	if (!SSL_set_tlsext_host_name(p->ssl[C], sni) || !SSL_set1_host(p->ssl[C], prm->sni) ||
	    SSL_set_alpn_protos(p->ssl[C], alpn_http11, sizeof(alpn_http11) - 1) != 0) {
		ssl_error(err, errlen, "client SNI/ALPN");
		return -1;
	}
	return 0;
}

/* Takes everything side has written. Returns its length, or (size_t)-1 when out of memory. */
static size_t drain(struct pair *p, int side)
{
	size_t n = (size_t)BIO_ctrl_pending(p->out[side]);
	int got;

	if (n == 0) {
		return 0;
	}
	if (n > p->buf_cap) {
		uint8_t *nb = realloc(p->buf, n);

		if (nb == NULL) {
			return (size_t)-1;
		}
		p->buf = nb;
		p->buf_cap = n;
	}
	got = BIO_read(p->out[side], p->buf, (int)n);
	return got > 0 ? (size_t)got : 0;
}

/*
 * Carries what side has written to the peer over TCP, starting at t.
 * Returns the number of bytes carried, or -1 on failure.
 */
static long carry(struct pair *p, struct sg_tcp *tcp, int side, uint64_t t)
{
	size_t n = drain(p, side);

	if (n == (size_t)-1) {
		return -1;
	}
	if (n == 0) {
		return 0;
	}
	sg_tcp_send(tcp, side, t, p->buf, n);
	if (BIO_write(p->in[!side], p->buf, (int)n) != (int)n) {
		return -1;
	}
	return (long)n;
}

/* Reads all side has received; returns the plaintext byte count, or -1 on a fatal error. */
static long read_all(struct pair *p, int side)
{
	uint8_t tmp[4096];
	long total = 0;

	for (;;) {
		int r = SSL_read(p->ssl[side], tmp, (int)sizeof(tmp));

		if (r > 0) {
			total += r;
			continue;
		}
		switch (SSL_get_error(p->ssl[side], r)) {
		case SSL_ERROR_WANT_READ:
		case SSL_ERROR_ZERO_RETURN:
			return total;
		default:
			return -1;
		}
	}
}

/* An HTTP-like message of exactly len bytes: header text (host: a request), then a body from rng. */
static uint8_t *http_message(struct sg_rng *rng, size_t len, const char *first_line, const char *host)
{
	uint8_t *m = malloc(len > 0 ? len : 1);
	char hdr[512];
	size_t body = len;
	size_t printed;
	int n = 0;
	int k;

	if (m == NULL) {
		return NULL;
	}
	/* Content-Length's own digits change the header length: iterate to the fixed point. */
	for (k = 0; k < 4; k++) {
		printed = body;
		if (host != NULL) {
			n = snprintf(hdr, sizeof(hdr),
				     "%s\r\nHost: %s\r\nContent-Type: application/octet-stream\r\n"
				     "Content-Length: %zu\r\n\r\n",
				     first_line, host, printed);
		} else {
			n = snprintf(hdr, sizeof(hdr),
				     "%s\r\nServer: sample\r\nContent-Type: application/octet-stream\r\n"
				     "Content-Length: %zu\r\n\r\n",
				     first_line, printed);
		}
		if (n < 0) {
			n = 0;
		} else if ((size_t)n >= sizeof(hdr)) {
			n = (int)sizeof(hdr) - 1;
		}
		body = (size_t)n < len ? len - (size_t)n : 0;
		if (body == printed) {
			break;
		}
	}
	if ((size_t)n > len) {
		n = (int)len;
	}
	memcpy(m, hdr, (size_t)n);
	sg_rng_fill(rng, m + n, len - (size_t)n);
	return m;
}

static int tls_fail(char *err, size_t errlen, const char *what)
{
	ssl_error(err, errlen, what);
	return -1;
}

int sg_tls_run(struct sg_tcp *tcp, uint64_t t0, struct sg_pki *pki, const struct sg_tls_params *prm,
	       struct sg_rng *rng, char *err, size_t errlen)
{
	const struct sg_pki_leaf *leaf;
	struct pair p;
	uint8_t *msg = NULL;
	uint64_t t;
	int side;
	int r;
	int step;
	size_t i;
	int rc = -1;

	leaf = pki_leaf(pki, prm->cert, err, errlen);
	if (leaf == NULL) {
		return -1;
	}
	if (pair_init(&p, leaf, pki->ca, prm, err, errlen) != 0) {
		goto out_free;
	}

	sg_tcp_open(tcp, t0);

	/* Handshake: each side answers the other's flight until neither has more to say. */
	r = SSL_do_handshake(p.ssl[C]);
	if (r <= 0 && SSL_get_error(p.ssl[C], r) != SSL_ERROR_WANT_READ) {
		tls_fail(err, errlen, "client handshake");
		goto out_free;
	}
	side = C;
	t = sg_tcp_reply_time(tcp, C, 150);
	for (step = 0;; step++) {
		long n = carry(&p, tcp, side, t);

		if (n < 0) {
			snprintf(err, errlen, "out of memory carrying the handshake");
			goto out_free;
		}
		if (n == 0) {
			break;
		}
		side = !side;
		if (!SSL_is_init_finished(p.ssl[side])) {
			r = SSL_do_handshake(p.ssl[side]);
			if (r <= 0 && SSL_get_error(p.ssl[side], r) != SSL_ERROR_WANT_READ) {
				tls_fail(err, errlen, side == C ? "client handshake" : "server handshake");
				goto out_free;
			}
		}
		/* Signing the key exchange and checking the chain take a little time. */
		t = sg_tcp_reply_time(tcp, side, side == S ? (step == 0 ? 1400u : 350u) : 900u);
	}
	if (!SSL_is_init_finished(p.ssl[C]) || !SSL_is_init_finished(p.ssl[S])) {
		snprintf(err, errlen, "TLS handshake with %s did not complete", prm->sni);
		goto out_free;
	}

	for (i = 0; i < prm->n_exchanges; i++) {
		const struct sg_exchange *ex = &prm->exchanges[i];
		char line[256];

		snprintf(line, sizeof(line), "POST %s HTTP/1.1", ex->path);
		msg = http_message(rng, ex->request_len, line, prm->sni);
		if (msg == NULL || SSL_write(p.ssl[C], msg, (int)ex->request_len) != (int)ex->request_len) {
			tls_fail(err, errlen, "client write");
			goto out_free;
		}
		free(msg);
		msg = NULL;
		if (carry(&p, tcp, C, sg_tcp_reply_time(tcp, C, 400u + ex->gap_ms * 1000u)) < 0 ||
		    read_all(&p, S) != (long)ex->request_len) {
			tls_fail(err, errlen, "server read");
			goto out_free;
		}
		msg = http_message(rng, ex->response_len, "HTTP/1.1 200 OK", NULL);
		if (msg == NULL || SSL_write(p.ssl[S], msg, (int)ex->response_len) != (int)ex->response_len) {
			tls_fail(err, errlen, "server write");
			goto out_free;
		}
		free(msg);
		msg = NULL;
		if (carry(&p, tcp, S, sg_tcp_reply_time(tcp, S, ex->server_proc_us)) < 0 ||
		    read_all(&p, C) != (long)ex->response_len) {
			tls_fail(err, errlen, "client read");
			goto out_free;
		}
	}

	/* RFC 5246 section 7.2.1: close_notify from the client, answered by the server, then FINs. */
	if (SSL_shutdown(p.ssl[C]) < 0 ||
	    carry(&p, tcp, C, sg_tcp_reply_time(tcp, C, prm->close_after_ms * 1000u)) <= 0 ||
	    read_all(&p, S) != 0 || SSL_shutdown(p.ssl[S]) != 1 ||
	    carry(&p, tcp, S, sg_tcp_reply_time(tcp, S, 200)) <= 0) {
		tls_fail(err, errlen, "close_notify");
		goto out_free;
	}
	sg_tcp_fin(tcp, S, tcp->now + 25);
	if (SSL_shutdown(p.ssl[C]) != 1) {
		tls_fail(err, errlen, "client shutdown");
		goto out_free;
	}
	sg_tcp_fin(tcp, C, sg_tcp_reply_time(tcp, C, 80));
	sg_tcp_ack(tcp, S, sg_tcp_reply_time(tcp, S, 0));
	if (tcp->err != 0) {
		snprintf(err, errlen, "out of memory framing packets");
		goto out_free;
	}
	rc = 0;
out_free:
	free(msg);
	pair_free(&p);
	return rc;
}
