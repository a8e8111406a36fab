// npm's oidc-provider (a certified OpenID provider nobody here wrote), configured to return
// OpenID Connect for Identity Assurance verified_claims, for tests/openid_ida.
//
// Environment: OP_PORT (listen on 127.0.0.1), OP_CLIENTS (JSON array of client metadata: the
// broker as a private_key_jwt client with its public JWKS, and as a client_secret_basic client).
// The login name typed at its development login page picks the account:
//   jane       verified under uk_tfida at assurance level medium (with address history)
//   lee        verified under uk_tfida at assurance level low
//   elsewhere  verified under a trust framework the broker's mapping does not name
//   anyone else  authenticated, with no verified_claims
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.env.OP_PORT);
const issuer = `http://127.0.0.1:${port}`;
const clients = JSON.parse(process.env.OP_CLIENTS);

const VERIFIED = {
  jane: [
    {
      verification: {
        trust_framework: 'uk_tfida', assurance_level: 'medium', time: '2026-01-15T10:00:00Z',
        evidence: [{ type: 'document', check_details: [{ check_method: 'vpip' }] }],
      },
      claims: {
        given_name: 'Jane', family_name: 'Doe', birth_family_name: 'Smith', birthdate: '1980-05-01',
        address: { street_address: '1 Council Street', locality: 'Borough', postal_code: 'AB1 2CD', country: 'GB' },
      },
    },
    {
      verification: { trust_framework: 'uk_tfida', assurance_level: 'medium', time: '2014-03-01T09:00:00Z' },
      claims: {
        family_name: 'Smith',
        address: { street_address: '22 Old Road', locality: 'Oldtown', postal_code: 'OT9 8ZY', country: 'GB' },
      },
    },
  ],
  lee: {
    verification: { trust_framework: 'uk_tfida', assurance_level: 'low' },
    claims: { given_name: 'Lee', family_name: 'One', birthdate: '1990-01-01' },
  },
  elsewhere: {
    verification: { trust_framework: 'xx_not_mapped', assurance_level: 'high' },
    claims: { given_name: 'Jane', family_name: 'Doe', birthdate: '1980-05-01' },
  },
};

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'op-signing-1', use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [signingKey] },
  cookies: { keys: ['oidc-provider-test-cookie-key-not-secret'] },
  claims: { openid: ['sub'], verified_claims: null },
  features: {
    claimsParameter: { enabled: true },
    devInteractions: { enabled: true },
  },
  pkce: { required: () => true },
  discovery: {
    trust_frameworks_supported: ['uk_tfida'],
    claims_in_verified_claims_supported: ['given_name', 'family_name', 'birth_family_name', 'birthdate', 'address'],
    evidence_supported: ['document'],
    documents_supported: ['passport', 'driving_permit'],
  },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        const verified = VERIFIED[id];
        return verified ? { sub: id, verified_claims: verified } : { sub: id };
      },
    };
  },
});
provider.proxy = false;

provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening at ${issuer}`);
});
