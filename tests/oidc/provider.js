// A real OpenID provider (node oidc-provider) on loopback, for idflow's sign-in tests.
//
// Configured from the environment:
//   OIDC_CLIENT_ID, OIDC_CLIENT_SECRET   the one client (idflow)
//   OIDC_REDIRECT_URIS                   its redirect URIs, comma-separated
//   OIDC_POST_LOGOUT_URIS                its post-logout redirect URIs, comma-separated
//   OIDC_ACCOUNTS                        JSON: {login: {sub, password, claims: {...}}}
//   OIDC_PORT                            optional; default: a free port
// It listens on 127.0.0.1 and prints one JSON line, {"issuer": ...}, once it is ready.
//
// The test steers it through POST /__test/... (loopback only, JSON bodies):
//   /__test/account  {login, claims}           a test account's claims from the next sign-in on
//   /__test/signer   {signer, clock_offset_s}  how the token endpoint signs ID tokens:
//     normal    with the published key;
//     rotated   with a new key, published beside the old one (a key rotation);
//     forged    with another key under the published key's id (a wrong signature);
//     stranger  with a key the provider never published;
//     clock_offset_s  the token endpoint's clock runs this far off (negative: behind).
// Every signer is its own Provider instance at the same issuer; they share the in-memory
// store (codes, grants), so any of them can redeem a code the browser got from the first.

import crypto from 'node:crypto';
import http from 'node:http';

import Provider from 'oidc-provider';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`provider.js: ${name} is not set`);
  return value;
};
const list = (name) => env(name).split(',').map((item) => item.trim()).filter(Boolean);

const accounts = JSON.parse(env('OIDC_ACCOUNTS'));
const steering = { signer: 'normal', clockOffsetS: 0 };

function signingKey(kid) {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' };
}

function accountBySub(sub) {
  return Object.values(accounts).find((account) => account.sub === sub);
}

const page = (title, body) => `<!doctype html><html lang="nl"><head><meta charset="utf-8">
<title>${title}</title></head><body><h1>${title}</h1>${body}</body></html>`;

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function configuration(keys) {
  return {
    clients: [{
      client_id: env('OIDC_CLIENT_ID'),
      client_secret: env('OIDC_CLIENT_SECRET'),
      redirect_uris: list('OIDC_REDIRECT_URIS'),
      post_logout_redirect_uris: list('OIDC_POST_LOGOUT_URIS'),
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    jwks: { keys },
    cookies: { keys: ['idflow-test-cookie-key'] },
    pkce: { methods: ['S256'], required: () => true },
    // Scope claims in the ID token itself, as Entra ID and Keycloak send groups.
    conformIdTokenClaims: false,
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username', 'groups', 'idflow_role', 'idflow_directorates'],
      email: ['email'],
    },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => {
          ctx.body = page('Afmelden bij de testprovider', `${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes">Ja, afmelden</button>
<button type="submit" form="op.logoutForm">Nee</button>`);
        },
        postLogoutSuccessSource: async (ctx) => {
          ctx.body = page('Afgemeld bij de testprovider', '');
        },
      },
    },
    ttl: {
      AccessToken: 600, AuthorizationCode: 60, IdToken: 300, Interaction: 600, Session: 3600,
      Grant: 3600,
    },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = page('Fout bij de testprovider', `<pre id="op-error">${escape(JSON.stringify(out))}</pre>`);
    },
    // A first-party client: consent is given in advance (as an administrator does for a tenant).
    loadExistingGrant: async (ctx) => {
      const { oidc } = ctx;
      const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(oidc.client.clientId);
      if (grantId) {
        const found = await oidc.provider.Grant.find(grantId);
        if (found) return found;
      }
      const grant = new oidc.provider.Grant({ clientId: oidc.client.clientId, accountId: oidc.session.accountId });
      grant.addOIDCScope(oidc.params.scope);
      await grant.save();
      return grant;
    },
    findAccount: async (ctx, sub) => {
      const account = accountBySub(sub);
      if (!account) return undefined;
      return { accountId: sub, claims: async () => ({ ...account.claims, sub }) };
    },
  };
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function reply(res, status, type, body) {
  res.writeHead(status, { 'content-type': type });
  res.end(body);
}

async function interaction(provider, req, res) {
  const details = await provider.interactionDetails(req, res);
  const action = `/interaction/${details.uid}`;
  if (req.method === 'GET') {
    const form = `<form method="post" action="${action}">
<label>Naam <input name="login" autocomplete="username"></label>
<label>Wachtwoord <input name="password" type="password"></label>
<button type="submit">Inloggen</button></form>`;
    return reply(res, 200, 'text/html; charset=utf-8', page('Inloggen bij de testprovider', form));
  }
  const form = new URLSearchParams(await readBody(req));
  const account = accounts[form.get('login')];
  if (!account || account.password !== form.get('password')) {
    return reply(res, 401, 'text/html; charset=utf-8', page('Onjuiste naam of wachtwoord', ''));
  }
  return provider.interactionFinished(req, res, { login: { accountId: account.sub } }, { mergeWithLastSubmission: false });
}

async function steer(req, res) {
  const body = JSON.parse((await readBody(req)) || '{}');
  if (req.url === '/__test/account') {
    accounts[body.login].claims = body.claims;
  } else if (req.url === '/__test/signer') {
    steering.signer = body.signer ?? 'normal';
    steering.clockOffsetS = body.clock_offset_s ?? 0;
  } else {
    return reply(res, 404, 'application/json', '{}');
  }
  return reply(res, 200, 'application/json', JSON.stringify({ ok: true }));
}

// With the clock offset, the token endpoint's clock runs off while it answers (the test
// sends one request at a time, so nothing else sees the shifted clock).
function withClock(offsetS, res, handle) {
  if (!offsetS) return handle();
  const realNow = Date.now;
  Date.now = () => realNow() + offsetS * 1000;
  res.on('close', () => { Date.now = realNow; });
  return handle();
}

const server = http.createServer();
server.listen(Number(process.env.OIDC_PORT || 0), '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const published = signingKey('key-1');
  const providers = {
    normal: new Provider(issuer, configuration([published])),
    rotated: new Provider(issuer, configuration([signingKey('key-2'), published])),
    forged: new Provider(issuer, configuration([signingKey('key-1')])),
    stranger: new Provider(issuer, configuration([signingKey('key-x')])),
  };
  const handlers = Object.fromEntries(Object.entries(providers).map(([name, p]) => [name, p.callback()]));
  server.on('request', (req, res) => {
    const path = req.url.split('?')[0];
    const fail = (error) => {
      console.error(error);
      if (!res.headersSent) reply(res, 500, 'text/plain', String(error));
    };
    if (path.startsWith('/__test/') && req.method === 'POST') return steer(req, res).catch(fail);
    if (path.startsWith('/interaction/')) return interaction(providers.normal, req, res).catch(fail);
    if (path === '/token') {
      return withClock(steering.clockOffsetS, res, () => handlers[steering.signer](req, res));
    }
    // After a rotation the provider publishes both keys.
    if (path === '/jwks' && steering.signer === 'rotated') return handlers.rotated(req, res);
    return handlers.normal(req, res);
  });
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});
