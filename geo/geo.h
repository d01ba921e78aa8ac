/* geo.h: keyprov's internal entry point to the geolocation databases.
 *
 * The public half (kp_geo_open, kp_geo_free, kp_geo_lookup, kp_geo_describe)
 * is in keyprov.h.  A struct kp_geo is read-only once kp_geo_open() has
 * returned: any number of threads and engines may look up through it at
 * once, and must stop before kp_geo_free().
 */
#ifndef KP_GEO_H
#define KP_GEO_H

#include "keyprov.h"
#include "kp.h"

/* Look up a binary address.  An IPv4 address (stored IPv4-mapped in struct
 * kp_addr) is looked up as IPv4, i.e. at ::/96 in an IPv6 database, because
 * common databases have no ::ffff:0:0/96 alias.
 *
 * out is always fully written: country is "" or two upper-case ASCII
 * letters, asn is 0 when unknown, as_org is "" or valid UTF-8 without
 * control characters, cut at a character boundary to fit.
 *
 * Country comes from the country database: "country_code" at the top of the
 * record (ip-location-db), else "country.iso_code" (MaxMind GeoLite2/GeoIP2,
 * DB-IP), else "registered_country.iso_code".  ASN and organisation come
 * from the ASN database: "autonomous_system_number" and
 * "autonomous_system_organization" (GeoLite2-ASN layout).  A database that
 * is absent, has no entry, or holds corrupt or unexpected data for this
 * address contributes nothing: it is not an error.
 *
 * geo may be NULL (nothing is known).  Returns KP_OK, or KP_EINVAL if a or
 * out is NULL.  No allocation, no locks. */
int kp_geo_lookup_addr(const struct kp_geo *geo, const struct kp_addr *a,
                       struct kp_geo_info *out);

#endif
