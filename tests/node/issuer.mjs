// A real OpenID provider for the sign-in tests: panva's certified `oidc-provider`, issuing RFC 9068 JWT access
// tokens (`typ: at+jwt`, RS256, `aud` = the resource asked for with a resource indicator) to clients that sign in
// with client_credentials. The issuer has no path (`http://127.0.0.1:PORT`), as Google's and a default
// oidc-provider's have not.
//
// Usage: node issuer.mjs PORT SCOPE RESOURCE[,RESOURCE...] CLIENT:SECRET [CLIENT:SECRET ...]
// Each client is a user whose tokens carry `sub` = its client id. Prints "ready <issuer>" once listening.
import { generateKeyPairSync } from "node:crypto";

import Provider from "oidc-provider";

const [port, scope, resources, ...clients] = process.argv.slice(2);
const allowed = new Set(resources.split(","));
const issuer = `http://127.0.0.1:${port}`;
const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const signing = { ...privateKey.export({ format: "jwk" }), kid: "issuer-key-1", alg: "RS256", use: "sig" };

const provider = new Provider(issuer, {
  clients: clients.map((pair) => {
    const [id, secret] = pair.split(":");
    return {
      client_id: id,
      client_secret: secret,
      grant_types: ["client_credentials"],
      redirect_uris: [],
      response_types: [],
      scope,
    };
  }),
  scopes: [scope],
  jwks: { keys: [signing] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => undefined,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, resource) => {
        if (!allowed.has(resource)) {
          throw new Error(`unknown resource ${resource}`);
        }
        return { scope, accessTokenFormat: "jwt", accessTokenTTL: 600, jwt: { sign: { alg: "RS256" } } };
      },
    },
  },
});

provider.listen(Number(port), "127.0.0.1", () => {
  console.log(`ready ${issuer}`);
});
