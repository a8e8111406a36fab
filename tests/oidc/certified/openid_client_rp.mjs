// A council app built on Node's openid-client 6 (certified by the OpenID Foundation), with its
// default settings: the test gives the client authentication method (or only a secret string,
// for which openid-client chooses client_secret_post) and, for the stack's plain http on
// 127.0.0.1, allowInsecureRequests. Reads its settings from the environment; prints the
// authorization URL as one JSON line, reads the callback URL from stdin, prints what it received.
import * as readline from "node:readline";
import * as client from "openid-client";

const env = process.env;
const lines = readline.createInterface({ input: process.stdin });
const nextLine = () => new Promise((resolve) => lines.once("line", resolve));

let authentication;
let metadata;
if (env.RP_SECRET_ONLY) {
  metadata = env.RP_CLIENT_SECRET;
} else if (env.RP_PRIVATE_JWK) {
  const jwk = JSON.parse(env.RP_PRIVATE_JWK);
  const key = await crypto.subtle.importKey(
    "jwk", jwk, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["sign"]);
  authentication = client.PrivateKeyJwt({ key, kid: jwk.kid });
} else {
  authentication = client.ClientSecretBasic(env.RP_CLIENT_SECRET);
}
const config = await client.discovery(new URL(env.RP_ISSUER), env.RP_CLIENT_ID, metadata,
  authentication, { execute: [client.allowInsecureRequests] });

const codeVerifier = client.randomPKCECodeVerifier();
const state = client.randomState();
const url = client.buildAuthorizationUrl(config, {
  redirect_uri: env.RP_REDIRECT_URI,
  scope: "openid profile",
  code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
  code_challenge_method: "S256",
  state,
});
console.log(JSON.stringify({ authorization_url: url.href }));

const callback = await nextLine();
const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
  pkceCodeVerifier: codeVerifier,
  expectedState: state,
});
const claims = tokens.claims();
const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
console.log(JSON.stringify({ claims, userinfo }));
lines.close();
