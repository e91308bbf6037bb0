// A headless OpenID provider for the OAuth tests (tests/oauth), on the pinned `oidc-provider`.
//
// Usage: node oidc-provider.mjs CONFIG.json. The config names the issuer, the port, the signing keys (the test
// generates them, so it can rotate them and forge tokens that differ from a real one in one respect), the
// resources it issues JWT access tokens for (RFC 8707), and the static clients (client credentials bots).
// Dynamic registration is on, as the MCP clients use it.
//
// The dev login has no form: the test appends `login_hint=<name>` to the authorization URL the client hands
// to its browser, and the interaction signs that name in and consents to what was asked. Prints
// "listening <port>" once it serves.
import { readFileSync } from 'node:fs';

import Provider, { errors } from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const resources = new Map(config.resources.map((r) => [r.indicator, r]));

const provider = new Provider(config.issuer, {
  jwks: config.jwks,
  clients: config.clients,
  cookies: { keys: ['tests-only-cookie-key'] },
  scopes: config.scopes,
  claims: { email: ['email'] },
  findAccount: (_ctx, id) => ({ accountId: id, claims: () => ({ sub: id, email: `${id}@example.test` }) }),
  // A person's access token carries their email (the server may map a role to it); a bot's has none.
  extraTokenClaims: (_ctx, token) => (token.accountId ? { email: `${token.accountId}@example.test` } : undefined),
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  // A dynamically registered client is not held to the scope it registered with: MCP clients register with
  // the first scope they were challenged for, then step up (static clients, like the bot, keep their limit).
  extraClientMetadata: {
    properties: ['x_tests'],
    validator: (ctx, key, _value, metadata) => {
      if (key === 'x_tests' && ctx?.oidc?.route === 'registration') delete metadata.scope;
    },
  },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    registration: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: (_ctx, _client, oneOf) => oneOf ?? config.resources[0].indicator,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, indicator) => {
        const resource = resources.get(indicator);
        if (!resource) throw new errors.InvalidTarget();
        return {
          scope: resource.scope,
          audience: indicator,
          accessTokenTTL: resource.ttl ?? 3600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
});

// The dev login and consent: no page, the name comes from login_hint.
provider.use(async (ctx, next) => {
  const match = /^\/interaction\/([^/]+)$/.exec(ctx.path);
  if (!match || ctx.method !== 'GET') return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  let result;
  if (details.prompt.name === 'login') {
    const name = details.params.login_hint;
    if (!name) {
      ctx.status = 400;
      ctx.body = 'dev login: add login_hint=<name> to the authorization request';
      return undefined;
    }
    result = { login: { accountId: name } };
  } else {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
    const missing = details.prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    result = { consent: { grantId: await grant.save() } };
  }
  const location = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: true });
  ctx.redirect(location);
  return undefined;
});

const server = provider.listen(config.port, '127.0.0.1', () => {
  process.stdout.write(`listening ${config.port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
